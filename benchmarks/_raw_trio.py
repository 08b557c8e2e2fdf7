"""Raw trio baseline: a memory channel into one receiver task, no actor runtime.

tell: ``await send_channel.send(msg)`` per message (the idiomatic form: one checkpoint, so one
task switch, per message). ask: per request a `trio.Event` and a result slot, put in the
channel with ``send_nowait`` (the wait for the event is the checkpoint; an ``await send`` there
would add a switch and cost ~15%); the receiver fills the slot with ``message + 1`` and sets
the event.
"""

from __future__ import annotations

import math

import trio

from ._config import Sizes
from ._timing import Stopwatch, Workload

__all__ = ["workloads"]


class _Request:
    __slots__ = ("done", "message", "reply")

    def __init__(self, message: int) -> None:
        self.message = message
        self.reply: int | None = None
        self.done = trio.Event()


async def _count(receive: trio.MemoryReceiveChannel[int], n: int, done: trio.Event) -> None:
    count = 0
    async for _ in receive:
        count += 1
        if count == n:
            done.set()


async def _echo(receive: trio.MemoryReceiveChannel[_Request]) -> None:
    async for request in receive:
        request.reply = request.message + 1
        request.done.set()


async def _tell(n: int) -> float:
    send, receive = trio.open_memory_channel[int](math.inf)
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_count, receive, n, done)
        with Stopwatch() as watch:
            for i in range(n):
                await send.send(i)
            await done.wait()
        nursery.cancel_scope.cancel()
    return watch.elapsed


async def _ask(n: int) -> float:
    send, receive = trio.open_memory_channel[_Request](math.inf)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_echo, receive)
        with Stopwatch() as watch:
            for i in range(n):
                request = _Request(i)
                send.send_nowait(request)
                await request.done.wait()
                if request.reply != i + 1:
                    raise AssertionError(f"ask {i} got {request.reply!r}")
        nursery.cancel_scope.cancel()
    return watch.elapsed


def workloads(sizes: Sizes) -> dict[str, Workload]:
    return {
        "raw_trio_tell_per_s": Workload(sizes.tell, lambda: trio.run(_tell, sizes.tell)),
        "raw_trio_ask_per_s": Workload(sizes.ask, lambda: trio.run(_ask, sizes.ask)),
    }
