"""Property: random start/terminate/restart/delete/crash/exit/resume sequences over a
DynamicSupervisor (or a Supervisor started empty) keep `which_children` equal to a
model, and every ref handed out either works or raises ActorStopped; restart
intensity counts the dynamic children.

Hypothesis draws a list of operations on a few child names; each runs against a
fresh system under virtual time, and after each one the supervisor's answer is
compared with what a plain model (an ordered dict of children and a list of
restart times) expects. Where the model expects the supervisor to give up, the
system must raise `EscalatedFailure` right there, and not before.
"""

from __future__ import annotations

import collections
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from supkit import Crash, Echo, StopSelf, Worker

from actors import ActorNameTaken, ActorNotFound, ActorStopped, EscalatedFailure, open_actor_system
from supervision import (
    ChildCounts,
    ChildRunning,
    ChildSpec,
    Decision,
    DynamicSupervisor,
    OneForOne,
    Supervisor,
    TooManyChildren,
    count_children,
    delete_child,
    restart_child,
    start_child,
    terminate_child,
    which_children,
)

pytestmark = pytest.mark.allow_actor_failures

NAMES = ("a", "b", "c")
MAX_CHILDREN = 2
MAX_RESTARTS = 2
WITHIN = 10.0


class Malformed(Exception):
    pass


class Agent(Worker):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, Malformed):
            raise message
        return await super().receive(message)


def decide(error: BaseException) -> Decision:
    return Decision.RESUME if isinstance(error, Malformed) else Decision.RESTART


# Starts and crashes weigh more: children to act on, and sequences that reach the intensity.
KINDS = ["start"] * 3 + ["crash"] * 3 + ["terminate", "restart", "delete", "exit", "resume", "sleep"]


@st.composite
def operations(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(KINDS))
    if kind == "sleep":
        return (kind, draw(st.sampled_from([1.0, 4.0, 11.0])))
    name = draw(st.sampled_from(NAMES))
    if kind == "start":
        return (kind, name, draw(st.sampled_from(["permanent", "transient", "temporary"])))
    return (kind, name)


@attrs.define
class Model:
    """What the supervisor should report: children in start order, and the restarts in the window."""

    restart: dict[str, str] = attrs.Factory(dict)  # name -> restart type, in start order
    running: dict[str, bool] = attrs.Factory(dict)
    generation: dict[str, int] = attrs.Factory(dict)  # which ref of a name is current
    restarts: collections.deque[float] = attrs.Factory(collections.deque)
    keeps_specs: bool = True  # a Supervisor keeps an ended child's spec; a DynamicSupervisor does not

    def expected(self) -> list[tuple[str, str, str]]:
        return [(name, kind, "running" if self.running[name] else "terminated") for name, kind in self.restart.items()]

    def counts(self) -> ChildCounts:
        active = sum(self.running.values())
        return ChildCounts(specs=len(self.restart), active=active, supervisors=0, workers=len(self.restart))

    def forget(self, name: str) -> None:
        del self.restart[name], self.running[name]

    def ended(self, name: str) -> None:
        """``name`` stopped for good (not restarted)."""
        if self.keeps_specs and self.restart[name] != "temporary":
            self.running[name] = False
        else:
            self.forget(name)

    def restart_allowed(self, now: float) -> bool:
        """A restart at ``now``: False when the supervisor gives up instead."""
        while self.restarts and self.restarts[0] <= now - WITHIN:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            return False
        self.restarts.append(now)
        return True


class GaveUpAsExpected(Exception):
    pass


async def run(ops: list[tuple[Any, ...]], dynamic: bool = True) -> list[str]:
    """Run ``ops``; return a trace of what happened (for hypothesis to print on failure)."""
    model = Model(keeps_specs=not dynamic)
    trace: list[str] = []
    refs: list[tuple[Any, str, int]] = []  # every ref handed out, with its name and generation
    expect_give_up = False
    try:
        async with open_actor_system() as system:
            strategy = OneForOne(max_restarts=MAX_RESTARTS, within=WITHIN, decide=decide)
            kind_of_supervisor = DynamicSupervisor if dynamic else Supervisor
            sup = await system.spawn_tree(kind_of_supervisor(name="pool", max_children=MAX_CHILDREN, strategy=strategy))
            current: dict[str, Any] = {}
            for op in ops:
                kind, arg = op[0], op[1]
                trace.append(repr(op))
                if kind == "start":
                    spec = ChildSpec(Agent, name=arg, log=[], restart=op[2])
                    if arg in model.restart:
                        with pytest.raises(ActorNameTaken):
                            await start_child(sup, spec)
                    elif len(model.restart) >= MAX_CHILDREN:
                        with pytest.raises(TooManyChildren):
                            await start_child(sup, spec)
                    else:
                        ref = await start_child(sup, spec)
                        model.restart[arg], model.running[arg] = op[2], True
                        model.generation[arg] = model.generation.get(arg, 0) + 1
                        current[arg] = ref
                        refs.append((ref, arg, model.generation[arg]))
                elif kind == "sleep":
                    await trio.sleep(arg)
                elif kind in ("terminate", "restart", "delete"):
                    call = {"terminate": terminate_child, "restart": restart_child, "delete": delete_child}[kind]
                    if arg not in model.restart:
                        with pytest.raises(ActorNotFound):
                            await call(sup, arg)
                    elif kind != "terminate" and model.running[arg]:
                        with pytest.raises(ChildRunning):
                            await call(sup, arg)
                    elif kind == "terminate":
                        await call(sup, arg)
                        if model.running[arg]:
                            model.ended(arg)
                    elif kind == "restart":
                        ref = await call(sup, arg)
                        model.running[arg] = True
                        model.generation[arg] += 1
                        current[arg] = ref
                        refs.append((ref, arg, model.generation[arg]))
                    else:
                        await call(sup, arg)
                        model.forget(arg)
                elif arg in model.restart and model.running[arg]:  # crash, exit, resume: a running child
                    restart = model.restart[arg]
                    message = {"crash": Crash(), "exit": StopSelf(), "resume": Malformed()}[kind]
                    current[arg].tell(message)
                    if kind == "resume":
                        pass
                    elif restart == "temporary" or (restart == "transient" and kind == "exit"):
                        model.ended(arg)
                    elif not model.restart_allowed(trio.current_time()):
                        expect_give_up = True
                        trace.append("  -> the supervisor must give up")
                        await trio.sleep(1000)
                        pytest.fail("the supervisor did not give up")
                await trio.testing.wait_all_tasks_blocked()
                infos = await which_children(sup)
                seen = [(info.name, info.restart, info.phase) for info in infos]
                assert seen == model.expected(), f"after {op}: {seen} != {model.expected()}"
                assert await count_children(sup) == model.counts()
                for ref, name, generation in refs:
                    works = model.running.get(name, False) and model.generation[name] == generation
                    if works:
                        assert await ref.ask(Echo(name)) == name, f"{name} #{generation} should answer"
                    else:
                        with pytest.raises(ActorStopped):
                            await ref.ask(Echo(name))
    except EscalatedFailure as exc:
        assert expect_give_up, f"gave up unexpectedly: {exc}"
        assert exc.supervisor == "pool"
        trace.append("  -> gave up")
        return trace
    assert not expect_give_up
    return trace


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operations(), min_size=8, max_size=40), dynamic=st.booleans())
def test_random_dynamic_supervision_matches_the_model(ops: list[tuple[Any, ...]], dynamic: bool) -> None:
    note(("DynamicSupervisor" if dynamic else "Supervisor") + ":\n" + "\n".join(repr(op) for op in ops))
    trio.run(run, ops, dynamic, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_model_sees_a_give_up_over_dynamic_children() -> None:
    """The example form: a third restart of two children within the window (a resume is not counted)."""
    ops = [
        ("start", "a", "permanent"),
        ("start", "b", "transient"),
        ("crash", "a"),
        ("resume", "b"),
        ("crash", "b"),
        ("resume", "a"),
        ("crash", "a"),
    ]
    trace = trio.run(run, ops, clock=trio.testing.MockClock(autojump_threshold=0))
    assert trace[-1] == "  -> gave up"
