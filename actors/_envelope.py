"""The envelope every message travels in, and the ids that tie a conversation together."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._reply import Reply

__all__ = ["Envelope"]

# One counter for correlation and trace ids: cheap, unique within a process.
# (Hot paths call ``next(_ids)``: a builtin call is cheaper than the method-wrapper.)
_ids = itertools.count(1)
_next_id = _ids.__next__


@attrs.define(slots=True, weakref_slot=False)
class Envelope:
    """A message plus where it came from and how to answer it.

    Read-only by convention (not enforced, because an envelope is built for
    every message and a frozen class costs a third of a tell).

    Attributes:
      message: what the sender sent.
      sender: the `ActorRef` of the actor that sent it, or None from outside
        any actor.
      reply: the `Reply` promise an ask waits on; None for a tell.
      correlation_id: unique per message; an ask's reply carries the same id.
      trace_id: shared by every message of one conversation: a message sent
        while an actor handles another inherits that message's trace id.
    """

    message: Any
    sender: ActorRef[Any] | None
    reply: Reply[Any] | None
    correlation_id: int
    trace_id: int
