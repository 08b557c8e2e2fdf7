"""A system's remote face: its public actors, its remote refs, and its transport.

`ActorSystem` holds one `RemoteNode` when opened with ``node=`` and
``transport=``. The node publishes public actors (``spawn(..., public=True)``)
on the transport, turns the transport's inbound messages into envelopes in
those actors' mailboxes, and settles each (answer and acknowledgement) once
its handler has ended. It is the only part of the system that talks to the
transport, so the core stays unaware of any engine.

Every inbound message, tell or ask, is enqueued with a `Reply` the node
watches: the reply completing is the sign that the handler has ended (an ask
answers its asker; a tell is then acknowledged, at-least-once). The transport
bounds how many messages are in flight per name (``prefetch``), so the
mailbox itself is not what limits an inbox.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

import trio

from ._envelope import Envelope, _next_id
from ._exceptions import ActorStopped, AskAbandoned, UnhandledMessage
from ._ref import ActorRef
from ._remote_ref import RemoteRef
from ._reply import Reply
from ._streams import StreamReply, reading
from ._transport import InboundMessage, Transport, TransportHooks

if TYPE_CHECKING:
    from ._cell import Cell
    from ._system import ActorSystem

__all__ = ["RemoteNode", "check_node"]

log = logging.getLogger("actors")


def _give_up(reply: StreamReply) -> None:
    """The asker of a streamed answer left (or an item cannot cross): end the stream
    and cut its producer at its next checkpoint (or drop the ask still queued)."""
    if not reply.done():
        reply._channel.reader_gone = True
        reply._expire(AskAbandoned("the remote asker left the stream early"))
        reply._channel.wake_writers()


def check_node(node: Any, transport: Any) -> None:
    """Validate ``open_actor_system(node=..., transport=...)``: both or neither."""
    if (node is None) != (transport is None):
        raise TypeError(
            "open_actor_system() takes node= and transport= together (a node name and, say, an "
            "actors.redis.RedisTransport), or neither for a local system"
        )
    if node is not None and (not isinstance(node, str) or not node or any(c in node for c in "{}/")):
        raise ValueError(f"node must be a non-empty name without '{{', '}}' or '/', got {node!r}")


class RemoteNode:
    """The remote face of one system (see the module docstring)."""

    def __init__(self, system: ActorSystem, node: str, transport: Transport) -> None:
        self.system = system
        self.node = node
        self.transport = transport
        self.namespace: str = getattr(transport, "namespace", "-")
        self.running = False
        self._quiescing = False
        self._refs: dict[str, RemoteRef] = {}
        self._public: dict[str, Cell] = {}
        transport.attach(
            TransportHooks(
                node=node,
                ref_for=self.ref,
                address_of=self.address_of,
                dead_letter=self._dead_letter,
            )
        )

    # -- addresses ---------------------------------------------------------

    def ref(self, name: str) -> RemoteRef:
        """The one remote ref of public ``name`` in this system."""
        ref = self._refs.get(name)
        if ref is None:
            ref = self._refs[name] = RemoteRef._remote(self, name)
        return ref

    def public_name_of(self, cell: Cell) -> str | None:
        """The public name ``cell`` serves, or None when it is not public."""
        return cell.name if self._public.get(cell.name) is cell else None

    def public_names(self) -> list[str]:
        """The public names this node serves now (its living public actors), sorted."""
        return sorted(name for name, cell in self._public.items() if not cell.closed)

    def address_of(self, ref: ActorRef[Any]) -> str:
        """The name a ref crosses the wire as; TypeError for a non-public local actor."""
        if isinstance(ref, RemoteRef):
            return ref.name
        name = self.public_name_of(ref._cell)
        if name is None:
            raise TypeError(
                f"the ref of actor '{ref.name}' cannot cross the wire: it is not public; spawn it "
                f"with system.spawn(..., public=True) to let other nodes reach it"
            )
        return name

    # -- lifecycle ---------------------------------------------------------

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(self._run_transport)
        self.running = True
        nursery.start_soon(self._watch_servers)

    async def _watch_servers(self) -> None:
        """For watched remote names: deliver `Terminated` once nobody serves the name.

        Checked every third of the transport's lease (a node killed with ``kill -9``
        stops counting as a server when its lease expires).
        """
        period = max(0.05, float(getattr(self.transport, "lease", 3.0)) / 3)
        while self.running:
            await trio.sleep(period)
            for name, ref in list(self._refs.items()):
                target = ref._target
                if not target.watchers:
                    continue
                try:
                    servers = await self.transport.serving(name)
                except Exception as exc:  # Redis away: the next round tries again
                    log.debug("cannot tell who serves '%s': %s", name, exc)
                    continue
                if not servers:
                    target.gone(
                        ActorStopped(
                            f"no node serves '{name}' any more (its last server stopped serving it, or "
                            f"its lease expired after a crash); messages to it wait in its inbox"
                        )
                    )

    async def _run_transport(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await self.transport.run(task_status=task_status)

    async def quiesce(self) -> None:
        """Stop taking messages in (the system is about to stop its actors)."""
        self._quiescing = True
        await self.transport.quiesce()

    async def close(self) -> None:
        """Send what is queued (answers, acknowledgements) and leave."""
        self.running = False
        await self.transport.close()

    # -- serving -----------------------------------------------------------

    async def publish(self, cell: Cell) -> None:
        """Serve ``cell``'s name on the transport (``spawn(..., public=True)``)."""
        name = cell.name
        self._public[name] = cell
        try:
            await self.transport.serve(name, lambda inbound: self._deliver(cell, inbound))
        except BaseException:
            self._public.pop(name, None)
            raise
        nursery = self.system._nursery
        if nursery is not None:
            nursery.start_soon(self._leave_when_stopped, cell)

    async def _leave_when_stopped(self, cell: Cell) -> None:
        """Stop serving the name once its actor stops for good (a restart keeps the
        cell, and so the name); at the node's own shutdown, `close` leaves instead."""
        await cell.wait_terminated()
        if self.running and not self._quiescing:
            self._unpublish_soon(cell)

    async def serving(self, name: str) -> list[str]:
        return await self.transport.serving(name)

    def _deliver(self, cell: Cell, inbound: InboundMessage) -> None:
        """Put an inbound message in the public actor's mailbox, as an ask whose
        completion settles it (see the module docstring)."""
        if cell.closed or self._public.get(cell.name) is not cell:
            # The actor has stopped: leave a tell for another node serving the name
            # (the transport stops serving it), answer an ask with the stop.
            self._unpublish_soon(cell)
            error = cell._stopped_error(type(inbound.message).__name__)
            inbound.settle(None, error, inbound.expects_reply)
            return
        sender = self.ref(inbound.sender) if inbound.sender is not None else None
        streamed = inbound.send_item is not None
        # Deadlines flow across the wire: the ask's deadline (Unix time) becomes a deadline
        # on trio's clock, so the local machinery cuts the handler with `AskAbandoned` when
        # it passes, as for a local ask.
        left = math.inf if inbound.deadline is None else max(0.0, inbound.deadline - time.time())
        deadline = trio.current_time() + left
        reply: Reply[Any] = (
            StreamReply._open(self.system, cell, max(1, inbound.window), deadline, left, False)
            if streamed
            else Reply._create(self.system, cell, deadline=deadline, timeout=left)
        )
        envelope = Envelope(inbound.message, sender, reply, _next_id(), inbound.trace_id)
        reply.envelope = envelope
        # (force: the transport's prefetch bounds what is in flight; a bounded
        # mailbox must not turn a message Redis holds into a refused one)
        cell.mailbox.put_nowait(envelope, force=True)
        if self.system._tracer is not None:
            self.system._tracer._message("send", cell, envelope)
        if isinstance(reply, StreamReply) and self.system._nursery is not None:
            inbound.on_cancel = lambda: _give_up(reply)
            self.system._nursery.start_soon(self._forward, cell, inbound, reply)
        else:
            reply.add_done_callback(lambda done: self._settled(cell, inbound, done))
        if left != math.inf:
            self.system._deadlines.add(reply, deadline)

    async def _forward(self, cell: Cell, inbound: InboundMessage, reply: StreamReply) -> None:
        """Send a streamed answer's items over the wire as the handler makes them, then
        its end (after the last item, so the asker sees the items before the end)."""
        assert inbound.send_item is not None
        error: BaseException | None = None
        # Flow control: send while the asker's credit lasts (it grants more as it
        # reads); meanwhile the handler's send() waits once the local buffer is full.
        credit = max(1, inbound.window)
        more = trio.Event()

        def granted(items: int) -> None:
            nonlocal credit
            credit += items
            more.set()

        inbound.on_credit = granted
        reply.add_done_callback(lambda _: more.set())  # (the end, a cancel, the deadline)
        try:
            async for item in reading(reply):
                while credit <= 0 and not reply._channel.reader_gone and not reply._abandoned:
                    await more.wait()
                    more = trio.Event()
                if reply._channel.reader_gone or reply._abandoned:
                    break
                credit -= 1
                try:
                    inbound.send_item(item)
                except (TypeError, ValueError) as exc:  # an item that cannot cross the wire
                    error = exc
                    _give_up(reply)
                    break
        except Exception:
            pass  # the stream's end: reply.exception(), settled below
        self._settled(cell, inbound, reply, error)

    def _settled(
        self, cell: Cell, inbound: InboundMessage, reply: Reply[Any], error: BaseException | None = None
    ) -> None:
        if error is None:
            error = reply.exception()
        # (a streamed answer's value went as its items)
        value = None if error is not None or isinstance(reply, StreamReply) else reply.result()
        if inbound.expects_reply:
            inbound.settle(value, error, True)
            return
        if isinstance(error, ActorStopped):
            # Not handled here (the actor stopped first): leave it for another consumer.
            self._unpublish_soon(cell)
            inbound.settle(None, error, False)
            return
        if isinstance(error, UnhandledMessage):
            self.system._dead_letter(
                inbound.message,
                recipient=cell.ref,
                reason=f"unhandled by '{cell.name}'",
                envelope=reply.envelope,
                error=error,
            )
        inbound.settle(None, None, True)

    def _unpublish_soon(self, cell: Cell) -> None:
        if self._public.get(cell.name) is cell:
            del self._public[cell.name]
            nursery = self.system._nursery
            if nursery is not None:
                nursery.start_soon(self.transport.unserve, cell.name)

    def _dead_letter(self, message: Any, name: str, reason: str, error: BaseException | None) -> None:
        self.system._dead_letter(message, recipient=self.ref(name), reason=reason, error=error)
