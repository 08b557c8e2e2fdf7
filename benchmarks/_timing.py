"""The shared timing helpers: a stopwatch, workloads, and rates measured in rounds.

Each round (a repeat) runs every workload once, back to back, in the table's order (so the
rows compared with each other run next to each other); every other round runs them in reverse
order, so no workload always comes first or always follows the same neighbour. A noisy spell
on a shared machine then hits the figures of one round alike, and the report compares them
round by round (see `_report`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from types import TracebackType

import attrs

from ._config import Sizes

__all__ = ["Stopwatch", "Workload", "run_rounds"]


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
    """``run(n)`` performs ``n`` operations once (with its own set-up) and returns their seconds.

    ``measure`` names the size it runs at (a field of `Sizes`: "tell", "ask", ...). Set-up and
    teardown are outside the seconds returned; the instruction-count mode counts them too, but
    they cancel out there (it subtracts a smaller run).
    """

    measure: str
    run: Callable[[int], float]


def run_rounds(
    workloads: Mapping[str, Workload],
    sizes: Sizes,
    progress: Callable[[str], None] = lambda line: None,
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Run every workload once per round, ``sizes.repeats`` rounds; return rates and errors.

    Returns ``(rates, errors)``: ``rates[name][r]`` is the operations per second of round
    ``r``. A workload that raises is reported in the errors, loses its rates and is dropped
    from later rounds (one broken backend must not sink the others).
    """
    rates: dict[str, list[float]] = {name: [] for name in workloads}
    errors: dict[str, str] = {}
    names = list(workloads)
    for repeat in range(1, sizes.repeats + 1):
        for name in names if repeat % 2 else reversed(names):
            if name in errors:
                continue
            workload = workloads[name]
            n = sizes.of(workload.measure)
            gc.collect()
            try:
                rate = n / workload.run(n)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                del rates[name]
                progress(f"[{repeat}/{sizes.repeats}] {name}: failed: {errors[name]}")
                continue
            rates[name].append(rate)
            progress(f"[{repeat}/{sizes.repeats}] {name}: {rate:,.0f}/s")
    return rates, errors
