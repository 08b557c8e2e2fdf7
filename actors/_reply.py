"""The promise an ask returns, and the handle that answers an ask later."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import trio

from ._context import blocking_cell
from ._deadlines import asker_gave_up
from ._exceptions import ActorStopped, AskTimeout
from ._text import safe_repr
from ._threads import get_ident, hand_over, require_trio_thread

if TYPE_CHECKING:
    from ._cell import Cell
    from ._envelope import Envelope
    from ._inbox import Inbox
    from ._system import ActorSystem

__all__ = ["DeferredReply", "Reply"]

T = TypeVar("T")
log = logging.getLogger("actors")

_PENDING: Any = object()


class Reply(Generic[T]):
    """The answer to an ask, now or later: ``await reply`` for the value.

    `ActorRef.ask_nowait` returns one. Awaiting it returns what the actor's
    handler returned, or raises what it raised (or `AskTimeout` once its
    deadline passed, or `ActorStopped`). Any number of tasks may await it, and
    ``add_done_callback`` runs plain functions when it completes. It completes
    exactly once; a reply that arrives after the asker gave up is recorded in
    the dead letters, never dropped silently.
    """

    __slots__ = (
        "_abandoned",
        "_asker",
        "_callbacks",
        "_deadline",
        "_error",
        "_inherited",
        "_name",
        "_system",
        "_target",
        "_timeout",
        "_value",
        "_waiters",
        "envelope",
    )

    _target: Inbox | None
    _asker: trio.lowlevel.Task | None  # the task that asked and waits in ActorRef.ask (the fast path)
    _timeout: float  # the ask's timeout in seconds, for the AskTimeout
    _name: str | None  # who was asked, for the AskTimeout (None: the target's name)
    _inherited: bool  # its deadline is what was left of the ask its asker serves (deadlines flow)
    _value: Any
    _error: BaseException | None
    _waiters: list[trio.lowlevel.Task] | None
    _callbacks: list[Callable[[Reply[T]], object]] | None
    _abandoned: bool
    _deadline: float
    _system: ActorSystem
    envelope: Envelope | None
    """The envelope of the ask this answers (correlation and trace ids, the message)."""

    def __init__(self) -> None:
        raise TypeError("Reply has no public constructor; ActorRef.ask_nowait() returns one")

    @classmethod
    def _create(
        cls,
        system: ActorSystem,
        target: Inbox | None = None,
        asker: trio.lowlevel.Task | None = None,
        deadline: float = math.inf,
        timeout: float = math.inf,
        name: str | None = None,
        inherited: bool = False,
    ) -> Reply[Any]:
        """A pending reply to an ask of ``target`` (None: of a remote name, ``name``).

        ``asker``: the task that will park in `ActorRef.ask` with `_abort_asker`;
        ``deadline`` (trio's clock) and ``timeout`` (seconds): when it expires, for
        `Deadlines`; ``inherited``: that deadline is what was left of the ask the
        asker serves (the timeout error says so).
        """
        self = object.__new__(cls)
        self._target = target
        self._value = _PENDING
        self._error = None
        self._asker = asker
        self._waiters = None
        self._callbacks = None
        self._abandoned = False
        self._deadline = deadline
        self._timeout = timeout
        self._inherited = inherited
        self._name = name  # (None: the target's)
        self._system = system
        self.envelope = None
        return self

    @property
    def correlation_id(self) -> int | None:
        """The id of the ask this answers (the envelope's correlation id)."""
        return None if self.envelope is None else self.envelope.correlation_id

    def done(self) -> bool:
        """True once the reply has a value or an error."""
        return self._value is not _PENDING

    def result(self) -> T:
        """The value, or raise the error. Raises RuntimeError if not done yet."""
        if self._value is _PENDING:
            raise RuntimeError("reply is not ready yet; 'await reply' to wait for it")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def exception(self) -> BaseException | None:
        """The error the reply completed with, None for a value. RuntimeError if not done."""
        if self._value is _PENDING:
            raise RuntimeError("reply is not ready yet; 'await reply' to wait for it")
        return self._error

    def add_done_callback(self, fn: Callable[[Reply[T]], object]) -> None:
        """Call ``fn(reply)`` once the reply completes (at once if it already has).

        Callbacks run in the event loop's thread, in the order added. An error a
        callback raises is logged and does not stop the others.

        Raises:
          RuntimeError: called in another thread than trio's.
        """
        require_trio_thread(
            self._system,
            "reply.add_done_callback()",
            "add it in trio's thread, or block a thread on the reply with ref.ask_from_thread()",
        )
        if self._value is not _PENDING:
            self._run_callback(fn)
        elif self._callbacks is None:
            self._callbacks = [fn]
        else:
            self._callbacks.append(fn)

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait().__await__()

    async def _wait(self) -> T:
        """Wait until done; return the value or raise the error (``await reply``).

        An actor waiting inside its own handler blocks its mailbox: waiting on
        itself, or on a cycle of actors waiting on it, would never end, so that
        raises `DeadlockError` at once (and the reply is abandoned: the message
        is still handled, and its answer becomes a dead letter).
        """
        target = self._target
        asker = blocking_cell() if target is not None and self._value is _PENDING else None
        if asker is not None:
            assert target is not None
            assert self.envelope is not None
            try:
                self._system._waits.check(asker, target, type(self.envelope.message).__name__)
            except BaseException:
                self._abandon()
                raise
        return await self._wait_checked(asker)

    async def _wait_checked(self, asker: Cell | None) -> T:
        """`_wait` for a caller that ran the deadlock check itself: ``asker`` waits (if not None)."""
        if self._value is _PENDING:
            task = trio.lowlevel.current_task()
            target = self._target
            waits = self._system._waits
            if asker is not None:
                assert target is not None
                waits.add(asker, target)
            if self._waiters is None:
                self._waiters = [task]
            else:
                self._waiters.append(task)

            def abort(_: object) -> trio.lowlevel.Abort:
                if self._waiters is not None and task in self._waiters:
                    self._waiters.remove(task)
                return trio.lowlevel.Abort.SUCCEEDED

            try:
                await trio.lowlevel.wait_task_rescheduled(abort)
            finally:
                if asker is not None:
                    waits.remove(asker, target)  # type: ignore[arg-type]
        else:
            await trio.lowlevel.checkpoint()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def _finished(self) -> bool:
        """Done, or abandoned by its asker: a deadline no longer matters."""
        return self._value is not _PENDING or self._abandoned

    def _abort_asker(self, _: object) -> trio.lowlevel.Abort:
        """Abort function of the asking task parked in `ActorRef.ask` (cancelled)."""
        self._asker = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _time_out(self) -> None:
        """The deadline passed: complete with `AskTimeout` (unless done or abandoned)."""
        if self._value is not _PENDING or self._abandoned:
            return
        envelope = self.envelope
        what = type(envelope.message).__name__ if envelope is not None else "message"
        name = self._name if self._name is not None else self._target.name if self._target is not None else "?"
        if self._inherited:
            error = AskTimeout(
                f"actor '{name}' did not answer {what} within {self._timeout:g} s, what was left of "
                f"the deadline of the ask being served; the whole conversation ran out of "
                f"time: raise the first asker's timeout"
            )
        else:
            error = AskTimeout(
                f"actor '{name}' did not answer {what} within {self._timeout:g} s; it may be busy "
                f"or stuck: raise the timeout, or check what it is doing"
            )
        self._expire(error)  # (which cancels the handler serving it: asker_gave_up)

    # -- completion (runtime side) ---------------------------------------

    def _set(self, value: Any, error: BaseException | None) -> bool:
        """Complete the reply; False (and a dead letter) if it was too late."""
        if self._value is not _PENDING or self._abandoned:
            if self._abandoned:
                self._abandoned = False  # at most one late answer is recorded
                self._late(value, error)
            return False
        self._value = value
        self._error = error
        asker = self._asker
        if asker is not None:
            self._asker = None
            trio.lowlevel.reschedule(asker)
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for task in waiters:
                trio.lowlevel.reschedule(task)
        callbacks = self._callbacks
        if callbacks:
            self._callbacks = None
            for fn in callbacks:
                self._run_callback(fn)
        return True

    def _expire(self, error: BaseException) -> None:
        """Complete with ``error`` (a timeout); a later answer becomes a dead letter."""
        if self._set(None, error):
            self._abandoned = True
            asker_gave_up(self)  # deadlines flow: the handler serving it is cancelled

    def _abandon(self) -> None:
        """The asker stopped waiting: a later answer becomes a dead letter."""
        if self._value is _PENDING:
            self._abandoned = True
            asker_gave_up(self)  # deadlines flow: the handler serving it is cancelled

    def _late(self, value: Any, error: BaseException | None) -> None:
        if isinstance(error, ActorStopped):
            return  # nobody waits, and the stop is recorded already
        env = self.envelope
        what = type(env.message).__name__ if env is not None else "message"
        reason = (
            f"late reply to {what}: the asker had stopped waiting (timed out or cancelled)"
            if error is None
            else f"late failure of {what}: the asker had stopped waiting ({safe_repr(error)})"
        )
        self._system._dead_letter(
            value if error is None else error,
            recipient=env.sender if env is not None else None,
            reason=reason,
            envelope=env,
            error=error,
        )

    def _run_callback(self, fn: Callable[[Reply[T]], object]) -> None:
        try:
            fn(self)
        except Exception:
            log.exception("a Reply done-callback %r raised; the other callbacks still run", fn)

    def __repr__(self) -> str:
        state = "pending" if self._value is _PENDING else ("failed" if self._error else "done")
        return f"<Reply {state} correlation_id={self.correlation_id}>"


class DeferredReply(Generic[T]):
    """A handle to answer the current ask later, from another message, task or thread.

    Got from `Actor.defer_reply`; the handler's own return value is then
    ignored. Answer exactly once with ``reply(value)`` or ``fail(exc)``; later
    calls are ignored and return False. If the actor stops first, the asker
    gets `ActorStopped`. For a told message (no asker) both calls do nothing.

    ``reply`` and ``fail`` are thread-safe: from a thread other than trio's (a
    callback of a streaming SDK in ``run_in_thread``, a `threading.Thread`) the
    answer is handed to the event loop, never blocking.
    """

    __slots__ = ("_on_done", "_reply")

    _reply: Reply[T] | None
    _on_done: Callable[[DeferredReply[T]], None]

    def __init__(self) -> None:
        raise TypeError("DeferredReply has no public constructor; call self.defer_reply()")

    @classmethod
    def _create(cls, reply: Reply[T] | None, on_done: Callable[[DeferredReply[T]], None]) -> DeferredReply[T]:
        self = object.__new__(cls)
        self._reply = reply
        self._on_done = on_done
        return self

    @property
    def done(self) -> bool:
        """True once answered (or when there is nobody to answer)."""
        return self._reply is None or self._reply.done()

    @property
    def correlation_id(self) -> int | None:
        """The correlation id of the ask being answered."""
        return None if self._reply is None else self._reply.correlation_id

    def reply(self, value: T) -> bool:
        """Answer the ask with ``value``.

        Returns:
          True if the asker got it. From another thread: True if the ask was
          still waiting when the answer was handed over (the asker may still
          time out before it arrives; a late answer goes to dead letters).

        Raises:
          ActorStopped: (from another thread) the actor system has finished.
        """
        return self._complete(value, None)

    def fail(self, error: BaseException) -> bool:
        """Answer the ask with an error, raised in the asker. True if delivered (see `reply`).

        Raises:
          TypeError: ``error`` is not an exception.
          ActorStopped: (from another thread) the actor system has finished.
        """
        if not isinstance(error, BaseException):
            raise TypeError(f"fail() takes an exception, not {type(error).__name__}")
        return self._complete(None, error)

    def _complete(self, value: Any, error: BaseException | None) -> bool:
        reply = self._reply
        if reply is None:
            return False
        if get_ident() != reply._system._thread_id:
            pending = not reply._finished()
            hand_over(
                reply._system,
                "DeferredReply." + ("reply()" if error is None else "fail()"),
                self._complete,
                value,
                error,
            )
            return pending
        # The first answer is traced even if late (its asker timed out), like an
        # answer returned from the handler; a second answer is ignored silently.
        answering = not reply.done() or reply._abandoned
        done = reply._set(value, error)
        self._on_done(self)
        if answering:
            self._trace(error)
        return done

    def _trace(self, error: BaseException | None) -> None:
        """Record the answer as a "reply" (or "fail") event of the ask, now it is given."""
        reply = self._reply
        assert reply is not None
        tracer = reply._system._tracer
        if tracer is None or reply._target is None or reply.envelope is None:
            return
        if error is None:
            tracer._message("reply", reply._target, reply.envelope)
        else:
            tracer._message("fail", reply._target, reply.envelope, safe_repr(error))
