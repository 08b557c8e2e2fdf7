"""A cell's identity, its parts, and its sending side: the local address an `ActorRef` talks to.

`Inbox` is the bottom of the cell (see `actors._cell` for the whole stack):
who the actor is (system, parent, name, path, spawn arguments and settings),
the parts it keeps across incarnations (`Mailbox`, `ActorRef`, `LifeState`),
and every way a message gets in: ``tell``, ``send``, ``ask``, timer and
runtime deliveries. Senders run in any task of the trio thread; none of them
awaits except ``send`` (room in a bounded mailbox).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import trio

from ._context import blocking_cell, current_cell
from ._deadlines import ask_deadline
from ._envelope import Envelope, _ids, _next_id
from ._exceptions import ActorError, ActorStopped, AskTimeout, MailboxFull
from ._mailbox import Mailbox
from ._ref import ActorRef
from ._reply import Reply
from ._states import LifeState
from ._threads import get_ident, require_trio_thread

if TYPE_CHECKING:
    from ._actor import Actor
    from ._cell import Cell
    from ._system import ActorSystem

__all__ = ["Inbox"]

_new_envelope = object.__new__
# the thread-safe way to ask from another thread than trio's
_ASK_FROM_THREAD = (
    "use ref.ask_from_thread(message, timeout) there (it blocks that thread until the "
    "reply comes), or ref.tell(message), which is thread-safe"
)
_park = trio.lowlevel.wait_task_rescheduled
_current_task = trio.lowlevel.current_task
_now = trio.current_time
_INF = math.inf


class Inbox:
    """Identity, parts and the sending side of a cell."""

    __slots__ = (
        "__weakref__",
        "actor_cls",
        "args",
        "closed",
        "instance",
        "kwargs",
        "life",
        "mailbox",
        "message_timeout",
        "name",
        "parent",
        "path",
        "ref",
        "shutdown_timeout",
        "spec",
        "system",
    )

    def __init__(
        self,
        system: ActorSystem,
        parent: Cell | None,
        actor_cls: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str,
        mailbox_size: int | None,
        *,
        shutdown_timeout: float,
        message_timeout: float | None,
        spec: Any = None,
    ) -> None:
        self.system = system
        self.parent = parent
        self.actor_cls = actor_cls
        self.args = args
        self.kwargs = kwargs
        self.name = name
        if parent is None:
            self.path = "/"
        elif parent.parent is None:
            self.path = "/" + name
        else:
            self.path = parent.path + "/" + name
        self.spec = spec  # what its parent started it from (a supervisor's ChildSpec), or None
        self.shutdown_timeout = shutdown_timeout
        self.message_timeout = message_timeout
        self.mailbox = Mailbox(mailbox_size, name)
        self.ref: ActorRef[Any] = ActorRef._create(self)
        self.life = LifeState()  # phase, pending control request, the parent's directive
        self.closed = False  # takes no more messages (stopping or stopped); never reopens
        self.instance: Actor | None = None  # the current incarnation's actor object

    def __repr__(self) -> str:
        return f"<Cell {self.path}>"

    @property
    def is_alive(self) -> bool:
        """False once the actor takes no more messages (stopping or stopped)."""
        return not self.closed

    # ------------------------------------------------------------------
    # Sending (called from any task in the trio thread)

    def _envelope(self, message: Any, reply: Reply[Any] | None) -> Envelope:
        cid = _next_id()
        sender = current_cell.get()
        if sender is None:
            return Envelope(message, None, reply, cid, cid)
        now = sender.current
        return Envelope(message, sender.ref, reply, cid, cid if now is None else now.trace_id)

    def tell(self, message: Any) -> None:
        """Enqueue ``message``; to a closed inbox, record a dead letter. Raises `MailboxFull`.

        The fast path of every tell: the envelope is built here, field by field,
        rather than through `_envelope` and the class's ``__init__`` (two Python
        calls fewer per message).
        """
        cid = next(_ids)
        envelope = _new_envelope(Envelope)
        envelope.message = message
        envelope.reply = None
        envelope.correlation_id = cid
        sender = current_cell.get()
        if sender is None:
            envelope.sender = None
            envelope.trace_id = cid
        else:
            envelope.sender = sender.ref
            now = sender.current
            envelope.trace_id = cid if now is None else now.trace_id
        if self.closed:
            self.system._dead_letter(
                message,
                recipient=self.ref,
                reason=self._why_stopped(f"actor '{self.name}' has stopped"),
                envelope=envelope,
            )
            return
        self.mailbox.put_nowait(envelope)
        if self.system._tracer is not None:
            self.system._tracer._message("send", self, envelope)

    def tell_or_record(self, message: Any) -> None:
        """`tell`, recording a full mailbox as a dead letter instead of raising."""
        try:
            self.tell(message)
        except MailboxFull as exc:
            self.system._dead_letter(message, recipient=self.ref, reason=str(exc), error=exc)

    async def wait_for_space(self) -> None:
        """Wait for room in a bounded mailbox. Raises `ActorStopped` if it closed meanwhile."""
        await self.mailbox.wait_for_space()
        if self.closed:
            raise self._stopped_error("message")

    async def send(self, message: Any) -> None:
        """`tell` after waiting for room (backpressure). Raises `ActorStopped` when closed."""
        require_trio_thread(self.system, "await ref.send()", "use ref.tell(message), which is thread-safe")
        if self.closed:
            raise self._stopped_error(type(message).__name__)
        if self.mailbox.maxsize is None:
            await trio.lowlevel.checkpoint()
        else:
            await self.wait_for_space()
        self.tell(message)

    async def ask(self, message: Any, timeout: float | None) -> Any:
        """Send ``message`` as an ask and wait for the answer (`ActorRef.ask`).

        The fast path of every ask, in one coroutine: one deadlock check, the
        envelope built here, the asking task parked on the reply itself (no
        coroutine of the reply's, no closure), one deadline entry.
        """
        system = self.system
        if get_ident() != system._thread_id:
            require_trio_thread(system, "await ref.ask()", _ASK_FROM_THREAD)
        if timeout is None:
            seconds = system._default_ask_timeout
        elif type(timeout) is float and timeout > 0.0:  # (the usual explicit timeout; nan is not > 0)
            seconds = timeout
        else:
            seconds = system._ask_timeout(timeout)  # checked, and -0.0 made 0
        if self.closed:
            raise self._stopped_error(type(message).__name__)
        sender = current_cell.get()
        asker = None if sender is None else blocking_cell()
        inherited = False
        if asker is None:
            deadline = _INF if seconds == _INF else _now() + seconds
        else:  # (deadlines flow: no later than the ask the asker serves)
            deadline, seconds, inherited = ask_deadline(seconds)
        mailbox = self.mailbox
        if mailbox.maxsize is not None and mailbox.full():
            await self._wait_for_space_until(deadline, seconds, message)
        if asker is not None:
            system._waits.check(asker, self, type(message).__name__)
        task = _current_task()
        reply: Reply[Any] = Reply._create(system, self, task, deadline, seconds, None, inherited)
        cid = next(_ids)
        envelope = _new_envelope(Envelope)
        envelope.message = message
        envelope.reply = reply
        envelope.correlation_id = cid
        if sender is None:
            envelope.sender = None
            envelope.trace_id = cid
        else:
            envelope.sender = sender.ref
            now = sender.current
            envelope.trace_id = cid if now is None else now.trace_id
        reply.envelope = envelope
        mailbox.put_nowait(envelope)
        if system._tracer is not None:
            system._tracer._message("send", self, envelope)
        if deadline != _INF:
            system._deadlines.add(reply, deadline)
        if asker is None:
            try:
                await _park(reply._abort_asker)
            except trio.Cancelled:
                reply._abandon()
                raise
        else:
            waits = system._waits
            waits.add(asker, self)
            try:
                await _park(reply._abort_asker)
            except trio.Cancelled:
                reply._abandon()
                raise
            finally:
                waits.remove(asker, self)
        # (`Reply.result()`, read in place: the asker was rescheduled by `Reply._set`, so it is done)
        error = reply._error
        if error is not None:
            raise error
        return reply._value

    async def _wait_for_space_until(self, deadline: float, seconds: float, message: Any) -> None:
        """An ask to a full bounded mailbox waits for room, within its own deadline."""
        with trio.move_on_at(deadline):
            await self.wait_for_space()
        if self.mailbox.full():
            raise AskTimeout(
                f"the mailbox of actor '{self.name}' stayed full for {seconds:g} s, so "
                f"{type(message).__name__} could not even be sent; the actor is overloaded or stuck"
            )
        if self.closed:
            raise self._stopped_error(type(message).__name__)

    def ask_nowait(self, message: Any, timeout: float | None) -> Reply[Any]:
        """Send ``message`` as an ask and return its reply promise (`ActorRef.ask_nowait`)."""
        require_trio_thread(self.system, "ref.ask_nowait()", _ASK_FROM_THREAD)
        deadline, seconds, inherited = ask_deadline(self.system._ask_timeout(timeout))
        if self.closed:
            return self._rejected_ask(message)
        reply: Reply[Any] = Reply._create(self.system, self, deadline=deadline, timeout=seconds, inherited=inherited)
        self.enqueue_ask(message, reply)
        if deadline != math.inf:
            self.system._deadlines.add(reply, deadline)
        return reply

    def enqueue_ask(self, message: Any, reply: Reply[Any]) -> None:
        """Put ``message`` in the mailbox as an ask answered through ``reply`` (made by the caller:
        `ask_nowait`, an ask_stream). Raises `MailboxFull`."""
        reply.envelope = envelope = self._envelope(message, reply)
        self.mailbox.put_nowait(envelope)
        if self.system._tracer is not None:
            self.system._tracer._message("send", self, envelope)

    def _rejected_ask(self, message: Any) -> Reply[Any]:
        """A reply already failed with `ActorStopped` (an ask to this closed cell)."""
        reply: Reply[Any] = Reply._create(self.system, self)
        reply.envelope = self._envelope(message, reply)
        reply._set(None, self._stopped_error(type(message).__name__))
        return reply

    def deliver_from_timer(self, message: Any, trace_id: int | None) -> None:
        """A timer's message (in the conversation ``trace_id``, if given); a full mailbox records it."""
        if self.closed:
            return
        cid = _next_id()
        try:
            self.mailbox.put_nowait(Envelope(message, None, None, cid, cid if trace_id is None else trace_id))
        except ActorError as exc:
            self.system._dead_letter(message, recipient=self.ref, reason=str(exc), error=exc)

    def deliver_system(self, message: Any) -> None:
        """Deliver a runtime message (`Terminated`), past any mailbox bound."""
        cid = _next_id()
        envelope = Envelope(message, None, None, cid, cid)
        if self.closed:
            self.system._dead_letter(
                message,
                recipient=self.ref,
                reason=self._why_stopped(f"actor '{self.name}' has stopped"),
                envelope=envelope,
            )
            return
        self.mailbox.put_nowait(envelope, force=True)

    def _stopped_error(self, what: str) -> ActorStopped:
        if self.system._fatal_note is not None:
            return ActorStopped(self._why_stopped(f"actor '{self.name}' has stopped and cannot receive {what}"))
        return ActorStopped(f"actor '{self.name}' has stopped and cannot receive {what}; {self._stopped_advice()}")

    def _stopped_advice(self) -> str:
        """What a sender can do now that this actor stopped: only a supervisor restarts one."""
        parent = self.parent
        if self.spec is None or parent is None or parent.parent is None:  # (a tree's root: the guardian's)
            return (
                "it has no supervisor to restart it: spawn it again if you need it (watch an actor "
                "to learn when it stops)"
            )
        if getattr(self.spec, "restart", "permanent") == "temporary":
            return (
                "its supervisor does not restart it (restart='temporary'): start it again if you "
                "need it, or check ref.is_alive"
            )
        return "look it up again after its supervisor restarts it, or check ref.is_alive"

    # ------------------------------------------------------------------
    # Closing

    def _why_stopped(self, text: str) -> str:
        """``text``, plus why the whole system is going down, if it is (a KeyboardInterrupt...)."""
        note = self.system._fatal_note
        return text if note is None else f"{text}: {note}"

    def refuse_messages(self) -> None:
        """Take no more messages (the system is going down); the stop itself comes later, in order."""
        if not self.closed:
            self.close(f"actor '{self.name}' was stopped before handling it")

    def close(self, reason: str) -> None:
        """Take no more messages: queued asks fail with `ActorStopped`, queued tells become dead
        letters with ``reason``. Closing twice does nothing more."""
        self.closed = True
        if not self.mailbox.queue:
            return  # (nothing to settle; and an empty mailbox has no producer waiting for room)
        note = self.system._fatal_note
        reason = self._why_stopped(reason)
        for envelope in self.mailbox.drain():
            if envelope.reply is not None:
                envelope.reply._set(
                    None,
                    ActorStopped(
                        f"actor '{self.name}' stopped before handling {type(envelope.message).__name__}; "
                        + (note or self._stopped_advice())
                    ),
                )
            self.system._dead_letter(envelope.message, recipient=self.ref, reason=reason, envelope=envelope)
