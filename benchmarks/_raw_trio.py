"""Raw trio baselines and floors: the same workloads with no actor runtime.

Idiomatic trio, as a user would write it without actors:

- ``raw_trio_tell``: ``await send_channel.send(msg)`` per message on an unbounded memory
  channel into a task that counts (one checkpoint, so one task switch, per message).
- ``raw_trio_ask``: per request a `trio.Event` and a result slot, put in the channel with
  ``send_nowait`` (the wait for the event is the checkpoint; an ``await send`` there would add
  a switch and cost ~15%); the receiver fills the slot with ``message + 1`` and sets the event.
- ``raw_trio_stream``: one task sends N items into a memory channel of buffer 16 (the default
  ``buffer`` of ``ask_stream``); another reads them with ``async for``.
- ``to_thread``: ``await trio.to_thread.run_sync(fn, i)`` N times in sequence, from a plain task.

The floors: the least an actor runtime on trio can spend on the same hand-offs, with trio's
parking primitives and nothing else (``trio.lowlevel.wait_task_rescheduled`` / ``reschedule``).
An actor's handler is an async function, so a floor awaits one per message too:

- ``trio_floor_tell``: a sync ``deque.append`` per message, rescheduling the receiver only when
  it is parked; the receiver pops each message and ``await``s a trivial async handler with it
  (no checkpoint per message), and parks when the deque is empty.
- ``trio_floor_ask``: the asker appends ``(message, itself)`` to that deque and parks; the
  receiver awaits the handler (``message + 1``) and reschedules the asker with the result.
  Two park/reschedule pairs per ask, no Event.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from ._timing import Stopwatch, Workload

__all__ = ["workloads"]

_TIMEOUT = 60.0


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


async def _stream(n: int) -> float:
    send, receive = trio.open_memory_channel[int](16)

    async def produce() -> None:
        async with send:
            for i in range(n):
                await send.send(i)

    count = 0
    async with trio.open_nursery() as nursery:
        with Stopwatch() as watch:
            nursery.start_soon(produce)
            async for _ in receive:
                count += 1
    if count != n:
        raise AssertionError(f"got {count} of {n} items")
    return watch.elapsed


def _inc(i: int) -> int:
    return i + 1


async def _to_thread(n: int) -> float:
    with Stopwatch() as watch:
        for i in range(n):
            if await trio.to_thread.run_sync(_inc, i) != i + 1:
                raise AssertionError(f"call {i} got a wrong result")
    return watch.elapsed


# -- the floors ------------------------------------------------------------------------------


def _abort(_: Any) -> Abort:
    return Abort.SUCCEEDED


class _Inbox:
    """A deque and the one task that drains it, rescheduled only when it is parked."""

    __slots__ = ("consumer", "queue")

    def __init__(self) -> None:
        self.queue: collections.deque[Any] = collections.deque()
        self.consumer: Task | None = None

    def put(self, item: Any) -> None:
        self.queue.append(item)
        consumer = self.consumer
        if consumer is not None:
            self.consumer = None
            reschedule(consumer)

    async def park(self) -> None:
        self.consumer = current_task()
        await wait_task_rescheduled(_abort)


class _Counter:
    """The floors' handler: an async method, as an actor's ``receive`` is."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: int) -> int:
        self.count += 1
        return message + 1


async def _floor_count(inbox: _Inbox, n: int, done: trio.Event) -> None:
    queue = inbox.queue
    receive = _Counter().receive
    count = 0
    while True:
        while queue:
            await receive(queue.popleft())
            count += 1
        if count == n:
            done.set()
        await inbox.park()


async def _floor_echo(inbox: _Inbox) -> None:
    queue = inbox.queue
    receive = _Counter().receive
    while True:
        while queue:
            message, asker = queue.popleft()
            reschedule(asker, outcome.Value(await receive(message)))
        await inbox.park()


async def _floor_tell(n: int) -> float:
    inbox = _Inbox()
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_floor_count, inbox, n, done)
        with Stopwatch() as watch:
            put = inbox.put
            for i in range(n):
                put(i)
            with trio.fail_after(_TIMEOUT):
                await done.wait()
        nursery.cancel_scope.cancel()
    return watch.elapsed


async def _floor_ask(n: int) -> float:
    inbox = _Inbox()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_floor_echo, inbox)
        with Stopwatch() as watch:
            me = current_task()
            for i in range(n):
                inbox.put((i, me))
                reply = await wait_task_rescheduled(_abort)
                if reply != i + 1:
                    raise AssertionError(f"ask {i} got {reply!r}")
        nursery.cancel_scope.cancel()
    return watch.elapsed


def workloads() -> dict[str, Workload]:
    """Figure key -> workload, for the runner."""

    def in_trio(fn: Any) -> Any:
        return lambda n: trio.run(fn, n)

    return {
        "raw_trio_tell_per_s": Workload("tell", in_trio(_tell)),
        "trio_floor_tell_per_s": Workload("tell", in_trio(_floor_tell)),
        "raw_trio_ask_per_s": Workload("ask", in_trio(_ask)),
        "trio_floor_ask_per_s": Workload("ask", in_trio(_floor_ask)),
        "raw_trio_stream_items_per_s": Workload("stream", in_trio(_stream)),
        "to_thread_per_s": Workload("thread", in_trio(_to_thread)),
    }
