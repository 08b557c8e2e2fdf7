"""ActorRef: the address of an actor, and the only way to talk to it.

A ref talks to an `Address` (see `actors.lowlevel`): the actor's cell when the
actor is local. Every method here is a thin call to it, so another kind of
address (a remote inbox behind a transport) gives refs that work the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import trio

from ._exceptions import ActorStopped
from ._streams import AskStream
from ._threads import get_ident, hand_over

if TYPE_CHECKING:
    from ._address import Address
    from ._cell import Cell
    from ._reply import Reply

__all__ = ["ActorRef"]

M = TypeVar("M")


class ActorRef(Generic[M]):
    """The address of one actor: send it messages with tell, send or ask.

    A ref is an address, not an incarnation: when a supervisor restarts the
    actor, the same ref reaches the new instance, and messages keep their
    order. Refs compare equal only to themselves and are hashable. They come
    from `ActorSystem.spawn`, `Actor.spawn` and `ActorSystem.lookup`; there is
    no public constructor.

    Per sender, messages are handled in the order sent, tells and asks alike.
    """

    __slots__ = ("__weakref__", "_cell")

    _cell: Cell

    def __init__(self) -> None:
        raise TypeError("ActorRef has no public constructor; use system.spawn(...) or system.lookup(name)")

    @classmethod
    def _create(cls, address: Address) -> ActorRef[Any]:
        self = object.__new__(cls)
        self._cell = address  # type: ignore[assignment]  # (a Cell for every ref the runtime makes)
        return self

    def _move_to(self, cell: Cell) -> None:
        """From now on this ref reaches ``cell`` (a child spawned again under its name)."""
        self._cell = cell

    @property
    def name(self) -> str:
        """The actor's name, unique in its system."""
        return self._cell.name

    @property
    def path(self) -> str:
        """The actor's place in the tree, such as ``/team/planner``."""
        return self._cell.path

    @property
    def is_alive(self) -> bool:
        """False once the actor has stopped for good (or is stopping)."""
        return self._cell.is_alive

    def tell(self, message: M) -> None:
        """Send ``message`` and return at once (fire-and-forget; never awaits).

        To a stopped actor the message is recorded in the system's dead letters
        instead of raising: a sender cannot know when a receiver dies (watch it
        for that).

        Thread-safe: from a thread other than trio's (a tool in
        ``run_in_thread``, an SDK callback, any `threading.Thread`) the message
        is handed to the event loop, which delivers it soon; tells from one
        thread keep their order. It never blocks there either, so a full
        bounded mailbox then records the message as a dead letter instead of
        raising.

        Raises:
          MailboxFull: (in trio's thread) the actor's bounded mailbox has no
            room; nothing was enqueued. ``await send(message)`` waits instead.
          ActorStopped: (from another thread) the actor system has finished.
        """
        cell = self._cell
        if get_ident() == cell.system._thread_id:
            cell.tell(message)
        else:
            hand_over(cell.system, f"tell({type(message).__name__})", cell.tell_or_record, message)

    async def send(self, message: M) -> None:
        """Like `tell`, but wait for room in a bounded mailbox (backpressure).

        Raises:
          ActorStopped: the actor has stopped (before or while waiting).
          RuntimeError: called in another thread than trio's (use `tell`).
        """
        await self._cell.send(message)

    async def ask(self, message: M, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the handler's return value.

        With a bounded mailbox, waits for room first (within the same timeout).

        Args:
          message: any object; the actor's ``receive`` gets it.
          timeout: seconds to wait; None means the system's ``ask_timeout``
            (30 s unless configured), ``math.inf`` waits forever. Asked from a
            handler serving an ask, the ask ends no later than the served one.

        Returns:
          What the actor's ``receive`` returned for this message.

        Raises:
          AskTimeout: no reply in time (a `TimeoutError`). The handler serving
            it is cancelled (recorded as `AskAbandoned`), or the message is
            dropped if not yet started; an actor class with
            ``finish_abandoned_asks = True`` finishes it, and its late reply
            goes to dead letters.
          ActorStopped: the actor is stopped, or stopped before answering.
          DeadlockError: the ask would wait on itself (an actor asking itself,
            or a cycle of asks), raised at once.
          RuntimeError: called in another thread than trio's (use
            `ask_from_thread` there).
          Exception: whatever the handler raised, as the same type.
        """
        return await self._cell.ask(message, timeout)

    def ask_nowait(self, message: M, timeout: float | None = None) -> Reply[Any]:
        """Send ``message`` as an ask and return its `Reply` promise at once.

        ``await reply`` gives the value (or raises), ``reply.done()`` tells if it
        has come, ``reply.add_done_callback(fn)`` calls ``fn(reply)`` when it
        does. Past ``timeout`` (None: the system's ``ask_timeout``) the reply
        completes with `AskTimeout`. Must be called from inside the trio run.

        To an actor that has stopped (or is stopping), the reply comes back
        already failed with `ActorStopped`, as from ``ask``: a sender cannot know
        when a receiver dies, and ``gather(..., return_exceptions=True)`` over
        several replies then still gives the others' results.

        Raises:
          MailboxFull: the bounded mailbox has no room (as ``tell``).
          RuntimeError: called in another thread than trio's (use
            `ask_from_thread` there).
        """
        return self._cell.ask_nowait(message, timeout)

    def ask_stream(self, message: M, timeout: float | None = None, buffer: int = 16) -> AskStream[Any]:
        """Ask for a stream of items: ``async with ref.ask_stream(m) as items: async for item in items``.

        The handler answers with ``stream = self.reply_stream()`` and ``await
        stream.send(item)``; see `AskStream` for the semantics (order,
        backpressure, errors after the items before them, leaving early).

        Args:
          message: any object; the actor's ``receive`` gets it.
          timeout: seconds for the whole stream, as for `ask` (None: the
            system's ``ask_timeout``); from a handler serving an ask, no later
            than the served ask's deadline.
          buffer: how many items may wait unread before ``send`` waits (0: each
            ``send`` waits until the reader takes the item).

        Raises (on entering the block):
          ActorStopped: the actor has stopped.
          DeadlockError: the stream would wait on itself.
          AskTimeout: a bounded mailbox stayed full until the deadline.
        """
        return AskStream._create(self._cell, message, timeout, buffer)

    def tell_from_thread(self, message: M) -> None:
        """`tell` by way of the event loop, from any thread; the same as `tell` in another thread.

        Thread-safe and non-blocking: the message is handed to the event loop,
        which delivers it soon, in the order of calls from that thread. If the
        mailbox is full or the actor stopped, the message becomes a dead letter.
        (In trio's own thread it is handed over too, so delivered a moment later
        than by `tell`.)

        Raises:
          ActorStopped: the actor system has finished.
        """
        cell = self._cell
        hand_over(cell.system, f"tell_from_thread({type(message).__name__})", cell.tell_or_record, message)

    def ask_from_thread(self, message: M, timeout: float | None = None) -> Any:
        """`ask` from a thread other than trio's: block that thread until the reply comes.

        Raises what `ask` raises, and:

        Raises:
          ActorStopped: the actor system has finished.
          RuntimeError: called in trio's own thread, which it would block (there,
            ``await ref.ask(message)``).
        """
        cell = self._cell
        if get_ident() == cell.system._thread_id:
            raise RuntimeError(
                "ref.ask_from_thread() blocks its thread until the reply comes, so it cannot run in the "
                "trio thread of the actor system (it would stop every actor); use 'await ref.ask(message)'"
            )
        token = cell.system._token
        if token is not None:
            try:
                return trio.from_thread.run(self.ask, message, timeout, trio_token=token)
            except trio.RunFinishedError:
                pass
        raise ActorStopped(
            f"the actor system of '{self.name}' has finished, so it cannot be asked "
            f"{type(message).__name__} from another thread"
        )

    def __repr__(self) -> str:
        state = "alive" if self.is_alive else "stopped"
        return f"<ActorRef {self._cell.path} ({state})>"
