"""How big each workload is: the full run, the quick run, and the instruction-count run."""

from __future__ import annotations

import attrs

__all__ = ["CALLGRIND", "FULL", "QUICK", "Sizes"]


@attrs.frozen
class Sizes:
    """Operations per workload run, by measure, and the number of repeats."""

    tell: int  # messages per tell run
    ask: int  # sequential round trips per ask run (pykka's ~18 k/s keeps this to a few seconds)
    stream: int  # items of one streamed reply
    thread: int  # calls into a worker thread, one after another
    spawn: int  # idle actors per spawn run, and for the memory figure
    repeats: int

    def of(self, measure: str) -> int:
        """The size of ``measure`` ("tell", "ask", "stream", "thread" or "spawn")."""
        size = getattr(self, measure)
        assert isinstance(size, int), measure
        return size


FULL = Sizes(tell=200_000, ask=20_000, stream=20_000, thread=5_000, spawn=100_000, repeats=5)
QUICK = Sizes(tell=50_000, ask=5_000, stream=5_000, thread=1_000, spawn=10_000, repeats=3)
#: ``--callgrind``: each workload runs at ``size // 5`` and at ``size`` (after a warm-up run),
#: and the difference is divided by the difference of sizes. Counts are comparable between
#: two versions only at the same sizes.
CALLGRIND = Sizes(tell=10_000, ask=1_000, stream=2_000, thread=200, spawn=2_000, repeats=1)
