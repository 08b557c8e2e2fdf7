"""actors.testing: TestProbe, the schedule strategies, the runner and the checker."""

from __future__ import annotations

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorSystem, open_actor_system
from actors.testing import (
    Outcome,
    Schedule,
    Step,
    TestProbe,
    check_delivery,
    crash_points,
    interleavings,
    run_schedule,
)


class Adder(Actor):
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: int) -> int:
        self.total += message
        return self.total


class StopsOnSeven(Actor):
    """Loses everything after a 7: the checker must notice."""

    async def receive(self, message: int) -> int:
        if message == 7:
            self.stop()
        return message


# -- TestProbe ---------------------------------------------------------------------


async def test_probe_expect_returns_the_next_message_by_type_predicate_or_value(
    actor_system_autojump: ActorSystem,
) -> None:
    probe = await TestProbe.spawn(actor_system_autojump, name="probe")
    for message in ("hello", 5, ("big", 9)):
        probe.ref.tell(message)
    assert await probe.expect(str) == "hello"
    assert await probe.expect(lambda m: m > 3) == 5
    assert await probe.expect(("big", 9)) == ("big", 9)
    assert [r.message for r in probe.received] == ["hello", 5, ("big", 9)]


async def test_probe_expect_times_out_in_virtual_time_and_shows_what_arrived(
    actor_system_autojump: ActorSystem,
) -> None:
    probe = await TestProbe.spawn(actor_system_autojump, name="probe")
    probe.ref.tell("first")
    await probe.expect(str)
    start = trio.current_time()
    with pytest.raises(
        AssertionError, match=r"expected int within 3 s, but no message arrived; it had received \['first'\]"
    ):
        await probe.expect(int, timeout=3)
    assert trio.current_time() - start == 3


async def test_probe_expect_mismatch_names_expected_and_actual(actor_system: ActorSystem) -> None:
    probe = await TestProbe.spawn(actor_system, name="probe")
    probe.ref.tell("x")
    with pytest.raises(AssertionError, match=r"^probe 'probe' expected int but got 'x'"):
        await probe.expect(int)


async def test_probe_expect_no_message_fails_when_one_arrives(actor_system_autojump: ActorSystem) -> None:
    probe = await TestProbe.spawn(actor_system_autojump)
    await probe.expect_no_message(within=5)
    probe.ref.tell("late")
    with pytest.raises(AssertionError, match="expected no message within 1 s but got 'late'"):
        await probe.expect_no_message(within=1)
    assert await probe.expect(str) == "late"  # still there to expect


async def test_probe_reply_answers_the_ask_it_received(actor_system: ActorSystem) -> None:
    probe = await TestProbe.spawn(actor_system)
    reply = probe.ref.ask_nowait("question?")
    await probe.expect("question?")
    assert probe.last is not None and probe.last.is_ask
    probe.reply("answer")
    assert await reply == "answer"


async def test_probe_reply_to_a_told_message_is_an_error(actor_system: ActorSystem) -> None:
    probe = await TestProbe.spawn(actor_system)
    probe.ref.tell("told")
    await probe.expect("told")
    with pytest.raises(AssertionError, match="was told, not asked"):
        probe.reply("nobody listens")


async def test_probe_records_the_sender(actor_system: ActorSystem) -> None:
    class Forwarder(Actor):
        def __init__(self, to) -> None:
            self.to = to

        async def receive(self, message):
            self.to.tell(message)

    probe = await TestProbe.spawn(actor_system)
    forwarder = await actor_system.spawn(Forwarder, probe.ref, name="fwd")
    forwarder.tell("via")
    await probe.expect("via")
    assert probe.last is not None and probe.last.sender is forwarder


async def test_probes_are_named_probe_1_probe_2_per_system_unless_named(actor_system: ActorSystem) -> None:
    first = await TestProbe.spawn(actor_system)
    await actor_system.spawn(Adder, name="probe-2")  # taken by the test: skipped
    named = await TestProbe.spawn(actor_system, name="watcher")
    third = await TestProbe.spawn(actor_system)
    assert [first.ref.name, named.ref.name, third.ref.name] == ["probe-1", "watcher", "probe-3"]
    with pytest.raises(AssertionError, match=r"^probe 'probe-1' expected int within 0 s"):
        await first.expect(int, timeout=0)
    async with open_actor_system() as other:
        assert (await TestProbe.spawn(other)).ref.name == "probe-1"


def test_probe_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="TestProbe.spawn"):
        TestProbe()


# -- strategies, runner, checker -----------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(schedule=interleavings(senders=st.integers(1, 4), max_steps=25), crashes=crash_points(25))
async def test_adder_keeps_every_senders_order_across_crashes(schedule: Schedule, crashes: frozenset[int]) -> None:
    outcome = await run_schedule(Adder, schedule, crashes=crashes)
    check_delivery(outcome)
    assert len(outcome.handled) + len(outcome.crashed) == len(schedule)


@given(interleavings(senders=3, max_steps=12))
def test_interleavings_number_each_senders_messages_from_zero(schedule: Schedule) -> None:
    for sender in range(schedule.senders):
        seqs = [step.seq for step in schedule.steps if step.sender == sender]
        assert seqs == list(range(len(seqs)))


async def test_a_schedule_replays_identically(actor_system: ActorSystem) -> None:
    schedule = Schedule(2, (Step(0, "tell", 0, 1), Step(1, "ask", 0, 2), Step(0, "ask", 1, 3), Step(1, "tell", 1, 4)))
    runs = [await run_schedule(Adder, schedule, system=actor_system) for _ in range(3)]
    assert [run.handled for run in runs] == [[(0, 0), (1, 0), (0, 1), (1, 1)]] * 3
    assert runs[0].replies == {(1, 0): 3, (0, 1): 6}


async def _run_as_text(actor_cls: type[Actor], schedule: Schedule, crashes: set[int], system: ActorSystem) -> str:
    """The outcome of one run, with the path and reason of each dead letter it made."""
    before = system.dead_letters.total
    outcome = await run_schedule(actor_cls, schedule, crashes=crashes, system=system)
    made = system.dead_letters.total - before
    letters = [f"{letter.recipient.path}: {letter.reason}" for letter in list(system.dead_letters)[-made:]]
    return "\n".join([repr(outcome), *letters])


_LOSSY = Schedule(2, (Step(0, "tell", 0, 1), Step(1, "ask", 0, 2), Step(0, "ask", 1, 7), Step(1, "tell", 1, 4)))


@pytest.mark.parametrize(("actor_cls", "crashes"), [(Adder, {1, 3}), (StopsOnSeven, set())])
async def test_a_schedule_replays_to_the_same_text_dead_letters_included(
    actor_cls: type[Actor], crashes: set[int]
) -> None:
    async with open_actor_system() as system:  # two runs in one system...
        texts = [await _run_as_text(actor_cls, _LOSSY, crashes, system) for _ in range(2)]
    async with open_actor_system() as fresh:  # ...and one in another
        texts.append(await _run_as_text(actor_cls, _LOSSY, crashes, fresh))
    assert texts[0] == texts[1] == texts[2]
    assert "dead_letters=[(1," in texts[0]  # the comparison covers dead letters
    receiver = "/schedule/receiver: handler of 'receiver' failed" if crashes else "/receiver: actor 'receiver'"
    assert receiver in texts[0]


async def test_a_schedule_run_takes_free_names_beside_the_tests_own_actors(actor_system: ActorSystem) -> None:
    await actor_system.spawn(Adder, name="receiver")
    for _ in range(2):
        outcome = await run_schedule(StopsOnSeven, _LOSSY, system=actor_system)
        assert outcome.dead_letters == [(1, 1, "actor 'receiver-2' has stopped")]


async def test_check_delivery_catches_an_actor_that_loses_messages() -> None:
    schedule = Schedule(1, (Step(0, "tell", 0, 7), Step(0, "ask", 1, 0)))
    outcome = await run_schedule(StopsOnSeven, schedule)
    with pytest.raises(AssertionError, match=r"s0 #1 \(ask\) was never handled: its asker got ActorStopped"):
        check_delivery(outcome)


def test_check_delivery_catches_reordering_and_duplicates() -> None:
    schedule = Schedule(1, (Step(0, "tell", 0, 0), Step(0, "tell", 1, 0)))
    outcome = Outcome(schedule, frozenset(), handled=[(0, 1), (0, 0), (0, 1)])
    with pytest.raises(AssertionError) as info:
        check_delivery(outcome)
    assert "out of order: #0 after #1" in str(info.value)
    assert "s0 #1 was handled twice" in str(info.value)
    assert "Schedule(1 sender: s0 tell #0=0; s0 tell #1=0)" in str(info.value)


def test_schedule_repr_counts_its_senders_in_good_english() -> None:
    assert repr(Schedule(1, ())) == "Schedule(1 sender: no steps)"
    assert repr(Schedule(3, (Step(2, "ask", 0, 5),))) == "Schedule(3 senders: s2 ask #0=5)"


def test_strategy_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="senders must be >= 1"):
        interleavings(senders=0)
    with pytest.raises(ValueError, match="kinds must be"):
        interleavings(kinds=("shout",))
    with pytest.raises(ValueError, match="max_index >= 1"):
        crash_points(0)


async def test_check_delivery_says_a_message_never_handled_went_to_the_dead_letters() -> None:
    schedule = Schedule(1, (Step(0, "tell", 0, 7), Step(0, "tell", 1, 0)))
    outcome = await run_schedule(StopsOnSeven, schedule)
    with pytest.raises(
        AssertionError,
        match=r"s0 #1 \(tell\) was never handled: a dead letter \(actor 'receiver' "
        r"has stopped\)",
    ):
        check_delivery(outcome)


async def test_a_schedule_run_sees_every_dead_letter_even_past_a_tiny_dead_letter_record() -> None:
    schedule = Schedule(1, tuple(Step(0, "tell", seq, seq) for seq in range(6)))
    async with open_actor_system(dead_letters_size=1) as system:
        outcome = await run_schedule(Adder, schedule, crashes={0, 3, 5}, system=system)
    check_delivery(outcome)
    assert sorted(seq for _, seq, _ in outcome.dead_letters) == [0, 3, 5]
