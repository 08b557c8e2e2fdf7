"""``ask_stream`` across nodes: items in order, the error after them, leaving early, deadlines."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from nodekit import ERRORS, MESSAGES, Overdrawn

from actors import Actor, AskAbandoned, AskTimeout, open_actor_system


class Producer(Actor):
    """Streams on ``[what, n]`` (plain data, so no type to list)."""

    def __init__(self, cancelled: trio.Event, sent: list[int] | None = None) -> None:
        self.cancelled = cancelled
        self.sent = sent if sent is not None else []

    async def receive(self, message: Any) -> Any:
        what, n = message
        if what == "plain":
            return n * 2  # no reply_stream(): the answer is the only item
        stream = self.reply_stream()
        try:
            for i in range(n):
                await stream.send(i)
                self.sent.append(i)
                if what == "forever":
                    await trio.sleep(0.01)
        except trio.Cancelled:
            self.cancelled.set()
            raise
        if what == "fail":
            raise Overdrawn("after the items")
        return None


def transport_for(make_transport: Any) -> Any:
    return make_transport(messages=MESSAGES, errors=ERRORS)


async def test_remote_ask_stream_items_arrive_in_order_then_the_handlers_error(make_transport: Any) -> None:
    cancelled = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Producer, cancelled, name="producer", public=True)
        producer = b.remote("producer")
        async with producer.ask_stream(["count", 200], timeout=10, buffer=4) as items:
            got = [item async for item in items]
        assert got == list(range(200))
        async with producer.ask_stream(["plain", 21], timeout=10) as items:
            assert [item async for item in items] == [42]
        seen: list[int] = []
        with pytest.raises(Overdrawn, match="after the items"):
            async with producer.ask_stream(["fail", 3], timeout=10) as items:
                async for item in items:
                    seen.append(item)
        assert seen == [0, 1, 2]  # (the failure stops this top-level actor, as locally)
        assert not cancelled.is_set()


async def test_leaving_a_remote_stream_early_cuts_the_remote_producer(make_transport: Any) -> None:
    cancelled = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Producer, cancelled, name="producer", public=True)
        producer = b.remote("producer")
        async with producer.ask_stream(["forever", 100_000], timeout=60) as items:
            async for item in items:
                if item == 2:
                    break
        with trio.fail_after(5):  # far sooner than the 60 s deadline or 1000 s of items
            await cancelled.wait()
        with trio.fail_after(5):
            while not any(isinstance(letter.error, AskAbandoned) for letter in a.dead_letters):
                await trio.sleep(0.01)
        async with producer.ask_stream(["count", 3], timeout=10) as items:  # serves the next at once
            assert [item async for item in items] == [0, 1, 2]


async def test_a_remote_stream_ends_at_its_deadline_and_its_producer_is_cut(make_transport: Any) -> None:
    cancelled = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Producer, cancelled, name="producer", public=True)
        seen: list[int] = []
        with pytest.raises(AskTimeout):
            async with b.remote("producer").ask_stream(["forever", 100_000], timeout=0.5) as items:
                async for item in items:
                    seen.append(item)
        assert seen[:3] == [0, 1, 2] and seen == list(range(len(seen)))
        with trio.fail_after(5):
            await cancelled.wait()


async def test_remote_ask_stream_checks_its_arguments_at_once(make_transport: Any) -> None:
    async with open_actor_system(node="b", transport=transport_for(make_transport)) as b:
        with pytest.raises(ValueError, match="buffer must be >= 0"):
            b.remote("producer").ask_stream(["count", 1], buffer=-1)
        with pytest.raises(TypeError, match="not a message type"):
            async with b.remote("producer").ask_stream(object(), timeout=1):
                pass


async def test_a_remote_producer_runs_at_most_two_windows_ahead_of_a_slow_reader(make_transport: Any) -> None:
    cancelled = trio.Event()
    sent: list[int] = []
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Producer, cancelled, sent, name="producer", public=True)
        got: list[int] = []
        async with b.remote("producer").ask_stream(["count", 200], timeout=30) as items:
            async for item in items:
                got.append(item)
                if item == 0:
                    await trio.sleep(0.5)  # a slow reader: the producer must wait for it
                    # 16 items on the wire unread (the window) and 16 waiting on node a, no more
                    assert 16 <= len(sent) <= 2 * 16 + 1
        assert got == list(range(200)) and len(sent) == 200


async def test_leaving_before_the_first_item_cuts_the_producer_at_its_first_item(make_transport: Any) -> None:
    cancelled = trio.Event()
    sent: list[int] = []
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Producer, cancelled, sent, name="producer", public=True)
        async with b.remote("producer").ask_stream(["forever", 100_000], timeout=60):
            pass  # left before any item came: the serving node is not known yet
        with trio.fail_after(5):  # its first item finds no asker and is answered with a CANCEL
            await cancelled.wait()
        assert len(sent) < 100
