"""Backoff: how long a supervisor waits before restarting a failing child."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import attrs

from actors.lowlevel import check_seconds

__all__ = ["Backoff"]


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    check_seconds(attribute.name, value, zero=True, finite=True)


@attrs.frozen(kw_only=True)
class Backoff:
    """Exponential, capped, jittered delay before each restart of a child.

    The n-th restart in a row (n = 0, 1, 2, ...) waits
    ``min(maximum, initial * multiplier ** n)``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` and capped at ``maximum`` again. The count
    resets once the child has run the strategy's ``within`` seconds without
    failing. Messages sent meanwhile wait in the mailbox, in order.

    Args:
      initial: first delay in seconds (default 0.1).
      maximum: cap in seconds (default 10).
      multiplier: growth per restart, >= 1 (default 2).
      jitter: relative randomness in [0, 1) (default 0.1), so a crowd of
        children does not restart in lockstep.
    """

    initial: float = attrs.field(default=0.1, validator=_seconds)
    maximum: float = attrs.field(default=10.0, validator=_seconds)
    multiplier: float = attrs.field(default=2.0)
    jitter: float = attrs.field(default=0.1)

    @multiplier.validator
    def _check_multiplier(self, attribute: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value < math.inf:
            raise ValueError(f"multiplier must be a number >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, attribute: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"jitter must be a number in [0, 1), got {value!r}")

    def __attrs_post_init__(self) -> None:
        if self.maximum < self.initial:
            raise ValueError(f"maximum ({self.maximum!r}) must be >= initial ({self.initial!r})")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The delay in seconds before restart number ``attempt`` (0-based) in a row."""
        base = self.initial * self.multiplier ** min(attempt, 1000) if self.initial else 0.0
        base = min(self.maximum, base)
        if self.jitter:
            base *= 1 + self.jitter * (2 * rand() - 1)
        return min(self.maximum, max(0.0, base))
