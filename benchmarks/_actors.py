"""trio-actors: the same workloads through `actors`, plus spawn rate and footprint.

tell: ``ref.tell(msg)`` (sync) N times, then a final ``await ref.ask(None)`` returns the count
(per-sender order puts it after every tell). ask: ``await ref.ask(msg)`` N times in sequence,
each answered with ``message + 1``. run_in_thread: one ask whose handler calls
``await self.run_in_thread(fn, i)`` N times in sequence (compare ``to_thread`` in `_raw_trio`).
spawn: ``await system.spawn(Idle)`` K times in sequence. Memory: traced bytes (tracemalloc)
held after spawning K idle actors, divided by K.

ask_stream: one ``async with ref.ask_stream(...)`` whose handler sends N items through
``self.reply_stream()``; measured only once `ActorRef` has ``ask_stream`` (the contract's
streaming replies), next to ``raw_trio_stream``. Until then the row says "not measured".

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

from actors import Actor, ActorRef, open_actor_system

from ._timing import Stopwatch, Workload

__all__ = ["HAS_ASK_STREAM", "footprints", "workloads"]

#: Whether this version of `actors` has streaming replies (the ``ask_stream`` row's hook).
HAS_ASK_STREAM = hasattr(ActorRef, "ask_stream")

_TIMEOUT = 60.0


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message is None:
            return self.count
        self.count += 1
        return message + 1


def _inc(i: int) -> int:
    return i + 1


class Tooling(Actor):
    """Asked N, calls a trivial function in a worker thread N times, one after another."""

    async def receive(self, n: int) -> int:
        for i in range(n):
            if await self.run_in_thread(_inc, i) != i + 1:
                raise AssertionError(f"call {i} got a wrong result")
        return n


class Streaming(Actor):
    """Asked N with ``ask_stream``, streams the items 0 .. N-1."""

    async def receive(self, n: int) -> None:
        stream = self.reply_stream()  # type: ignore[attr-defined]  # the contract's API, not built yet
        for i in range(n):
            await stream.send(i)


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


async def _run_in_thread(n: int) -> float:
    async with open_actor_system() as system:
        ref = await system.spawn(Tooling)
        with Stopwatch() as watch:
            await ref.ask(n, timeout=_TIMEOUT)
    return watch.elapsed


async def _ask_stream(n: int) -> float:
    count = 0
    async with open_actor_system() as system:
        ref: Any = await system.spawn(Streaming)
        with Stopwatch() as watch:
            async with ref.ask_stream(n, timeout=_TIMEOUT) as items:
                async for _ in items:
                    count += 1
    if count != n:
        raise AssertionError(f"got {count} of {n} items")
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


def workloads() -> dict[str, Workload]:
    """Figure key -> workload, for the runner (``ask_stream`` only once `actors` has it)."""
    result = {
        "tell_per_s": Workload("tell", lambda n: trio.run(_tell, n)),
        "ask_per_s": Workload("ask", lambda n: trio.run(_ask, n)),
        "run_in_thread_per_s": Workload("thread", lambda n: trio.run(_run_in_thread, n)),
        "spawn_per_s": Workload("spawn", lambda n: trio.run(_spawn, n, Idle)),
        "spawn_with_on_start_per_s": Workload("spawn", lambda n: trio.run(_spawn, n, Starting)),
    }
    if HAS_ASK_STREAM:
        result["ask_stream_items_per_s"] = Workload("stream", lambda n: trio.run(_ask_stream, n))
    return result


def footprints(k: int) -> dict[str, float]:
    """Bytes of Python memory per actor, over ``k`` actors (one run each: it barely varies)."""
    return {
        "bytes_per_idle_actor": trio.run(_footprint, k, False),
        "bytes_per_woken_actor": trio.run(_footprint, k, True),
    }
