"""The cell: one actor's mailbox, ref and task, across all its incarnations.

A cell owns a trio task inside its parent's nursery. Its children run in a
nursery of its own, opened on its first child (a small host task keeps it
open until the cell ends), so an idle leaf actor costs one task; its timers run
beside it in its parent's nursery. A cell ends only after its children have
stopped, so nothing outlives it. The task runs
incarnations one after another: build a fresh instance, run ``on_start``,
drain the mailbox one message at a time, then end the incarnation and ask the
parent what next (stop, restart, or wait to be resumed). The mailbox and the
ref belong to the cell, not to the instance, so a restart keeps both: senders
keep their ref and later messages keep their order.

Policy (which children to restart, how often, with what delay) is not here:
the parent's actor instance decides through three private hooks that
`supervision.Supervisor` overrides (see `Actor._actors_*`).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import trio

from ._context import blocking_cell, current_cell
from ._envelope import Envelope, _next_id
from ._groups import leaves
from ._exceptions import ActorError, ActorStopped, AskAbandoned, DeadlockError, MailboxFull, MessageTimeout, UnhandledMessage
from ._mailbox import Mailbox
from ._messages import Terminated
from ._ref import ActorRef
from ._states import Control, Directive, DirectiveKind, LifeState, Phase
from ._reply import DeferredReply, Reply
from ._text import SafeRepr, safe_repr
from ._threads import ToolWaits
from ._timers import Timer, TimerSet

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._actor import Actor
    from ._system import ActorSystem


async def _noop_on_start(self: Any) -> None:  # replaced below by Actor.on_start
    return None


_base_on_start: Any = _noop_on_start

__all__ = ["Cell", "current_cell"]

log = logging.getLogger("actors")



class Cell:
    """Runtime state of one actor. Private: users only ever see its `ActorRef`."""

    __slots__ = (
        "__weakref__",
        "actor_cls",
        "args",
        "children",
        "closed",
        "current",
        "deferred",
        "deferred_current",
        "ending",
        "home",
        "host_release",
        "in_sysq",
        "incarnations",
        "instance",
        "kwargs",
        "last_error",
        "life",
        "mailbox",
        "message_timeout",
        "name",
        "nursery",
        "parent",
        "path",
        "ref",
        "retired",
        "scope",
        "shutdown_timeout",
        "spec",
        "start_error",
        "start_scope",
        "started",
        "starting",
        "stop_reason",
        "stopped",
        "sysq",
        "system",
        "task",
        "terminated",
        "tool_waits",
        "throughput",
        "timers",
        "watchers",
        "watching",
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
        self.mailbox = Mailbox(mailbox_size, name)
        self.ref: ActorRef[Any] = ActorRef._create(self)
        self.children: dict[str, Cell] = {}
        self.instance: Actor | None = None
        self.current: Envelope | None = None
        self.task: trio.lowlevel.Task | None = None
        self.nursery: trio.Nursery | None = None  # children's nursery, opened on the first child
        self.home: trio.Nursery | None = None  # the nursery this cell's own task runs in
        self.host_release: trio.Event | None = None
        self.starting: trio.lowlevel.Task | None = None  # a spawner waiting for on_start
        self.start_error: BaseException | None = None
        self.start_scope: trio.CancelScope | None = None  # around on_restart/on_start
        self.scope: trio.CancelScope | None = None
        self.tool_waits: ToolWaits | None = None  # its handler's waits on worker threads and processes
        self.closed = False
        self.stopped = False
        self.started = False
        self.life = LifeState()  # phase, pending control request, the parent's directive
        self.ending = False  # its incarnation is ending: no new children or timers
        self.terminated: trio.Event | None = None
        self.sysq: list[tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]] | None = None
        self.watchers: dict[Cell, None] | None = None
        self.watching: dict[Cell, None] | None = None
        # refs of children its last restart stopped, by name: a child it spawns again
        # under the same name takes that ref over (a ref is an address)
        self.retired: dict[str, ActorRef[Any]] | None = None
        self.timers: TimerSet | None = None
        self.deferred: set[DeferredReply[Any]] | None = None
        self.deferred_current = False
        self.stop_reason: BaseException | None = None
        self.last_error: BaseException | None = None
        self.shutdown_timeout = shutdown_timeout
        self.message_timeout = message_timeout
        self.throughput = system._throughput
        self.spec = spec
        self.incarnations = 0
        self.in_sysq = False  # running a run_soon() job (a supervisor's restart work)

    def __repr__(self) -> str:
        return f"<Cell {self.path}>"

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
        envelope = self._envelope(message, None)
        if self.closed:
            self.system._dead_letter(
                message, recipient=self.ref, reason=f"actor '{self.name}' has stopped", envelope=envelope
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
        await self.mailbox.wait_for_space()
        if self.closed:
            raise self._stopped_error("message")

    async def send(self, message: Any) -> None:
        if self.closed:
            raise self._stopped_error(type(message).__name__)
        if self.mailbox.maxsize is None:
            await trio.lowlevel.checkpoint()
        else:
            await self.wait_for_space()
        self.tell(message)

    def ask(self, message: Any, *, deadlock_check: bool = True) -> tuple[Cell | None, Reply[Any]]:
        """Enqueue an ask; return (the asking cell if it blocks its own actor, the reply).

        With ``deadlock_check`` the ask is refused (`DeadlockError`) if waiting
        for its answer would never end; the caller then waits with
        ``reply._wait_checked(asker)``, which does not check again.
        """
        if self.closed:
            raise self._stopped_error(type(message).__name__)
        blocking = blocking_cell() if deadlock_check else None
        if blocking is not None:
            self.system._waits.check(blocking, self, type(message).__name__)
        reply: Reply[Any] = Reply._create(self.system, self)
        envelope = self._envelope(message, reply)
        reply.envelope = envelope
        self.mailbox.put_nowait(envelope)
        if self.system._tracer is not None:
            self.system._tracer._message("send", self, envelope)
        return blocking, reply

    def rejected_ask(self, message: Any) -> Reply[Any]:
        """A reply already failed with `ActorStopped` (an ask to this closed cell)."""
        reply: Reply[Any] = Reply._create(self.system, self)
        reply.envelope = self._envelope(message, reply)
        reply._set(None, self._stopped_error(type(message).__name__))
        return reply

    def deliver_from_timer(self, message: Any, trace_id: int | None) -> None:
        if self.closed:
            return
        cid = _next_id()
        try:
            self.mailbox.put_nowait(Envelope(message, None, None, cid, cid if trace_id is None else trace_id))
        except ActorError as exc:
            self.system._dead_letter(message, recipient=self.ref, reason=str(exc), error=exc)

    def deliver_system(self, message: Any) -> None:
        """Deliver a runtime message (Terminated), past any mailbox bound."""
        cid = _next_id()
        envelope = Envelope(message, None, None, cid, cid)
        if self.closed:
            self.system._dead_letter(
                message, recipient=self.ref, reason=f"actor '{self.name}' has stopped", envelope=envelope
            )
            return
        self.mailbox.put_nowait(envelope, force=True)

    def _stopped_error(self, what: str) -> ActorStopped:
        return ActorStopped(
            f"actor '{self.name}' has stopped and cannot receive {what}; look it up again "
            f"after its supervisor restarts it, or check ref.is_alive"
        )

    # ------------------------------------------------------------------
    # Control (called from other tasks)

    def request_stop(self) -> None:
        """Stop for good: close the mailbox now, let a running handler finish (bounded)."""
        if self.stopped:
            return
        self.life.request(Control.STOP)
        if not self.closed:
            self.closed = True
            self._drain(f"actor '{self.name}' was stopped before handling it")
        self._interrupt()

    def request_exit(self) -> None:
        """The actor stops itself after the current message (a normal exit)."""
        if self.life.request(Control.EXIT):
            self._interrupt(grace=False)

    def request_suspend(self, reason: BaseException | None) -> None:
        """End the current incarnation (bounded) and wait for RESUME or STOP."""
        if self.stopped or not self.life.request(Control.SUSPEND, reason):
            return
        self._interrupt()

    def resolve(self, directive: Directive) -> None:
        """Answer a cell waiting for its parent's directive."""
        self.life.resolve(directive)

    def run_soon(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``await fn(*args)`` in this actor's task, before its next message."""
        if self.sysq is None:
            self.sysq = []
        self.sysq.append((fn, args))
        self.mailbox.wake()

    @property
    def interrupted(self) -> bool:
        """True once asked to stop, suspend or exit (until a new incarnation starts)."""
        return self.life.control is not None

    def serving(self) -> tuple[ToolWaits, Envelope | None] | None:
        """If the current task is this actor's handler (or blocks it): its tool waits and envelope."""
        if blocking_cell() is not self:
            return None
        if self.tool_waits is None:
            self.tool_waits = ToolWaits()
        return self.tool_waits, self.current

    def _interrupt(self, grace: bool = True) -> None:
        if grace and self.tool_waits is not None:
            self.tool_waits.cut()  # a thread cannot be interrupted: stop waiting for it now
        self.mailbox.wake()
        self.life.poke()
        if grace and self.start_scope is not None:
            deadline = trio.current_time() + self.shutdown_timeout
            if deadline < self.start_scope.deadline:
                self.start_scope.deadline = deadline  # a hung on_start cannot hold a stop up
        if grace and self.scope is not None and self.in_sysq:
            self.scope.cancel()  # runtime work (restarts, backoff waits) stops at once
        elif grace and self.scope is not None and self.current is not None:
            deadline = trio.current_time() + self.shutdown_timeout
            if deadline < self.scope.deadline:
                self.scope.deadline = deadline

    async def stop(self) -> None:
        """Request a stop and wait until terminated (unless waiting would deadlock)."""
        if self.mailbox.disarm():
            # Never launched (never sent anything): run its short life to the
            # end right here, instead of starting a task (the nursery may be
            # closing, under cancellation from outside).
            self.request_stop()
            await self.main()
            return
        self.request_stop()
        me = current_cell.get()
        while me is not None:  # stopping yourself or an ancestor: cannot wait for it
            if me is self and me.task is trio.lowlevel.current_task():
                return
            if me is self:
                break
            me = me.parent
            if me is self:
                return
        await self.wait_terminated()

    @property
    def phase(self) -> Phase:
        """Where this cell is in its life."""
        return self.life.phase

    async def suspend(self, reason: BaseException | None) -> None:
        """End the current incarnation (keeping mailbox and ref) and wait until it has."""
        self.request_suspend(reason)
        if self.life.phase is Phase.EXITING:
            # It failed: it may still wait for its parent's directive (this answers it),
            # or have one already, a restart (the request above overrides that).
            self.resolve(Directive.suspend())
        await self.life.wait_phase(Phase.SUSPENDED)

    async def resume(self, reason: BaseException | None) -> None:
        """Start a new incarnation of a suspended cell and wait until it runs (or fails)."""
        if self.life.phase is not Phase.SUSPENDED:
            return
        self.resolve(Directive.resume(reason))
        await self.life.wait_phase(Phase.RUNNING, Phase.EXITING)

    async def wait_terminated(self) -> None:
        if self.stopped:
            await trio.lowlevel.checkpoint()
            return
        if self.terminated is None:
            self.terminated = trio.Event()
        await self.terminated.wait()

    # ------------------------------------------------------------------
    # Children, watching, timers, deferred replies

    async def spawn_child(
        self,
        actor_cls: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        name: str | None,
        mailbox_size: int | None,
        shutdown_timeout: float | None = None,
        message_timeout: float | None = None,
        spec: Any = None,
    ) -> ActorRef[Any]:
        system = self.system
        if self.closed or self.ending:
            raise ActorStopped(f"actor '{self.name}' is stopping or restarting and cannot spawn "
                               f"{actor_cls.__name__}; spawn children in on_start or receive")
        if self.nursery is None:
            await self._open_nursery()
        name = system._registry.reserve(name, actor_cls.__name__)
        try:
            child = Cell(
                system,
                self,
                actor_cls,
                args,
                kwargs,
                name,
                mailbox_size,
                shutdown_timeout=system._shutdown_timeout if shutdown_timeout is None else shutdown_timeout,
                message_timeout=message_timeout,
                spec=spec,
            )
            child.build()  # the first __init__ runs here: its errors reach the spawner directly
        except BaseException:
            system._registry.release(name, None)
            raise
        if self.retired is not None and name in self.retired:
            child.ref = self.retired.pop(name)  # the same address, now the new child's
            child.ref._cell = child
        system._registry.bind(name, child)
        self.children[name] = child
        await child.start_in(self.nursery)  # type: ignore[arg-type]
        return child.ref

    def _abandon_start(self) -> None:
        """The spawner gave up before ``spawn`` returned: undo the actor, leaving no trace."""
        self.system._registry.release(self.name, self)
        parent = self.parent
        if parent is not None and parent.children.get(self.name) is self:
            del parent.children[self.name]
        if self.mailbox.disarm():  # never ran: end it here and now
            self.closed = True
            self._terminate(None)
        else:
            self.request_stop()

    async def start_in(self, nursery: trio.Nursery) -> None:
        """Start this cell's task; return once ``on_start`` ran (raise what it raised)."""
        self.home = nursery
        instance = self.instance
        assert instance is not None, "build() comes first"
        if type(instance).on_start is _base_on_start:
            # Nothing to run before the first message: the task starts with it
            # (or with a stop), so an actor never sent anything costs no task.
            self.mailbox.start_lazily(self._launch)
            try:
                await trio.lowlevel.checkpoint()
            except BaseException:
                self._abandon_start()
                raise
            return
        self.starting = trio.lowlevel.current_task()
        nursery.start_soon(self.main)

        def abort(_: object) -> trio.lowlevel.Abort:
            self.starting = None
            self._abandon_start()  # the spawner gave up: do not leave a half-started actor behind
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)  # the child wakes us after on_start
        if self.start_error is not None:
            error, self.start_error = self.start_error, None
            # Raise once it has cleaned up (children it started stopped, name free),
            # so the caller can retry at once; that end is bounded by shutdown_timeout.
            await self.wait_terminated()
            raise error

    def _launch(self) -> None:
        assert self.home is not None
        self.home.start_soon(self.main, name=f"actor {self.path}")

    async def _open_nursery(self) -> None:
        """Open the nursery this cell's children run in (once; a host task holds it)."""
        assert self.home is not None, "a cell's own task starts before its children"

        async def host(task_status: trio.TaskStatus[trio.Nursery]) -> None:
            self.host_release = trio.Event()
            async with trio.open_nursery() as nursery:
                task_status.started(nursery)
                await self.host_release.wait()

        if self.nursery is None:
            with trio.CancelScope(shield=True):  # quick, and must not fail half-way
                self.nursery = await self.home.start(host)
            await trio.lowlevel.checkpoint_if_cancelled()

    def watch(self, target: Cell) -> None:
        if target.stopped:
            self.deliver_system(Terminated(target.ref, target.stop_reason))
            return
        if target.watchers is None:
            target.watchers = {}
        target.watchers[self] = None
        if self.watching is None:
            self.watching = {}
        self.watching[target] = None

    def unwatch(self, target: Cell) -> None:
        if target.watchers is not None:
            target.watchers.pop(self, None)
        if self.watching is not None:
            self.watching.pop(target, None)

    def schedule(self, interval: float, message: Any, *, repeat: bool) -> Timer:
        if self.closed or self.home is None or self.ending:
            raise ActorStopped(f"actor '{self.name}' is stopping or restarting and cannot schedule "
                               f"{type(message).__name__}; set timers in on_start or receive")
        if self.timers is None:
            self.timers = TimerSet(self.deliver_from_timer)
        trace_id = None if self.current is None else self.current.trace_id
        return self.timers.start(self.home, interval, message, repeat=repeat, trace_id=trace_id)

    def defer_reply(self) -> DeferredReply[Any]:
        envelope = self.current
        if envelope is None or trio.lowlevel.current_task() is not self.task:
            raise ActorError(
                "defer_reply() must be called from receive() while it handles a message; keep "
                "the handle it returns to answer later"
            )
        self.deferred_current = True
        handle: DeferredReply[Any] = DeferredReply._create(envelope.reply, self._deferred_done)
        if envelope.reply is not None:
            if self.deferred is None:
                self.deferred = set()
            self.deferred.add(handle)
        return handle

    def _deferred_done(self, handle: DeferredReply[Any]) -> None:
        if self.deferred is not None:
            self.deferred.discard(handle)

    # ------------------------------------------------------------------
    # The task

    async def main(self) -> None:
        token = current_cell.set(self)
        self.task = trio.lowlevel.current_task()
        reason: BaseException | None = None
        try:
            reason = await self._lifecycle()
        except trio.Cancelled:
            # Cancelled from outside (a cancel scope around the system): settle
            # the message being handled, then stop in order (the parent stops
            # its children, last started first) and run on_stop, shielded and bounded.
            if self.current is not None:
                envelope, self.current = self.current, None
                self._interrupted(envelope, "the actor system was cancelled from outside")
            with trio.CancelScope(shield=True) as scope:
                if self.parent is not None and self.life.control is not Control.STOP:
                    with trio.move_on_after(10 * self.shutdown_timeout):
                        await self.life.wait_until(lambda: self.life.control is Control.STOP)
                scope.deadline = trio.current_time() + 2 * self.shutdown_timeout
                self.request_stop()
                await self._end_incarnation(final=True)
            raise
        finally:
            self._terminate(reason)
            current_cell.reset(token)

    def build(self) -> None:
        """Make a fresh instance of the actor class (``__init__`` with the spawn arguments)."""
        cls = self.actor_cls
        instance = cls.__new__(cls)
        instance._actors_cell = self
        instance.__init__(*self.args, **self.kwargs)  # type: ignore[misc]  # (its own class's)
        self.instance = instance

    async def _lifecycle(self) -> BaseException | None:
        reason: BaseException | None = None
        first = True
        while True:
            error = await self._incarnate(reason, build=not first)
            if first:
                first = False
                if self.starting is not None:
                    self.start_error = error
                    trio.lowlevel.reschedule(self.starting)
                    self.starting = None
                if error is not None:  # (already logged, as "failed while starting")
                    self.request_stop()
                    await self._end_incarnation(final=True)
                    return error
            if error is None:
                self.life.set_phase(Phase.RUNNING)
                error = await self._loop()
            control = self.life.control
            if control is Control.STOP:
                directive = Directive.stop()
            elif control is Control.SUSPEND:
                directive = Directive.suspend()
                error = self.life.reason
            else:
                self._cancel_timers()
                self.life.set_phase(Phase.EXITING)
                directive = await self._ask_parent(error)
            await self._end_incarnation(final=directive.kind is DirectiveKind.STOP)
            while True:  # between incarnations: wait, then stop or start again
                # A stop or suspend may have come while the incarnation ended (its on_stop,
                # its children): it overrides a restart decided before.
                control = self.life.control
                if control is Control.STOP and directive.kind is not DirectiveKind.STOP:
                    directive = Directive.stop()
                elif control is Control.SUSPEND and directive.kind is DirectiveKind.RESTART:
                    directive = Directive.suspend()
                if directive.kind is DirectiveKind.SUSPEND:
                    self.life.set_phase(Phase.SUSPENDED)
                    directive = await self._wait_directive()
                elif directive.kind is DirectiveKind.STOP:
                    await self._stop_children()
                    return error
                elif directive.kind is DirectiveKind.RESTART and directive.delay > 0:
                    self.life.set_phase(Phase.RESTARTING)
                    with trio.move_on_after(directive.delay):
                        await self.life.wait_until(lambda: self.life.control in (Control.STOP, Control.SUSPEND))
                    if self.life.control is Control.STOP:
                        directive = Directive.stop()
                    elif self.life.control is Control.SUSPEND:
                        directive = Directive.suspend()
                    else:
                        break
                else:
                    break
            reason = directive.reason if directive.kind is DirectiveKind.RESUME else error
            self.life.clear_control()
            if reason is None:
                reason = ActorError(f"actor '{self.name}' exited normally and was restarted")

    async def _incarnate(self, reason: BaseException | None, *, build: bool) -> BaseException | None:
        """Build a fresh instance (unless spawn did) and start it; return the error if that failed."""
        self.started = False
        self.sysq = None
        self.incarnations += 1
        self.life.set_phase(Phase.STARTING)
        try:
            if build:
                self.build()
            instance = self.instance
            assert instance is not None
            if self.life.control is Control.STOP:  # stopped before it ever ran
                self.started = type(instance).on_start is _base_on_start  # on_stop still runs
                return None
            with trio.CancelScope() as scope:
                self.start_scope = scope
                if self.incarnations > 1 and reason is not None:
                    if self.system._tracer is not None:
                        self.system._tracer._actor("restart", self, safe_repr(reason))
                    await instance.on_restart(reason)
                await instance.on_start()
            self.start_scope = None
            if scope.cancelled_caught:
                return None  # stopped while starting: the lifecycle sees the stop next
        except Exception as exc:
            self.start_scope = None
            # A first start awaited by spawn raises there; any other is seen by nobody.
            self._log_failure(exc, "starting" if self.incarnations == 1 else "restarting",
                              observed=self.starting is not None)
            return exc
        self.started = True
        return None

    async def _loop(self) -> BaseException | None:
        """Handle messages until a control request (None) or a failure (returned)."""
        while True:
            with trio.CancelScope() as scope:
                self.scope = scope
                outcome = await self._handle_messages(scope)
            self.scope = None
            if not scope.cancelled_caught:
                return outcome
            # The running handler was cancelled: past its message_timeout, or past
            # the shutdown grace of a stop or restart.
            envelope = self.current
            self.current = None
            self.deferred_current = False
            if envelope is not None:
                break
            if self.life.control is not None:
                return None
            # No handler was running (a runtime job was cut short, or a stale
            # deadline): nothing failed, so go on handling messages.
        if self.life.control is None:
            error = MessageTimeout(
                f"actor '{self.name}' took longer than its message_timeout of "
                f"{self.message_timeout:g} s to handle {type(envelope.message).__name__}; the "
                f"handler was cancelled and counts as a failure"
            )
            self._failed(envelope, error)
            return error
        self._interrupted(envelope)
        return None

    async def _handle_messages(self, scope: trio.CancelScope) -> BaseException | None:
        mailbox = self.mailbox
        queue = mailbox.queue
        instance = self.instance
        assert instance is not None
        receive = instance.receive
        throughput = self.throughput
        message_timeout = self.message_timeout
        tracer = self.system._tracer
        task = trio.lowlevel.current_task()
        park = trio.lowlevel.wait_task_rescheduled
        abort = mailbox.abort_wait
        arm = mailbox.arm
        life = self.life
        while True:
            if life.control is not None:
                return None
            if self.sysq:
                fn, args = self.sysq.pop(0)
                self.in_sysq = True
                try:
                    await fn(*args)
                except Exception as exc:
                    return exc
                finally:
                    self.in_sysq = False
                continue
            if not queue:
                if message_timeout is not None:
                    scope.deadline = math.inf
                arm(task)  # Mailbox.wait() in two halves: one coroutine frame less per park
                await park(abort)
                continue
            handled = 0
            while True:
                envelope = mailbox.popleft()
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
                    self.deferred_current = False
                    if life.control is not None and life.control is not Control.EXIT:
                        # Stopping or restarting anyway: the asker gets the error, the
                        # message is recorded, and it does not count as a failure.
                        self._settle(envelope, exc, f"handler of '{self.name}' raised {safe_repr(exc)} while stopping")
                        return None
                    abandoned = leaves(exc) if isinstance(exc, ExceptionGroup) else [exc]
                    if all(isinstance(e, AskAbandoned) for e in abandoned):
                        # (several, when thread calls were fanned out in the handler's nursery)
                        self._abandoned(envelope, abandoned[0])  # type: ignore[arg-type]
                    else:
                        self._failed(envelope, exc)
                        return exc
                else:
                    if envelope.reply is not None:
                        if self.deferred_current:
                            self.deferred_current = False
                            if tracer is not None:
                                tracer._message("done", self, envelope)
                        else:
                            envelope.reply._set(result, None)
                            if tracer is not None:
                                tracer._message("reply", self, envelope)
                    elif tracer is not None:
                        tracer._message("done", self, envelope)
                if message_timeout is not None:
                    scope.deadline = math.inf  # the limit was this handler's, not the next checkpoint's
                self.current = None
                self.deferred_current = False  # (a defer_reply() on a tell defers nothing)
                handled += 1
                if handled >= throughput or not queue or life.control is not None or self.sysq:
                    break
            if handled >= throughput:
                await trio.lowlevel.checkpoint()  # fairness: let other actors run

    # ------------------------------------------------------------------
    # Outcomes of a message

    def _settle(self, envelope: Envelope, error: BaseException, reason: str, *, answer: bool = True) -> None:
        """A message ends in ``error``: the asker gets it (if ``answer``), and it is recorded."""
        if answer and envelope.reply is not None:
            envelope.reply._set(None, error)
        self.system._dead_letter(envelope.message, recipient=self.ref, reason=reason, envelope=envelope, error=error)

    def _unhandled(self, envelope: Envelope, exc: UnhandledMessage) -> None:
        if envelope.reply is not None:
            envelope.reply._set(None, exc)  # an answered ask is not a dead letter
        else:
            self._settle(envelope, exc, f"unhandled by '{self.name}' ({type(self.instance).__name__})")

    def _abandoned(self, envelope: Envelope, exc: AskAbandoned) -> None:
        # The asker gets AskTimeout from the deadline ticker; only record the message.
        self._settle(envelope, exc, str(exc), answer=False)

    def _failed(self, envelope: Envelope, exc: BaseException) -> None:
        reply = envelope.reply
        self._log_failure(exc, f"handling {type(envelope.message).__name__}", envelope,
                          observed=reply is not None and not reply.done())  # the asker gets it
        if self.system._tracer is not None:
            self.system._tracer._message("fail", self, envelope, safe_repr(exc))
        self._settle(envelope, exc, f"handler of '{self.name}' failed with {safe_repr(exc)}")

    def _interrupted(self, envelope: Envelope, why: str | None = None) -> None:
        if why is None:
            why = f"the handler ran past its shutdown_timeout of {self.shutdown_timeout:g} s and was cancelled"
        error = ActorStopped(
            f"actor '{self.name}' was stopped while handling {type(envelope.message).__name__}; {why}"
        )
        self._settle(envelope, error, str(error))

    def _log_failure(self, exc: BaseException, doing: str, envelope: Envelope | None = None, *,
                     observed: bool = False) -> None:
        """Log a failure (with the actor's path and the message's trace id) and report it.

        ``observed``: the error also reaches someone (an asker, a spawner); failure
        listeners (the test kit) are told only of failures nobody else sees.
        """
        self.last_error = exc
        context = {"actor": self.path, "trace_id": envelope.trace_id if envelope is not None else "-"}
        log.error("actor %s failed while %s: %s", self.path, doing, SafeRepr(exc), exc_info=exc, extra=context)
        if not observed:
            self.system._report_failure(self.path, doing, exc)

    # ------------------------------------------------------------------
    # Ending incarnations and the cell

    async def _ask_parent(self, error: BaseException | None) -> Directive:
        parent = self.parent
        if parent is None:
            return Directive.stop()
        directive = parent.child_exited(self, error)
        if directive is None:
            directive = await self._wait_directive()
        return directive

    def child_exited(self, child: Cell, error: BaseException | None) -> Directive | None:
        """A child's incarnation ended by ``error`` (None: normal exit). Decide, or None."""
        if self.life.control is Control.STOP or self.closed or self.instance is None:
            return Directive.stop()
        if self.life.control is Control.SUSPEND:
            return Directive.suspend()
        return self.instance._actors_child_exited(child, error)

    async def _wait_directive(self) -> Directive:
        life = self.life
        await life.wait_until(lambda: life.directive is not None or life.control is Control.STOP)
        directive = life.take_directive()
        if life.control is Control.STOP or directive is None:
            return Directive.stop()
        return directive

    async def _end_incarnation(self, *, final: bool) -> None:
        # No children or timers from here on (say, from on_stop): they would outlive it.
        self.ending = True
        try:
            await self._end_incarnation_steps(final)
        finally:
            self.ending = False

    async def _end_incarnation_steps(self, final: bool) -> None:
        self._cancel_timers()
        instance = self.instance
        if final or instance is None:
            await self._stop_children()
        else:
            await instance._actors_before_restart()
        self._fail_deferred("restarted" if not final else "stopped")
        if instance is not None and self.started:
            self.started = False
            with trio.move_on_after(self.shutdown_timeout) as scope:
                try:
                    await instance.on_stop()
                except Exception as exc:
                    log.error("on_stop of actor %s raised %s", self.path, SafeRepr(exc), exc_info=exc,
                              extra={"actor": self.path, "trace_id": "-"})
                    self.system._report_failure(self.path, "stopping", exc)
            if scope.cancelled_caught:
                hung = ActorError(f"on_stop of actor '{self.name}' ran past its shutdown_timeout "
                                  f"({self.shutdown_timeout:g} s) and was cancelled")
                log.error("%s", hung, extra={"actor": self.path, "trace_id": "-"})
                self.system._report_failure(self.path, "stopping", hung)

    async def _stop_children(self) -> None:
        for child in reversed(list(self.children.values())):
            await child.stop()

    def _cancel_timers(self) -> None:
        if self.timers is not None:
            self.timers.cancel_all()

    def _fail_deferred(self, what: str) -> None:
        if self.deferred:
            pending, self.deferred = self.deferred, None
            for handle in pending:
                if handle._reply is not None:
                    handle._reply._set(None, ActorStopped(
                        f"actor '{self.name}' {what} before answering (it had deferred its reply)"
                    ))

    def _drain(self, reason: str) -> None:
        for envelope in self.mailbox.drain():
            if envelope.reply is not None:
                envelope.reply._set(None, ActorStopped(
                    f"actor '{self.name}' stopped before handling {type(envelope.message).__name__}; "
                    f"look it up again after its supervisor restarts it, or check ref.is_alive"
                ))
            self.system._dead_letter(envelope.message, recipient=self.ref, reason=reason, envelope=envelope)

    def _terminate(self, reason: BaseException | None) -> None:
        """The task is ending: record everything left and tell whoever cares."""
        self.closed = True
        self.stopped = True
        self.retired = None
        self.stop_reason = reason
        self._drain(f"actor '{self.name}' stopped before handling it")
        self._fail_deferred("stopped")
        self.system._registry.forget(self)
        if self.system._tracer is not None:
            self.system._tracer._actor("stop", self, None if reason is None else safe_repr(reason))
        parent = self.parent
        if parent is not None:
            if parent.children.get(self.name) is self:
                del parent.children[self.name]
            if parent.instance is not None:
                parent.instance._actors_child_terminated(self)
        if self.watching:
            for target in self.watching:
                if target.watchers is not None:
                    target.watchers.pop(self, None)
            self.watching = None
        if self.watchers:
            watchers, self.watchers = self.watchers, None
            for watcher in watchers:
                watcher.deliver_system(Terminated(self.ref, reason))
        self.life.set_phase(Phase.STOPPED)
        if self.host_release is not None:
            self.host_release.set()
        if self.terminated is not None:
            self.terminated.set()

