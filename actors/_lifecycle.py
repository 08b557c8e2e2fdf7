"""The lifecycle driver of a cell: incarnate, dispatch, end, ask the parent, then stop,
restart or wait to be resumed.

`Lifecycle` sits on `Dispatcher` in the cell's stack (see `actors._cell`). Its
task runs incarnations one after another; every decision reads the cell's
`LifeState` (its phase and the control request pending) and the parent's
`Directive`, never strings or flags. The steps, each a method below::

    main ─┬─ _incarnate         build a fresh instance; on_restart, on_start     STARTING
          ├─ dispatch           handle messages until a request or a failure     RUNNING
          ├─ _decide            a stop / suspend requested, or ask the parent    EXITING
          ├─ _end_incarnation   timers, children, deferred replies, on_stop
          ├─ _between           wait out a suspend or a restart's delay          SUSPENDED / RESTARTING
          └─ _terminate         close for good, tell the parent and watchers     STOPPED

Other tasks steer it with `request_stop`, `request_exit`, `request_suspend`
and the parent's `resolve`. The parts it drives but does not own (children,
timers, watchers) are `Cell`'s, reached through the abstract steps at the end
of the class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from ._actor import Actor
from ._context import current_cell
from ._dispatch import WORKER_CUT, Dispatcher
from ._exceptions import ActorError, ActorStopped
from ._groups import fatal_error
from ._parents import policy_of
from ._states import Control, Directive, DirectiveKind, Phase
from ._text import SafeRepr, safe_repr
from ._threads import require_trio_thread

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Lifecycle"]

log = logging.getLogger("actors")

_STOP = DirectiveKind.STOP
_SUSPEND = DirectiveKind.SUSPEND
_RESTART = DirectiveKind.RESTART
_RESUME = DirectiveKind.RESUME
_CONTINUE = DirectiveKind.CONTINUE
_STOP_NOW = Directive.stop()


class Lifecycle(Dispatcher):
    """Control requests, and the task that runs a cell's incarnations."""

    __slots__ = ("ending", "incarnations", "start_scope", "started", "stop_reason", "terminated")

    # (set by Cell.__init__)
    incarnations: int
    started: bool  # this incarnation's on_start returned: its on_stop is due
    ending: bool  # this incarnation is ending: no new children or timers
    start_scope: trio.CancelScope | None  # around on_restart/on_start
    stop_reason: BaseException | None
    terminated: trio.Event | None

    # ------------------------------------------------------------------
    # State, seen from outside

    @property
    def phase(self) -> Phase:
        """Where this cell is in its life."""
        return self.life.phase

    @property
    def stopped(self) -> bool:
        """True once it has ended for good."""
        return self.life.phase is Phase.STOPPED

    @property
    def interrupted(self) -> bool:
        """True once asked to stop, suspend or exit (until a new incarnation starts)."""
        return self.life.control is not None

    # ------------------------------------------------------------------
    # Control (called from other tasks)

    def request_stop(self) -> None:
        """Stop for good: close the mailbox now, let a running handler finish (bounded)."""
        if self.life.phase is Phase.STOPPED:
            return
        self.life.request(Control.STOP)
        if not self.closed:
            self.close(f"actor '{self.name}' was stopped before handling it")
        self._interrupt()

    def request_exit(self) -> None:
        """The actor stops itself after the current message (a normal exit)."""
        require_trio_thread(
            self.system,
            "self.stop()",
            "from a worker thread, tell the actor a message whose handler calls self.stop() (ref.tell is thread-safe)",
        )
        if self.life.request(Control.EXIT):
            self._interrupt(grace=False)

    def request_suspend(self, reason: BaseException | None) -> None:
        """End the current incarnation (bounded) and wait for a resume or a stop."""
        if self.stopped or not self.life.request(Control.SUSPEND, reason):
            return
        self._interrupt()

    def resolve(self, directive: Directive) -> None:
        """Answer a cell waiting for its parent's directive."""
        self.life.resolve(directive)

    def _interrupt(self, grace: bool = True) -> None:
        """Wake the task so it sees a request; with ``grace``, bound what it is doing now."""
        if grace and self.tool_waits is not None and self.tool_waits.active:
            # A thread cannot be interrupted: the handler (or on_start) waiting on one stops
            # waiting now, rather than after the grace (a late result becomes a dead letter).
            if self.scope is not None and self.current is not None:
                self.cut = WORKER_CUT
                self.scope.cancel()
            elif self.start_scope is not None:
                self.start_scope.cancel()
        self.mailbox.wake()
        self.life.poke()
        if not grace:
            return
        if self.start_scope is not None:
            deadline = trio.current_time() + self.shutdown_timeout
            if deadline < self.start_scope.deadline:
                self.start_scope.deadline = deadline  # a hung on_start cannot hold a stop up
        if self.scope is not None and self.in_job:
            self.scope.cancel()  # runtime work (restarts, backoff waits) stops at once
        elif self.scope is not None and self.current is not None:
            deadline = trio.current_time() + self.shutdown_timeout
            if deadline < self.scope.deadline:
                self.scope.deadline = deadline

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
        """Wait until this cell has ended for good (a checkpoint if it has)."""
        if self.life.phase is Phase.STOPPED:
            await trio.lowlevel.checkpoint()
            return
        if self.terminated is None:
            self.terminated = trio.Event()
        await self.terminated.wait()

    # ------------------------------------------------------------------
    # The task

    async def main(self) -> None:
        """The cell's task: its incarnations, one after another, then its end.

        Each turn: `_incarnate`, `dispatch` (called from here, so the actor's
        task parks only two coroutines below its root), `_decide` how the
        incarnation ends, `_end_incarnation`, then `_between` incarnations;
        a stop ends the loop and `_terminate` records the end.
        """
        token = current_cell.set(self)  # type: ignore[arg-type]
        self.task = trio.lowlevel.current_task()
        reason: BaseException | None = None  # why the cell ends (None: normally)
        try:
            why: BaseException | None = None  # why the next incarnation starts
            while True:
                first = self.incarnations == 0
                error = await self._incarnate(why, build=not first)  # spawn built the first
                if first:
                    self._started_first(error)
                    if error is not None:  # (already logged, as "failed while starting")
                        self.request_stop()
                        await self._end_incarnation(final=True)
                        reason = error
                        break
                life = self.life
                if error is None and life.control is not Control.STOP:
                    life.set_phase(Phase.RUNNING)
                    error = await self.dispatch()
                if life.control is Control.STOP:  # (stopped: straight to the end, nothing to decide)
                    directive = _STOP_NOW
                else:
                    directive, error = await self._decide(error)
                await self._end_incarnation(final=directive.kind is _STOP)
                if directive.kind is not _STOP or life.control is not Control.STOP:
                    directive = await self._between(directive)
                if directive.kind is _STOP:
                    await self._stop_children()
                    reason = error
                    break
                why = directive.reason if directive.kind is _RESUME else error
                self.life.clear_control()
                if why is None:
                    why = ActorError(f"actor '{self.name}' exited normally and was restarted")
        except trio.Cancelled:
            await self._unwind()
            raise
        except BaseException as exc:
            if fatal_error(exc) is None:
                raise
            reason = await self._end_fatally(exc)
        finally:
            self._terminate(reason)
            current_cell.reset(token)

    async def _unwind(self) -> None:
        """Cancelled from outside (a cancel scope around the system, or an error that escaped
        a task of the runtime and cancelled its nursery): settle the message being handled,
        make the block's body end (so that the system's shutdown starts now, not when the
        body would have ended), then stop in order (the parent stops its children, last
        started first) and run on_stop, shielded and bounded."""
        if self.current is not None:
            envelope, self.current = self.current, None
            self.interrupted_while_handling(
                envelope,
                "the actor system was cancelled (from outside its block, or by an error that escaped a task "
                "of the runtime)",
            )
        self.system._cancel_body()
        with trio.CancelScope(shield=True) as scope:
            if self.parent is not None and self.life.control is not Control.STOP:
                with trio.move_on_after(10 * self.shutdown_timeout):
                    await self.life.wait_until(lambda: self.life.control is Control.STOP)
            scope.deadline = trio.current_time() + 2 * self.shutdown_timeout
            self.request_stop()
            await self._end_incarnation(final=True)

    async def _end_fatally(self, exc: BaseException) -> ActorStopped:
        """A KeyboardInterrupt, SystemExit or other BaseException escaped this actor's code.

        Settle the message in flight at once (its asker gets `ActorStopped`, it is
        a dead letter), have the system go down (it raises ``exc`` out of its
        block), and end this actor as a stop would: children, then ``on_stop``,
        shielded and bounded. Returns the reason it stopped.
        """
        envelope, self.current = self.current, None
        self.deferred_current = None
        self.scope = self.start_scope = None
        if envelope is not None:
            doing = f"handling {type(envelope.message).__name__}"
        elif not self.started:
            doing = "starting" if self.incarnations <= 1 else "restarting"
        else:
            doing = "running"
        settle = None if envelope is None else (lambda error: self.settle(envelope, error, str(error)))
        error = self.system._fatal(exc, f"actor '{self.name}'", doing, settle=settle)
        self._started_first(error)  # (a spawner waiting for on_start gets it)
        self.request_stop()
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + 2 * self.shutdown_timeout
            await self._end_incarnation(final=True)
        return error

    def build(self) -> None:
        """Make a fresh instance of the actor class (``__init__`` with the spawn arguments)."""
        cls = self.actor_cls
        instance = cls.__new__(cls)
        instance._actors_cell = self  # type: ignore[assignment]
        instance.__init__(*self.args, **self.kwargs)  # type: ignore[misc]  # (its own class's)
        self.instance = instance

    async def _incarnate(self, reason: BaseException | None, *, build: bool) -> BaseException | None:
        """Build a fresh instance (unless spawn did) and start it; return the error if that failed."""
        self.started = False
        self.jobs = None
        self.incarnations += 1
        self.life.set_phase(Phase.STARTING)
        try:
            if build:
                self.build()
            instance = self.instance
            assert instance is not None
            if self.life.control is Control.STOP:  # stopped before it ever ran
                self.started = type(instance).on_start is Actor.on_start  # on_stop still runs
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
            self.log_failure(
                exc, "starting" if self.incarnations == 1 else "restarting", observed=self._spawner_waits()
            )
            return exc
        self.started = True
        return None

    async def _decide(self, error: BaseException | None) -> tuple[Directive, BaseException | None]:
        """The incarnation stopped dispatching (``error``: why, None for a request): how does it end?

        A stop or suspend requested ends it so; otherwise its parent decides
        (`Directive.continue_` dispatches again, here).
        """
        while True:
            control = self.life.control
            if control is Control.STOP:
                return Directive.stop(), error
            if control is Control.SUSPEND:
                return Directive.suspend(), self.life.reason
            self.life.set_phase(Phase.EXITING)
            directive = await self._ask_parent(error)
            if directive.kind is not _CONTINUE or self.life.control is not None:
                return directive, error
            # The parent keeps this instance after its failure: handle messages again.
            self.life.set_phase(Phase.RUNNING)
            error = await self.dispatch()

    async def _between(self, directive: Directive) -> Directive:
        """Between incarnations: wait out a suspend or a restart's delay.

        Returns a stop, a restart to do now, or a resume (a ``continue`` the
        incarnation could not take, being asked to exit, restarts). A stop or suspend
        requested meanwhile (say, while on_stop ran) overrides a restart.
        """
        life = self.life
        while True:
            control = life.control
            if control is Control.STOP and directive.kind is not _STOP:
                directive = Directive.stop()
            elif control is Control.SUSPEND and directive.kind in (_RESTART, _CONTINUE):
                directive = Directive.suspend()
            if directive.kind is _SUSPEND:
                life.set_phase(Phase.SUSPENDED)
                directive = await self._wait_directive()
            elif directive.kind is _RESTART and directive.delay > 0:
                life.set_phase(Phase.RESTARTING)
                with trio.move_on_after(directive.delay):
                    await life.wait_until(lambda: life.control in (Control.STOP, Control.SUSPEND))
                if life.control is None or life.control is Control.EXIT:
                    return Directive.restart()
            else:
                return directive

    # ------------------------------------------------------------------
    # The parent's part

    async def _ask_parent(self, error: BaseException | None) -> Directive:
        parent = self.parent
        if parent is None:
            self._cancel_timers()
            return Directive.stop()
        directive = parent.child_exited(self, error)  # type: ignore[arg-type]
        if directive is None or directive.kind is not _CONTINUE:
            self._cancel_timers()  # they belong to this incarnation, which ends
        if directive is None:
            directive = await self._wait_directive()
        return directive

    def child_exited(self, child: Cell, error: BaseException | None) -> Directive | None:
        """A child's incarnation ended by ``error`` (None: normal exit). Decide, or None."""
        if self.life.control is Control.STOP or self.closed or self.instance is None:
            return Directive.stop()
        if self.life.control is Control.SUSPEND:
            return Directive.suspend()
        return policy_of(self.instance).child_exited(child, error)

    async def _wait_directive(self) -> Directive:
        life = self.life
        await life.wait_until(lambda: life.directive is not None or life.control is Control.STOP)
        directive = life.take_directive()
        if life.control is Control.STOP or directive is None:
            return Directive.stop()
        return directive

    # ------------------------------------------------------------------
    # Ending

    async def _end_incarnation(self, *, final: bool) -> None:
        """Timers, children (stopped, or left to the policy at a restart), deferred replies, on_stop."""
        # No children or timers from here on (say, from on_stop): they would outlive it.
        self.ending = True
        try:
            self._cancel_timers()
            instance = self.instance
            if final or instance is None:
                await self._stop_children()
            else:
                children = self._living_children()
                await policy_of(instance).before_restart(children)
                await self._retire_children()
            if self.deferred:
                self.fail_deferred("restarted" if not final else "stopped")
            if instance is not None and self.started:
                self.started = False
                await self._on_stop(instance)
        finally:
            self.ending = False

    async def _on_stop(self, instance: Actor) -> None:
        with trio.move_on_after(self.shutdown_timeout) as scope:
            try:
                await instance.on_stop()
            except Exception as exc:
                log.error(
                    "on_stop of actor %s raised %s",
                    self.path,
                    SafeRepr(exc),
                    exc_info=exc,
                    extra={"actor": self.path, "trace_id": "-"},
                )
                self.system._report_failure(self.path, "stopping", exc)
            except BaseException as exc:
                if fatal_error(exc) is None:
                    raise
                self.system._fatal(exc, f"on_stop of actor '{self.name}'", "stopping")
        if scope.cancelled_caught:
            hung = ActorError(
                f"on_stop of actor '{self.name}' ran past its shutdown_timeout "
                f"({self.shutdown_timeout:g} s) and was cancelled"
            )
            log.error("%s", hung, extra={"actor": self.path, "trace_id": "-"})
            self.system._report_failure(self.path, "stopping", hung)

    def _terminate(self, reason: BaseException | None) -> None:
        """The task is ending: record everything left and tell whoever cares."""
        self.life.set_phase(Phase.STOPPED)
        if reason is None and self.system._fatal_note is not None:
            reason = ActorStopped(self._why_stopped(f"actor '{self.name}' was stopped"))
        self.stop_reason = reason
        self.close(f"actor '{self.name}' stopped before handling it")
        if self.deferred:
            self.fail_deferred("stopped")
        self.system._registry.forget(self)  # type: ignore[arg-type]
        if self.system._tracer is not None:
            self.system._tracer._actor("stop", self, None if reason is None else safe_repr(reason))
        self._unlink(reason)
        if self.terminated is not None:
            self.terminated.set()

    # ------------------------------------------------------------------
    # Steps on the parts the lifecycle drives but `Cell` owns

    def _spawner_waits(self) -> bool:
        """A spawner awaits the first start (its error reaches it)."""
        raise NotImplementedError

    def _started_first(self, error: BaseException | None) -> None:
        """The first incarnation started (or failed to): wake the spawner."""
        raise NotImplementedError

    def _cancel_timers(self) -> None:
        raise NotImplementedError

    def _living_children(self) -> Sequence[Cell]:
        raise NotImplementedError

    async def _stop_children(self) -> None:
        """Stop every child, last started first."""
        raise NotImplementedError

    async def _retire_children(self) -> None:
        """At a restart: stop the children the policy left running, keeping their refs by name."""
        raise NotImplementedError

    def _unlink(self, reason: BaseException | None) -> None:
        """It ended: leave its parent, its watched and its watchers (who get `Terminated`)."""
        raise NotImplementedError
