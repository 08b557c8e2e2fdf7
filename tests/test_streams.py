"""Streaming replies: ref.ask_stream(...) and self.reply_stream(), in virtual time."""

from __future__ import annotations

import math

import attrs
import pytest
import trio
import trio.testing

from actors import (
    Actor,
    ActorError,
    ActorStopped,
    AskAbandoned,
    AskStream,
    AskTimeout,
    DeadlockError,
    ReplyStream,
    Tracer,
    open_actor_system,
)
from actors.testing import TestProbe


@attrs.frozen
class Count:
    """Stream 0..n-1, waiting ``pause`` before each; then fail with ``error`` if given."""

    n: int
    pause: float = 0.0
    error: Exception | None = None


class Counter(Actor):
    def __init__(self, log: list[object] | None = None) -> None:
        self.log = log if log is not None else []

    async def receive(self, message: object) -> object:
        match message:
            case Count(n, pause, error):
                stream = self.reply_stream()
                try:
                    for i in range(n):
                        if pause:
                            await trio.sleep(pause)
                        await stream.send(i)
                        self.log.append(("sent", i, trio.current_time()))
                except trio.Cancelled:
                    self.log.append(("cancelled", stream.sent, trio.current_time()))
                    raise
                if error is not None:
                    raise error
                return "ignored once streaming"
            case "plain":
                return "one answer"
            case "nothing":
                return None
            case "stream-to-an-ask":
                self.reply_stream()
            case _:
                self.unhandled(message)


def abandoned(system) -> list[object]:
    return [d for d in system.dead_letters if isinstance(d.error, AskAbandoned)]


async def test_items_arrive_in_order_and_the_stream_ends_when_the_handler_returns(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    async with ref.ask_stream(Count(100), timeout=5) as items:
        assert isinstance(items, AskStream)
        got = [item async for item in items]
    assert got == list(range(100))
    assert await ref.ask("plain", timeout=1) == "one answer"  # the actor is free again


async def test_a_slow_reader_slows_the_producer_down(actor_system_autojump) -> None:
    log: list[object] = []
    ref = await actor_system_autojump.spawn(Counter, log, name="counter")
    seen = []
    async with ref.ask_stream(Count(20), timeout=100, buffer=4) as items:
        async for item in items:
            sent = sum(1 for entry in log if entry[0] == "sent")
            seen.append((item, sent))
            await trio.sleep(1)  # a slow reader
    assert [item for item, _ in seen] == list(range(20))
    # the producer never ran more than `buffer` items ahead of the reader
    # (seen just after the reader took one: the buffer had held 4, it now holds 3)
    assert max(sent - (item + 1) for item, sent in seen) == 3, seen


async def test_buffer_zero_hands_each_item_over_in_person(actor_system_autojump) -> None:
    log: list[object] = []
    ref = await actor_system_autojump.spawn(Counter, log, name="counter")
    async with ref.ask_stream(Count(5), timeout=100, buffer=0) as items:
        async for item in items:
            await trio.sleep(1)
            sent = [entry[1] for entry in log if entry[0] == "sent"]
            assert sent[-1] == item, "the producer waited for the reader to take the item"


async def test_a_slow_producer_makes_the_reader_wait(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    start = trio.current_time()
    times = []
    async with ref.ask_stream(Count(3, pause=2), timeout=100) as items:
        async for _ in items:
            times.append(trio.current_time() - start)
    assert times == [2, 4, 6]


@pytest.mark.allow_actor_failures(types=ValueError)
async def test_an_error_in_the_handler_is_raised_after_the_items_before_it(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    got = []
    with pytest.raises(ValueError, match="^model overloaded$"):
        async with ref.ask_stream(Count(3, error=ValueError("model overloaded")), timeout=5) as items:
            async for item in items:
                got.append(item)
    assert got == [0, 1, 2]


async def test_leaving_early_cancels_the_producer(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Counter, log, name="counter")
    start = trio.current_time()
    async with ref.ask_stream(Count(1000, pause=1), timeout=5000) as items:
        async for item in items:
            if item == 2:
                break
    assert await ref.ask("plain", timeout=1) == "one answer"  # at once: the producer was cut
    assert trio.current_time() == start + 3
    assert ("cancelled", 3, start + 3) in log
    [record] = abandoned(system)
    assert record.message == Count(1000, pause=1)
    assert "its asker stopped waiting (cancelled, or left a stream early)" in record.reason
    assert ref.is_alive


async def test_the_deadline_ends_the_stream_after_the_items_that_came_in_time(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Counter, log, name="counter")
    start = trio.current_time()
    got = []
    with pytest.raises(AskTimeout, match=r"^actor 'counter' did not answer Count within 3.5 s"):
        async with ref.ask_stream(Count(100, pause=1), timeout=3.5) as items:
            async for item in items:
                got.append(item)
    assert got == [0, 1, 2]
    assert trio.current_time() == start + 3.5
    await trio.testing.wait_all_tasks_blocked()
    assert ("cancelled", 3, start + 3.5) in log
    assert len(abandoned(system)) == 1


async def test_a_plain_answer_is_a_stream_of_one_item_and_none_of_none(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    async with ref.ask_stream("plain", timeout=1) as items:
        assert [item async for item in items] == ["one answer"]
    async with ref.ask_stream("nothing", timeout=1) as items:
        assert [item async for item in items] == []


@pytest.mark.allow_actor_failures(types=ActorError)
async def test_reply_stream_outside_an_ask_stream_says_what_to_do(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    with pytest.raises(
        ActorError,
        match=(
            r"^actor 'counter' called reply_stream\(\) while handling str, which was asked with ask\(\), "
            r"not with ask_stream\(\): return the answer instead, or have the sender use "
            r"'async with ref.ask_stream\(message\) as items'$"
        ),
    ):
        await ref.ask("stream-to-an-ask", timeout=1)


async def test_ask_stream_checks_its_arguments_at_once(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="counter")
    with pytest.raises(ValueError, match=r"^buffer must be >= 0, got -1$"):
        ref.ask_stream(Count(1), buffer=-1)
    with pytest.raises(TypeError, match=r"^buffer must be an int >= 0, not float$"):
        ref.ask_stream(Count(1), buffer=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^timeout must be >= 0 seconds"):
        ref.ask_stream(Count(1), timeout=-1)
    items = ref.ask_stream(Count(1))
    with pytest.raises(RuntimeError, match=r"^use 'async with ref.ask_stream\(message\) as items:'"):
        await items.__anext__()
    async with items:
        pass
    with pytest.raises(RuntimeError, match=r"^an ask_stream\(\) can be entered once"):
        async with items:
            pass
    with pytest.raises(TypeError, match="no public constructor"):
        AskStream()
    with pytest.raises(TypeError, match="no public constructor"):
        ReplyStream()


async def test_a_stopped_actor_refuses_a_stream_and_a_stop_ends_one(actor_system_autojump) -> None:
    system = actor_system_autojump
    ref = await system.spawn(Counter, name="counter")
    got = []
    with pytest.raises(ActorStopped, match="was stopped while handling Count"):
        async with ref.ask_stream(Count(100, pause=1), timeout=500) as items:
            async for item in items:
                got.append(item)
                if item == 1:
                    await system.stop(ref)  # the handler gets its 5 s grace, then is cancelled
    # the items it sent during its grace came before the error
    assert got == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ActorStopped):
        async with ref.ask_stream(Count(1)):
            pass


async def test_streaming_to_itself_is_a_deadlock_raised_at_once(actor_system_autojump) -> None:
    class Selfish(Actor):
        async def receive(self, message: object) -> object:
            async with self.ref.ask_stream("x"):
                pass

    ref = await actor_system_autojump.spawn(Selfish, name="selfish")
    with pytest.raises(DeadlockError, match="asked itself"):
        await ref.ask("go", timeout=1)


async def test_a_test_probe_can_serve_a_stream(actor_system_autojump) -> None:
    """The probe stands in for a streaming agent: the test sends the items."""
    system = actor_system_autojump
    probe = await TestProbe.spawn(system)
    got = []

    async def reader() -> None:
        async with probe.ref.ask_stream("tokens please", timeout=10) as items:
            async for item in items:
                got.append(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        assert await probe.expect("tokens please") == "tokens please"
        received = probe.last
        assert received is not None and received.stream is not None and received.is_ask
        for token in ("Plan", ":", " search"):
            await received.stream.send(token)
        probe.reply(None)  # ends the stream
    assert got == ["Plan", ":", " search"]
    assert received.stream.closed
    with pytest.raises(ActorError, match="has ended"):
        await received.stream.send("late")


async def test_a_probe_stream_whose_reader_left_raises_ask_abandoned_on_send(actor_system_autojump) -> None:
    system = actor_system_autojump
    probe = await TestProbe.spawn(system)

    async def reader() -> None:
        async with probe.ref.ask_stream("go", timeout=10) as items:
            async for _ in items:
                return  # leave after the first item

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await probe.expect("go")
        stream = probe.last.stream  # type: ignore[union-attr]
        await stream.send(1)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(AskAbandoned, match="its asker gave up"):
            await stream.send(2)


@attrs.frozen
class Merge:
    sources: tuple[object, ...]


class FanIn(Actor):
    """Reads several streams at once and interleaves their items by arrival (a fan-in)."""

    async def receive(self, message: object) -> object:
        match message:
            case Merge(sources):
                merged: list[tuple[str, int]] = []

                async def pump(source, n: int, pause: float) -> None:
                    async with source.ask_stream(Count(n, pause)) as items:
                        async for item in items:
                            merged.append((source.name, item))

                async with trio.open_nursery() as nursery:
                    for source, n, pause in sources:
                        nursery.start_soon(pump, source, n, pause)
                return merged


async def test_a_fan_in_of_several_streams_interleaves_by_arrival(actor_system_autojump) -> None:
    system = actor_system_autojump
    a = await system.spawn(Counter, name="a")
    b = await system.spawn(Counter, name="b")
    fan_in = await system.spawn(FanIn, name="fan-in")
    merged = await fan_in.ask(Merge(((a, 3, 1.0), (b, 2, 1.4))), timeout=10)
    assert merged == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)]


async def test_a_fan_in_ends_with_the_deadline_it_serves(actor_system_autojump) -> None:
    system = actor_system_autojump
    log_a: list[object] = []
    a = await system.spawn(Counter, log_a, name="a")
    fan_in = await system.spawn(FanIn, name="fan-in")
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await fan_in.ask(Merge(((a, 100, 1.0),)), timeout=2.5)
    await trio.testing.wait_all_tasks_blocked()
    # the inner stream inherited the 2.5 s deadline: its producer stopped then too
    assert ("cancelled", 2, start + 2.5) in log_a
    assert math.isclose(trio.current_time(), start + 2.5)


async def test_each_item_is_traced() -> None:
    tracer = Tracer()
    async with open_actor_system(trace=tracer) as system:
        ref = await system.spawn(Counter, name="counter")
        async with ref.ask_stream(Count(3), timeout=5) as items:
            assert [item async for item in items] == [0, 1, 2]
    kinds = [(event.kind, event.detail) for event in tracer if event.message == "Count"]
    assert kinds == [
        ("send", None),
        ("receive", None),
        ("item", "item 1"),
        ("item", "item 2"),
        ("item", "item 3"),
        ("reply", None),
    ]
    assert "streamed item 2 of Count" in tracer.timeline()
