"""Restart strategies: which children restart when one fails, how often is too often,
and (with ``decide=``) what to do about each failure."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from actors.lowlevel import check_count, check_seconds

from ._backoff import Backoff

__all__ = ["Decider", "Decision", "OneForAll", "OneForOne", "RestForOne", "Strategy"]

C = TypeVar("C")


class Decision(enum.Enum):
    """What a supervisor does about one failure of a child (Akka's directives).

    Returned by a strategy's ``decide`` function, which is called with the
    error each time a child fails (not when it exits normally).

    - ``RESTART`` (the default): what the strategy and the child's restart type
      say: a fresh instance after the backoff, counted toward the intensity.
      (A ``temporary`` child is never restarted: it stops.)
    - ``RESUME``: keep the instance and its state and go on with the next
      message. The failed message is settled as usual (its asker gets the
      error, it is recorded in dead letters). Not counted toward the intensity;
      siblings are untouched. A failure where there is no working instance to
      keep (its ``on_start``/``on_restart`` failed, or the child is itself a
      supervisor that gave up) is restarted instead.
    - ``STOP``: stop the child for good, whatever its restart type, as
      `terminate_child` would (the spec is kept, except a temporary child's);
      its watchers get `actors.Terminated` with the error.
    - ``ESCALATE``: the supervisor fails at once (it stops its children and
      raises `actors.EscalatedFailure` with the child's error as cause), and its
      own parent decides, as when the supervisor gives up.
    """

    RESTART = "restart"
    RESUME = "resume"
    STOP = "stop"
    ESCALATE = "escalate"

    def __repr__(self) -> str:
        return f"Decision.{self.name}"


Decider = Callable[[BaseException], Decision]
"""A strategy's ``decide`` function: the child's error in, a `Decision` out."""


def _max_restarts(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_count("max_restarts", value, minimum=0)


def _within(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    check_seconds("within", value)


def _decide(instance: object, attribute: attrs.Attribute[Decider | None], value: Decider | None) -> None:
    if isinstance(value, Decision):
        raise TypeError(
            f"decide takes a function, not {value!r}; for the same decision on every "
            f"failure use decide=lambda error: {value!r}"
        )
    if value is not None and not callable(value):
        raise TypeError(
            f"decide must be a function taking the child's error and returning a Decision "
            f"(or None), not {type(value).__name__}"
        )


@attrs.frozen(kw_only=True)
class Strategy:
    """Base of the restart strategies; use `OneForOne`, `OneForAll` or `RestForOne`.

    Restart intensity: a supervisor restarts at most ``max_restarts`` times
    within any ``within`` seconds, counting the restarts of all its children
    together; the next failure makes it give up: it stops its children and
    fails itself, which escalates to its own parent.

    Args:
      max_restarts: restarts allowed in the window (default 3; 0 never restarts).
        ``math.inf`` is not allowed; use a large number.
      within: the window in seconds (default 5). ``math.inf`` means "ever":
        ``max_restarts`` restarts in the supervisor's lifetime.
      backoff: a `Backoff` delaying each restart, or None to restart at once.
        Each failing child keeps its own backoff clock; a group restart
        (`OneForAll`, `RestForOne`) waits in a timer while the supervisor keeps
        serving messages and other children's failures.
      decide: None, or a function called with a child's error on each failure,
        returning a `Decision` (RESTART, RESUME, STOP or ESCALATE). A decide
        function that raises, or returns something else, is a failure of the
        supervisor itself (an `actors.EscalatedFailure` saying so). It runs in
        the supervisor's task: keep it quick and free of side effects.
    """

    max_restarts: int = attrs.field(default=3, validator=_max_restarts)
    within: float = attrs.field(default=5.0, validator=_within)
    backoff: Backoff | None = attrs.field(default=None)
    decide: Decider | None = attrs.field(default=None, validator=_decide)

    @backoff.validator
    def _check_backoff(self, attribute: attrs.Attribute[Backoff | None], value: Backoff | None) -> None:
        if value is not None and not isinstance(value, Backoff):
            raise TypeError(f"backoff must be a Backoff(...) or None, not {type(value).__name__}")

    def affected(self, children: Sequence[C], failed: C) -> list[C]:
        """The children to restart, in start order, when ``failed`` fails."""
        raise NotImplementedError


@attrs.frozen(kw_only=True)
class OneForOne(Strategy):
    """Restart only the child that failed (Erlang/OTP ``one_for_one``)."""

    def affected(self, children: Sequence[C], failed: C) -> list[C]:
        """Only ``failed``."""
        return [failed]


@attrs.frozen(kw_only=True)
class OneForAll(Strategy):
    """Restart every child when one fails: stop all in reverse order, start all in order."""

    def affected(self, children: Sequence[C], failed: C) -> list[C]:
        """All ``children``, in start order."""
        return list(children)


@attrs.frozen(kw_only=True)
class RestForOne(Strategy):
    """Restart the child that failed and every child started after it."""

    def affected(self, children: Sequence[C], failed: C) -> list[C]:
        """``failed`` and the children started after it, in start order."""
        index = list(children).index(failed)
        return list(children)[index:]
