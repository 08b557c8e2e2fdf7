"""The lifecycle values: phases, control requests, directives, and LifeState's transition table."""

from __future__ import annotations

import re

import pytest
import trio
import trio.testing

from actors._states import _ALLOWED, Control, Directive, DirectiveKind, LifeState, Phase


def test_the_transition_table_in_the_docstring_is_the_one_the_code_checks() -> None:
    doc = LifeState.__doc__ or ""
    written: dict[Phase, set[Phase]] = {phase: set() for phase in Phase}
    source: Phase | None = None
    for line in doc.splitlines():
        match = re.match(r"^\s+(?:([A-Z]+)\s+)?->\s+([A-Z]+)\s", line + " ")
        if match:
            if match.group(1):
                source = Phase[match.group(1)]
            assert source is not None
            written[source].add(Phase[match.group(2)])
    assert written == {phase: set(targets) for phase, targets in _ALLOWED.items()}


def test_every_phase_can_reach_stopped_and_stopped_is_final() -> None:
    for phase, targets in _ALLOWED.items():
        assert (Phase.STOPPED in targets) is (phase is not Phase.STOPPED)


def test_set_phase_refuses_a_transition_the_table_does_not_allow() -> None:
    life = LifeState()
    with pytest.raises(RuntimeError, match=r"^a cell cannot go from new to running$"):
        life.set_phase(Phase.RUNNING)
    life.set_phase(Phase.STARTING)
    life.set_phase(Phase.RUNNING)
    life.set_phase(Phase.STOPPED)
    with pytest.raises(RuntimeError, match=r"^a cell cannot go from stopped to starting$"):
        life.set_phase(Phase.STARTING)
    life.set_phase(Phase.STOPPED)  # staying put is not a transition


def test_phases_compare_equal_to_their_names() -> None:
    assert Phase.RUNNING == "running"
    assert str(Phase.RESTARTING) == "restarting"


def test_a_stronger_control_request_replaces_a_weaker_one_and_never_the_reverse() -> None:
    life = LifeState()
    reason = ValueError("x")
    assert life.request(Control.EXIT)
    assert life.request(Control.SUSPEND, reason)
    assert life.reason is reason
    assert not life.request(Control.EXIT)
    assert not life.request(Control.SUSPEND, None)
    assert life.reason is reason
    assert life.request(Control.STOP)
    assert not life.request(Control.STOP)
    assert life.control is Control.STOP
    life.clear_control()
    assert life.control is None
    assert life.reason is None


def test_directives_are_built_by_their_constructors() -> None:
    assert Directive.stop().kind is DirectiveKind.STOP
    assert Directive.stop() is Directive.stop()
    assert Directive.suspend().kind is DirectiveKind.SUSPEND
    assert Directive.restart().delay == 0.0
    later = Directive.restart(1.5)
    assert (later.kind, later.delay) == (DirectiveKind.RESTART, 1.5)
    error = RuntimeError("boom")
    assert Directive.resume(error).reason is error
    assert repr(later) == "Directive.restart(delay=1.5)"
    assert repr(Directive.stop()) == "Directive.stop()"


async def test_wait_phase_returns_on_the_phase_or_on_stopped() -> None:
    life = LifeState()
    reached: list[Phase] = []

    async def waiter() -> None:
        await life.wait_phase(Phase.SUSPENDED)
        reached.append(life.phase)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        life.set_phase(Phase.STARTING)
        life.set_phase(Phase.RUNNING)
        await trio.testing.wait_all_tasks_blocked()
        assert reached == []
        life.set_phase(Phase.SUSPENDED)
    assert reached == [Phase.SUSPENDED]
    life.set_phase(Phase.STOPPED)
    with trio.fail_after(1):
        await life.wait_phase(Phase.RUNNING)  # a stopped cell will never run: returns at once


async def test_wait_until_wakes_on_a_directive() -> None:
    life = LifeState()

    async def parent() -> None:
        await trio.testing.wait_all_tasks_blocked()
        life.resolve(Directive.restart(2))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(parent)
        await life.wait_until(lambda: life.directive is not None)
    directive = life.take_directive()
    assert directive is not None
    assert directive.delay == 2
    assert life.take_directive() is None
