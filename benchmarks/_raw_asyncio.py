"""Raw asyncio baseline: an `asyncio.Queue` into one receiver task, no actor runtime.

tell: ``await queue.put(msg)`` per message (on an unbounded queue this never suspends);
tell_nowait: ``queue.put_nowait(msg)``, a sync put as ``ref.tell`` is (about 30% faster). Either
way the receiver drains the queue with ``await queue.get()`` and sets an event at count N. ask:
per request an `asyncio.Future` goes through the queue; the receiver sets it to ``message + 1``.
"""

from __future__ import annotations

import asyncio

from ._timing import Stopwatch, Workload

__all__ = ["workloads"]


async def _count(queue: asyncio.Queue[int], n: int, done: asyncio.Event) -> None:
    count = 0
    while True:
        await queue.get()
        count += 1
        if count == n:
            done.set()


async def _echo(queue: asyncio.Queue[tuple[int, asyncio.Future[int]]]) -> None:
    while True:
        message, future = await queue.get()
        future.set_result(message + 1)


async def _tell(n: int, nowait: bool = False) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    done = asyncio.Event()
    receiver = asyncio.create_task(_count(queue, n, done))
    with Stopwatch() as watch:
        if nowait:
            put = queue.put_nowait
            for i in range(n):
                put(i)
        else:
            for i in range(n):
                await queue.put(i)
        await done.wait()
    receiver.cancel()
    return watch.elapsed


async def _ask(n: int) -> float:
    queue: asyncio.Queue[tuple[int, asyncio.Future[int]]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    receiver = asyncio.create_task(_echo(queue))
    with Stopwatch() as watch:
        for i in range(n):
            future = loop.create_future()
            await queue.put((i, future))
            reply = await future
            if reply != i + 1:
                raise AssertionError(f"ask {i} got {reply!r}")
    receiver.cancel()
    return watch.elapsed


def workloads() -> dict[str, Workload]:
    """Figure key -> workload, for the runner."""
    return {
        "asyncio_tell_per_s": Workload("tell", lambda n: asyncio.run(_tell(n))),
        "asyncio_tell_nowait_per_s": Workload("tell", lambda n: asyncio.run(_tell(n, nowait=True))),
        "asyncio_ask_per_s": Workload("ask", lambda n: asyncio.run(_ask(n))),
    }
