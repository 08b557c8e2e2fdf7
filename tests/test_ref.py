"""ActorRef: tell, send, ask and ask_nowait, and how they meet timeouts and stopped actors."""

from __future__ import annotations

import math

import attrs
import pytest
import trio

from actors import (
    Actor,
    ActorRef,
    ActorStopped,
    AskTimeout,
    DeadLetter,
    Terminated,
    gather,
    open_actor_system,
)


@attrs.frozen
class Add:
    amount: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Boom:
    text: str


@attrs.frozen
class Sleep:
    seconds: float
    answer: object = "slept"


class Counter(Actor):
    def __init__(self, start: int = 0) -> None:
        self.total = start

    async def receive(self, message: object) -> object:
        match message:
            case Add(amount):
                self.total += amount
                return self.total
            case Get():
                return self.total
            case Boom(text):
                raise ValueError(text)
            case Sleep(seconds, answer):
                await trio.sleep(seconds)
                return answer
            case _:
                self.unhandled(message)


@attrs.frozen
class WatchIt:
    ref: ActorRef[object]


class Watcher(Actor):
    def __init__(self, seen: list[Terminated], got_one: trio.Event) -> None:
        self.seen = seen
        self.got_one = got_one

    async def receive(self, message: object) -> object:
        match message:
            case WatchIt(ref):
                self.watch(ref)
            case Terminated():
                self.seen.append(message)
                self.got_one.set()
        return None


# -- tell and ask ------------------------------------------------------------


async def test_ask_returns_what_receive_returned(actor_system) -> None:
    ref = await actor_system.spawn(Counter, 10, name="counter")
    assert await ref.ask(Add(5)) == 15
    assert await ref.ask(Get()) == 15


async def test_tell_returns_none_at_once_and_is_handled_before_a_later_ask(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="counter")
    for _ in range(100):
        assert ref.tell(Add(1)) is None
    assert await ref.ask(Get()) == 100


def test_tell_is_a_plain_function_not_a_coroutine() -> None:
    import inspect

    assert not inspect.iscoroutinefunction(ActorRef.tell)
    assert inspect.iscoroutinefunction(ActorRef.send)
    assert inspect.iscoroutinefunction(ActorRef.ask)
    assert not inspect.iscoroutinefunction(ActorRef.ask_nowait)


async def test_handler_exception_is_raised_in_the_asker_as_the_same_type(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="counter")
    with pytest.raises(ValueError, match=r"^kaput$"):
        await ref.ask(Boom("kaput"))


async def test_failed_unsupervised_actor_stops_and_watchers_get_the_exception(actor_system) -> None:
    seen: list[Terminated] = []
    got_one = trio.Event()
    watcher = await actor_system.spawn(Watcher, seen, got_one, name="watcher")
    ref = await actor_system.spawn(Counter, name="fragile")
    await watcher.ask(WatchIt(ref))

    with pytest.raises(ValueError, match="kaput") as info:
        await ref.ask(Boom("kaput"))
    await got_one.wait()

    assert len(seen) == 1
    assert seen[0].ref is ref
    assert seen[0].reason is info.value
    assert not ref.is_alive


async def test_failed_message_is_recorded_in_dead_letters_with_the_error(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="fragile")
    with pytest.raises(ValueError):
        await ref.ask(Boom("kaput"))
    [letter] = [d for d in actor_system.dead_letters if d.message == Boom("kaput")]
    assert letter.recipient is ref
    assert isinstance(letter.error, ValueError)
    assert "fragile" in letter.reason and "kaput" in letter.reason


async def test_after_a_failure_tells_go_to_dead_letters_and_asks_raise_actor_stopped(actor_system) -> None:
    seen: list[Terminated] = []
    got_one = trio.Event()
    watcher = await actor_system.spawn(Watcher, seen, got_one, name="watcher")
    ref = await actor_system.spawn(Counter, name="fragile")
    await watcher.ask(WatchIt(ref))
    with pytest.raises(ValueError):
        await ref.ask(Boom("kaput"))
    await got_one.wait()
    before = actor_system.dead_letters.total

    ref.tell(Add(1))  # does not raise

    assert actor_system.dead_letters.total == before + 1
    letter = actor_system.dead_letters[-1]
    assert letter.message == Add(1)
    assert letter.recipient is ref
    assert "fragile" in letter.reason and "stopped" in letter.reason
    with pytest.raises(ActorStopped, match=r"^actor 'fragile' has stopped and cannot receive Get; "):
        await ref.ask(Get())


# -- stopped actors ------------------------------------------------------------


async def test_ask_on_a_stopped_actor_raises_actor_stopped(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="gone")
    await actor_system.stop(ref)
    with pytest.raises(
        ActorStopped,
        match=r"^actor 'gone' has stopped and cannot receive Add; it has no supervisor to restart "
        r"it: spawn it again if you need it \(watch an actor to learn when it stops\)$",
    ):
        await ref.ask(Add(1))


async def test_tell_on_a_stopped_actor_records_a_dead_letter_instead_of_raising(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="gone")
    await actor_system.stop(ref)
    ref.tell(Add(7))
    letter = actor_system.dead_letters[-1]
    assert isinstance(letter, DeadLetter)
    assert letter.message == Add(7)
    assert letter.recipient is ref
    assert letter.sender is None
    assert letter.reason == "actor 'gone' has stopped"


async def test_send_on_a_stopped_actor_raises_actor_stopped(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="gone")
    await actor_system.stop(ref)
    with pytest.raises(ActorStopped, match=r"^actor 'gone' has stopped and cannot receive Add"):
        await ref.send(Add(1))


async def test_ask_nowait_on_a_stopped_actor_returns_a_reply_failed_with_actor_stopped(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="gone")
    alive = await actor_system.spawn(Counter, name="alive")
    await actor_system.stop(ref)
    reply = ref.ask_nowait(Get())
    assert reply.done() and isinstance(reply.exception(), ActorStopped)
    seen: list[object] = []
    reply.add_done_callback(seen.append)
    assert seen == [reply]
    with pytest.raises(ActorStopped, match=r"^actor 'gone' has stopped and cannot receive Get"):
        await reply
    # so a scatter-gather over replies still gives the living actors' answers
    results = await gather(alive.ask_nowait(Get()), ref.ask_nowait(Get()), return_exceptions=True)
    assert results[0] == 0 and isinstance(results[1], ActorStopped)
    assert not [d for d in actor_system.dead_letters if isinstance(d.message, Get)]  # answered, not lost


async def test_send_on_an_unbounded_mailbox_delivers_in_order(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="counter")
    for i in range(1, 6):
        await ref.send(Add(i))
    assert await ref.ask(Get()) == 15


# -- timeouts (virtual time) ----------------------------------------------------


async def test_ask_timeout_is_raised_exactly_at_the_deadline(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="slow")
    start = trio.current_time()
    with pytest.raises(
        AskTimeout,
        match=r"^actor 'slow' did not answer Sleep within 1 s; it may be busy or stuck: "
        r"raise the timeout, or check what it is doing$",
    ):
        await ref.ask(Sleep(10), timeout=1)
    assert trio.current_time() == start + 1


async def test_ask_timeout_is_also_a_builtin_timeout_error(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="slow")
    with pytest.raises(TimeoutError):
        await ref.ask(Sleep(10), timeout=0.5)


class FinishingCounter(Counter):
    """Opts out of deadline flow: its handlers finish even when the asker has gone."""

    finish_abandoned_asks = True


async def test_late_reply_after_a_timeout_lands_in_dead_letters(actor_system_autojump) -> None:
    system = actor_system_autojump
    ref = await system.spawn(FinishingCounter, name="slow")
    with pytest.raises(AskTimeout):
        await ref.ask(Sleep(10, answer="too late"), timeout=1)
    # The actor is still handling Sleep; the next ask is answered after it.
    assert await ref.ask(Get(), timeout=60) == 0
    late = [d for d in system.dead_letters if d.message == "too late"]
    assert len(late) == 1
    assert "late" in late[0].reason
    assert "Sleep" in late[0].reason
    assert late[0].error is None


async def test_ask_timeout_does_not_stop_the_actor(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="slow")
    with pytest.raises(AskTimeout):
        await ref.ask(Sleep(10), timeout=1)
    assert ref.is_alive
    assert await ref.ask(Add(2), timeout=60) == 2


async def test_default_ask_timeout_comes_from_open_actor_system(autojump_clock) -> None:
    async with open_actor_system(ask_timeout=3) as system:
        assert system.ask_timeout == 3
        ref = await system.spawn(Counter, name="slow")
        start = trio.current_time()
        with pytest.raises(AskTimeout, match=r"did not answer Sleep within 3 s"):
            await ref.ask(Sleep(100))
        assert trio.current_time() == start + 3


async def test_default_ask_timeout_is_thirty_seconds(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="slow")
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await ref.ask(Sleep(1000))
    assert trio.current_time() == start + 30


async def test_ask_with_infinite_timeout_waits_as_long_as_it_takes(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Counter, name="slow")
    start = trio.current_time()
    assert await ref.ask(Sleep(1000, answer="done"), timeout=math.inf) == "done"
    assert trio.current_time() == start + 1000


async def test_cancelled_ask_sends_the_late_reply_to_dead_letters(actor_system_autojump) -> None:
    system = actor_system_autojump
    ref = await system.spawn(FinishingCounter, name="slow")
    with trio.move_on_after(2):
        await ref.ask(Sleep(5, answer="unwanted"), timeout=60)
    assert await ref.ask(Get(), timeout=60) == 0
    assert [d.message for d in system.dead_letters] == ["unwanted"]
    assert "late" in system.dead_letters[0].reason


@pytest.mark.parametrize(
    ("timeout", "error", "pattern"),
    [
        (-1, ValueError, r"^timeout must be >= 0 seconds, got -1$"),
        (math.nan, ValueError, r"^timeout must be >= 0 seconds"),
        ("5", TypeError, r"^timeout must be a number of seconds or None, not str$"),
        (True, TypeError, r"^timeout must be a number of seconds or None, not bool$"),
    ],
)
async def test_ask_rejects_a_bad_timeout(actor_system, timeout, error, pattern) -> None:
    ref = await actor_system.spawn(Counter, name="counter")
    with pytest.raises(error, match=pattern):
        await ref.ask(Get(), timeout=timeout)


# -- the ref itself ------------------------------------------------------------


async def test_ref_has_name_path_and_is_alive(actor_system) -> None:
    ref = await actor_system.spawn(Counter, name="counter")
    assert ref.name == "counter"
    assert ref.path == "/counter"
    assert ref.is_alive
    assert repr(ref) == "<ActorRef /counter (alive)>"
    await actor_system.stop(ref)
    assert not ref.is_alive
    assert repr(ref) == "<ActorRef /counter (stopped)>"


async def test_refs_are_hashable_and_equal_only_to_themselves(actor_system) -> None:
    a = await actor_system.spawn(Counter, name="a")
    b = await actor_system.spawn(Counter, name="b")
    assert a == a and a != b
    assert actor_system.lookup("a") is a
    assert len({a, b, actor_system.lookup("a")}) == 2


@pytest.mark.allow_actor_failures
async def test_tells_queued_behind_a_failing_message_become_dead_letters(actor_system) -> None:
    seen: list[Terminated] = []
    got_one = trio.Event()
    watcher = await actor_system.spawn(Watcher, seen, got_one, name="watcher")
    ref = await actor_system.spawn(Counter, name="fragile")
    await watcher.ask(WatchIt(ref))
    ref.tell(Boom("kaput"))
    ref.tell(Add(1))
    ref.tell(Add(2))
    queued_ask = ref.ask_nowait(Get())
    await got_one.wait()
    assert [d.message for d in actor_system.dead_letters] == [Boom("kaput"), Add(1), Add(2), Get()]
    with pytest.raises(ActorStopped, match=r"^actor 'fragile' stopped before handling Get"):
        await queued_ask


async def test_a_failed_actor_still_gets_on_stop(actor_system) -> None:
    stopped: list[str] = []

    class Fragile(Counter):
        async def on_stop(self) -> None:
            stopped.append(self.ref.name)

    ref = await actor_system.spawn(Fragile, name="fragile")
    with pytest.raises(ValueError):
        await ref.ask(Boom("kaput"))
    await actor_system.stop(ref)  # returns once it has stopped
    assert stopped == ["fragile"]


@pytest.mark.allow_actor_failures(types=ValueError)
async def test_a_late_failure_after_a_timeout_is_recorded_as_a_dead_letter(actor_system_autojump) -> None:
    class FailsLate(Actor):
        finish_abandoned_asks = True  # (by default the handler would be cancelled at t=1)

        async def receive(self, message: object) -> object:
            await trio.sleep(5)
            raise ValueError("too late to matter")

    system = actor_system_autojump
    ref = await system.spawn(FailsLate, name="failslate")
    with pytest.raises(AskTimeout):
        await ref.ask(Get(), timeout=1)
    await trio.sleep(10)  # virtual time: the handler fails at t=5
    assert not ref.is_alive
    late = [d for d in system.dead_letters if "late failure of Get" in d.reason]
    assert len(late) == 1
    assert isinstance(late[0].error, ValueError)
