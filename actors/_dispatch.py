"""The dispatch loop of a cell: one message at a time, and what becomes of each.

`Dispatcher` sits on `Inbox` in the cell's stack (see `actors._cell`). It owns
the message being handled (``current``), the runtime jobs queued for the
actor's own task (``run_soon``: a supervisor's restart work), the cancel scope
around the handlers, and the deferred replies of the incarnation. `dispatch`
is the hot loop: one function whose locals cache everything a message needs,
so a message costs no extra frames beyond the handler's own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from types import CoroutineType
from typing import Any

import trio

from ._deadlines import abandoned_error, cuts
from ._envelope import Envelope
from ._exceptions import ActorError, ActorStopped, AskAbandoned, MessageTimeout, UnhandledMessage
from ._groups import leaves
from ._inbox import Inbox
from ._reply import DeferredReply
from ._states import Control
from ._text import SafeRepr, qualname, safe_repr
from ._threads import ToolWaits, require_trio_thread

__all__ = ["Dispatcher"]

log = logging.getLogger("actors")

#: In `Dispatcher.cut`: a stop cancelled the handler while it waited on a worker.
WORKER_CUT: Any = object()

_Job = tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]


class Dispatcher(Inbox):
    """The message loop of a cell, and the outcomes of its messages."""

    __slots__ = (
        "current",
        "cut",
        "deferred",
        "deferred_current",
        "in_job",
        "jobs",
        "last_error",
        "scope",
        "task",
        "tool_waits",
    )

    # (set by Cell.__init__)
    current: Envelope | None  # the message its handler is handling now
    # The ask whose handler `scope` was cancelled because its asker gave up
    # (cut_if_serving); that scope is spent, so the loop opens a new one.
    cut: Envelope | object | None  # (or WORKER_CUT: a stop cut a wait on a worker thread)
    # the envelope whose ask the handler deferred (defer_reply), or None: compared with
    # `current` by identity, so a message's end need not reset it
    deferred_current: Envelope | None
    deferred: set[DeferredReply[Any]] | None  # asks it will answer later
    jobs: list[_Job] | None  # runtime work for its own task (run_soon)
    in_job: bool  # running one of those jobs now
    scope: trio.CancelScope | None  # around the handlers (message_timeout, stop grace)
    task: trio.lowlevel.Task | None  # the task that runs its incarnations
    tool_waits: ToolWaits | None  # how many waits on worker threads and processes now
    last_error: BaseException | None

    # ------------------------------------------------------------------
    # For the handler and the runtime

    def run_soon(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``await fn(*args)`` in this actor's task, before its next message."""
        if self.jobs is None:
            self.jobs = []
        self.jobs.append((fn, args))
        self.mailbox.wake()

    def worker_waits(self) -> ToolWaits:
        """This actor's count of waits on worker threads and processes (`Workers` keeps it)."""
        if self.tool_waits is None:
            self.tool_waits = ToolWaits()
        return self.tool_waits

    def cut_if_serving(self, envelope: Envelope) -> None:
        """The asker of ``envelope`` gave up (deadline, cancel): if its handler runs now, cancel it
        at its next checkpoint, unless the class finishes abandoned asks (see `actors._deadlines`)."""
        if self.current is not envelope:
            return
        scope = self.scope
        if scope is not None and not self.in_job and cuts(self):  # type: ignore[arg-type]
            self.cut = self.current
            scope.cancel()

    def defer_reply(self) -> DeferredReply[Any]:
        """A handle to answer the current ask later (`Actor.defer_reply`)."""
        require_trio_thread(
            self.system,
            "self.defer_reply()",
            "call it in receive() before starting the "
            "thread, and answer from the thread with handle.reply(value), which is thread-safe",
        )
        envelope = self.current
        if envelope is None or trio.lowlevel.current_task() is not self.task:
            raise ActorError(
                "defer_reply() must be called from receive() while it handles a message; keep "
                "the handle it returns to answer later"
            )
        self.deferred_current = envelope
        handle: DeferredReply[Any] = DeferredReply._create(envelope.reply, self._deferred_done)
        if envelope.reply is not None:
            if self.deferred is None:
                self.deferred = set()
            self.deferred.add(handle)
        return handle

    def _deferred_done(self, handle: DeferredReply[Any]) -> None:
        if self.deferred is not None:
            self.deferred.discard(handle)

    def fail_deferred(self, what: str) -> None:
        """The incarnation ends (``what``: "stopped", "restarted"): unanswered deferred asks fail."""
        if self.deferred:
            pending, self.deferred = self.deferred, None
            for handle in pending:
                if handle._reply is not None:
                    handle._reply._set(
                        None, ActorStopped(f"actor '{self.name}' {what} before answering (it had deferred its reply)")
                    )

    # ------------------------------------------------------------------
    # The loop

    async def dispatch(self) -> BaseException | None:
        """Handle messages until a control request (None) or a failure (returned).

        The hot loop, one function with everything a message needs in locals:
        the actor's task parks here, two coroutines below its root (`main`), so
        a wake-up resumes as few frames as possible.
        """
        # The hot loop: everything a message needs is a local.
        mailbox = self.mailbox
        queue = mailbox.queue
        take = mailbox.taker()
        coroutine_type = CoroutineType
        instance = self.instance
        assert instance is not None
        receive = instance.receive
        throughput = self.system._throughput
        message_timeout = self.message_timeout
        tracer = self.system._tracer
        task = trio.lowlevel.current_task()
        park = trio.lowlevel.wait_task_rescheduled
        abort = mailbox.abort_wait
        arm = mailbox.arm
        life = self.life
        finishes = not cuts(self)  # type: ignore[arg-type]  # (finish_abandoned_asks)
        while True:
            with trio.CancelScope() as scope:
                self.scope = scope
                try:
                    while True:
                        if life.control is not None:
                            return None
                        if self.jobs:
                            fn, args = self.jobs.pop(0)
                            self.in_job = True
                            try:
                                await fn(*args)
                            except Exception as exc:
                                return exc
                            finally:
                                self.in_job = False
                            continue
                        if not queue:
                            if message_timeout is not None:
                                scope.deadline = math.inf
                            arm(task)  # Mailbox.wait() in two halves: one coroutine frame less per park
                            await park(abort)
                            continue
                        handled = 0
                        while True:
                            envelope = take()
                            reply = envelope.reply
                            if reply is not None and reply._abandoned and not finishes:
                                # Its asker gave up while it waited: drop it unhandled (recorded).
                                self._abandoned(envelope, abandoned_error(self, envelope, started=False))  # type: ignore[arg-type]
                                if not queue or life.control is not None or self.jobs:
                                    break
                                continue
                            self.current = envelope
                            if tracer is not None:
                                tracer._message("receive", self, envelope)
                            if message_timeout is not None:
                                scope.deadline = trio.current_time() + message_timeout
                            try:
                                result = await receive(envelope.message)
                            except UnhandledMessage as exc:
                                self._unhandled(envelope, exc)
                            except Exception as exc:
                                self.current = None
                                self.deferred_current = None
                                if life.control is not None and life.control is not Control.EXIT:
                                    # Stopping or restarting anyway: the asker gets the error, the
                                    # message is recorded, and it does not count as a failure.
                                    self.settle(
                                        envelope,
                                        exc,
                                        f"handler of '{self.name}' raised {safe_repr(exc)} while stopping",
                                    )
                                    return None
                                abandoned = leaves(exc) if isinstance(exc, ExceptionGroup) else [exc]
                                if all(isinstance(e, AskAbandoned) for e in abandoned):
                                    # (several, when thread calls were fanned out in the handler's nursery)
                                    self._abandoned(envelope, abandoned[0])  # type: ignore[arg-type]
                                else:
                                    self.failed(envelope, exc)
                                    return exc
                            else:
                                if type(result) is coroutine_type and result is not envelope.message:
                                    self._returned_coroutine(envelope, result)  # an 'await' is missing in the handler
                                elif reply is not None:
                                    if self.deferred_current is envelope:
                                        if tracer is not None:
                                            tracer._message("done", self, envelope)
                                    else:
                                        reply._set(result, None)
                                        if tracer is not None:
                                            tracer._message("reply", self, envelope)
                                elif tracer is not None:
                                    tracer._message("done", self, envelope)
                            if message_timeout is not None:
                                scope.deadline = math.inf  # the limit was this handler's, not the next checkpoint's
                            # (`current` stays set until the batch ends: no other task runs in between)
                            if self.cut is not None:  # cut, but it finished anyway (shielded): the
                                self.current = None  # scope is spent, so raise its Cancelled: a new one
                                await trio.lowlevel.checkpoint()
                            handled += 1
                            if not queue or handled >= throughput or life.control is not None or self.jobs:
                                break
                        self.current = None
                        self.deferred_current = None
                        if handled >= throughput:
                            await trio.lowlevel.checkpoint()  # fairness: let other actors run

                finally:
                    self.scope = None
            # Only here when the scope caught its own cancellation: the running handler
            # was cancelled (past its message_timeout, or past the shutdown grace of a
            # stop or restart), or a runtime job was.
            interrupted = self.current
            self.current = None
            self.deferred_current = None
            cut, self.cut = self.cut, None
            if interrupted is not None and cut is interrupted and life.control is None:
                # Its asker gave up (deadline, cancel): recorded, not a failure; go on.
                self._abandoned(interrupted, abandoned_error(self, interrupted, started=True))  # type: ignore[arg-type]
                continue
            if interrupted is not None:
                envelope = interrupted
                break
            if life.control is not None:
                return None
            # No handler was running (a runtime job was cut short, or a stale
            # deadline): nothing failed, so go on handling messages.
        if life.control is None:
            error = MessageTimeout(
                f"actor '{self.name}' took longer than its message_timeout of "
                f"{self.message_timeout:g} s to handle {type(envelope.message).__name__}; the "
                f"handler was cancelled and counts as a failure"
            )
            self.failed(envelope, error)
            return error
        if cut is WORKER_CUT:
            self.interrupted_while_handling(
                envelope,
                "it was waiting for a worker thread or process, and stopped "
                "waiting at once (a thread's late result goes to dead letters)",
            )
        else:
            self.interrupted_while_handling(envelope)
        return None

    # ------------------------------------------------------------------
    # Outcomes of a message

    def settle(self, envelope: Envelope, error: BaseException, reason: str, *, answer: bool = True) -> None:
        """A message ends in ``error``: the asker gets it (if ``answer``), and it is recorded."""
        if answer and envelope.reply is not None:
            envelope.reply._set(None, error)
        self.system._dead_letter(envelope.message, recipient=self.ref, reason=reason, envelope=envelope, error=error)

    def _unhandled(self, envelope: Envelope, exc: UnhandledMessage) -> None:
        if envelope.reply is not None:
            envelope.reply._set(None, exc)  # an answered ask is not a dead letter
        else:
            self.settle(envelope, exc, f"unhandled by '{self.name}' ({type(self.instance).__name__})")

    def _returned_coroutine(self, envelope: Envelope, coroutine: Coroutine[Any, Any, Any]) -> None:
        """The handler returned a coroutine object, not a value: its asker gets a TypeError.

        (Not called when the coroutine is the message itself: an echo hands back what
        it got, and a coroutine sent as a value is its sender's to await or close.)

        The coroutine is closed (it never runs, and Python does not warn "never
        awaited" later, far from the cause). A tell's (or a deferred ask's)
        mistake is nobody's error to catch: it is logged as a warning, reported
        to the test kit, and a tell is recorded in dead letters.
        """
        coroutine.close()
        what = type(envelope.message).__name__
        error = TypeError(
            f"the handler of actor '{self.name}' ({type(self.instance).__name__}) returned a coroutine "
            f"({qualname(coroutine)}) for {what} instead of a value: an 'await' is "
            f"missing (write 'return await ...'); the coroutine was closed without running"
        )
        reply = envelope.reply
        if reply is not None and self.deferred_current is not envelope:
            reply._set(None, error)
            return
        log.warning("%s", error, extra={"actor": self.path, "trace_id": envelope.trace_id})
        self.system._report_failure(self.path, f"handling {what}", error)
        if reply is None:
            self.settle(envelope, error, str(error), answer=False)

    def _abandoned(self, envelope: Envelope, exc: AskAbandoned) -> None:
        # The asker gets AskTimeout from the deadline ticker; only record the message.
        if self.system._tracer is not None:
            self.system._tracer._message("abandoned", self, envelope, str(exc))
        self.settle(envelope, exc, str(exc), answer=False)

    def failed(self, envelope: Envelope, exc: BaseException) -> None:
        """The handler of ``envelope`` failed with ``exc``: log, trace, answer and record it."""
        reply = envelope.reply
        self.log_failure(
            exc,
            f"handling {type(envelope.message).__name__}",
            envelope,
            observed=reply is not None and not reply.done(),
        )  # the asker gets it
        if self.system._tracer is not None:
            self.system._tracer._message("fail", self, envelope, safe_repr(exc))
        self.settle(envelope, exc, f"handler of '{self.name}' failed with {safe_repr(exc)}")

    def interrupted_while_handling(self, envelope: Envelope, why: str | None = None) -> None:
        """A stop cut the handler of ``envelope`` short: its asker gets `ActorStopped`."""
        if why is None:
            why = f"the handler ran past its shutdown_timeout of {self.shutdown_timeout:g} s and was cancelled"
        error = ActorStopped(
            self._why_stopped(
                f"actor '{self.name}' was stopped while handling {type(envelope.message).__name__}; {why}"
            )
        )
        self.settle(envelope, error, str(error))

    def log_failure(
        self, exc: BaseException, doing: str, envelope: Envelope | None = None, *, observed: bool = False
    ) -> None:
        """Log a failure (with the actor's path and the message's trace id) and report it.

        ``observed``: the error also reaches someone (an asker, a spawner); failure
        listeners (the test kit) are told only of failures nobody else sees.
        """
        self.last_error = exc
        context = {"actor": self.path, "trace_id": envelope.trace_id if envelope is not None else "-"}
        log.error("actor %s failed while %s: %s", self.path, doing, SafeRepr(exc), exc_info=exc, extra=context)
        if not observed:
            self.system._report_failure(self.path, doing, exc)
