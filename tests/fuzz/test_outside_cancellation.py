"""Cancellation from outside, at any point: everything stops once, nothing is lost.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from fuzz_helpers import (
    Boom,
    Echo,
    Lifecycle,
    assert_system_works,
    contains,
    run_virtual,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorError,
    ActorNotFound,
    ActorStopped,
    AskTimeout,
    MailboxFull,
    Reply,
    open_actor_system,
)
from actors import tool as actors_tool
from supervision import Backoff, ChildSpec, OneForAll, OneForOne, Supervisor

WORKERS = ("w1", "w2", "w3", "w4", "plain")


class Op:
    """One message of a workload: handled by `Worker` as ``action`` says. Identity = serial."""

    __slots__ = ("action", "how", "serial", "target")

    def __init__(self, serial: int, target: str, how: str, action: str) -> None:
        self.serial, self.target, self.how, self.action = serial, target, how, action

    def __repr__(self) -> str:
        return f"#{self.serial} {self.how} {self.action} to {self.target}"


@st.composite
def workloads(draw: st.DrawFn) -> list[Op]:
    """Steps: send a worker a message (tell, send, ask, ask_nowait) that it handles at once,
    after a sleep, by crashing, or by asking another worker in turn; or stop a worker."""
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(WORKERS),
                st.sampled_from(["tell", "send", "ask", "ask_nowait", "tell", "stop it"]),
                st.one_of(
                    st.sampled_from(["ok", "ok", "sleep 0.3", "sleep 3", "crash"]),
                    st.sampled_from(WORKERS).map(lambda w: f"forward {w}"),
                ),
            ),
            max_size=12,
        )
    )
    return [Op(i, target, how, action) for i, (target, how, action) in enumerate(steps)]


@settings(max_examples=200, deadline=None)
@given(
    cancel_at=st.one_of(
        st.tuples(st.just("after virtual seconds"), st.floats(0, 5) | st.floats(5, 40)),
        st.tuples(st.just("after checkpoints"), st.integers(0, 400)),
    ),
    workload=workloads(),
    start_delay=st.sampled_from([0.0, 0.5]),
)
@example(cancel_at=("after checkpoints", 0), workload=[], start_delay=0.0)
@example(cancel_at=("after virtual seconds", 0.0), workload=[], start_delay=0.0)
def test_cancelling_the_system_block_at_any_point_stops_everything_once_and_loses_nothing(
    cancel_at: tuple[str, float], workload: list[Op], start_delay: float
) -> None:
    """A cancel scope around ``open_actor_system`` fires at a drawn virtual time, or after a
    drawn number of scheduler checkpoints, while a supervised tree starts, serves tells and
    asks (some handlers sleep, some crash and get restarted) and stops. Whatever the moment:
    the block exits (bounded), no exception escapes the scope, every actor instance whose
    on_start completed gets exactly one on_stop, every ask_nowait reply is settled, and
    every message sent is handled or recorded as a dead letter, exactly once."""
    life = Lifecycle()
    handled: list[Op] = []
    replies: list[tuple[Op, Reply[Any]]] = []
    maybe_unsent: set[int] = set()  # asks refused at once because the actor had stopped
    sent: list[Op] = []
    dead: list[Any] = []

    class Worker(Actor):
        async def on_start(self) -> None:
            if start_delay:
                await trio.sleep(start_delay)
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)
            await trio.sleep(0.1)

        async def receive(self, message: Any) -> Any:
            if not isinstance(message, Op):
                return "inner"  # a forwarded ask (not counted)
            if message.action == "crash":
                raise Boom(f"crash on {message!r}")
            if message.action.startswith("sleep"):
                await trio.sleep(float(message.action.split()[1]))
            if message.action.startswith("forward"):
                # Asking another worker (or, drawn so, itself: DeadlockError, a failure);
                # ActorNotFound/ActorStopped/AskTimeout are failures too.
                other = self.system.lookup(message.action.split()[1])
                await other.ask(("inner", message.serial), timeout=1)
            handled.append(message)
            return f"done {message.serial}"

    class Sup(Supervisor):
        async def on_start(self) -> None:
            await super().on_start()
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    tree = Sup(
        name="team",
        strategy=OneForOne(max_restarts=1000, within=1, backoff=Backoff(initial=0.1, maximum=0.4)),
        children=[
            ChildSpec(Worker, name="w1"),
            ChildSpec(Worker, name="w2", restart="transient", message_timeout=2.0),
            Sup(
                name="sub",
                strategy=OneForAll(max_restarts=1000, within=1),
                children=[
                    ChildSpec(Worker, name="w3"),
                    ChildSpec(Worker, name="w4", shutdown_timeout=0.5),
                ],
            ),
        ],
    )

    async def body(system: Any) -> None:
        await system.spawn_tree(tree)
        await system.spawn(Worker, name="plain", mailbox_size=2)
        for op in workload:
            try:
                ref = system.lookup(op.target)
            except ActorNotFound:
                continue  # crashed (plain) or stopped earlier, and gone
            if op.how == "stop it":
                await system.stop(ref)
            elif op.how == "tell":
                try:
                    ref.tell(op)
                except MailboxFull:
                    continue
                sent.append(op)
            elif op.how == "ask_nowait":
                try:
                    replies.append((op, ref.ask_nowait(op, timeout=2)))
                except (ActorStopped, MailboxFull):
                    continue
                sent.append(op)
            else:
                sent.append(op)
                try:
                    if op.how == "send":
                        await ref.send(op)
                    else:
                        await ref.ask(op, timeout=2)
                except ActorStopped:
                    maybe_unsent.add(op.serial)
                except trio.Cancelled:
                    # trio's rule: a cancelled operation did not happen. A send (or an
                    # ask) cancelled while it waited for mailbox space sent nothing.
                    maybe_unsent.add(op.serial)
                    raise
                except AskTimeout as exc:
                    if "could not even be sent" in str(exc):
                        maybe_unsent.add(op.serial)  # (it was not)
                except (Boom, ActorError):
                    pass  # the handler's failure (a forwarded ask that failed, say)
        await trio.sleep(10)

    exited_after: list[float] = []
    systems: list[Any] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as victim:
                how, when = cancel_at
                if how == "after virtual seconds":
                    victim.deadline = trio.current_time() + when
                else:

                    async def canceller() -> None:
                        for _ in range(int(when)):
                            await trio.lowlevel.checkpoint()
                        victim.cancel()

                    nursery.start_soon(canceller)
                async with open_actor_system(shutdown_timeout=1.0) as system:
                    systems.append(system)
                    await body(system)
            exited_after.append(trio.current_time())
            nursery.cancel_scope.cancel()
        for system in systems:  # none if cancelled while opening
            dead.extend(system.dead_letters)

    run_virtual(main)
    # The whole run, cancelled or not, ends within a bound (virtual seconds): each step takes
    # at most 6 s (a send waiting on a full mailbox of two 3 s handlers), then a 10 s sleep,
    # then each of the 8 actors' stop (handler grace, then on_stop) takes at most 2 s.
    bound = 6 * len(workload) + 10 + 8 * 2
    assert exited_after and exited_after[0] <= bound, f"the block exited after {exited_after} s"
    assert life.problems() == []
    pending = [op for op, reply in replies if not reply.done()]
    assert pending == [], f"replies never settled: {pending}"
    recorded = handled + [d.message for d in dead if isinstance(d.message, Op)]
    for op in sent:
        times = contains(recorded, op)
        allowed = {0, 1} if op.serial in maybe_unsent else {1}
        assert times in allowed, f"{op!r} was handled or dead-lettered {times} times"


@settings(max_examples=15, deadline=None)
@given(checkpoints=st.integers(0, 12))
def test_a_system_cancelled_while_opening_is_not_left_current(checkpoints: int) -> None:
    """A cancel while ``open_actor_system()`` is still entering must not leave the half-made
    system as the task's current one: a ``@tool`` called outside any system afterwards must
    say so, not run on the dead system's worker threads."""
    double = actors_tool(lambda x: 2 * x)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as scope:

                async def canceller() -> None:
                    for _ in range(checkpoints):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                nursery.start_soon(canceller)
                async with open_actor_system():
                    await trio.sleep_forever()
        with trio.move_on_after(1):
            with pytest.raises(RuntimeError, match=r"^a blocking tool needs a running actor system"):
                await double(1)

    run_virtual(main)


@settings(max_examples=60, deadline=None)
@given(
    stoppers=st.lists(
        st.sampled_from(["system.stop", "self.stop()", "parent stops it", "block ends"]), min_size=1, max_size=5
    ),
    busy=st.booleans(),
    spawn_while_stopping=st.booleans(),
)
def test_racing_stops_of_one_actor_all_return_and_it_stops_once(
    stoppers: list[str], busy: bool, spawn_while_stopping: bool
) -> None:
    """Several tasks stop the same actor at once (system.stop from outside, the actor's own
    self.stop(), its parent stopping, the block ending): every stop returns, on_stop runs
    once, the actor's children stop first, and a spawn attempted from its on_stop either gets
    ActorStopped or makes a child that is stopped with it: nothing is left behind."""
    life = Lifecycle()
    spawn_errors: list[BaseException] = []
    alive_at_on_stop: list[str] = []  # children still alive when Target's on_stop ran

    class Child(Echo):
        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    class Target(Actor):
        async def on_start(self) -> None:
            await self.spawn(Child, name="grandchild")
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)
            alive_at_on_stop.extend(r.name for r in self.system.actors() if r.name == "grandchild")
            if spawn_while_stopping:
                try:
                    await self.spawn(Child)
                except ActorStopped as exc:
                    spawn_errors.append(exc)

        async def receive(self, message: Any) -> Any:
            if message == "stop yourself":
                self.stop()
            elif message == "work" and busy:
                await trio.sleep(0.5)
            return message

    class Parent(Actor):
        async def on_start(self) -> None:
            self.target = await self.spawn(Target, name="target")
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

        async def receive(self, message: Any) -> Any:
            await self.system.stop(self.target)
            return "stopped"

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=1) as system:
            parent = await system.spawn(Parent, name="parent")
            target = system.lookup("target")
            target.tell("work")
            async with trio.open_nursery() as nursery:
                for how in stoppers:
                    if how == "system.stop":
                        nursery.start_soon(system.stop, target)
                    elif how == "self.stop()":
                        target.tell("stop yourself")
                    elif how == "parent stops it":
                        nursery.start_soon(parent.ask, "stop it", 5)
                if "block ends" not in stoppers:
                    with trio.fail_after(5):
                        while target.is_alive:
                            await trio.sleep(0.1)
            if "block ends" not in stoppers:
                await system.stop(target)  # once more, after it stopped: returns at once
                assert not target.is_alive
                assert [r.name for r in system.actors()] == ["parent"], "nothing of target's is left"
                await assert_system_works(system)

    run_virtual(main)
    assert life.problems() == []  # (a child spawned from on_stop, if allowed, was stopped too)
    assert alive_at_on_stop == [], "children stop before their parent's on_stop"
    assert all("is stopping or restarting and cannot spawn" in str(exc) for exc in spawn_errors)
