"""Property: per sender-receiver pair, messages are handled in the order sent (tell, send and
ask alike), none lost, none duplicated, and a receiver handles one message at a time.

Hypothesis draws a schedule: a list of steps, each "sender i sends receiver j a message with
tell/send/ask". The test driver hands each step to sender actor i (by tell, or by ask when the
step says the driver waits for it), so the senders run concurrently and their messages
interleave at the receivers in ways the schedule and the scheduler decide.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import trio
from hypothesis import given, note, settings
from hypothesis import strategies as st

from actors import Actor, ActorRef, MailboxFull, open_actor_system

Kind = Literal["tell", "send", "ask"]


@attrs.frozen
class Step:
    sender: int
    receiver: int
    kind: Kind
    payload: int
    driver_waits: bool = False  # the driver asks the sender to do it and waits
    driver_yields: bool = False  # the driver lets other tasks run after this step

    def __repr__(self) -> str:
        how = "and waits for it" if self.driver_waits else "without waiting"
        then = ", then yields" if self.driver_yields else ""
        return (
            f"sender {self.sender} {self.kind}s receiver {self.receiver} payload {self.payload} "
            f"(driver hands it over {how}{then})"
        )


@attrs.frozen
class Schedule:
    senders: int
    receivers: int
    mailbox_size: int | None
    steps: tuple[Step, ...]

    def __repr__(self) -> str:
        bound = "unbounded" if self.mailbox_size is None else f"mailbox_size={self.mailbox_size}"
        lines = [f"{self.senders} senders, {self.receivers} receivers ({bound}):"]
        lines += [f"  {i:3}. {step!r}" for i, step in enumerate(self.steps)]
        return "\n".join(lines)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    senders = draw(st.integers(2, 4))
    receivers = draw(st.integers(1, 2))
    mailbox_size = draw(st.sampled_from([None, None, 1, 3]))
    steps = draw(
        st.lists(
            st.builds(
                Step,
                sender=st.integers(0, senders - 1),
                receiver=st.integers(0, receivers - 1),
                kind=st.sampled_from(["tell", "send", "ask"]),
                payload=st.integers(0, 9),
                driver_waits=st.booleans(),
                driver_yields=st.booleans(),
            ),
            max_size=40,
        )
    )
    return Schedule(senders, receivers, mailbox_size, tuple(steps))


@attrs.frozen
class Msg:
    sender: int
    seq: int  # position in this sender's stream to this receiver
    payload: int


@attrs.frozen
class Do:
    receiver: int
    kind: Kind
    seq: int
    payload: int


class Receiver(Actor):
    def __init__(self) -> None:
        self.handled: list[Msg] = []
        self.inside = 0
        self.most_inside = 0

    async def receive(self, message: object) -> object:
        if message == "report":
            return self.handled, self.most_inside
        assert isinstance(message, Msg)
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.handled.append(message)
        if message.payload % 3 == 0:  # sometimes await mid-handler
            await trio.lowlevel.checkpoint()
        self.inside -= 1
        return (message.sender, message.seq, message.payload * 10)


class Sender(Actor):
    def __init__(self, index: int, receivers: list[ActorRef[Any]]) -> None:
        self.index = index
        self.receivers = receivers
        self.wrong_replies: list[str] = []

    async def receive(self, message: object) -> object:
        if message == "flush":
            return self.wrong_replies
        assert isinstance(message, Do)
        target = self.receivers[message.receiver]
        msg = Msg(self.index, message.seq, message.payload)
        if message.kind == "tell":
            try:
                target.tell(msg)
            except MailboxFull:
                await target.send(msg)  # nothing was enqueued: send it, in the same place
        elif message.kind == "send":
            await target.send(msg)
        else:
            reply = await target.ask(msg)
            if reply != (self.index, message.seq, message.payload * 10):
                self.wrong_replies.append(f"ask {msg} got {reply!r}")
        return None


@settings(max_examples=50, deadline=None)
@given(schedule=schedules())
async def test_each_receiver_handles_every_senders_messages_in_send_order(schedule: Schedule) -> None:
    note(repr(schedule))
    expected: dict[tuple[int, int], list[int]] = {}
    async with open_actor_system() as system:
        receivers = [
            await system.spawn(Receiver, name=f"receiver{j}", mailbox_size=schedule.mailbox_size)
            for j in range(schedule.receivers)
        ]
        senders = [await system.spawn(Sender, i, receivers, name=f"sender{i}") for i in range(schedule.senders)]
        for step in schedule.steps:
            stream = expected.setdefault((step.sender, step.receiver), [])
            command = Do(step.receiver, step.kind, len(stream), step.payload)
            stream.append(step.payload)
            if step.driver_waits:
                await senders[step.sender].ask(command)
            else:
                senders[step.sender].tell(command)
            if step.driver_yields:
                await trio.lowlevel.checkpoint()
        wrong = [w for s in senders for w in await s.ask("flush")]
        reports = [await r.ask("report") for r in receivers]

    assert wrong == [], f"asks got the wrong replies: {wrong}"
    problems: list[str] = []
    for j, (handled, most_inside) in enumerate(reports):
        if most_inside != 1 and handled:
            problems.append(f"receiver {j} ran {most_inside} handlers at once")
        for i in range(schedule.senders):
            sent = expected.get((i, j), [])
            got = [(m.seq, m.payload) for m in handled if m.sender == i]
            if got != list(enumerate(sent)):
                problems.append(
                    f"sender {i} -> receiver {j}: sent (seq, payload) {list(enumerate(sent))}, handled {got}"
                )
    total_sent = sum(len(v) for v in expected.values())
    total_handled = sum(len(handled) for handled, _ in reports)
    if total_handled != total_sent:
        problems.append(f"sent {total_sent} messages in all, handled {total_handled}")
    assert problems == [], "\n".join(problems)
