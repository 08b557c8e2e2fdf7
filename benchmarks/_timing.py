"""The shared timing helper: a stopwatch, and best-of-N rates measured round-robin.

Every backend's workloads run interleaved (repeat 1 of all, then repeat 2 of all, ...), so a
noisy spell on a shared machine hits every backend alike rather than all repeats of one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from types import TracebackType

import attrs

__all__ = ["Stopwatch", "Workload", "best_rates"]


class Stopwatch:
    """``with Stopwatch() as sw: ...``, then ``sw.elapsed`` holds the wall-clock seconds."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.elapsed = time.perf_counter() - self._start


@attrs.frozen
class Workload:
    """``run()`` performs ``n`` operations once (with its own set-up) and returns their seconds."""

    n: int
    run: Callable[[], float]


def best_rates(
    workloads: Mapping[str, Workload],
    repeats: int,
    progress: Callable[[str], None] = lambda line: None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Run each workload ``repeats`` times, round-robin; return best ops/s and errors by name.

    A workload that raises is reported in the errors and dropped from later repeats.
    """
    best: dict[str, float] = {}
    errors: dict[str, str] = {}
    for repeat in range(1, repeats + 1):
        for name, workload in workloads.items():
            if name in errors:
                continue
            gc.collect()
            try:
                rate = workload.n / workload.run()
            except Exception as exc:  # noqa: BLE001 - one broken backend must not sink the others
                errors[name] = f"{type(exc).__name__}: {exc}"
                best.pop(name, None)
                progress(f"[{repeat}/{repeats}] {name}: failed: {errors[name]}")
                continue
            best[name] = max(rate, best.get(name, 0.0))
            progress(f"[{repeat}/{repeats}] {name}: {rate:,.0f}/s")
    return best, errors
