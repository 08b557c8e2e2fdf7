"""Restart strategies: which children restart when one fails, and how often is too often."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs

from actors.lowlevel import check_count, check_seconds

from ._backoff import Backoff

__all__ = ["OneForAll", "OneForOne", "RestForOne", "Strategy"]

C = TypeVar("C")


def _max_restarts(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_count("max_restarts", value, minimum=0)


def _within(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    check_seconds("within", value)


@attrs.frozen(kw_only=True)
class Strategy:
    """Base of the restart strategies; use `OneForOne`, `OneForAll` or `RestForOne`.

    Restart intensity: a supervisor restarts at most ``max_restarts`` times
    within any ``within`` seconds; the next failure makes it give up: it stops
    its children and fails itself, which escalates to its own parent.

    Args:
      max_restarts: restarts allowed in the window (default 3; 0 never restarts).
      within: the window in seconds (default 5).
      backoff: a `Backoff` delaying each restart, or None to restart at once.
    """

    max_restarts: int = attrs.field(default=3, validator=_max_restarts)
    within: float = attrs.field(default=5.0, validator=_within)
    backoff: Backoff | None = attrs.field(default=None)

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
