"""Property: a supervised child that crashes at random points loses, duplicates and reorders nothing.

Hypothesis draws a sequence of messages to one supervised child, some marked
"crash", each sent with ``tell``, ``ask_nowait`` (not awaited until the end)
or an awaited ``ask``, with optional pauses between sends. Whatever the crash
points, every non-crashing message is handled exactly once, in the order sent,
and every crashing one lands in the dead letters (its asker gets the error).
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from supkit import Boom, Crash, Echo, Worker, handled

from actors import open_actor_system
from supervision import Backoff, ChildSpec, OneForAll, OneForOne, RestForOne, Supervisor, restart_count

# These tests crash their actors on purpose: the test kit fails a test for any actor
# failure nobody saw, unless the test allows it.
pytestmark = pytest.mark.allow_actor_failures


@attrs.frozen
class Step:
    """One send: ``number`` identifies the message; ``how`` is tell, ask_nowait or ask."""

    number: int
    how: str
    crash: bool
    pause: bool

    def __repr__(self) -> str:
        return f"{self.how}({self.number}{', CRASH' if self.crash else ''}){' pause' if self.pause else ''}"


@st.composite
def schedules(draw: st.DrawFn) -> list[Step]:
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["tell", "ask_nowait", "ask"]),
                st.booleans() | st.just(False),  # crashes a bit rarer than not
                st.booleans() | st.just(False),
            ),
            min_size=1,
            max_size=40,
        )
    )
    return [Step(number, how, crash, pause) for number, (how, crash, pause) in enumerate(raw)]


STRATEGIES = {"OneForOne": OneForOne, "OneForAll": OneForAll, "RestForOne": RestForOne}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=schedules(),
    strategy=st.sampled_from(sorted(STRATEGIES)),
    backoff=st.sampled_from([None, 0.5]),
)
def test_random_crash_points_lose_duplicate_or_reorder_no_message(
    steps: list[Step], strategy: str, backoff: float | None
) -> None:
    result = trio.run(run_schedule, steps, strategy, backoff, clock=trio.testing.MockClock(autojump_threshold=0))
    log, letters, answers, restarts = result
    note(f"handled: {handled(log, 'w')}")
    note(f"dead letters: {letters}")

    survivors = [step.number for step in steps if not step.crash]
    crashes = [step.number for step in steps if step.crash]
    # Every non-crashing message handled once, in the order sent.
    assert handled(log, "w") == survivors
    # Every crashing message in the dead letters, in order, with its error.
    assert [message for message, _ in letters] == [Crash(n) for n in crashes]
    assert all(isinstance(error, Boom) and str(error) == f"w crashed on {message.tag}" for message, error in letters)
    # Each asker got its answer or the handler's error.
    for step in steps:
        if step.how == "tell":
            continue
        answer = answers[step.number]
        if step.crash:
            assert isinstance(answer, Boom) and str(answer) == f"w crashed on {step.number}", (step, answer)
        else:
            assert answer == step.number, (step, answer)
    # One restart per crash: never given up, never a restart too many.
    assert restarts == len(crashes)


async def run_schedule(
    steps: list[Step], strategy: str, backoff: float | None
) -> tuple[list[Any], list[tuple[Any, BaseException | None]], dict[int, Any], int]:
    log: list[Any] = []
    answers: dict[int, Any] = {}
    async with open_actor_system() as system:
        tree = Supervisor(
            name="sup",
            strategy=STRATEGIES[strategy](
                max_restarts=10_000,
                within=1.0,
                backoff=None if backoff is None else Backoff(initial=backoff, maximum=backoff, jitter=0),
            ),
            children=[ChildSpec(Worker, name="w", log=log), ChildSpec(Worker, name="sibling", log=[])],
        )
        await system.spawn_tree(tree)
        ref = system.lookup("w")
        pending = {}
        for step in steps:
            message = Crash(step.number) if step.crash else Echo(step.number)
            if step.how == "tell":
                ref.tell(message)
            elif step.how == "ask_nowait":
                pending[step.number] = ref.ask_nowait(message, timeout=10_000)
            else:
                try:
                    answers[step.number] = await ref.ask(message, timeout=10_000)
                except Boom as exc:
                    answers[step.number] = exc
            if step.pause:
                await trio.sleep(0.1)
        for number, reply in pending.items():
            try:
                answers[number] = await reply
            except Boom as exc:
                answers[number] = exc
        # A last ask flushes everything told before it.
        assert await ref.ask(Echo("end"), timeout=10_000) == "end"
        log.pop()  # the "end" entry
        restarts = restart_count(ref)
        letters = [(d.message, d.error) for d in system.dead_letters if d.recipient is ref]
    return log, letters, answers, restarts


@pytest.mark.parametrize("crash_at", [0, 1, 5, 9])
async def test_a_crash_anywhere_in_a_full_mailbox_keeps_the_rest_in_order(actor_system: Any, crash_at: int) -> None:
    """The example form of the property, for a quick read: ten tells, one crash."""
    log: list[Any] = []
    await actor_system.spawn_tree(
        Supervisor(name="sup", strategy=OneForOne(max_restarts=5), children=[ChildSpec(Worker, name="w", log=log)])
    )
    ref = actor_system.lookup("w")
    for n in range(10):
        ref.tell(Crash(n) if n == crash_at else Echo(n))
    assert await ref.ask(Echo("end")) == "end"
    assert handled(log, "w") == [n for n in range(10) if n != crash_at] + ["end"]
    assert [d.message for d in actor_system.dead_letters] == [Crash(crash_at)]
