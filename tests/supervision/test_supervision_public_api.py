"""The public surface of `supervision`: what `__all__` promises."""

from __future__ import annotations

import inspect
import types

import pytest

import actors
import supervision

# The names DESIGN.md promises (sections "supervision" and "Supervision, dynamic").
DESIGNED_NAMES = {
    "Supervisor",
    "ChildSpec",
    "OneForOne",
    "OneForAll",
    "RestForOne",
    "Backoff",
    "start_child",
    "terminate_child",
    "restart_child",
    "delete_child",
    "which_children",
    "count_children",
    "ChildInfo",
    "ChildCounts",
    "DynamicSupervisor",
    "TooManyChildren",
    "Decision",
}


def test_all_contains_every_name_the_design_promises_and_each_has_a_docstring() -> None:
    assert DESIGNED_NAMES - set(supervision.__all__) == set()
    assert len(supervision.__all__) == len(set(supervision.__all__))
    for name in supervision.__all__:
        obj = getattr(supervision, name)
        assert (inspect.getdoc(obj) or "").strip(), name
        assert getattr(obj, "__module__", "").startswith("supervision._"), name


def test_no_public_package_attribute_is_missing_from_all() -> None:
    public = {
        name
        for name, value in vars(supervision).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(supervision.__all__) == set()


@pytest.mark.parametrize("name", ["TooManyChildren", "ChildRunning", "ChildStartFailed"])
def test_every_error_is_an_actor_error(name: str) -> None:
    assert issubclass(getattr(supervision, name), actors.ActorError)


def test_the_dynamic_calls_are_coroutine_functions() -> None:
    for name in ("start_child", "terminate_child", "restart_child", "delete_child", "which_children", "count_children"):
        assert inspect.iscoroutinefunction(getattr(supervision, name)), name


def test_decision_is_a_closed_set() -> None:
    assert [d.name for d in supervision.Decision] == ["RESTART", "RESUME", "STOP", "ESCALATE"]
    assert repr(supervision.Decision.RESUME) == "Decision.RESUME"
