"""Argument checks, in one place, so that every bad argument is refused in the same words.

Each check returns the value (normalised: seconds become a float) or raises a
`TypeError` (wrong type) or `ValueError` (right type, wrong value) whose
message starts with the argument's name, as trio's do:
``ValueError("mailbox_size must be >= 1 (or None for unbounded)")``.
``bool`` is refused where a number is expected (``True`` is an int to Python,
never what the user meant).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar, overload

from ._text import safe_repr

__all__ = ["check_callable", "check_count", "check_instance", "check_name", "check_seconds"]

T = TypeVar("T")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@overload
def check_seconds(name: str, value: float, *, zero: bool = ..., finite: bool = ...) -> float: ...
@overload
def check_seconds(
    name: str, value: float | None, *, zero: bool = ..., finite: bool = ..., optional: bool
) -> float | None: ...
def check_seconds(
    name: str, value: float | None, *, zero: bool = False, finite: bool = False, optional: bool = False
) -> float | None:
    """A duration in seconds: a number > 0 (>= 0 with ``zero``), finite with ``finite``.

    ``optional``: None is accepted (and returned). NaN is always refused;
    ``math.inf`` unless ``finite``.
    """
    if value is None and optional:
        return None
    if not _number(value):
        none = " or None" if optional else ""
        raise TypeError(f"{name} must be a number of seconds{none}, not {type(value).__name__}")
    assert value is not None
    bound = ">= 0" if zero else "> 0"
    if math.isnan(value) or value < 0 or (value == 0 and not zero) or (finite and value == math.inf):
        rule = f"a finite number {bound}" if finite else f"{bound} seconds"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value) + 0.0  # (-0.0 becomes 0.0)


@overload
def check_count(name: str, value: int, *, minimum: int = ...) -> int: ...
@overload
def check_count(name: str, value: int | None, *, minimum: int = ..., optional: bool) -> int | None: ...
def check_count(name: str, value: int | None, *, minimum: int = 1, optional: bool = False) -> int | None:
    """A whole number >= ``minimum`` (1 unless given); None too with ``optional`` (unbounded)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        none = " or None" if optional else ""
        raise TypeError(f"{name} must be an int{none}, not {type(value).__name__}")
    if value < minimum:
        none = " (or None for unbounded)" if optional else ""
        raise ValueError(f"{name} must be >= {minimum}{none}")
    return value


def check_name(value: Any, *, label: str = "name", wrong_type: type[Exception] = TypeError) -> str:
    """An actor name: a non-empty str without '/' (a '/' separates a path's names).

    ``label`` starts the message; ``wrong_type`` is raised for a value that is
    not a str at all (a `ValueError` where a type error has always been one).
    """
    if not isinstance(value, str):
        if wrong_type is TypeError:
            raise TypeError(f"{label} must be a str, not {type(value).__name__}")
        raise wrong_type(f"{label} must be a non-empty string without '/', got {safe_repr(value)}")
    if not value or "/" in value:
        raise ValueError(f"{label} must be a non-empty string without '/', got {safe_repr(value)}")
    return value


def check_callable(value: T, what: str) -> T:
    """Something to call; ``what`` names the caller, as in ``"run_in_thread needs"``."""
    if not callable(value):
        raise TypeError(f"{what} a callable, not {type(value).__name__}")
    return value


def check_instance(value: Any, cls: type[T], verb: str, noun: str) -> T:
    """An instance of ``cls``: ``check_instance(ref, ActorRef, "stop", "an ActorRef")``."""
    if not isinstance(value, cls):
        raise TypeError(f"{verb}() takes {noun}, not {type(value).__name__}")
    return value
