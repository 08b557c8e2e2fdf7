"""Messages the runtime itself delivers to actors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["Terminated"]


@attrs.frozen
class Terminated:
    """Delivered to every watcher (see `Actor.watch`) when an actor stops.

    Attributes:
      ref: the actor that stopped.
      reason: None for a normal stop, else the exception that stopped it.
    """

    ref: ActorRef[Any]
    reason: BaseException | None = None
