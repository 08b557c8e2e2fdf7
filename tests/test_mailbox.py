"""Mailboxes: unbounded by default; a bounded one refuses tells and makes send/ask wait."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
import trio.testing

from actors import Actor, ActorRef, ActorStopped, AskTimeout, MailboxFull, Terminated


class Gate(Actor):
    """Handles "block" by waiting on ``gate``; records everything else in order."""

    def __init__(self, gate: trio.Event, entered: trio.Event) -> None:
        self.gate = gate
        self.entered = entered
        self.got: list[Any] = []

    async def receive(self, message: object) -> object:
        if message == "block":
            self.entered.set()
            await self.gate.wait()
            return "unblocked"
        if message == "got?":
            return list(self.got)
        if isinstance(message, ActorRef):
            self.watch(message)
            return None
        self.got.append(message)
        return message


async def _blocked(system: Any, size: int) -> tuple[ActorRef[Any], trio.Event]:
    """A Gate actor with a bounded mailbox, busy in "block" with an empty mailbox."""
    gate, entered = trio.Event(), trio.Event()
    ref = await system.spawn(Gate, gate, entered, name="box", mailbox_size=size)
    ref.tell("block")
    await entered.wait()
    return ref, gate


async def test_tell_beyond_capacity_raises_mailbox_full_and_loses_nothing(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 2)
    ref.tell(1)
    ref.tell(2)
    with pytest.raises(
        MailboxFull,
        match=r"^mailbox of actor 'box' is full \(2 messages\) and cannot take int; use 'await "
        r"ref\.send\(message\)' to wait for space, or spawn it with a larger mailbox_size$",
    ):
        ref.tell(3)
    gate.set()
    assert await ref.ask("got?") == [1, 2]
    assert list(actor_system.dead_letters) == []


async def test_send_waits_for_space_and_delivers_in_order(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 2)
    sent: list[int] = []

    async def producer() -> None:
        for i in range(6):
            await ref.send(i)
            sent.append(i)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        await trio.testing.wait_all_tasks_blocked()
        assert sent == [0, 1]  # the third send waits: backpressure
        gate.set()
    assert sent == list(range(6))
    assert await ref.ask("got?") == list(range(6))


async def test_several_producers_waiting_on_send_each_keep_their_order(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 1)

    async def producer(who: str) -> None:
        for i in range(5):
            await ref.send((who, i))

    async with trio.open_nursery() as nursery:
        for who in "abc":
            nursery.start_soon(producer, who)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    got = await ref.ask("got?")
    assert sorted(got) == sorted((w, i) for w in "abc" for i in range(5))
    for who in "abc":
        assert [i for w, i in got if w == who] == list(range(5))


async def test_ask_on_a_full_mailbox_waits_for_space(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 1)
    ref.tell("queued")
    async with trio.open_nursery() as nursery:
        answers: list[object] = []

        async def asker() -> None:
            answers.append(await ref.ask("asked"))

        nursery.start_soon(asker)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []
        gate.set()
    assert answers == ["asked"]
    assert await ref.ask("got?") == ["queued", "asked"]


async def test_ask_on_a_full_mailbox_raises_ask_timeout_at_its_deadline(actor_system_autojump) -> None:
    ref, gate = await _blocked(actor_system_autojump, 1)
    ref.tell("queued")
    start = trio.current_time()
    with pytest.raises(AskTimeout, match=r"actor 'box'.* str"):
        await ref.ask("asked", timeout=1)
    assert trio.current_time() == start + 1
    gate.set()


async def test_send_waiting_for_space_raises_actor_stopped_when_the_actor_stops(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 1)
    ref.tell("queued")
    errors: list[BaseException] = []

    async def producer() -> None:
        try:
            await ref.send("waiting")
        except ActorStopped as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(actor_system.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert len(errors) == 1
    assert "actor 'box' has stopped" in str(errors[0])


async def test_ask_nowait_on_a_full_mailbox_raises_mailbox_full(actor_system) -> None:
    ref, gate = await _blocked(actor_system, 1)
    ref.tell("queued")
    with pytest.raises(MailboxFull, match=r"^mailbox of actor 'box' is full \(1 messages\) and cannot take str"):
        ref.ask_nowait("asked")
    gate.set()


async def test_terminated_is_delivered_past_a_full_mailbox(actor_system) -> None:
    gate, entered = trio.Event(), trio.Event()
    watcher = await actor_system.spawn(Gate, gate, entered, name="watcher", mailbox_size=1)
    target = await actor_system.spawn(Actor, name="target")
    await watcher.ask(target)  # watch it
    watcher.tell("block")
    await entered.wait()
    watcher.tell("filler")
    with pytest.raises(MailboxFull):
        watcher.tell("one too many")
    await actor_system.stop(target)  # Terminated goes in regardless of the bound
    gate.set()
    assert await watcher.ask("got?") == ["filler", Terminated(target, None)]


async def test_ask_timeout_covers_the_wait_for_mailbox_space_too(actor_system_autojump) -> None:
    class Slow(Actor):
        async def receive(self, message: object) -> object:
            await trio.sleep(message)  # type: ignore[arg-type]
            return message

    ref = await actor_system_autojump.spawn(Slow, name="slow", mailbox_size=1)
    ref.tell(0.5)  # handled from t=0 to t=0.5
    await trio.testing.wait_all_tasks_blocked()
    ref.tell(0.5)  # queued: the mailbox is full until t=0.5, handled until t=1
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await ref.ask(0.8, timeout=1)  # room at t=0.5; its answer would come at t=1.8
    assert trio.current_time() == start + 1


@pytest.mark.parametrize("size", [0, -1])
async def test_mailbox_size_must_be_at_least_one(actor_system, size: int) -> None:
    with pytest.raises(ValueError, match=r"^mailbox_size must be >= 1 \(or None for unbounded\)$"):
        await actor_system.spawn(Actor, name="bad", mailbox_size=size)
    # the name was not taken by the failed spawn
    ok = await actor_system.spawn(Actor, name="bad")
    assert ok.is_alive


async def test_mailbox_size_must_be_an_int(actor_system) -> None:
    with pytest.raises(TypeError, match=r"^mailbox_size must be an int or None, not float$"):
        await actor_system.spawn(Actor, name="bad", mailbox_size=2.5)


async def test_an_unbounded_mailbox_takes_many_tells_without_awaiting(actor_system) -> None:
    ref = await actor_system.spawn(Gate, trio.Event(), trio.Event(), name="big")
    for i in range(50_000):
        ref.tell(i)
    got = await ref.ask("got?", timeout=math.inf)
    assert got == list(range(50_000))
