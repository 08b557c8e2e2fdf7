"""trio-actors: the same tell and ask workloads through `actors`, plus spawn rate and footprint.

tell: ``ref.tell(msg)`` (sync) N times, then a final ``await ref.ask(None)`` returns the count
(per-sender order puts it after every tell). ask: ``await ref.ask(msg)`` N times in sequence,
each answered with ``message + 1``. spawn: ``await system.spawn(Idle)`` K times in sequence.
Memory: traced bytes (tracemalloc) held after spawning K idle actors, divided by K.

The runtime starts an actor's task lazily when it has no ``on_start``: an actor never sent
anything holds no task. So two extra figures show the cost of an actor that does hold one:
``spawn_with_on_start_per_s`` (its ``on_start`` must run before ``spawn`` returns) and
``bytes_per_woken_actor`` (each actor answered one ask, then sits idle with its task parked).

Importing this module raises ImportError while the `actors` package is missing.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import trio

from actors import Actor, open_actor_system

from ._config import Sizes
from ._timing import Stopwatch, Workload

__all__ = ["footprints", "workloads"]

_TIMEOUT = 60.0


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message is None:
            return self.count
        self.count += 1
        return message + 1


class Idle(Actor):
    async def receive(self, message: Any) -> None:
        return None


class Starting(Idle):
    async def on_start(self) -> None:
        pass


async def _tell(n: int) -> float:
    async with open_actor_system() as system:
        ref = await system.spawn(Counter)
        with Stopwatch() as watch:
            for i in range(n):
                ref.tell(i)
            count = await ref.ask(None, timeout=_TIMEOUT)
    if count != n:
        raise AssertionError(f"counted {count} of {n} tells")
    return watch.elapsed


async def _ask(n: int) -> float:
    async with open_actor_system() as system:
        ref = await system.spawn(Counter)
        with Stopwatch() as watch:
            for i in range(n):
                reply = await ref.ask(i, timeout=_TIMEOUT)
                if reply != i + 1:
                    raise AssertionError(f"ask {i} got {reply!r}")
    return watch.elapsed


async def _spawn(k: int, actor_cls: type[Actor]) -> float:
    async with open_actor_system() as system:
        with Stopwatch() as watch:
            for _ in range(k):
                await system.spawn(actor_cls)
    return watch.elapsed


async def _footprint(k: int, woken: bool) -> float:
    async with open_actor_system() as system:
        await (await system.spawn(Idle)).ask(None, timeout=_TIMEOUT)  # keep one-off set-up out
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(k):
                ref = await system.spawn(Idle)
                if woken:
                    await ref.ask(None, timeout=_TIMEOUT)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    return (after - before) / k


def workloads(sizes: Sizes) -> dict[str, Workload]:
    return {
        "tell_per_s": Workload(sizes.tell, lambda: trio.run(_tell, sizes.tell)),
        "ask_per_s": Workload(sizes.ask, lambda: trio.run(_ask, sizes.ask)),
        "spawn_per_s": Workload(sizes.spawn, lambda: trio.run(_spawn, sizes.spawn, Idle)),
        "spawn_with_on_start_per_s": Workload(sizes.spawn, lambda: trio.run(_spawn, sizes.spawn, Starting)),
    }


def footprints(k: int) -> dict[str, float]:
    """Bytes of Python memory per actor, over ``k`` actors (one run each: it barely varies)."""
    return {
        "bytes_per_idle_actor": trio.run(_footprint, k, False),
        "bytes_per_woken_actor": trio.run(_footprint, k, True),
    }
