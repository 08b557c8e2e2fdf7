"""Property tests of message delivery: schedules of tells and asks, crash points, a checker.

A `Schedule` lists who sends what, step by step. `run_schedule` replays it
exactly: each step is taken by a sender actor and finished before the next one
starts, so the order of sends never depends on trio's scheduler and a failing
example from hypothesis replays the same way every time. `check_delivery`
then asserts the guarantees: per-sender FIFO, no loss, no duplicates.

Those are the runtime's guarantees: what it delivered to an actor. What the
actor then does with its messages (forwards, stores, answers) is the user's
code; `assert_per_sender_order` checks that a recorded sequence of its effects
keeps each sender's order.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
from hypothesis import strategies as st

from .._actor import Actor
from .._dead_letters import DeadLetter
from .._exceptions import ActorError
from .._ref import ActorRef
from .._system import ActorSystem, open_actor_system
from .._text import safe_repr

__all__ = [
    "InjectedCrash",
    "Outcome",
    "Schedule",
    "Step",
    "assert_per_sender_order",
    "check_delivery",
    "crash_points",
    "interleavings",
    "run_schedule",
]


@attrs.frozen
class Step:
    """One send: sender number ``sender`` sends its ``seq``-th message, ``payload``."""

    sender: int
    kind: Literal["tell", "ask"]
    seq: int
    payload: Any

    def __str__(self) -> str:
        return f"s{self.sender} {self.kind} #{self.seq}={self.payload!r}"


@attrs.frozen(repr=False)
class Schedule:
    """Steps in the order they are taken, with ``senders`` senders."""

    senders: int
    steps: tuple[Step, ...]

    def __repr__(self) -> str:
        body = "; ".join(str(step) for step in self.steps) or "no steps"
        return f"Schedule({self.senders} sender{'s' * (self.senders != 1)}: {body})"

    def __len__(self) -> int:
        return len(self.steps)


class InjectedCrash(ActorError):
    """The failure `run_schedule` injects at a crash point."""


@st.composite
def _schedules(
    draw: st.DrawFn,
    senders: int | st.SearchStrategy[int],
    messages: st.SearchStrategy[Any],
    min_steps: int,
    max_steps: int,
    kinds: tuple[str, ...],
) -> Schedule:
    count = draw(senders) if isinstance(senders, st.SearchStrategy) else senders
    picks = draw(
        st.lists(
            st.tuples(st.integers(0, count - 1), st.sampled_from(kinds), messages),
            min_size=min_steps,
            max_size=max_steps,
        )
    )
    next_seq = [0] * count
    steps = []
    for sender, kind, payload in picks:
        steps.append(Step(sender, kind, next_seq[sender], payload))  # type: ignore[arg-type]
        next_seq[sender] += 1
    return Schedule(count, tuple(steps))


def interleavings(
    senders: int | st.SearchStrategy[int] = st.integers(1, 4),
    messages: st.SearchStrategy[Any] | None = None,
    *,
    min_steps: int = 0,
    max_steps: int = 30,
    kinds: Iterable[Literal["tell", "ask"]] = ("tell", "ask"),
) -> st.SearchStrategy[Schedule]:
    """Hypothesis strategy of `Schedule`s: interleaved tells and asks from several senders.

    Args:
      senders: how many senders (an int, or a strategy of ints >= 1).
      messages: strategy for the payloads your actor receives (default: small ints).
      min_steps, max_steps: bounds on the number of sends.
      kinds: which kinds of send to draw.

    Shrinks towards fewer steps, fewer senders and simpler payloads, and prints
    as ``Schedule(2 senders: s0 tell #0=0; s1 ask #0=0)``.
    """
    if isinstance(senders, int) and senders < 1:
        raise ValueError("senders must be >= 1")
    kinds = tuple(kinds)
    if not kinds or not set(kinds) <= {"tell", "ask"}:
        raise ValueError("kinds must be a non-empty selection of 'tell' and 'ask'")
    if not 0 <= min_steps <= max_steps:
        raise ValueError("need 0 <= min_steps <= max_steps")
    return _schedules(senders, messages if messages is not None else st.integers(0, 9), min_steps, max_steps, kinds)


def crash_points(max_index: int = 30, *, max_crashes: int = 3) -> st.SearchStrategy[frozenset[int]]:
    """Hypothesis strategy of step indices at which the receiver fails (`InjectedCrash`).

    Indices at or past the schedule's length are ignored by `run_schedule`.
    """
    if max_index < 1 or max_crashes < 0:
        raise ValueError("need max_index >= 1 and max_crashes >= 0")
    return st.frozensets(st.integers(0, max_index - 1), max_size=max_crashes)


@attrs.frozen
class _Tagged:
    sender: int
    seq: int
    index: int
    payload: Any


@attrs.frozen
class _Do:
    kind: str
    message: _Tagged


@attrs.frozen
class _Flush:
    pass


@attrs.define
class Outcome:
    """What happened when a schedule ran.

    Attributes:
      schedule: the schedule that ran.
      crashes: the step indices where a crash was injected.
      handled: ``(sender, seq)`` in the order the receiver handled them
        (injected crashes not included).
      crashed: ``(sender, seq)`` of messages whose handling was a crash.
      replies: for each ask, ``(sender, seq) -> reply value or exception``.
      dead_letters: ``(sender, seq, reason)`` of schedule messages in dead letters.
    """

    schedule: Schedule
    crashes: frozenset[int]
    handled: list[tuple[int, int]] = attrs.Factory(list)
    crashed: list[tuple[int, int]] = attrs.Factory(list)
    replies: dict[tuple[int, int], Any] = attrs.Factory(dict)
    dead_letters: list[tuple[int, int, str]] = attrs.Factory(list)


def _recording(actor_cls: type[Actor], outcome: Outcome) -> type[Actor]:
    """A subclass of ``actor_cls`` that records each schedule message before handling it."""

    async def receive(self: Actor, message: Any) -> Any:
        if isinstance(message, _Flush):
            return None
        if isinstance(message, _Tagged):
            if message.index in outcome.crashes:
                outcome.crashed.append((message.sender, message.seq))
                raise InjectedCrash(f"injected crash at step {message.index} ({message.payload!r})")
            outcome.handled.append((message.sender, message.seq))
            return await actor_cls.receive(self, message.payload)
        return await actor_cls.receive(self, message)

    return type(f"Recording{actor_cls.__name__}", (actor_cls,), {"receive": receive})


class _Sender(Actor):
    def __init__(self, receiver: ActorRef[Any], outcome: Outcome) -> None:
        self.receiver = receiver
        self.outcome = outcome
        self.pending: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, _Do):
            tagged = message.message
            if message.kind == "tell":
                self.receiver.tell(tagged)
            else:
                key = (tagged.sender, tagged.seq)
                try:
                    reply = self.receiver.ask_nowait(tagged)
                except ActorError as exc:  # the receiver stopped: the ask is answered with that
                    self.outcome.replies[key] = exc
                    return None
                reply.add_done_callback(functools.partial(self._record, key))
                self.pending.append(reply)
            return None
        if isinstance(message, _Flush):
            for reply in self.pending:
                try:
                    await reply
                except Exception:
                    pass  # recorded by the callback
            try:
                await self.receiver.ask(_Flush())
            except Exception:
                pass  # the receiver may have stopped; what was lost shows in the outcome
            return None
        self.unhandled(message)

    def _record(self, key: tuple[int, int], reply: Any) -> None:
        error = reply.exception()
        self.outcome.replies[key] = error if error is not None else reply.result()


def _unused_name(system: ActorSystem, name: str) -> str:
    """``name``, or else the first of ``name-2``, ``name-3``, ... that no actor of ``system`` has.

    The names a run uses are thus the same every time it runs (they show in
    dead-letter reasons and errors), however many runs the system saw before.
    """
    candidate, number = name, 1
    while candidate in system._registry:
        number += 1
        candidate = f"{name}-{number}"
    return candidate


async def run_schedule(
    actor_cls: type[Actor],
    schedule: Schedule,
    *args: Any,
    crashes: Iterable[int] = (),
    system: ActorSystem | None = None,
    **kwargs: Any,
) -> Outcome:
    """Run ``schedule`` against a fresh ``actor_cls(*args, **kwargs)`` and return the `Outcome`.

    Each step is taken by one of ``schedule.senders`` sender actors and
    finishes before the next starts, so the run is the same every time. With
    ``crashes``, the receiver fails (`InjectedCrash`) on those steps and runs
    under a supervisor that restarts it, so later messages must still arrive.
    Returns once every message was handled, answered or recorded. The run's
    actors are called ``receiver``, ``sender-0``, ... (and ``schedule``, the
    supervisor, with crashes), or ``receiver-2`` and so on where the system has
    those names already, so replaying a schedule gives the same outcome text.

    Args:
      system: run in this system; by default a fresh one is opened and closed
        for this run (what a hypothesis example wants: nothing is shared).
    """
    if system is None:
        async with open_actor_system() as fresh:
            return await run_schedule(actor_cls, schedule, *args, crashes=crashes, system=fresh, **kwargs)
    crash_set = frozenset(i for i in crashes if 0 <= i < len(schedule))
    outcome = Outcome(schedule, crash_set)
    recording = _recording(actor_cls, outcome)

    def record(letter: DeadLetter) -> None:  # every one, even past the bounded record's size
        if isinstance(letter.message, _Tagged):
            outcome.dead_letters.append((letter.message.sender, letter.message.seq, letter.reason))

    system._dead_letter_listeners.append(record)
    try:
        await _play(system, recording, schedule, crash_set, outcome, args, kwargs)
    finally:
        system._dead_letter_listeners.remove(record)
    return outcome


async def _play(
    system: ActorSystem,
    recording: type[Actor],
    schedule: Schedule,
    crash_set: frozenset[int],
    outcome: Outcome,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    from supervision import ChildSpec, OneForOne, Supervisor  # a face above both packages

    receiver_name = _unused_name(system, "receiver")
    if crash_set:
        tree = Supervisor(
            name=_unused_name(system, "schedule"),
            strategy=OneForOne(max_restarts=len(crash_set) + 1, within=1e9),
            children=[ChildSpec(recording, *args, name=receiver_name, **kwargs)],
        )
        root = await system.spawn_tree(tree)
        receiver = system.lookup(receiver_name)
    else:
        root = receiver = await system.spawn(recording, *args, name=receiver_name, **kwargs)
    senders = [
        await system.spawn(_Sender, receiver, outcome, name=_unused_name(system, f"sender-{number}"))
        for number in range(schedule.senders)
    ]
    for index, step in enumerate(schedule.steps):
        await senders[step.sender].ask(_Do(step.kind, _Tagged(step.sender, step.seq, index, step.payload)))
    for sender in senders:
        await sender.ask(_Flush())
    for sender in senders:
        await system.stop(sender)
    await system.stop(root)


def check_delivery(outcome: Outcome) -> None:
    """Assert per-sender FIFO, no loss and no duplicates; raise AssertionError saying what broke.

    A message is accounted for when the receiver handled it, or when it was a
    crash point (then it must be in the dead letters).
    """
    schedule = outcome.schedule
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()
    last_seq: dict[int, int] = {}
    for sender, seq in outcome.handled:
        if (sender, seq) in seen:
            problems.append(f"s{sender} #{seq} was handled twice")
        seen.add((sender, seq))
        if sender in last_seq and seq < last_seq[sender]:
            problems.append(f"s{sender}'s messages were handled out of order: #{seq} after #{last_seq[sender]}")
        last_seq[sender] = max(seq, last_seq.get(sender, seq))
    crashed = set(outcome.crashed)
    dead = {(s, q): reason for s, q, reason in outcome.dead_letters}
    for step in schedule.steps:
        key = (step.sender, step.seq)
        if key in crashed:
            if key not in dead:
                problems.append(f"s{step.sender} #{step.seq} crashed the receiver but is not in the dead letters")
        elif key not in seen:
            # Recorded or not, a message the receiver never handled breaks "every message
            # is handled" (the guarantee under test); say which of the two it was.
            reply = outcome.replies.get(key)
            if key in dead:
                fate = f"a dead letter ({dead[key]})"
            elif isinstance(reply, BaseException):
                fate = f"its asker got {type(reply).__name__}"
            else:
                fate = "lost without a record"
            problems.append(f"s{step.sender} #{step.seq} ({step.kind}) was never handled: {fate}")
        if step.kind == "ask" and key not in outcome.replies:
            problems.append(f"the ask s{step.sender} #{step.seq} never got an answer")
    if problems:
        raise AssertionError(
            f"delivery guarantees broken for {schedule!r} with crashes at {sorted(outcome.crashes)}:\n  "
            + "\n  ".join(problems)
        )


def assert_per_sender_order(
    recorded: Iterable[tuple[Hashable, Any]],
    sent: Mapping[Hashable, Sequence[Any]],
    *,
    complete: bool = True,
) -> None:
    """Assert that what your actor did keeps each sender's order; raise AssertionError saying where not.

    `check_delivery` checks what the runtime delivered; this checks your actor.
    Record what it observably did (what it forwarded, stored, answered), as
    ``(sender, message)`` pairs in the order it happened, and pass what each
    sender sent, in the order sent. Messages are compared with ``==``.

    Args:
      recorded: ``(sender, message)`` pairs, in the order your actor's effects happened.
      sent: for each sender, its messages in the order it sent them.
      complete: True (default): per sender, the recorded messages must be exactly
        those sent, in order (nothing lost, duplicated, reordered or added).
        False: the actor may leave messages out (a filter), but what it recorded
        must keep the order sent, once each, and add nothing.

    Raises:
      AssertionError: one line per sender whose order broke, showing the first
        place it went wrong and what was missing or extra.
    """
    per_sender: dict[Hashable, list[Any]] = {}
    for index, pair in enumerate(recorded):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"recorded must hold (sender, message) pairs; item {index} is {safe_repr(pair)}")
        per_sender.setdefault(pair[0], []).append(pair[1])
    problems = []
    for sender, got in per_sender.items():
        if sender not in sent:
            problems.append(f"sender {safe_repr(sender)} is not in sent, but {_show(got)} was recorded from it")
    for sender, expected in sent.items():
        got = per_sender.get(sender, [])
        problem = _order_problem(list(expected), got) if complete else _subsequence_problem(list(expected), got)
        if problem is not None:
            problems.append(f"sender {safe_repr(sender)}: {problem}")
    if problems:
        what = "in the order sent" if complete else "in the order sent (some may be left out)"
        raise AssertionError(f"each sender's messages should be recorded {what}, but:\n  " + "\n  ".join(problems))


def _show(items: Sequence[Any]) -> str:
    return safe_repr(list(items), limit=200)


def _order_problem(expected: list[Any], got: list[Any]) -> str | None:
    if got == expected:
        return None
    at = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), min(len(expected), len(got)))
    if at < len(expected) and at < len(got):
        first = f"at position {at}, expected {safe_repr(expected[at])} but recorded {safe_repr(got[at])}"
    elif at < len(expected):
        first = (
            f"recorded only {len(got)} of its {len(expected)} messages; the next, {safe_repr(expected[at])}, is missing"
        )
    else:
        first = f"after its {len(expected)} messages, {safe_repr(got[at])} was recorded as well"
    missing, extra = _difference(expected, got), _difference(got, expected)
    notes = []
    if missing:
        notes.append(f"missing {_show(missing)}")
    if extra:
        notes.append(f"extra or duplicated {_show(extra)}")
    if not notes:
        notes.append("the same messages, reordered")
    return f"{first} ({'; '.join(notes)}); sent {_show(expected)}, recorded {_show(got)}"


def _subsequence_problem(expected: list[Any], got: list[Any]) -> str | None:
    position = 0  # in expected: the next message that may still be recorded
    for index, item in enumerate(got):
        found = next((i for i in range(position, len(expected)) if expected[i] == item), None)
        if found is None:
            if any(e == item for e in expected[:position]):
                why = "again or out of order (it was sent earlier than what was recorded before it)"
            else:
                why = "though it never sent it"
            return (
                f"recorded {safe_repr(item)} at its position {index} {why}; "
                f"sent {_show(expected)}, recorded {_show(got)}"
            )
        position = found + 1
    return None


def _difference(items: list[Any], minus: list[Any]) -> list[Any]:
    """``items`` less one occurrence of each of ``minus`` (works for unhashable messages)."""
    left = list(minus)
    out = []
    for item in items:
        for i, other in enumerate(left):
            if other == item:
                del left[i]
                break
        else:
            out.append(item)
    return out
