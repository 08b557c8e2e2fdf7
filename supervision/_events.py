"""Supervision events, published on the system's topic `SupervisionEvent`.

Subscribe an actor with ``system.subscribe(ref, SupervisionEvent)`` to log or
display what the supervisors do.
"""

from __future__ import annotations

import attrs

__all__ = ["ChildFailed", "ChildRestarted", "ChildStarted", "ChildStopped", "SupervisionEvent", "SupervisorGaveUp"]


@attrs.frozen
class SupervisionEvent:
    """Base of every supervision event: ``supervisor`` and ``child`` are actor paths."""

    supervisor: str
    child: str


@attrs.frozen
class ChildStarted(SupervisionEvent):
    """A child was started for the first time."""


@attrs.frozen
class ChildFailed(SupervisionEvent):
    """A child's handler (or start) failed with ``error``, or its handler timed out."""

    error: BaseException | None = None


@attrs.frozen
class ChildRestarted(SupervisionEvent):
    """A child is restarted (after ``delay`` seconds) because of ``error``; ``restarts`` counts them."""

    error: BaseException | None = None
    restarts: int = 0
    delay: float = 0.0


@attrs.frozen
class ChildStopped(SupervisionEvent):
    """A child stopped for good; ``reason`` is None for a normal stop."""

    reason: BaseException | None = None


@attrs.frozen
class SupervisorGaveUp(SupervisionEvent):
    """More than ``max_restarts`` within ``within`` seconds: the supervisor stops its children and fails."""

    error: BaseException | None = None
    max_restarts: int = 0
    within: float = 0.0
