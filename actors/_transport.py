"""The seam between the actor system and a remote transport (Redis Streams today).

The system knows nothing of Redis: it talks to a `Transport`, an object that
carries messages to public names on other nodes and brings theirs in. An
engine (Redis Streams, NATS JetStream...) implements this protocol; the
system's remote face (``actors/_remote.py``) is its only caller. It will be
re-exported from ``actors.lowlevel`` once that module exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._exceptions import ActorError

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["InboundMessage", "RemoteError", "ReplyCallback", "StreamHandle", "Transport", "TransportHooks"]

#: Called once with (value, None) or (None, error) when an ask's answer arrives.
ReplyCallback = Callable[[Any, BaseException | None], None]


class RemoteError(ActorError):
    """A remote handler raised an exception whose type this node may not rebuild.

    Only the error types listed on the transport (``errors=[...]``) and the
    runtime's own errors cross the wire as themselves; any other arrives as
    this, with the original type's name and text, so no foreign code or pickle
    is ever loaded. List the type on both nodes' transports to get it back as
    itself.

    Attributes:
      type_name: the name of the original exception's class.
      text: ``str()`` of the original exception.
    """

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name
        self.text = text


@attrs.define(slots=True)
class InboundMessage:
    """One message a transport brought in for a public name this node serves.

    The system hands it to the local actor and calls ``settle`` exactly once
    when the handler has ended (or the message could not be handled): that
    answers an ask and acknowledges the message to the engine.

    Attributes:
      name: the public name it was sent to.
      message: the decoded message.
      sender: the public name of the sending actor, or None.
      trace_id: the conversation's trace id.
      expects_reply: True for an ask.
      settle: ``settle(value, error, handled)``; ``handled=False`` leaves the
        message with the engine for another consumer (a tell this node could not
        handle because it was stopping).
      deadline: an ask's deadline as Unix time (``time.time()``), or None; the
        handler serving it runs under it, as under a local ask's deadline.
      send_item: for an ask made with ``ask_stream``, sends one item of the
        answer to the asker (before ``settle`` ends the stream); else None.
      on_cancel: set by the system for a streamed ask: the transport calls it
        when the asker leaves the stream early.
      window: for a streamed ask, how many items may be sent before the asker
        grants more; ``on_credit(n)`` (set by the system) is called as it does.
    """

    name: str
    message: Any
    sender: str | None
    trace_id: int
    expects_reply: bool
    settle: Callable[[Any, BaseException | None, bool], None]
    deadline: float | None = None
    send_item: Callable[[Any], None] | None = None
    on_cancel: Callable[[], None] | None = None
    on_credit: Callable[[int], None] | None = None
    window: int = 0


@attrs.frozen
class StreamHandle:
    """The asking end of a streamed ask on a transport.

    Attributes:
      took: ``took(n)``: the asker has read ``n`` more items (the producer may send more).
      give_up: the asker left early (the producer is told to stop); also forgets the ask.
    """

    took: Callable[[int], None]
    give_up: Callable[[], None]


@attrs.frozen(kw_only=True)
class TransportHooks:
    """What the system gives a transport when it attaches it.

    Attributes:
      node: this node's name.
      ref_for: the `ActorRef` of a public name (``system.remote(name)``), used
        when a ref crosses the wire inside a message.
      address_of: the public name of a ref; raises TypeError for a ref that
        cannot cross the wire (an actor that is not public).
      dead_letter: record a message that could not be delivered:
        ``dead_letter(message, name, reason, error)``.
    """

    node: str
    ref_for: Callable[[str], ActorRef[Any]]
    address_of: Callable[[ActorRef[Any]], str]
    dead_letter: Callable[[Any, str, str, BaseException | None], None]


class Transport(Protocol):
    """What an engine implements to carry messages between nodes.

    Lifecycle: ``attach`` once, then ``run`` in the system's nursery (it
    reports started once connected), then ``serve``/``post``/``request``;
    ``quiesce`` stops taking messages in, ``close`` flushes what is queued
    and leaves. Sync methods never block and never raise for a network
    problem (those become dead letters or failed replies); they raise at once
    for bad input (an unregistered type, an oversize message).
    """

    def attach(self, hooks: TransportHooks) -> None:
        """Bind the transport to one system (a transport serves one system at a time)."""

    async def run(self, *, task_status: Any) -> None:
        """Connect, report started, then run background work until cancelled."""

    async def serve(self, name: str, deliver: Callable[[InboundMessage], None]) -> None:
        """Start taking messages for public ``name`` and hand each to ``deliver``."""

    async def unserve(self, name: str) -> None:
        """Stop taking messages for ``name``; what is not acknowledged stays for others."""

    def post(self, name: str, message: Any, *, sender: str | None, trace_id: int) -> None:
        """Tell: queue ``message`` for ``name`` and return at once."""

    async def post_wait(self, name: str, message: Any, *, sender: str | None, trace_id: int) -> None:
        """Send: return once the engine holds ``message`` (wait while the inbox is full)."""

    def request(
        self,
        name: str,
        message: Any,
        *,
        sender: str | None,
        trace_id: int,
        timeout: float | None,
        on_reply: ReplyCallback,
    ) -> Callable[[], None]:
        """Ask: queue ``message`` (``timeout`` seconds to answer, None: no deadline) and
        call ``on_reply`` with the answer. Returns a function that forgets the ask (its
        asker gave up); a later answer is dropped."""

    def request_stream(
        self,
        name: str,
        message: Any,
        *,
        sender: str | None,
        trace_id: int,
        timeout: float | None,
        on_item: Callable[[Any], None],
        on_reply: ReplyCallback,
    ) -> StreamHandle:
        """Ask for a streamed answer: ``on_item`` for each item in order, then
        ``on_reply`` once at its end. The handle's ``took(n)`` says the asker read
        ``n`` items (flow control); ``give_up()`` tells the serving node to stop."""

    async def serving(self, name: str) -> list[str]:
        """The nodes that serve ``name`` now."""

    async def quiesce(self) -> None:
        """Stop taking messages in (before the system stops its actors)."""

    async def close(self) -> None:
        """Flush acknowledgements and replies, leave (liveness, serving sets)."""
