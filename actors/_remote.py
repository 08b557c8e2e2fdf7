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
from typing import TYPE_CHECKING, Any

import trio

from ._envelope import Envelope, _next_id
from ._exceptions import ActorStopped, UnhandledMessage
from ._ref import ActorRef
from ._remote_ref import RemoteRef
from ._reply import Reply
from ._transport import InboundMessage, Transport, TransportHooks

if TYPE_CHECKING:
    from ._cell import Cell
    from ._system import ActorSystem

__all__ = ["RemoteNode", "check_node"]

log = logging.getLogger("actors")


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
        self._refs: dict[str, RemoteRef] = {}
        self._public: dict[str, Cell] = {}
        transport.attach(TransportHooks(
            node=node, ref_for=self.ref, address_of=self.address_of, dead_letter=self._dead_letter,
        ))

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
                    target.gone(ActorStopped(
                        f"no node serves '{name}' any more (its last server stopped serving it, or "
                        f"its lease expired after a crash); messages to it wait in its inbox"
                    ))

    async def _run_transport(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await self.transport.run(task_status=task_status)

    async def quiesce(self) -> None:
        """Stop taking messages in (the system is about to stop its actors)."""
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
        reply: Reply[Any] = Reply._create(self.system, cell)
        envelope = Envelope(inbound.message, sender, reply, _next_id(), inbound.trace_id)
        reply.envelope = envelope
        # (force: the transport's prefetch bounds what is in flight; a bounded
        # mailbox must not turn a message Redis holds into a refused one)
        cell.mailbox.put_nowait(envelope, force=True)
        if self.system._tracer is not None:
            self.system._tracer._message("send", cell, envelope)
        reply.add_done_callback(lambda done: self._settled(cell, inbound, done))

    def _settled(self, cell: Cell, inbound: InboundMessage, reply: Reply[Any]) -> None:
        error = reply.exception()
        value = None if error is not None else reply.result()
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
                inbound.message, recipient=cell.ref, reason=f"unhandled by '{cell.name}'",
                envelope=reply.envelope, error=error,
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
