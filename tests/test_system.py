"""ActorSystem: spawning and names, lookup, stop, orderly shutdown, pub/sub, configuration."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing

from actors import (
    Actor,
    ActorError,
    ActorNameTaken,
    ActorNotFound,
    ActorStopped,
    DeadLetter,
    Reply,
    open_actor_system,
)


class Echo(Actor):
    async def receive(self, message: object) -> object:
        return message


# -- names and lookup ------------------------------------------------------------


async def test_spawning_a_second_actor_with_a_taken_name_raises_actor_name_taken(actor_system) -> None:
    await actor_system.spawn(Echo, name="unique")
    with pytest.raises(
        ActorNameTaken,
        match=r"^an actor named 'unique' already exists at /unique; choose another name, or stop "
        r"it first \(await system\.stop\(system\.lookup\('unique'\)\)\)$",
    ) as info:
        await actor_system.spawn(Echo, name="unique")
    assert isinstance(info.value, ActorError) and isinstance(info.value, ValueError)


async def test_names_are_unique_across_the_whole_tree(actor_system) -> None:
    class Parent(Actor):
        async def receive(self, message: object) -> object:
            try:
                await self.spawn(Echo, name=str(message))
            except ActorNameTaken as exc:
                return exc
            return None

    await actor_system.spawn(Echo, name="taken")
    parent = await actor_system.spawn(Parent, name="parent")
    error = await parent.ask("taken")
    assert isinstance(error, ActorNameTaken)
    assert await parent.ask("child") is None
    with pytest.raises(ActorNameTaken, match=r"^an actor named 'child' already exists at /parent/child"):
        await actor_system.spawn(Echo, name="child")


async def test_lookup_finds_an_actor_by_name(actor_system) -> None:
    ref = await actor_system.spawn(Echo, name="echo")
    assert actor_system.lookup("echo") is ref


async def test_lookup_finds_actors_by_path(actor_system) -> None:
    class Parent(Actor):
        async def on_start(self) -> None:
            self.child = await self.spawn(Echo, name="child")

        async def receive(self, message: object) -> object:
            return self.child

    parent = await actor_system.spawn(Parent, name="parent")
    child = await parent.ask("child?")
    assert child.path == "/parent/child"
    assert actor_system.lookup("/parent/child") is child
    assert actor_system.lookup("child") is child
    assert actor_system.lookup("/parent") is parent
    with pytest.raises(ActorNotFound):
        actor_system.lookup("/elsewhere/child")


async def test_lookup_of_an_unknown_name_raises_actor_not_found(actor_system) -> None:
    with pytest.raises(
        ActorNotFound,
        match=r"^no living actor is called 'nobody'; it may have stopped or never been spawned "
        r"\(check the name, or watch the actor to learn when it stops\)$",
    ):
        actor_system.lookup("nobody")


async def test_lookup_takes_a_string(actor_system) -> None:
    with pytest.raises(TypeError, match=r"^lookup\(\) takes a name or path string, not int$"):
        actor_system.lookup(3)


async def test_a_name_is_freed_once_its_actor_stops(actor_system) -> None:
    first = await actor_system.spawn(Echo, name="reused")
    await actor_system.stop(first)
    with pytest.raises(ActorNotFound):
        actor_system.lookup("reused")
    second = await actor_system.spawn(Echo, name="reused")
    assert second is not first
    assert actor_system.lookup("reused") is second
    assert await second.ask("hi") == "hi"


async def test_unnamed_actors_get_unique_names_from_their_class(actor_system) -> None:
    refs = [await actor_system.spawn(Echo) for _ in range(3)]
    assert [r.name for r in refs] == ["Echo-1", "Echo-2", "Echo-3"]
    assert [actor_system.lookup(r.name) for r in refs] == refs


@pytest.mark.parametrize(("name", "pattern"), [("", r"got ''"), ("a/b", r"got 'a/b'")])
async def test_a_name_must_be_non_empty_and_without_slash(actor_system, name: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=r"^name must be a non-empty string without '/', " + pattern):
        await actor_system.spawn(Echo, name=name)


async def test_spawn_takes_an_actor_class_not_an_instance(actor_system) -> None:
    with pytest.raises(
        TypeError, match=r"^spawn\(\) takes an Actor subclass, not .*\(pass the class, not an instance\)$"
    ):
        await actor_system.spawn(Echo())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^spawn\(\) takes an Actor subclass, not <class 'int'>$"):
        await actor_system.spawn(int)  # type: ignore[arg-type]


# -- stop --------------------------------------------------------------------------


class Gated(Actor):
    """Handles "wait" by waiting on the gate it was given; records its on_stop."""

    def __init__(self, gate: trio.Event, log: list[str]) -> None:
        self.gate = gate
        self.log = log

    async def receive(self, message: object) -> object:
        if message == "wait":
            self.log.append("waiting")
            await self.gate.wait()
            self.log.append("released")
        return message

    async def on_stop(self) -> None:
        self.log.append("on_stop")


async def test_system_stop_returns_once_the_actor_has_stopped(actor_system) -> None:
    log: list[str] = []
    ref = await actor_system.spawn(Gated, trio.Event(), log, name="gated")
    await ref.ask("hello")
    await actor_system.stop(ref)
    assert not ref.is_alive
    assert log == ["on_stop"]


async def test_system_stop_fails_queued_asks_with_actor_stopped_at_once(actor_system) -> None:
    log: list[str] = []
    gate = trio.Event()
    ref = await actor_system.spawn(Gated, gate, log, name="gated")
    running = ref.ask_nowait("wait", timeout=math.inf)
    await trio.testing.wait_all_tasks_blocked()
    assert log == ["waiting"]
    queued = [ref.ask_nowait(i, timeout=math.inf) for i in range(3)]
    ref.tell("queued tell")
    stopped = trio.Event()

    async def stopper() -> None:
        await actor_system.stop(ref)
        stopped.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stopper)
        await trio.testing.wait_all_tasks_blocked()
        # The running handler still has its grace period; the queue is failed already.
        assert not stopped.is_set()
        assert log == ["waiting"]
        assert all(r.done() for r in queued)
        for r in queued:
            with pytest.raises(ActorStopped, match=r"^actor 'gated' stopped before handling int"):
                r.result()
        assert not ref.is_alive
        gate.set()
    assert log == ["waiting", "released", "on_stop"]
    assert await running == "wait"  # finished within its grace period
    letters = [d for d in actor_system.dead_letters if d.message == "queued tell"]
    assert len(letters) == 1
    assert letters[0].reason == "actor 'gated' was stopped before handling it"


async def test_stopping_a_stopped_actor_does_nothing(actor_system) -> None:
    ref = await actor_system.spawn(Echo, name="echo")
    await actor_system.stop(ref)
    await actor_system.stop(ref)
    assert not ref.is_alive


async def test_stop_takes_a_ref(actor_system) -> None:
    with pytest.raises(TypeError, match=r"^stop\(\) takes an ActorRef, not str$"):
        await actor_system.stop("echo")  # type: ignore[arg-type]


async def test_an_actor_that_never_got_a_message_still_runs_on_stop(actor_system) -> None:
    log: list[str] = []
    ref = await actor_system.spawn(Gated, trio.Event(), log, name="idle")
    await actor_system.stop(ref)
    assert log == ["on_stop"]


# -- shutdown: leaving the block -------------------------------------------------------


class Stuck(Actor):
    """Handles "hang" by sleeping forever; records when it was cancelled and stopped."""

    def __init__(self, events: list[tuple[str, float]], entered: trio.Event) -> None:
        self.events = events
        self.entered = entered

    async def receive(self, message: object) -> object:
        if message == "hang":
            self.entered.set()
            try:
                await trio.sleep_forever()
            finally:
                self.events.append(("cancelled", trio.current_time()))
        return message

    async def on_stop(self) -> None:
        self.events.append(("on_stop", trio.current_time()))


async def test_leaving_the_block_cancels_a_busy_handler_after_shutdown_timeout(autojump_clock) -> None:
    events: list[tuple[str, float]] = []
    entered = trio.Event()
    async with open_actor_system(shutdown_timeout=2) as system:
        ref = await system.spawn(Stuck, events, entered, name="stuck")
        hung = ref.ask_nowait("hang", timeout=math.inf)
        await entered.wait()
        queued_asks = [ref.ask_nowait(f"ask {i}", timeout=math.inf) for i in range(2)]
        for i in range(2):
            ref.tell(f"tell {i}")
        left_at = trio.current_time()
    assert trio.current_time() == left_at + 2
    assert events == [("cancelled", left_at + 2), ("on_stop", left_at + 2)]
    # the interrupted ask and the queued asks fail; the queued tells are dead letters
    with pytest.raises(
        ActorStopped,
        match=r"^actor 'stuck' was stopped while handling str; the handler ran past its "
        r"shutdown_timeout of 2 s and was cancelled$",
    ):
        hung.result()
    for reply in queued_asks:
        with pytest.raises(ActorStopped, match=r"^actor 'stuck' stopped before handling str"):
            reply.result()
    told = [d for d in system.dead_letters if d.message in ("tell 0", "tell 1")]
    assert [d.message for d in told] == ["tell 0", "tell 1"]
    assert all(d.recipient is ref for d in told)
    assert not ref.is_alive


async def test_on_stop_that_hangs_is_cancelled_after_shutdown_timeout(autojump_clock, caplog) -> None:
    class SlowStop(Actor):
        async def on_stop(self) -> None:
            await trio.sleep_forever()

    async with open_actor_system(shutdown_timeout=3) as system:
        ref = await system.spawn(SlowStop, name="slowstop")
        left_at = trio.current_time()
    assert trio.current_time() == left_at + 3
    assert not ref.is_alive
    assert "ran past its shutdown_timeout" in caplog.text


@attrs.frozen
class Spawn:
    name: str


class Node(Actor):
    """Records its on_stop in a shared log; spawns children on request."""

    def __init__(self, log: list[str], children: tuple[str, ...] = ()) -> None:
        self.log = log
        self.children = children

    async def on_start(self) -> None:
        for name in self.children:
            await self.spawn(Node, self.log, name=name)

    async def on_stop(self) -> None:
        await trio.lowlevel.checkpoint()
        self.log.append(self.ref.name)


async def test_leaving_the_block_stops_children_before_parents_in_reverse_start_order() -> None:
    log: list[str] = []
    async with open_actor_system() as system:
        await system.spawn(Node, log, ("p-child1", "p-child2"), name="p")
        await system.spawn(Node, log, ("q-child1",), name="q")
        await system.spawn(Node, log, name="r")
    assert log == ["r", "q-child1", "q", "p-child2", "p-child1", "p"]


async def test_stopping_a_parent_stops_its_children_first(actor_system) -> None:
    log: list[str] = []
    parent = await actor_system.spawn(Node, log, ("c1", "c2", "c3"), name="parent")
    await actor_system.stop(parent)
    assert log == ["c3", "c2", "c1", "parent"]


async def test_cancelling_the_block_from_outside_still_runs_on_stop(autojump_clock) -> None:
    log: list[str] = []
    with trio.move_on_after(1) as scope:
        async with open_actor_system() as system:
            busy = await system.spawn(Gated, trio.Event(), log, name="busy")
            await busy.ask("hello")
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert log == ["on_stop"]
    assert not busy.is_alive


async def test_cancelling_the_block_from_outside_runs_on_stop_of_an_actor_never_messaged(autojump_clock) -> None:
    log: list[str] = []
    with trio.move_on_after(1) as scope:
        async with open_actor_system() as system:
            idle = await system.spawn(Gated, trio.Event(), log, name="idle")
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert log == ["on_stop"]
    assert not idle.is_alive


async def test_cancelling_the_block_from_outside_stops_children_before_parents(autojump_clock) -> None:
    log: list[str] = []
    with trio.move_on_after(1) as scope:
        async with open_actor_system() as system:
            await system.spawn(Node, log, ("c1", "c2"), name="parent")
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert log == ["c2", "c1", "parent"]


async def test_cancelling_the_block_while_a_handler_hangs_is_bounded(autojump_clock) -> None:
    events: list[tuple[str, float]] = []
    entered = trio.Event()
    with trio.move_on_after(1) as scope:
        async with open_actor_system(shutdown_timeout=2) as system:
            ref = await system.spawn(Stuck, events, entered, name="stuck")
            ref.tell("hang")
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert [what for what, _ in events] == ["cancelled", "on_stop"]
    assert trio.current_time() <= 1 + 2 * 2


async def test_an_error_in_the_block_is_raised_after_shutdown() -> None:
    log: list[str] = []
    with pytest.raises(KeyError, match="oops"):
        async with open_actor_system() as system:
            await system.spawn(Gated, trio.Event(), log, name="a")
            raise KeyError("oops")
    assert log == ["on_stop"]


async def test_open_actor_system_needs_async_with() -> None:
    with pytest.raises(
        RuntimeError, match=r"^use 'async with open_actor_system\(\.\.\.\)', not 'with open_actor_system\(\.\.\.\)'$"
    ):
        with open_actor_system():  # type: ignore[attr-defined]
            pass  # pragma: no cover


async def test_open_actor_system_can_be_entered_only_once() -> None:
    opener = open_actor_system()
    async with opener:
        pass
    with pytest.raises(RuntimeError, match=r"already entered"):
        async with opener:
            pass  # pragma: no cover


@pytest.mark.parametrize(
    ("config", "error", "pattern"),
    [
        ({"shutdown_timeout": 0}, ValueError, r"^shutdown_timeout must be a finite number > 0, got 0$"),
        ({"shutdown_timeout": math.inf}, ValueError, r"^shutdown_timeout must be a finite number > 0, got inf$"),
        ({"ask_timeout": -1}, ValueError, r"^ask_timeout must be > 0 seconds, got -1$"),
        ({"ask_timeout": "5"}, TypeError, r"^ask_timeout must be a number of seconds, not str$"),
        ({"dead_letters_size": 0}, ValueError, r"^dead_letters_size must be >= 1$"),
        ({"throughput": 1.5}, TypeError, r"^throughput must be an int, not float$"),
        ({"no_such_option": 1}, TypeError, r"no_such_option"),
    ],
)
def test_open_actor_system_rejects_bad_configuration(config: dict[str, Any], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        open_actor_system(**config)


async def test_configuration_is_readable(autojump_clock) -> None:
    async with open_actor_system(shutdown_timeout=1.5, ask_timeout=7, max_threads=3) as system:
        assert system.shutdown_timeout == 1.5
        assert system.ask_timeout == 7
        assert system.thread_limiter.total_tokens == 3


# -- pub/sub -----------------------------------------------------------------------------


class Inbox(Actor):
    def __init__(self) -> None:
        self.got: list[Any] = []

    async def receive(self, message: object) -> object:
        if message == "got?":
            return list(self.got)
        self.got.append(message)
        return None


async def test_publish_tells_every_subscriber_and_returns_how_many(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    b = await actor_system.spawn(Inbox, name="b")
    c = await actor_system.spawn(Inbox, name="c")
    actor_system.subscribe(a, "news")
    actor_system.subscribe(b, "news")
    actor_system.subscribe(c, "weather")
    assert actor_system.publish("news", "headline") == 2
    assert actor_system.publish("weather", "rain") == 1
    assert await a.ask("got?") == ["headline"]
    assert await b.ask("got?") == ["headline"]
    assert await c.ask("got?") == ["rain"]


async def test_publish_to_a_topic_nobody_subscribes_to_reaches_nobody(actor_system) -> None:
    assert actor_system.publish("empty", "hello?") == 0
    assert len(actor_system.dead_letters) == 0


async def test_subscribing_twice_delivers_once(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    actor_system.subscribe(a, "news")
    actor_system.subscribe(a, "news")
    assert actor_system.publish("news", 1) == 1
    assert await a.ask("got?") == [1]


async def test_unsubscribe_stops_delivery(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    b = await actor_system.spawn(Inbox, name="b")
    actor_system.subscribe(a, "news")
    actor_system.subscribe(b, "news")
    actor_system.unsubscribe(a, "news")
    actor_system.unsubscribe(a, "never subscribed")  # does nothing
    assert actor_system.publish("news", "second") == 1
    assert await a.ask("got?") == []
    assert await b.ask("got?") == ["second"]


async def test_a_stopped_subscriber_is_removed(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    b = await actor_system.spawn(Inbox, name="b")
    actor_system.subscribe(a, "news")
    actor_system.subscribe(b, "news")
    await actor_system.stop(a)
    assert actor_system.publish("news", "after") == 1
    assert await b.ask("got?") == ["after"]
    assert [d.message for d in actor_system.dead_letters] == []


async def test_subscribing_a_stopped_actor_raises_actor_stopped(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    await actor_system.stop(a)
    with pytest.raises(ActorStopped, match=r"^actor 'a' has stopped and cannot subscribe to 'news'$"):
        actor_system.subscribe(a, "news")


async def test_topics_can_be_any_hashable_but_not_unhashable(actor_system) -> None:
    a = await actor_system.spawn(Inbox, name="a")
    actor_system.subscribe(a, ("orders", 7))
    assert actor_system.publish(("orders", 7), "x") == 1
    with pytest.raises(TypeError):
        actor_system.subscribe(a, ["unhashable"])  # type: ignore[arg-type]


async def test_subscribing_to_dead_letter_delivers_dead_letter_records(actor_system) -> None:
    listener = await actor_system.spawn(Inbox, name="listener")
    gone = await actor_system.spawn(Echo, name="gone")
    await actor_system.stop(gone)
    actor_system.subscribe(listener, DeadLetter)
    gone.tell("lost")
    [record] = await listener.ask("got?")
    assert isinstance(record, DeadLetter)
    assert record.message == "lost"
    assert record.recipient is gone
    assert record is actor_system.dead_letters[-1]


async def test_publish_skips_a_subscriber_with_a_full_mailbox_into_dead_letters(actor_system) -> None:
    class Blocked(Actor):
        def __init__(self, gate: trio.Event, entered: trio.Event) -> None:
            self.gate = gate
            self.entered = entered

        async def receive(self, message: object) -> object:
            if message == "block":
                self.entered.set()
                await self.gate.wait()
            return message

    gate, entered = trio.Event(), trio.Event()
    full = await actor_system.spawn(Blocked, gate, entered, name="full", mailbox_size=1)
    ok = await actor_system.spawn(Inbox, name="ok")
    full.tell("block")
    await entered.wait()
    full.tell("fills the mailbox")
    actor_system.subscribe(full, "t")
    actor_system.subscribe(ok, "t")
    assert actor_system.publish("t", "news") == 1
    [letter] = list(actor_system.dead_letters)
    assert letter.message == "news" and letter.recipient is full
    assert "full" in letter.reason
    gate.set()


# -- scale --------------------------------------------------------------------------------


async def test_ten_thousand_actors_spawned_and_asked_once_each(actor_system) -> None:
    class Square(Actor):
        def __init__(self, n: int) -> None:
            self.n = n

        async def receive(self, message: object) -> object:
            return self.n * self.n + message  # type: ignore[operator]

    refs = [await actor_system.spawn(Square, n) for n in range(10_000)]
    replies: list[Reply[Any]] = [ref.ask_nowait(1) for ref in refs]
    results = [await reply for reply in replies]
    assert results == [n * n + 1 for n in range(10_000)]
    assert len({ref.name for ref in refs}) == 10_000


async def test_a_handler_that_fails_during_the_stop_grace_gives_its_asker_its_own_error(actor_system) -> None:
    class FailsLater(Actor):
        def __init__(self, gate: trio.Event) -> None:
            self.gate = gate

        async def receive(self, message: object) -> object:
            await self.gate.wait()
            raise ValueError("failed on its own, within the grace period")

    gate = trio.Event()
    ref = await actor_system.spawn(FailsLater, gate, name="failslater")
    reply = ref.ask_nowait("work", timeout=math.inf)
    await trio.testing.wait_all_tasks_blocked()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor_system.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()  # well within shutdown_timeout
    with pytest.raises(ValueError, match="failed on its own"):
        await reply
    # and the failure is on record, not swallowed
    assert any(isinstance(d.error, ValueError) for d in actor_system.dead_letters)


async def test_a_parent_waits_for_its_hung_child_before_its_own_on_stop(autojump_clock) -> None:
    events: list[tuple[str, float]] = []
    entered = trio.Event()

    class Parent(Actor):
        async def on_start(self) -> None:
            self.child = await self.spawn(Stuck, events, entered, name="child")

        async def receive(self, message: object) -> object:
            self.child.tell("hang")
            return None

        async def on_stop(self) -> None:
            events.append(("parent on_stop", trio.current_time()))

    async with open_actor_system(shutdown_timeout=4) as system:
        parent = await system.spawn(Parent, name="parent")
        await parent.ask("go")
        await entered.wait()
        left_at = trio.current_time()
    assert events == [
        ("cancelled", left_at + 4),
        ("on_stop", left_at + 4),
        ("parent on_stop", left_at + 4),
    ]


async def test_an_actor_that_is_stopping_is_not_found_and_its_name_frees_once_stopped(autojump_clock) -> None:
    class Stubborn(Actor):
        async def receive(self, message):
            await trio.sleep(10)  # past the grace: cancelled at t=3

    async with open_actor_system(shutdown_timeout=3) as system:
        ref = await system.spawn(Stubborn, name="blk")
        ref.tell("work")
        await trio.sleep(1)  # the handler is running
        async with trio.open_nursery() as nursery:
            nursery.start_soon(system.stop, ref)
            await trio.sleep(1)
            assert not ref.is_alive
            with pytest.raises(ActorNotFound, match="actor 'blk' is stopping"):
                system.lookup("blk")
            with pytest.raises(ActorNameTaken, match="'blk' at /blk is still stopping"):
                await system.spawn(Stubborn, name="blk")
        assert trio.current_time() == 1 + 3
        again = await system.spawn(Stubborn, name="blk")
        assert system.lookup("blk") is again


async def test_a_message_told_just_before_the_block_ends_starts_before_the_shutdown(autojump_clock) -> None:
    """Whether the actor's task was parked or not yet launched, and whatever trio's batch
    order, a message told right before leaving is picked up first: it runs within the
    shutdown grace instead of being dead-lettered as still queued."""

    class Slow(Actor):
        def __init__(self, log: list[str]) -> None:
            self.log = log

        async def receive(self, message):
            self.log.append(f"start {message}")
            await trio.sleep(2)
            self.log.append(f"done {message}")

    for woken_before in (False, True) * 10:
        log: list[str] = []
        async with open_actor_system(shutdown_timeout=5) as system:
            ref = await system.spawn(Slow, log)
            if woken_before:
                ref.tell("warm-up")
                await trio.sleep(3)  # its task now runs (parked) rather than not launched
            left_at = trio.current_time()
            ref.tell("last")
            await trio.lowlevel.checkpoint()
        assert log[-2:] == ["start last", "done last"], log
        assert trio.current_time() - left_at == 2
        assert not [d for d in system.dead_letters if d.message == "last"]
