"""Deadlines flow with the conversation: a handler serving an ask runs under its deadline.

All in virtual time (``actor_system_autojump``): the times asserted are exact.
"""

from __future__ import annotations

import math

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing

from actors import Actor, AskAbandoned, AskTimeout, MessageTimeout, Tracer, gather, open_actor_system
from supervision import ChildSpec, Supervisor


@attrs.frozen
class Work:
    seconds: float
    answer: object = "done"


@attrs.frozen
class Forward:
    """Ask ``to`` for Work(seconds) with ``timeout`` and return its answer."""

    to: object
    seconds: float
    timeout: float | None = None


class Sleeper(Actor):
    """Sleeps, records what it saw and how far it got."""

    def __init__(self, log: list[object]) -> None:
        self.log = log

    async def receive(self, message: object) -> object:
        match message:
            case Work(seconds, answer):
                self.log.append(("start", self.ref.name, trio.current_time(), self.deadline))
                try:
                    await trio.sleep(seconds)
                except trio.Cancelled:
                    self.log.append(("cancelled", self.ref.name, trio.current_time()))
                    raise
                self.log.append(("end", self.ref.name, trio.current_time()))
                return answer
            case Forward(to, seconds, timeout):
                self.log.append(("forward", self.ref.name, trio.current_time(), self.deadline))
                return await to.ask(Work(seconds), timeout=timeout)  # type: ignore[attr-defined]
            case "deadline":
                return self.deadline, self.time_left()
            case _:
                self.unhandled(message)


def abandoned(system) -> list[object]:
    return [d for d in system.dead_letters if isinstance(d.error, AskAbandoned)]


async def test_a_handler_is_cancelled_when_the_asks_deadline_passes(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Sleeper, log, name="slow")
    start = trio.current_time()
    with pytest.raises(AskTimeout, match=r"^actor 'slow' did not answer Work within 1 s"):
        await ref.ask(Work(10), timeout=1)
    # the handler was cut at t=1, not at t=10: the next ask is answered at once
    assert await ref.ask(Work(0, "next"), timeout=5) == "next"
    assert trio.current_time() == start + 1
    assert ("cancelled", "slow", start + 1) in log
    assert ("end", "slow", start + 10) not in log
    [record] = abandoned(system)
    assert record.message == Work(10)
    assert record.reason == (
        "actor 'slow' stopped handling Work: its deadline passed, so the handler was cancelled at its "
        "next checkpoint; shield work that must finish with trio.CancelScope(shield=True)"
    )
    assert ref.is_alive  # not a failure


async def test_an_abandoned_ask_is_not_a_failure_for_a_supervisor(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    await system.spawn_tree(Supervisor(name="team", children=[ChildSpec(Sleeper, log, name="worker")]))
    worker = system.lookup("worker")
    for _ in range(5):  # more than the default intensity allows, were these failures
        with pytest.raises(AskTimeout):
            await worker.ask(Work(10), timeout=1)
    await trio.testing.wait_all_tasks_blocked()
    assert worker._cell.incarnations == 1  # never restarted
    assert len(abandoned(system)) == 5


async def test_the_asker_giving_up_cancels_the_handler_at_once(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Sleeper, log, name="slow")
    start = trio.current_time()
    with trio.move_on_after(2):
        await ref.ask(Work(10), timeout=60)
    assert await ref.ask(Work(0, "next"), timeout=5) == "next"
    assert trio.current_time() == start + 2
    [record] = abandoned(system)
    assert "its asker stopped waiting (cancelled, or left a stream early)" in record.reason


async def test_an_ask_given_up_while_queued_is_dropped_unhandled(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Sleeper, log, name="busy")
    first = ref.ask_nowait(Work(5, "first"), timeout=60)
    with pytest.raises(AskTimeout):
        await ref.ask(Work(1, "second"), timeout=2)  # still queued behind the first at t=2
    assert await first == "first"
    assert [entry for entry in log if entry[0] == "start"] == [("start", "busy", 0.0 + log[0][2], 60 + log[0][2])]
    [record] = abandoned(system)
    assert record.message == Work(1, "second")
    assert record.reason == "actor 'busy' dropped Work unhandled: its deadline passed before it was dequeued"


async def test_self_deadline_is_the_served_asks_and_infinite_for_a_tell(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Sleeper, log, name="clock")
    now = trio.current_time()
    assert await ref.ask("deadline", timeout=7) == (now + 7, 7)
    assert await ref.ask("deadline", timeout=math.inf) == (math.inf, math.inf)
    ref.tell(Work(0))
    await ref.ask(Work(0), timeout=3)
    tell_start, ask_start = [entry for entry in log if entry[0] == "start"]
    assert tell_start[3] == math.inf
    assert ask_start[3] == now + 3


async def test_time_left_counts_down_and_stops_at_zero(actor_system_autojump) -> None:
    class Watch(Actor):
        async def receive(self, message: object) -> object:
            seen = [self.time_left()]
            await trio.sleep(1.5)
            seen.append(self.time_left())
            with trio.CancelScope(shield=True):
                await trio.sleep(1)  # past the deadline, shielded
                seen.append(self.time_left())
            record.extend(seen)
            return seen

    record: list[float] = []
    ref = await actor_system_autojump.spawn(Watch)
    with pytest.raises(AskTimeout):
        await ref.ask("go", timeout=2)
    await trio.sleep(2)
    assert record == [2.0, 0.5, 0.0]


async def test_nested_asks_end_when_the_first_askers_deadline_does(actor_system_autojump) -> None:
    """A -> B -> C: each ask made while serving one gets min(own timeout, what is left)."""
    system = actor_system_autojump
    log: list[object] = []
    b = await system.spawn(Sleeper, log, name="b")
    c = await system.spawn(Sleeper, log, name="c")
    start = trio.current_time()
    with pytest.raises(AskTimeout, match=r"^actor 'b' did not answer Forward within 3 s"):
        await b.ask(Forward(c, 100, timeout=60), timeout=3)
    assert trio.current_time() == start + 3
    await trio.testing.wait_all_tasks_blocked()
    # c was asked with 60 s but served under the 3 s deadline of the first ask
    assert ("start", "c", start, start + 3) in log
    assert ("cancelled", "c", start + 3) in log
    assert {d.recipient.name for d in abandoned(system)} == {"b", "c"}
    # both answer at once again
    assert await gather(b.ask(Work(0, "b")), c.ask(Work(0, "c"))) == ["b", "c"]


async def test_a_nested_asks_own_shorter_timeout_still_applies(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    b = await system.spawn(Sleeper, log, name="b")
    c = await system.spawn(Sleeper, log, name="c")
    with pytest.raises(AskTimeout, match=r"^actor 'c' did not answer Work within 1 s; it may be busy"):
        await b.ask(Forward(c, 100, timeout=1), timeout=30)


async def test_a_nested_timeout_cut_by_the_served_deadline_says_so(actor_system_autojump) -> None:
    class Catcher(Actor):
        async def receive(self, message: object) -> object:
            await trio.sleep(1)
            with trio.CancelScope(shield=True):  # see the nested error, then let the cut come
                try:
                    await message.ask(Work(100), timeout=60)  # type: ignore[attr-defined]
                except AskTimeout as exc:
                    errors.append(str(exc))
            return "unreachable"

    errors: list[str] = []
    system = actor_system_autojump
    c = await system.spawn(Sleeper, [], name="c")
    catcher = await system.spawn(Catcher, name="catcher")
    with pytest.raises(AskTimeout):
        await catcher.ask(c, timeout=3)
    await trio.testing.wait_all_tasks_blocked()
    assert errors == [
        "actor 'c' did not answer Work within 2 s, what was left of the deadline of the ask being served; "
        "the whole conversation ran out of time: raise the first asker's timeout"
    ]


async def test_a_shielded_section_finishes_and_the_next_message_runs_normally(actor_system_autojump) -> None:
    class Careful(Actor):
        async def receive(self, message: object) -> object:
            if message == "write":
                with trio.CancelScope(shield=True):
                    await trio.sleep(5)  # must finish: a half-written record would be worse
                    steps.append(("written", trio.current_time()))
                await trio.lowlevel.checkpoint()  # the cut lands here
                steps.append("never")
            elif message == "write-and-return":
                with trio.CancelScope(shield=True):
                    await trio.sleep(5)
                    steps.append(("returned", trio.current_time()))
                return "late"
            else:
                await trio.sleep(1)
                steps.append(("handled", message, trio.current_time()))
                return message

    steps: list[object] = []
    system = actor_system_autojump
    ref = await system.spawn(Careful, name="careful")
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await ref.ask("write", timeout=1)
    assert await ref.ask("after", timeout=10) == "after"
    assert steps == [("written", start + 5), ("handled", "after", start + 6)]
    # A handler that returns after its shielded section: its answer is late (a dead
    # letter), and a message queued behind it is not hit by the spent cancellation.
    steps.clear()
    start = trio.current_time()
    reply = ref.ask_nowait("write-and-return", timeout=1)
    queued = ref.ask_nowait("queued", timeout=100)
    with pytest.raises(AskTimeout):
        await reply
    assert await queued == "queued"
    assert steps == [("returned", start + 5), ("handled", "queued", start + 6)]
    assert any(d.message == "late" and "late reply" in d.reason for d in system.dead_letters)


async def test_tells_are_unchanged_bounded_only_by_message_timeout(actor_system_autojump) -> None:
    system = actor_system_autojump
    log: list[object] = []
    ref = await system.spawn(Sleeper, log, name="teller")
    start = trio.current_time()
    ref.tell(Work(50))
    assert await ref.ask(Work(0, "after"), timeout=100) == "after"
    assert ("end", "teller", start + 50) in log
    assert not abandoned(system)


async def test_message_timeout_shorter_than_the_deadline_is_still_a_failure(actor_system_autojump) -> None:
    system = actor_system_autojump
    await system.spawn_tree(
        Supervisor(name="team", children=[ChildSpec(Sleeper, [], name="worker", message_timeout=1)])
    )
    with pytest.raises(MessageTimeout):
        await system.lookup("worker").ask(Work(10), timeout=5)
    await trio.sleep(1)
    assert system.lookup("worker")._cell.incarnations == 2  # restarted: it was a failure


async def test_an_actor_may_opt_out_and_finish_abandoned_asks(actor_system_autojump) -> None:
    class Indexer(Sleeper):
        finish_abandoned_asks = True  # its work serves the next asker too

    system = actor_system_autojump
    log: list[object] = []
    indexer = await system.spawn(Indexer, log, name="indexer")
    c = await system.spawn(Sleeper, log, name="c")
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await indexer.ask(Work(5, "index"), timeout=1)
    queued = indexer.ask_nowait(Work(1, "queued"), timeout=1)
    with pytest.raises(AskTimeout):
        await queued
    assert await indexer.ask(Work(0, "next"), timeout=100) == "next"
    assert trio.current_time() == start + 6  # both finished: 5 s, then the queued 1 s
    assert ("end", "indexer", start + 5) in log and ("end", "indexer", start + 6) in log
    assert sorted(d.message for d in system.dead_letters) == ["index", "queued"]  # late replies
    assert not abandoned(system)
    # its own asks do not inherit the served deadline (it still sees it)
    start = trio.current_time()
    assert await indexer.ask(Forward(c, 3, timeout=10), timeout=60) == "done"
    assert ("forward", "indexer", start, start + 60) in log
    assert ("start", "c", start, start + 10) in log


async def test_abandoned_messages_are_traced() -> None:
    tracer = Tracer()
    async with open_actor_system(trace=tracer) as system:
        ref = await system.spawn(Sleeper, [], name="slow")
        with pytest.raises(AskTimeout):
            await ref.ask(Work(10), timeout=0.01)
        await ref.ask(Work(0), timeout=5)
    first = next(event.correlation_id for event in tracer if event.message == "Work")
    kinds = [event.kind for event in tracer if event.correlation_id == first and event.kind != "dead_letter"]
    assert kinds == ["send", "receive", "abandoned"]
    assert "abandoned Work" in tracer.timeline()
