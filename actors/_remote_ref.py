"""The ref of a public name on other nodes: an `ActorRef` whose address is remote.

A local `ActorRef` reaches its actor through its cell; this subclass reaches a
public name through the system's transport instead, with the same ``tell``,
``send``, ``ask`` and ``ask_nowait``. It is an address, not a connection: making
one costs no round trip, and nobody need serve the name yet (messages wait in
its durable inbox). ``watch`` works: `Terminated` comes when no node serves
the name any more (its last server stopped serving it, or its lease expired
after a crash). ``system.stop`` and ``subscribe`` need a local actor and raise
a TypeError that says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import trio

from ._context import current_cell
from ._deadlines import ask_deadline
from ._envelope import Envelope, _next_id
from ._messages import Terminated
from ._ref import ActorRef
from ._reply import Reply
from ._streams import AskStream, StreamReply, check_buffer
from ._transport import StreamHandle

if TYPE_CHECKING:
    from ._remote import RemoteNode

__all__ = ["RemoteRef"]


def _answer(reply: Reply[Any], value: Any, error: BaseException | None) -> None:
    """Complete ``reply`` from the transport (a reply already completed ignores it)."""
    reply._set(value, error)


class _RemoteTarget:
    """Stands in for the cell of a remote ref, for ``watch`` (and a stream's give-up) only.

    A watcher's cell records itself in ``watchers`` (as it does with a local
    cell); the system's remote face delivers `Terminated` to them when no node
    serves the name any more. Any other use of the cell (``system.stop``,
    ``subscribe``) raises a TypeError that says what is possible.
    """

    __slots__ = ("ref", "watchers")

    waiting_on = None  # (read by the deadlock guard: a remote name waits on nobody known here)
    stopped = False  # (read by Cell.watch: a remote name is never "stopped" up front)
    stop_reason = None
    current = None  # (read by the tracer for a message's parent: another node's, unknown here)

    def __init__(self, ref: RemoteRef) -> None:
        self.ref = ref
        self.watchers: dict[Any, None] | None = None

    def __getattr__(self, attribute: str) -> NoReturn:
        raise TypeError(
            "this ActorRef names a remote actor (system.remote(name)); stop and subscribe work "
            "only on actors of this node: ask the remote actor itself, or its node's system"
        )

    @property
    def system(self) -> Any:
        """This node's system (a stream's reader registers its wait there)."""
        return self.ref._node.system

    def cut_if_serving(self, envelope: Any) -> None:
        """(Deadlines flow: nothing runs here to cut; the serving node is told by the
        stream's or ask's give-up, over the wire.)"""

    def gone(self, reason: BaseException) -> None:
        """No node serves the name now: tell every watcher, once."""
        watchers, self.watchers = self.watchers, None
        for watcher in watchers or ():
            if watcher.watching is not None:
                watcher.watching.pop(self, None)
            if not watcher.closed:
                watcher.deliver_system(Terminated(self.ref, reason))


class _RemoteAskStream(AskStream[Any]):
    """`AskStream` over the wire: the same reading end, fed by the transport."""

    __slots__ = ("_handle", "_ref")

    _ref: RemoteRef
    _handle: StreamHandle | None

    @classmethod
    def _for(cls, ref: RemoteRef, message: Any, timeout: float | None, buffer: int) -> _RemoteAskStream:
        check_buffer(buffer)
        ref._node.system._ask_timeout(timeout)  # bad timeouts fail here, not on entering
        self = object.__new__(cls)
        self._ref = ref
        self._cell = ref._target  # type: ignore[assignment]  # (only its name and waiting_on are read)
        self._message = message
        self._timeout = timeout
        self._buffer = buffer
        self._reply = None
        self._handle = None
        return self

    async def __aenter__(self) -> _RemoteAskStream:
        if self._reply is not None:
            raise RuntimeError("an ask_stream() can be entered once; call ref.ask_stream(...) again")
        ref = self._ref
        system = ref._node.system
        deadline, seconds, inherited = ask_deadline(system._ask_timeout(self._timeout))
        sender, trace_id = ref._origin()
        reply = StreamReply._open(
            system,
            ref._target,  # type: ignore[arg-type]  # (a stand-in: its wait is registered, nothing runs here)
            self._buffer,
            deadline,
            seconds,
            inherited,
            name=ref._remote_name,
        )
        channel = reply._channel
        channel.opened = True  # (every item comes as an item: the end carries no value)
        reply.envelope = Envelope(self._message, None, reply, _next_id(), trace_id)

        def on_item(item: Any) -> None:
            if not reply.done():
                channel.items.append(item)
                channel.wake_reader()

        handle = ref._node.transport.request_stream(
            ref._remote_name,
            self._message,
            sender=sender,
            trace_id=trace_id,
            timeout=None if seconds == math.inf else seconds,
            on_item=on_item,
            on_reply=lambda value, error: _answer(reply, None, error),
        )
        self._reply, self._handle = reply, handle
        reply.add_done_callback(lambda _: handle.give_up())  # (past the deadline: the producer is told to stop)
        if seconds != math.inf:
            system._deadlines.add(reply, deadline)
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        reply = self._reply
        if reply is not None and not reply.done():
            reply._channel.reader_gone = True
            reply._abandon()
            if self._handle is not None:
                self._handle.give_up()  # the serving node cuts its producer

    async def __anext__(self) -> Any:
        item = await super().__anext__()
        if self._handle is not None:
            self._handle.took(1)  # (flow control: the producer may send one more)
        return item

    def __repr__(self) -> str:
        state = "new" if self._reply is None else ("ended" if self._reply.done() else "open")
        return f"<AskStream {type(self._message).__name__} to {self._ref.path} ({state})>"


class RemoteRef(ActorRef[Any]):
    """An `ActorRef` to a public name served by some node (maybe this one) through
    the transport. Got from ``system.remote(name)``; one ref per name per system,
    so refs to one name compare equal (they are the same object)."""

    __slots__ = ("_node", "_remote_name")

    _node: RemoteNode
    _remote_name: str

    @classmethod
    def _remote(cls, node: RemoteNode, name: str) -> RemoteRef:
        self = object.__new__(cls)
        self._node = node
        self._remote_name = name
        self._cell = _RemoteTarget(self)  # type: ignore[assignment]  # no local cell: see _RemoteTarget
        return self

    @property
    def _target(self) -> _RemoteTarget:
        return self._cell  # type: ignore[return-value]  # always a _RemoteTarget here

    @property
    def name(self) -> str:
        """The public name this ref sends to."""
        return self._remote_name

    @property
    def path(self) -> str:
        """``//<namespace>/<name>``: a remote ref has no place in this node's tree."""
        return f"//{self._node.namespace}/{self._remote_name}"

    @property
    def is_alive(self) -> bool:
        """True while this node's system runs: a remote name is an address (its
        inbox keeps messages while nobody serves it); ``system.serving(name)``
        says who serves it now."""
        return self._node.running

    def _origin(self) -> tuple[str | None, int]:
        """The public name of the sending actor (or None) and the trace id to carry."""
        cell = current_cell.get()
        if cell is None:
            return None, _next_id()
        sender = self._node.public_name_of(cell)
        current = cell.current
        return sender, current.trace_id if current is not None else _next_id()

    def tell(self, message: Any) -> None:
        """Queue ``message`` for the name's inbox and return at once (never awaits).

        Delivery is at-least-once while Redis keeps its data. If the inbox is
        full when the message reaches Redis, it becomes a dead letter here.

        Raises:
          TypeError: the message's type is not listed on the transport.
          ValueError: the message is larger than ``max_message_bytes``.
          MailboxFull: the local outbox is full (Redis unreachable or slow).
        """
        sender, trace_id = self._origin()
        self._node.transport.post(self._remote_name, message, sender=sender, trace_id=trace_id)

    async def send(self, message: Any) -> None:
        """Like `tell`, but return once Redis holds the message, waiting while the
        name's inbox is full (backpressure).

        Raises what `tell` raises, and `ActorStopped` after the system closed.
        """
        sender, trace_id = self._origin()
        await self._node.transport.post_wait(self._remote_name, message, sender=sender, trace_id=trace_id)

    async def ask(self, message: Any, timeout: float | None = None) -> Any:
        """Send ``message`` as an ask and wait for the remote handler's answer.

        The deadline travels with the message: a node drops an ask already past
        it instead of working for nobody. A timeout does not mean the message
        was not handled: the answer is at-most-once, the handling at-least-once.

        Raises:
          AskTimeout: no answer within ``timeout`` (None: the system's ask_timeout).
          Exception: what the remote handler raised, as itself when its type is
            listed on the transport (``errors=[...]``), else `RemoteError`.
          TypeError, ValueError, MailboxFull: as `tell`.
        """
        reply, forget = self._ask(message, timeout)
        try:
            return await reply._wait()
        except trio.Cancelled:
            reply._abandon()
            forget()  # the asker has gone: its slot too (a late answer is dropped)
            raise

    def ask_nowait(self, message: Any, timeout: float | None = None) -> Reply[Any]:
        """Send ``message`` as an ask and return its `Reply` promise at once.

        Past the timeout the reply completes with `AskTimeout`; a later answer is
        dropped. Raises what `tell` raises (for bad input, at once).
        """
        return self._ask(message, timeout)[0]

    def _ask(self, message: Any, timeout: float | None) -> tuple[Reply[Any], Callable[[], None]]:
        system = self._node.system
        # (from a handler serving an ask: no later than that ask's deadline, which then travels)
        deadline, seconds, inherited = ask_deadline(system._ask_timeout(timeout))
        sender, trace_id = self._origin()
        reply: Reply[Any] = Reply._create(
            system, deadline=deadline, timeout=seconds, name=self._remote_name, inherited=inherited
        )
        cid = _next_id()
        reply.envelope = Envelope(message, None, reply, cid, trace_id)
        forget = self._node.transport.request(
            self._remote_name,
            message,
            sender=sender,
            trace_id=trace_id,
            timeout=None if seconds == math.inf else seconds,
            on_reply=lambda value, error: _answer(reply, value, error),
        )
        reply.add_done_callback(lambda _: forget())
        if seconds != math.inf:
            system._deadlines.add(reply, deadline)
        return reply, forget

    def ask_stream(self, message: Any, timeout: float | None = None, buffer: int = 16) -> AskStream[Any]:
        """Ask for a streamed answer: ``async with ref.ask_stream(m) as items``, as locally.

        Items arrive in the order the remote handler sends them; the handler's
        error comes after the items sent before it; past the deadline (which
        travels with the ask) the iteration raises `AskTimeout`. Leaving the
        block early tells the serving node to cut the producer. Flow control is
        credit-based: the producer may send a window of 16 items the asker has
        not read (more as it reads), and its ``send`` waits once another 16 wait
        on its node; ``buffer`` is checked and kept for symmetry with local refs.

        Raises:
          TypeError, ValueError: bad ``buffer`` or ``timeout``; on entering, what `tell` raises.
        """
        return _RemoteAskStream._for(self, message, timeout, buffer)

    def tell_from_thread(self, message: Any) -> None:
        """`tell` from a thread outside trio (handed to the event loop)."""
        token = self._node.system._token
        if token is None:
            from ._exceptions import ActorStopped

            raise ActorStopped(f"the actor system holding remote ref '{self.name}' has finished (or not started)")
        token.run_sync_soon(self.tell, message)

    def ask_from_thread(self, message: Any, timeout: float | None = None) -> Any:
        """`ask` from a thread outside trio: block that thread until the answer comes."""
        token = self._node.system._token
        if token is None:
            from ._exceptions import ActorStopped

            raise ActorStopped(f"the actor system holding remote ref '{self.name}' has finished (or not started)")
        return trio.from_thread.run(self.ask, message, timeout, trio_token=token)

    def __repr__(self) -> str:
        return f"<ActorRef {self.path} (remote)>"
