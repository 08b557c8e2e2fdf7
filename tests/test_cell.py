"""The cell, which runs an actor: one message at a time, fairness, the deadlock guard."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing

from actors import Actor, ActorRef, DeadlockError, gather, open_actor_system

# -- one message at a time ------------------------------------------------------


class Careful(Actor):
    """Counts how many handlers run at once, awaiting in the middle of each."""

    def __init__(self, log: list[tuple[str, object]]) -> None:
        self.log = log
        self.inside = 0
        self.most_inside = 0

    async def receive(self, message: object) -> object:
        if message == "most":
            return self.most_inside
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.log.append(("enter", message))
        if isinstance(message, trio.Event):
            await message.wait()
        else:
            await trio.lowlevel.checkpoint()
            await trio.lowlevel.checkpoint()
            await trio.lowlevel.checkpoint()
        self.log.append(("leave", message))
        self.inside -= 1
        return message


async def test_concurrent_asks_never_overlap_even_when_the_handler_awaits(actor_system) -> None:
    log: list[tuple[str, object]] = []
    ref = await actor_system.spawn(Careful, log, name="careful")
    replies: dict[int, object] = {}

    async def asker(i: int) -> None:
        replies[i] = await ref.ask(i)

    async with trio.open_nursery() as nursery:
        for i in range(30):
            nursery.start_soon(asker, i)
            ref.tell(f"told {i}")

    assert replies == {i: i for i in range(30)}
    assert await ref.ask("most") == 1
    # enter/leave strictly alternate, each pair for the same message
    assert len(log) == 120
    for enter, leave in zip(log[::2], log[1::2]):
        assert enter[0] == "enter" and leave[0] == "leave" and enter[1] == leave[1]


async def test_a_handler_waiting_on_an_event_holds_back_the_next_message(actor_system) -> None:
    log: list[tuple[str, object]] = []
    ref = await actor_system.spawn(Careful, log, name="careful")
    gate = trio.Event()
    first = ref.ask_nowait(gate)
    second = ref.ask_nowait("second")
    await trio.testing.wait_all_tasks_blocked()
    assert log == [("enter", gate)]
    assert not first.done() and not second.done()
    gate.set()
    assert await second == "second"
    assert await first is gate
    assert log == [("enter", gate), ("leave", gate), ("enter", "second"), ("leave", "second")]


async def test_each_outside_task_sees_its_messages_handled_in_send_order(actor_system) -> None:
    class Log(Actor):
        def __init__(self) -> None:
            self.got: list[tuple[int, int]] = []

        async def receive(self, message: object) -> object:
            if message == "got":
                return list(self.got)
            self.got.append(message)  # type: ignore[arg-type]
            await trio.lowlevel.checkpoint()
            return None

    ref = await actor_system.spawn(Log, name="log")

    async def sender(who: int) -> None:
        for seq in range(20):
            if seq % 3 == 0:
                await ref.ask((who, seq))
            elif seq % 3 == 1:
                ref.tell((who, seq))
            else:
                await ref.send((who, seq))
                await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        for who in range(4):
            nursery.start_soon(sender, who)
    got = await ref.ask("got")
    for who in range(4):
        assert [seq for w, seq in got if w == who] == list(range(20))


# -- fairness --------------------------------------------------------------------


class Busy(Actor):
    def __init__(self, log: list[str], other: ActorRef[Any] | None) -> None:
        self.log = log
        self.other = other

    async def receive(self, message: object) -> object:
        if message == 0 and self.other is not None:
            self.other.tell("b")  # the other actor becomes runnable now
        self.log.append(f"a{message}")
        return None


class Other(Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def receive(self, message: object) -> object:
        self.log.append(str(message))
        return None


async def _run_busy_actor(throughput: int | None, messages: int = 100) -> list[str]:
    log: list[str] = []
    config = {} if throughput is None else {"throughput": throughput}
    async with open_actor_system(**config) as system:
        other = await system.spawn(Other, log, name="other")
        busy = await system.spawn(Busy, log, other, name="busy")
        for i in range(messages):  # tell never yields: all are queued before busy runs
            busy.tell(i)
        await busy.ask("done")
        await other.ask("done")
    return log


async def test_an_actor_draining_a_long_mailbox_lets_others_run() -> None:
    log = await _run_busy_actor(throughput=10)
    # "b" was sent while handling a0; busy yields after every 10 messages.
    assert log.index("b") <= 20
    assert [entry for entry in log if entry.startswith("a")][:100] == [f"a{i}" for i in range(100)]


async def test_without_a_low_throughput_the_busy_actor_drains_first() -> None:
    # The control experiment for the fairness test above: it can fail.
    log = await _run_busy_actor(throughput=1000)
    assert log.index("b") > 100


async def test_by_default_a_busy_actor_yields_within_about_a_hundred_messages() -> None:
    log = await _run_busy_actor(throughput=None, messages=1000)
    assert log.index("b") <= 200


@pytest.mark.parametrize("bad", [0, -5])
async def test_throughput_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match=r"^throughput must be >= 1$"):
        async with open_actor_system(throughput=bad):
            pass  # pragma: no cover


# -- the deadlock guard (under virtual time: raised at once, not after a timeout) -----


@attrs.frozen
class AskSelf:
    pass


@attrs.frozen
class Call:
    """Ask ``to`` the message ``then``; reply with what came back, or the error text."""

    to: ActorRef[Any] | None
    then: object


class Caller(Actor):
    def __init__(self) -> None:
        self.peer: ActorRef[Any] | None = None

    async def receive(self, message: object) -> object:
        match message:
            case AskSelf():
                try:
                    await self.ref.ask("anything", timeout=100)
                except DeadlockError as exc:
                    return exc
                return "no error"  # pragma: no cover
            case Call(to, then):
                target = to if to is not None else self.peer
                try:
                    return await target.ask(then, timeout=100)
                except DeadlockError as exc:
                    return exc
            case ("peer", ref):
                self.peer = ref
                return None
            case _:
                return message


async def test_an_actor_asking_itself_raises_deadlock_error_at_once(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Caller, name="narcissus")
    start = trio.current_time()
    error = await ref.ask(AskSelf(), timeout=100)
    assert trio.current_time() == start
    assert isinstance(error, DeadlockError)
    with pytest.raises(
        DeadlockError,
        match=r"^actor 'narcissus' asked itself str while handling a message; it would wait for "
        r"itself forever\. Use self\.ref\.tell\(\.\.\.\) or call the method directly$",
    ):
        raise error
    assert ref.is_alive


async def test_two_actors_asking_each_other_raise_deadlock_error_naming_both(actor_system_autojump) -> None:
    system = actor_system_autojump
    a = await system.spawn(Caller, name="alice")
    b = await system.spawn(Caller, name="bob")
    start = trio.current_time()
    # alice asks bob; while handling that, bob asks alice: a cycle.
    result = await a.ask(Call(b, Call(a, "hello")), timeout=100)
    assert trio.current_time() == start
    assert isinstance(result, DeadlockError)
    with pytest.raises(
        DeadlockError,
        match=r"^ask cycle: 'bob' -> 'alice' -> 'bob'\. Actor 'bob' asked 'alice' for str, but "
        r"'alice' is \(through that chain\) waiting on 'bob'",
    ):
        raise result


async def test_a_three_actor_ask_cycle_raises_deadlock_error_naming_all(actor_system_autojump) -> None:
    system = actor_system_autojump
    a = await system.spawn(Caller, name="a")
    b = await system.spawn(Caller, name="b")
    c = await system.spawn(Caller, name="c")
    start = trio.current_time()
    result = await a.ask(Call(b, Call(c, Call(a, "hello"))), timeout=100)
    assert trio.current_time() == start
    assert isinstance(result, DeadlockError)
    with pytest.raises(DeadlockError, match=r"^ask cycle: 'c' -> 'a' -> 'b' -> 'c'\. "):
        raise result


async def test_an_ask_chain_without_a_cycle_is_not_a_deadlock(actor_system_autojump) -> None:
    system = actor_system_autojump
    a = await system.spawn(Caller, name="a")
    b = await system.spawn(Caller, name="b")
    c = await system.spawn(Caller, name="c")
    assert await a.ask(Call(b, Call(c, "end of chain")), timeout=100) == "end of chain"


async def test_a_deadlock_error_left_uncaught_reaches_the_outside_asker(actor_system_autojump) -> None:
    class Naive(Actor):
        async def receive(self, message: object) -> object:
            if isinstance(message, ActorRef):
                return await message.ask(self.ref, timeout=100)
            return "answer"

    system = actor_system_autojump
    a = await system.spawn(Naive, name="a")
    b = await system.spawn(Naive, name="b")
    start = trio.current_time()
    with pytest.raises(DeadlockError, match=r"'b' -> 'a' -> 'b'"):
        await a.ask(b, timeout=100)
    assert trio.current_time() == start


async def test_ask_nowait_does_not_block_the_actor_so_a_callback_ask_is_no_deadlock(actor_system_autojump) -> None:
    answered = trio.Event()

    class Fire(Actor):
        async def receive(self, message: object) -> object:
            if isinstance(message, ActorRef):
                self.pending = message.ask_nowait(Call(self.ref, "from b"), timeout=100)
                return "sent"
            if message == "result":
                return await self.pending
            answered.set()
            return f"a got {message}"

    system = actor_system_autojump
    a = await system.spawn(Fire, name="a")
    b = await system.spawn(Caller, name="b")
    start = trio.current_time()
    assert await a.ask(b, timeout=100) == "sent"  # a is free again while b asks it back
    await answered.wait()
    assert await a.ask("result", timeout=100) == "a got from b"
    assert trio.current_time() == start


async def test_awaiting_an_ask_nowait_reply_to_itself_in_a_handler_raises_deadlock_error_at_once(
    actor_system_autojump,
) -> None:
    # `await self.ref.ask_nowait(...)` inside receive is an ask to self: it can never be
    # answered, since the actor handles one message at a time.
    class Narcissus(Actor):
        async def receive(self, message: object) -> object:
            if message == "go":
                try:
                    return await self.ref.ask_nowait("inner", timeout=100)
                except DeadlockError as exc:
                    return exc
            return "inner answered"

    ref = await actor_system_autojump.spawn(Narcissus, name="narcissus")
    start = trio.current_time()
    result = await ref.ask("go", timeout=1000)
    assert isinstance(result, DeadlockError), f"got {result!r} after {trio.current_time() - start} s"
    assert trio.current_time() == start


async def test_an_actor_asking_itself_in_on_start_raises_deadlock_error_at_once(actor_system_autojump) -> None:
    class EagerStart(Actor):
        async def on_start(self) -> None:
            try:
                await self.ref.ask("warm up", timeout=100)
            except DeadlockError as exc:
                self.error = exc

        async def receive(self, message: object) -> object:
            return self.error

    start = trio.current_time()
    ref = await actor_system_autojump.spawn(EagerStart, name="eager")
    assert trio.current_time() == start
    assert isinstance(await ref.ask("error?"), DeadlockError)


async def test_an_ask_cycle_through_gather_inside_a_handler_raises_deadlock_error_at_once(
    actor_system_autojump,
) -> None:
    # A common shape: an orchestrator scatter-gathers to workers, and a worker asks the
    # orchestrator back. The asks run in gather's tasks, yet they still block the handler.
    from actors import gather

    class Orchestrator(Actor):
        async def receive(self, message: object) -> object:
            if isinstance(message, ActorRef):
                try:
                    return await gather(message.ask(Call(self.ref, "callback"), timeout=100))
                except DeadlockError as exc:
                    return exc
            return "orchestrator answered"

    system = actor_system_autojump
    orchestrator = await system.spawn(Orchestrator, name="orchestrator")
    worker = await system.spawn(Caller, name="worker")
    start = trio.current_time()
    result = await orchestrator.ask(worker, timeout=1000)
    elapsed = trio.current_time() - start
    assert elapsed == 0, f"waited {elapsed} s and got {result!r}"
    # The ask that closes the cycle (the worker's) fails; the worker returns that error.
    assert isinstance(result, list) and isinstance(result[0], DeadlockError)


class Quick(Actor):
    async def receive(self, message: object) -> object:
        return "quick"


class AsksBackLater(Actor):
    """Waits ``delay`` (virtual) seconds, then asks ``back``: the branch that closes a cycle."""

    def __init__(self, back: ActorRef[Any], delay: float) -> None:
        self.back, self.delay = back, delay

    async def receive(self, message: object) -> object:
        await trio.sleep(self.delay)
        return await self.back.ask("callback", timeout=500)


class FansOut(Actor):
    """Waits on several asks at once: through gather, or through its own nursery."""

    async def receive(self, message: object) -> object:
        if message == "callback":
            return "fan answered"
        how, targets = message
        results: list[object] = [None] * len(targets)
        if how == "gather":
            results = await gather(*(t.ask("q", timeout=500) for t in targets), return_exceptions=True)
        else:

            async def one(i: int, target: ActorRef[Any]) -> None:
                try:
                    results[i] = await target.ask("q", timeout=500)
                except DeadlockError as exc:
                    results[i] = exc

            async with trio.open_nursery() as nursery:
                for i, target in enumerate(targets):
                    nursery.start_soon(one, i, target)
        return results


@pytest.mark.parametrize("how", ["gather", "nursery"])
@pytest.mark.parametrize("delay", [0, 1])
@pytest.mark.parametrize("cycle_first", [True, False])
async def test_a_cycle_through_one_of_several_asks_in_flight_is_found_at_once(
    actor_system_autojump: Any, how: str, delay: float, cycle_first: bool
) -> None:
    """A handler waiting on several asks (one already answered, or not yet) still blocks its
    actor: a cycle through any of them fails at once, whichever finished first."""
    system = actor_system_autojump
    fan = await system.spawn(FansOut, name="fan")
    quick = await system.spawn(Quick, name="quick")
    back = await system.spawn(AsksBackLater, fan, delay, name="back")
    targets = [back, quick] if cycle_first else [quick, back]
    start = trio.current_time()
    results = await fan.ask((how, targets), timeout=1000)
    assert trio.current_time() - start == delay, results
    cycle = results[targets.index(back)]
    assert isinstance(cycle, DeadlockError), results
    assert "ask cycle: 'back' -> 'fan' -> 'back'" in str(cycle)
    assert results[targets.index(quick)] == "quick"


async def test_an_actor_asking_itself_through_gather_raises_deadlock_error_at_once(actor_system_autojump) -> None:
    from actors import gather

    class Narcissus(Actor):
        async def receive(self, message: object) -> object:
            if message == "go":
                try:
                    return await gather(self.ref.ask("inner", timeout=100))
                except DeadlockError as exc:
                    return exc
            return "inner answered"

    ref = await actor_system_autojump.spawn(Narcissus, name="narcissus")
    start = trio.current_time()
    result = await ref.ask("go", timeout=1000)
    elapsed = trio.current_time() - start
    assert elapsed == 0, f"waited {elapsed} s and got {result!r}"
    assert isinstance(result, DeadlockError)
