"""pykka baseline: one `pykka.ThreadingActor` (its own thread), driven from the main thread.

tell: ``ref.tell(msg)`` N times, then a final ``ref.ask(None)`` returns the count (pykka keeps
per-sender order, so it comes after every tell). ask: ``ref.ask(msg)`` N times in sequence,
each answered with ``message + 1``.

pykka's speed depends on where the OS puts its two threads. On different CPUs every hand-off
is a cross-CPU wake-up (~18 k asks/s, ~200 k tells/s on 2 cores: the design's figures); on one
CPU it is a GIL switch and pykka runs ~2.5x faster (~45 k asks/s, ~500 k tells/s). Left to the
OS, as users run it, whole runs land in one mode or the other (seen on an idle machine too), so
``pykka_*`` (unpinned) can jump between runs. ``pykka_one_cpu_*`` pins both threads to one CPU
(Linux ``sched_setaffinity``): pykka's best case, and a stable figure. Without the affinity
call the one-CPU figures are left out.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

import pykka

from ._timing import Stopwatch, Workload

__all__ = ["workloads"]

_TIMEOUT = 60.0


def _pin(cpu: int | None) -> None:
    """Pin the calling thread (pid 0 means this thread on Linux) to ``cpu``; None: leave it."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def _pinned(cpu: int | None) -> Iterator[None]:
    saved = os.sched_getaffinity(0) if cpu is not None else None
    _pin(cpu)
    try:
        yield
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)


class _Counter(pykka.ThreadingActor):
    def __init__(self, cpu: int | None) -> None:
        super().__init__()
        self.count = 0
        self.cpu = cpu

    def on_start(self) -> None:  # runs in the actor's thread, before any message
        _pin(self.cpu)

    def on_receive(self, message: Any) -> Any:
        if message is None:
            return self.count
        self.count += 1
        return message + 1


def _tell(n: int, sender_cpu: int | None, actor_cpu: int | None) -> float:
    with _pinned(sender_cpu):
        ref = _Counter.start(actor_cpu)
        try:
            with Stopwatch() as watch:
                for i in range(n):
                    ref.tell(i)
                count = ref.ask(None, timeout=_TIMEOUT)
        finally:
            ref.stop()
    if count != n:
        raise AssertionError(f"counted {count} of {n} tells")
    return watch.elapsed


def _ask(n: int, sender_cpu: int | None, actor_cpu: int | None) -> float:
    with _pinned(sender_cpu):
        ref = _Counter.start(actor_cpu)
        try:
            with Stopwatch() as watch:
                for i in range(n):
                    reply = ref.ask(i, timeout=_TIMEOUT)
                    if reply != i + 1:
                        raise AssertionError(f"ask {i} got {reply!r}")
        finally:
            ref.stop()
    return watch.elapsed


def _placements() -> dict[str, tuple[int | None, int | None]]:
    """Key prefix -> (sender CPU, actor CPU); None leaves the thread to the OS."""
    placements: dict[str, tuple[int | None, int | None]] = {"pykka_": (None, None)}
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        placements["pykka_one_cpu_"] = (cpu, cpu)
    return placements


def workloads() -> dict[str, Workload]:
    """Figure key -> workload, for the runner (the one-CPU ones only where threads can be pinned)."""
    result = {}
    for prefix, (sender_cpu, actor_cpu) in _placements().items():
        result[f"{prefix}tell_per_s"] = Workload(
            "tell", functools.partial(_tell, sender_cpu=sender_cpu, actor_cpu=actor_cpu)
        )
        result[f"{prefix}ask_per_s"] = Workload(
            "ask", functools.partial(_ask, sender_cpu=sender_cpu, actor_cpu=actor_cpu)
        )
    return result
