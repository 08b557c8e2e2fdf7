"""The cell: one actor's mailbox, ref and task, across all its incarnations.

A cell owns a trio task inside its parent's nursery. Its children run in a
nursery of its own, opened on its first child (a small host task keeps it
open until the cell ends), so an idle leaf actor costs one task (none until
its first message, when it has no ``on_start``); its timers run beside it in
its parent's nursery. A cell ends only after its children have stopped, so
nothing outlives it. The mailbox and the ref belong to the cell, not to the
actor instance, so a restart keeps both: senders keep their ref and later
messages keep their order.

One object, four classes stacked by concept, each in its own module and each
declaring the fields it owns:

    ==============  ==================  ==========================================
    class           module              concept
    ==============  ==================  ==========================================
    `Inbox`         ``_inbox.py``       identity, parts (mailbox, ref, life), the
                                        sending side: the address a ref talks to
    `Dispatcher`    ``_dispatch.py``    the message loop and each message's outcome
    `Lifecycle`     ``_lifecycle.py``   control requests and the lifecycle driver
    `Cell`          ``_cell.py``        children and spawning, watching, timers
    ==============  ==================  ==========================================

Policy (which children to restart, how often, with what delay) is not here:
a parent decides through `actors._parents.ParentPolicy` (public in
`actors.lowlevel`), which `supervision.Supervisor` implements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from ._actor import Actor
from ._context import current_cell
from ._exceptions import ActorStopped
from ._inbox import Inbox
from ._lifecycle import Lifecycle
from ._messages import Terminated
from ._parents import policy_of
from ._states import Phase
from ._threads import get_ident, require_trio_thread
from ._timers import Timer, TimerSet

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["Cell", "current_cell"]

# what to do instead of a call that needs trio's thread, made in a worker thread
_IN_HANDLER = "call it in receive() or on_start(), around the thread call, or tell the actor to do it"


class Cell(Lifecycle):
    """Runtime state of one actor. Private: users only ever see its `ActorRef`."""

    __slots__ = (
        "children",
        "home",
        "host_release",
        "nursery",
        "retired",
        "start_error",
        "starting",
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
        # The fields of every part, declared in its own __slots__ (set here in one go: a spawn
        # pays no chain of super().__init__ calls).
        Inbox.__init__(
            self,
            system,
            parent,
            actor_cls,
            args,
            kwargs,
            name,
            mailbox_size,
            shutdown_timeout=shutdown_timeout,
            message_timeout=message_timeout,
            spec=spec,
        )
        # Dispatcher's fields
        self.current = None  # the message its handler is handling now
        # The ask whose handler `scope` was cancelled because its asker gave up
        # (cut_if_serving); that scope is spent, so the loop opens a new one.
        self.cut = None
        # the envelope whose ask the handler deferred (defer_reply), or None: compared with
        # `current` by identity, so a message's end need not reset it
        self.deferred_current = None
        self.deferred = None  # asks it will answer later
        self.jobs = None  # runtime work for its own task (run_soon)
        self.in_job = False  # running one of those jobs now
        self.scope = None  # around the handlers (message_timeout, stop grace)
        self.task = None  # the task that runs its incarnations
        self.tool_waits = None  # how many waits on worker threads and processes now
        self.last_error = None
        # Lifecycle's fields
        self.incarnations = 0
        self.started = False  # this incarnation's on_start returned: its on_stop is due
        self.ending = False  # this incarnation is ending: no new children or timers
        self.start_scope = None  # around on_restart/on_start
        self.stop_reason = None
        self.terminated = None
        # Cell's own fields
        # Invariant: children[c.name] is c for every child c that has not stopped.
        self.children: dict[str, Cell] = {}
        self.home: trio.Nursery | None = None  # the nursery this cell's own task runs in
        self.nursery: trio.Nursery | None = None  # children's nursery, opened on the first child
        self.host_release: trio.Event | None = None  # ends the task that holds `nursery` open
        # refs of children its last restart stopped, by name: a child it spawns again
        # under the same name takes that ref over (a ref is an address)
        self.retired: dict[str, ActorRef[Any]] | None = None
        self.starting: trio.lowlevel.Task | None = None  # a spawner waiting for on_start
        self.start_error: BaseException | None = None
        self.timers: TimerSet | None = None
        self.watchers: dict[Cell, None] | None = None  # cells told Terminated when this one ends
        self.watching: dict[Cell, None] | None = None  # cells this one watches

    # ------------------------------------------------------------------
    # Spawning

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
        """Build and start a child; return its ref once its ``on_start`` ran (raise what it raised)."""
        system = self.system
        if get_ident() != system._thread_id:
            require_trio_thread(
                system,
                "spawn()",
                "from a worker thread, use trio.from_thread.run(system.spawn, ...), or tell an actor to spawn it",
            )
        if self.closed or self.ending:
            raise ActorStopped(
                f"actor '{self.name}' is stopping or restarting and cannot spawn "
                f"{actor_cls.__name__}; spawn children in on_start or receive"
            )
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
            child.ref._move_to(child)
        system._registry.bind(name, child)
        self.children[name] = child
        assert self.nursery is not None
        await child.start_in(self.nursery)
        return child.ref

    async def start_in(self, nursery: trio.Nursery) -> None:
        """Start this cell's task; return once ``on_start`` ran (raise what it raised)."""
        self.home = nursery
        instance = self.instance
        assert instance is not None, "build() comes first"
        if type(instance).on_start is Actor.on_start:
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

    def _spawner_waits(self) -> bool:
        return self.starting is not None

    def _started_first(self, error: BaseException | None) -> None:
        if self.starting is not None:
            self.start_error = error
            trio.lowlevel.reschedule(self.starting)
            self.starting = None

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

    # ------------------------------------------------------------------
    # Stopping (from any task)

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

    # ------------------------------------------------------------------
    # Watching and timers

    def watch(self, target: Cell) -> None:
        """Be told `Terminated` when ``target`` ends (at once if it has)."""
        require_trio_thread(self.system, "self.watch()", _IN_HANDLER)
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
        """Stop watching ``target``."""
        require_trio_thread(self.system, "self.unwatch()", _IN_HANDLER)
        if target.watchers is not None:
            target.watchers.pop(self, None)
        if self.watching is not None:
            self.watching.pop(target, None)

    def schedule(self, interval: float, message: Any, *, repeat: bool) -> Timer:
        """Start a timer that tells this actor ``message`` (`Actor.schedule_once`/``_every``)."""
        require_trio_thread(self.system, "self.schedule_once()/schedule_every()", _IN_HANDLER)
        if self.closed or self.home is None or self.ending:
            raise ActorStopped(
                f"actor '{self.name}' is stopping or restarting and cannot schedule "
                f"{type(message).__name__}; set timers in on_start or receive"
            )
        if self.timers is None:
            self.timers = TimerSet(self.deliver_from_timer, self.system)
        trace_id = None if self.current is None else self.current.trace_id
        return self.timers.start(self.home, interval, message, repeat=repeat, trace_id=trace_id)

    # ------------------------------------------------------------------
    # The lifecycle's steps on these parts

    def _cancel_timers(self) -> None:
        if self.timers is not None:
            self.timers.cancel_all()

    def _living_children(self) -> Sequence[Cell]:
        return [child for child in self.children.values() if not child.stopped]

    async def _stop_children(self) -> None:
        for child in reversed(list(self.children.values())):
            await child.stop()

    async def _retire_children(self) -> None:
        going = [child for child in self.children.values() if child.phase is not Phase.SUSPENDED]
        retired = {child.name: child.ref for child in going}
        for child in reversed(going):
            await child.stop()
        self.retired = retired or None

    def _unlink(self, reason: BaseException | None) -> None:
        self.retired = None
        parent = self.parent
        if parent is not None:
            if parent.children.get(self.name) is self:
                del parent.children[self.name]
            if parent.instance is not None:
                policy_of(parent.instance).child_stopped(self)
        if self.watching:
            for target in self.watching:
                if target.watchers is not None:
                    target.watchers.pop(self, None)
            self.watching = None
        if self.watchers:
            watchers, self.watchers = self.watchers, None
            for watcher in watchers:
                watcher.deliver_system(Terminated(self.ref, reason))
        if self.host_release is not None:
            self.host_release.set()
