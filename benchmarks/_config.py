"""How big each workload is: the full run and the quick run."""

from __future__ import annotations

import attrs

__all__ = ["FULL", "QUICK", "Sizes"]


@attrs.frozen
class Sizes:
    """Workload sizes and the number of round-robin repeats (best one counts)."""

    tell: int  # messages per tell run
    ask: int  # sequential round trips per ask run (pykka's ~18 k/s keeps this to a few seconds)
    spawn: int  # idle actors per spawn run, and for the memory figure
    repeats: int


FULL = Sizes(tell=200_000, ask=20_000, spawn=100_000, repeats=5)
QUICK = Sizes(tell=50_000, ask=5_000, spawn=10_000, repeats=3)
