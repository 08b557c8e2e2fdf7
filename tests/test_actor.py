"""Actor: receive, lifecycle hooks, and the tools an actor has inside (sender, envelope,
unhandled, defer_reply, watch, children, self.stop)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing

from actors import (
    Actor,
    ActorError,
    ActorRef,
    ActorStopped,
    DeferredReply,
    Envelope,
    Terminated,
    UnhandledMessage,
)


@attrs.frozen
class Ping:
    pass


@attrs.frozen
class Unknown:
    pass


# -- UnhandledMessage -----------------------------------------------------------


class Silent(Actor):
    """Does not override receive: every message is unhandled."""


class Picky(Actor):
    async def receive(self, message: object) -> object:
        match message:
            case Ping():
                return "pong"
            case _:
                self.unhandled(message)


async def test_base_receive_answers_an_ask_with_unhandled_message(actor_system) -> None:
    ref = await actor_system.spawn(Silent, name="silent")
    with pytest.raises(
        UnhandledMessage,
        match=r"^actor 'silent' \(Silent\) does not handle Ping messages; add a case for it to "
        r"receive\(\), or send it to an actor that does$",
    ):
        await ref.ask(Ping())


async def test_self_unhandled_answers_an_ask_with_unhandled_message(actor_system) -> None:
    ref = await actor_system.spawn(Picky, name="picky")
    with pytest.raises(UnhandledMessage, match=r"^actor 'picky' \(Picky\) does not handle Unknown messages"):
        await ref.ask(Unknown())


async def test_unhandled_message_does_not_stop_the_actor(actor_system) -> None:
    ref = await actor_system.spawn(Picky, name="picky")
    for _ in range(3):
        with pytest.raises(UnhandledMessage):
            await ref.ask(Unknown())
    assert ref.is_alive
    assert await ref.ask(Ping()) == "pong"


async def test_a_told_unhandled_message_goes_to_dead_letters(actor_system) -> None:
    ref = await actor_system.spawn(Picky, name="picky")
    ref.tell(Unknown())
    assert await ref.ask(Ping()) == "pong"  # handled after Unknown, still alive
    [letter] = list(actor_system.dead_letters)
    assert letter.message == Unknown()
    assert letter.recipient is ref
    assert letter.reason == "unhandled by 'picky' (Picky)"
    assert isinstance(letter.error, UnhandledMessage)


async def test_an_unhandled_ask_is_not_a_dead_letter(actor_system) -> None:
    ref = await actor_system.spawn(Picky, name="picky")
    with pytest.raises(UnhandledMessage):
        await ref.ask(Unknown())
    assert list(actor_system.dead_letters) == []


# -- envelopes and sender -------------------------------------------------------


@attrs.frozen
class Forward:
    to: ActorRef[Any]
    ask: bool = False


@attrs.frozen
class Note:
    pass


@attrs.frozen
class Seen:
    envelope: Envelope
    sender: ActorRef[Any] | None


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def receive(self, message: object) -> object:
        match message:
            case Note():
                assert self.envelope is not None
                self.seen.append(Seen(self.envelope, self.sender))
                return "noted"
            case "seen":
                return list(self.seen)
        return None


class Relay(Actor):
    """Records its own envelope, then tells or asks another actor."""

    async def receive(self, message: object) -> object:
        match message:
            case Forward(to, ask):
                mine = self.envelope
                if ask:
                    await to.ask(Note())
                else:
                    to.tell(Note())
                return mine
        return None


async def test_envelope_has_correlation_and_trace_ids(actor_system) -> None:
    relay = await actor_system.spawn(Relay, name="relay")
    recorder = await actor_system.spawn(Recorder, name="recorder")
    first = await relay.ask(Forward(recorder))
    second = await relay.ask(Forward(recorder))
    assert isinstance(first, Envelope)
    assert first.message == Forward(recorder)
    assert isinstance(first.correlation_id, int) and isinstance(first.trace_id, int)
    assert first.correlation_id != second.correlation_id
    # From outside any actor, each message starts a conversation of its own.
    assert first.trace_id == first.correlation_id
    assert first.trace_id != second.trace_id


@pytest.mark.parametrize("ask", [False, True], ids=["tell", "ask"])
async def test_a_message_sent_while_handling_another_inherits_its_trace_id(actor_system, ask: bool) -> None:
    relay = await actor_system.spawn(Relay, name="relay")
    recorder = await actor_system.spawn(Recorder, name="recorder")
    outer = await relay.ask(Forward(recorder, ask=ask))
    [seen] = await recorder.ask("seen")
    assert seen.envelope.trace_id == outer.trace_id
    assert seen.envelope.correlation_id != outer.correlation_id


@pytest.mark.parametrize("ask", [False, True], ids=["tell", "ask"])
async def test_sender_is_the_sending_actor(actor_system, ask: bool) -> None:
    relay = await actor_system.spawn(Relay, name="relay")
    recorder = await actor_system.spawn(Recorder, name="recorder")
    await relay.ask(Forward(recorder, ask=ask))
    [seen] = await recorder.ask("seen")
    assert seen.sender is relay
    assert seen.envelope.sender is relay


async def test_sender_is_none_for_a_message_from_outside_any_actor(actor_system) -> None:
    recorder = await actor_system.spawn(Recorder, name="recorder")
    recorder.tell(Note())
    await recorder.ask(Note())
    seen = await recorder.ask("seen")
    assert [s.sender for s in seen] == [None, None]


async def test_the_reply_carries_the_correlation_id_of_its_ask(actor_system) -> None:
    relay = await actor_system.spawn(Relay, name="relay")
    recorder = await actor_system.spawn(Recorder, name="recorder")
    reply = relay.ask_nowait(Forward(recorder))
    envelope = await reply
    assert reply.correlation_id == envelope.correlation_id


async def test_envelope_and_sender_are_none_outside_a_handler(actor_system) -> None:
    class Idle(Actor):
        async def on_start(self) -> None:
            self.at_start = (self.envelope, self.sender)

        async def receive(self, message: object) -> object:
            return self.at_start

    ref = await actor_system.spawn(Idle, name="idle")
    assert await ref.ask(Ping()) == (None, None)


# -- defer_reply ----------------------------------------------------------------


@attrs.frozen
class Question:
    pass


@attrs.frozen
class Answer:
    value: object


@attrs.frozen
class Refuse:
    error: BaseException


class Deferrer(Actor):
    def __init__(self) -> None:
        self.pending: list[DeferredReply[Any]] = []

    async def receive(self, message: object) -> object:
        match message:
            case Question():
                self.pending.append(self.defer_reply())
                return "ignored: the deferred answer wins"
            case Answer(value):
                return [handle.reply(value) for handle in self.pending]
            case Refuse(error):
                return [handle.fail(error) for handle in self.pending]
        return None


async def test_defer_reply_answers_an_ask_later_from_another_message(actor_system) -> None:
    ref = await actor_system.spawn(Deferrer, name="deferrer")
    reply = ref.ask_nowait(Question())
    assert await ref.ask("nothing") is None  # Question was handled, yet not answered
    assert not reply.done()
    assert await ref.ask(Answer(42)) == [True]
    assert await reply == 42


async def test_defer_reply_fail_raises_in_the_asker(actor_system) -> None:
    ref = await actor_system.spawn(Deferrer, name="deferrer")
    async with trio.open_nursery() as nursery:
        outcome: list[BaseException] = []

        async def asker() -> None:
            try:
                await ref.ask(Question())
            except KeyError as exc:
                outcome.append(exc)

        nursery.start_soon(asker)
        await trio.testing.wait_all_tasks_blocked()
        assert await ref.ask(Refuse(KeyError("nope"))) == [True]
    assert len(outcome) == 1 and outcome[0].args == ("nope",)


async def test_deferred_reply_answers_only_once(actor_system) -> None:
    ref = await actor_system.spawn(Deferrer, name="deferrer")
    reply = ref.ask_nowait(Question())
    assert await ref.ask(Answer(1)) == [True]
    assert await ref.ask(Answer(2)) == [False]
    assert await reply == 1


async def test_deferred_fail_takes_an_exception(actor_system) -> None:
    class Wrong(Actor):
        async def receive(self, message: object) -> object:
            handle = self.defer_reply()
            try:
                handle.fail("not an exception")  # type: ignore[arg-type]
            except TypeError as exc:
                handle.reply(str(exc))
            return None

    ref = await actor_system.spawn(Wrong, name="wrong")
    assert await ref.ask(Ping()) == "fail() takes an exception, not str"


async def test_actor_stopping_before_a_deferred_answer_gives_the_asker_actor_stopped(actor_system) -> None:
    ref = await actor_system.spawn(Deferrer, name="deferrer")
    reply = ref.ask_nowait(Question())
    await ref.ask("nothing")
    await actor_system.stop(ref)
    assert reply.done()
    with pytest.raises(
        ActorStopped, match=r"^actor 'deferrer' stopped before answering \(it had deferred its reply\)$"
    ):
        await reply


async def test_defer_reply_outside_a_handler_is_an_error(actor_system) -> None:
    class Early(Actor):
        async def on_start(self) -> None:
            try:
                self.defer_reply()
            except ActorError as exc:
                self.error = str(exc)

        async def receive(self, message: object) -> object:
            return self.error

    ref = await actor_system.spawn(Early, name="early")
    assert await ref.ask(Ping()) == (
        "defer_reply() must be called from receive() while it handles a message; keep the "
        "handle it returns to answer later"
    )


# -- watch -----------------------------------------------------------------------


@attrs.frozen
class WatchIt:
    ref: ActorRef[Any]


@attrs.frozen
class UnwatchIt:
    ref: ActorRef[Any]


class Watcher(Actor):
    def __init__(self) -> None:
        self.seen: list[Terminated] = []

    async def receive(self, message: object) -> object:
        match message:
            case WatchIt(ref):
                self.watch(ref)
            case UnwatchIt(ref):
                self.unwatch(ref)
            case Terminated():
                self.seen.append(message)
            case "seen":
                return list(self.seen)
        return None


class Quitter(Actor):
    async def receive(self, message: object) -> object:
        if message == "quit":
            self.stop()
            return "bye"
        if message == "fail":
            raise RuntimeError("gave up")
        return message


async def test_watcher_gets_terminated_with_reason_none_for_a_normal_stop(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await watcher.ask(WatchIt(target))
    await actor_system.stop(target)
    assert await watcher.ask("seen") == [Terminated(target, None)]


async def test_watcher_gets_terminated_when_the_actor_stops_itself(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await watcher.ask(WatchIt(target))
    assert await target.ask("quit") == "bye"
    with trio.fail_after(5):
        while not (seen := await watcher.ask("seen")):
            await trio.testing.wait_all_tasks_blocked()
    assert seen == [Terminated(target, None)]
    assert not target.is_alive


async def test_watcher_gets_terminated_with_the_error_of_a_failure(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await watcher.ask(WatchIt(target))
    with pytest.raises(RuntimeError) as info:
        await target.ask("fail")
    with trio.fail_after(5):
        while not (seen := await watcher.ask("seen")):
            await trio.testing.wait_all_tasks_blocked()
    [terminated] = seen
    assert terminated.ref is target
    assert terminated.reason is info.value


async def test_watching_an_already_stopped_actor_delivers_terminated_at_once(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await actor_system.stop(target)
    await watcher.ask(WatchIt(target))
    assert await watcher.ask("seen") == [Terminated(target, None)]


async def test_every_watcher_is_told(actor_system) -> None:
    watchers = [await actor_system.spawn(Watcher, name=f"w{i}") for i in range(3)]
    target = await actor_system.spawn(Quitter, name="target")
    for w in watchers:
        await w.ask(WatchIt(target))
    await actor_system.stop(target)
    for w in watchers:
        assert await w.ask("seen") == [Terminated(target, None)]


async def test_unwatch_stops_the_notification(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await watcher.ask(WatchIt(target))
    await watcher.ask(UnwatchIt(target))
    await actor_system.stop(target)
    assert await watcher.ask("seen") == []


# -- self.stop ---------------------------------------------------------------------


async def test_self_stop_stops_after_the_current_message_and_dead_letters_the_rest(actor_system) -> None:
    ref = await actor_system.spawn(Quitter, name="quitter")
    reply = ref.ask_nowait("quit")
    ref.tell("after")
    queued = ref.ask_nowait("after ask")
    assert await reply == "bye"
    with pytest.raises(ActorStopped, match=r"^actor 'quitter' stopped before handling str"):
        await queued
    assert "after" in [d.message for d in actor_system.dead_letters]
    assert not ref.is_alive


# -- lifecycle ---------------------------------------------------------------------


class Lifecycle(Actor):
    def __init__(self, log: list[str], tag: str, *, extra: str = "") -> None:
        self.log = log
        self.tag = tag + extra
        log.append(f"init {self.tag}")

    async def on_start(self) -> None:
        await trio.lowlevel.checkpoint()
        self.log.append(f"start {self.tag}")

    async def receive(self, message: object) -> object:
        self.log.append(f"receive {self.tag} {message}")
        return message

    async def on_stop(self) -> None:
        self.log.append(f"stop {self.tag}")


async def test_spawn_passes_args_to_init_and_returns_after_on_start(actor_system) -> None:
    log: list[str] = []
    ref = await actor_system.spawn(Lifecycle, log, "a", extra="!", name="life")
    assert log == ["init a!", "start a!"]
    await ref.ask("hi")
    await actor_system.stop(ref)
    assert log == ["init a!", "start a!", "receive a! hi", "stop a!"]


async def test_actor_outside_a_system_says_how_to_create_it() -> None:
    actor = Quitter()
    with pytest.raises(
        ActorError,
        match=r"^Quitter is not running in an actor system; create actors with "
        r"'await system\.spawn\(Quitter, \.\.\.\)', not by calling the class$",
    ):
        actor.ref  # noqa: B018


async def test_self_ref_and_system_inside_the_actor(actor_system) -> None:
    class Introspect(Actor):
        async def receive(self, message: object) -> object:
            return self.ref, self.system

    ref = await actor_system.spawn(Introspect, name="me")
    assert await ref.ask(Ping()) == (ref, actor_system)


async def test_error_in_on_start_is_raised_by_spawn_and_frees_the_name(actor_system) -> None:
    class BadStart(Actor):
        async def on_start(self) -> None:
            raise OSError("no database")

    with pytest.raises(OSError, match="no database"):
        await actor_system.spawn(BadStart, name="bad")
    ok = await actor_system.spawn(Quitter, name="bad")
    assert ok.is_alive


async def test_error_in_init_is_raised_by_spawn(actor_system) -> None:
    class BadInit(Actor):
        def __init__(self) -> None:
            raise LookupError("bad config")

    with pytest.raises(LookupError, match="bad config"):
        await actor_system.spawn(BadInit, name="bad")
    ok = await actor_system.spawn(Quitter, name="bad")
    assert ok.is_alive


@pytest.mark.allow_actor_failures(types=RuntimeError)
async def test_on_stop_error_is_logged_not_raised(actor_system, caplog) -> None:
    class BadStop(Actor):
        async def on_stop(self) -> None:
            raise RuntimeError("cleanup failed")

    ref = await actor_system.spawn(BadStop, name="badstop")
    await actor_system.stop(ref)
    assert not ref.is_alive
    assert "cleanup failed" in caplog.text


# -- children --------------------------------------------------------------------


class Parent(Actor):
    async def on_start(self) -> None:
        self.kids = [await self.spawn(Quitter, name=f"{self.ref.name}-kid{i}") for i in range(2)]

    async def receive(self, message: object) -> object:
        return self.kids


async def test_children_have_paths_under_their_parent(actor_system) -> None:
    parent = await actor_system.spawn(Parent, name="parent")
    kids = await parent.ask(Ping())
    assert [k.path for k in kids] == ["/parent/parent-kid0", "/parent/parent-kid1"]
    assert actor_system.actors() == [parent, *kids]


async def test_stopping_a_parent_stops_its_children(actor_system) -> None:
    parent = await actor_system.spawn(Parent, name="parent")
    kids = await parent.ask(Ping())
    await actor_system.stop(parent)
    assert [k.is_alive for k in kids] == [False, False]
    assert actor_system.actors() == []


async def test_an_actor_stopping_itself_through_the_system_does_not_wait_on_itself(actor_system_autojump) -> None:
    class SelfStopper(Actor):
        async def receive(self, message: object) -> object:
            await self.system.stop(self.ref)
            return "still answered"

    ref = await actor_system_autojump.spawn(SelfStopper, name="selfstop")
    start = trio.current_time()
    assert await ref.ask(Ping(), timeout=100) == "still answered"
    assert trio.current_time() == start
    await actor_system_autojump.stop(ref)
    assert not ref.is_alive


async def test_a_child_stopping_its_parent_does_not_deadlock(actor_system_autojump) -> None:
    class Child(Actor):
        async def receive(self, message: object) -> object:
            await self.system.stop(message)  # type: ignore[arg-type]
            return "done"

    class Holder(Actor):
        async def on_start(self) -> None:
            self.child = await self.spawn(Child, name="child")

        async def receive(self, message: object) -> object:
            return self.child

    parent = await actor_system_autojump.spawn(Holder, name="holder")
    child = await parent.ask(Ping())
    start = trio.current_time()
    assert await child.ask(parent, timeout=100) == "done"
    await actor_system_autojump.stop(parent)  # already stopping: returns once stopped
    assert not parent.is_alive and not child.is_alive
    assert trio.current_time() == start  # nobody waited out a grace period


async def test_a_failing_child_of_a_plain_actor_stops_without_harming_the_parent(actor_system) -> None:
    class Holder(Actor):
        async def on_start(self) -> None:
            self.child = await self.spawn(Quitter, name="child")
            self.watch(self.child)
            self.seen: list[Terminated] = []

        async def receive(self, message: object) -> object:
            if isinstance(message, Terminated):
                self.seen.append(message)
                return None
            if message == "child":
                return self.child
            return list(self.seen)

    parent = await actor_system.spawn(Holder, name="holder")
    child = await parent.ask("child")
    with pytest.raises(RuntimeError, match="gave up"):
        await child.ask("fail")
    with trio.fail_after(5):
        while not (seen := await parent.ask("seen")):
            await trio.testing.wait_all_tasks_blocked()
    assert [t.ref for t in seen] == [child]
    assert parent.is_alive
    assert not child.is_alive
    again = await actor_system.spawn(Quitter, name="child")  # the name is free again
    assert again.is_alive


async def test_a_stopped_watcher_is_not_told_and_leaves_no_dead_letter(actor_system) -> None:
    watcher = await actor_system.spawn(Watcher, name="watcher")
    target = await actor_system.spawn(Quitter, name="target")
    await watcher.ask(WatchIt(target))
    await actor_system.stop(watcher)
    await actor_system.stop(target)
    assert list(actor_system.dead_letters) == []


async def test_spawn_after_the_system_closed_raises_actor_stopped() -> None:
    from actors import open_actor_system

    async with open_actor_system() as system:
        pass
    with pytest.raises(ActorStopped, match=r"cannot spawn Quitter"):
        await system.spawn(Quitter, name="late")


@pytest.mark.parametrize("attribute", ["_cell", "_mailbox", "_state", "cell", "mailbox", "_system", "_ref"])
async def test_a_subclass_may_use_plain_private_attribute_names(actor_system, attribute: str) -> None:
    """The runtime keeps its own attributes under ``_actors_*``, out of the user's way."""

    class Keeper(Actor):
        def __init__(self) -> None:
            setattr(self, attribute, "mine")

        async def receive(self, message):
            return getattr(self, attribute), self.ref.name

    keeper = await actor_system.spawn(Keeper, name="keeper")
    assert await keeper.ask("?") == ("mine", "keeper")
