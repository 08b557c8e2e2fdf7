"""The argument checks every public entry point shares."""

from __future__ import annotations

import math

import pytest

from actors._checks import check_callable, check_count, check_instance, check_name, check_seconds


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (0.5, 0.5), (math.inf, math.inf)])
def test_check_seconds_accepts_positive_numbers_as_floats(value: float, expected: float) -> None:
    result = check_seconds("timeout", value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (0, {}, ValueError, r"^t must be > 0 seconds, got 0$"),
        (-1, {"zero": True}, ValueError, r"^t must be >= 0 seconds, got -1$"),
        (math.nan, {"zero": True}, ValueError, r"^t must be >= 0 seconds, got nan$"),
        (math.inf, {"finite": True}, ValueError, r"^t must be a finite number > 0, got inf$"),
        (-1, {"finite": True, "zero": True}, ValueError, r"^t must be a finite number >= 0, got -1$"),
        ("1", {}, TypeError, r"^t must be a number of seconds, not str$"),
        (True, {}, TypeError, r"^t must be a number of seconds, not bool$"),
        (None, {}, TypeError, r"^t must be a number of seconds, not NoneType$"),
        ("1", {"optional": True}, TypeError, r"^t must be a number of seconds or None, not str$"),
    ],
)
def test_check_seconds_refuses_with_the_argument_name_and_the_rule(
    value: object, kwargs: dict[str, bool], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_seconds("t", value, **kwargs)  # type: ignore[call-overload]


def test_check_seconds_lets_none_through_when_optional_and_makes_minus_zero_zero() -> None:
    assert check_seconds("t", None, optional=True) is None
    assert math.copysign(1, check_seconds("t", -0.0, zero=True)) == 1


def test_check_count() -> None:
    assert check_count("n", 3) == 3
    assert check_count("n", 0, minimum=0) == 0
    assert check_count("n", None, optional=True) is None
    with pytest.raises(ValueError, match=r"^n must be >= 1$"):
        check_count("n", 0)
    with pytest.raises(ValueError, match=r"^n must be >= 1 \(or None for unbounded\)$"):
        check_count("n", 0, optional=True)
    with pytest.raises(TypeError, match=r"^n must be an int, not bool$"):
        check_count("n", True)
    with pytest.raises(TypeError, match=r"^n must be an int or None, not float$"):
        check_count("n", 1.0, optional=True)  # type: ignore[call-overload]


def test_check_name() -> None:
    assert check_name("worker") == "worker"
    with pytest.raises(ValueError, match=r"^name must be a non-empty string without '/', got 'a/b'$"):
        check_name("a/b")
    with pytest.raises(TypeError, match=r"^name must be a str, not int$"):
        check_name(3)
    with pytest.raises(ValueError, match=r"^Supervisor name must be a non-empty string without '/', got 3$"):
        check_name(3, label="Supervisor name", wrong_type=ValueError)


def test_check_callable_and_check_instance() -> None:
    assert check_callable(len, "f needs") is len
    with pytest.raises(TypeError, match=r"^f needs a callable, not int$"):
        check_callable(1, "f needs")
    assert check_instance("x", str, "lookup", "a string") == "x"
    with pytest.raises(TypeError, match=r"^lookup\(\) takes a string, not int$"):
        check_instance(1, str, "lookup", "a string")
