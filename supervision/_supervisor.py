"""Supervisor: an actor that starts children from specs and restarts them when they fail."""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from actors import Actor, ActorError, ActorNameTaken, ActorNotFound, ActorRef, EscalatedFailure, lowlevel
from actors.lowlevel import ChildHandle, Directive, Phase, SafeRepr, check_count, check_instance, check_name, safe_repr

from ._children import (
    Child,
    ChildCounts,
    ChildInfo,
    ChildTable,
    CountChildren,
    DeleteChild,
    Request,
    RestartChild,
    RestartDue,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._errors import ChildRunning, ChildStartFailed, TooManyChildren
from ._events import ChildFailed, ChildRestarted, ChildStarted, ChildStopped, SupervisionEvent, SupervisorGaveUp
from ._spec import ChildSpec
from ._strategy import Decision, OneForOne, Strategy

__all__ = ["GetChildren", "Supervisor", "restart_count"]

log = logging.getLogger("supervision")


@attrs.frozen
class GetChildren:
    """Ask a `Supervisor` for the refs of its living children, in start order."""


class Supervisor(Actor):
    """An actor that starts its children in order and restarts them by a strategy.

    Build the tree as a value and start it with ``await system.spawn_tree(tree)``
    (or nest it in another supervisor's ``children``)::

        tree = Supervisor(
            name="team",
            strategy=OneForOne(max_restarts=3, within=10.0, backoff=Backoff(initial=0.1)),
            children=[
                ChildSpec(Planner, name="planner"),
                ChildSpec(Worker, name="worker", restart="transient", message_timeout=30.0),
                Supervisor(name="tools", strategy=OneForAll(), children=[...]),
            ],
        )

    Children start in list order and stop in reverse order. A restarted child
    is a fresh instance (``on_restart(exc)`` then ``on_start``) behind the same
    ref and mailbox, so senders keep working and later messages keep their
    order; the message that failed goes to dead letters and its asker gets the
    error. When a whole subtree restarts (a nested supervisor, `OneForAll`) its
    children keep their refs too. The strategy's ``decide`` function may
    resume, stop or escalate instead (see `Decision`).

    A running supervisor takes more children with `start_child` (they start
    after the others: RestForOne counts them as started later) and answers
    `terminate_child`, `restart_child`, `delete_child`, `which_children` and
    `count_children`. It never sleeps in its own handler: a group restart waits
    out its backoff in a timer, while the supervisor keeps answering and
    handling other failures.

    Past the strategy's restart intensity the supervisor gives up: it stops its
    children and fails with `actors.EscalatedFailure`, which its own parent
    handles like any child failure; past the root, ``open_actor_system()``
    raises it. When its parent restarts it, its children from ``children``
    are restarted with it (same refs); children added with `start_child` are
    stopped and forgotten, as in OTP.

    Every decision is published on the system topic `SupervisionEvent`.
    A subclass overriding ``on_start``, ``on_restart``, ``receive`` or
    ``__init__`` must call the base method (``receive``: for the messages it
    does not handle itself) and keep the keyword arguments.

    Args:
      name: the supervisor's name (unique in the system).
      strategy: `OneForOne` (default), `OneForAll` or `RestForOne`.
      children: `ChildSpec` and `Supervisor` values, started in this order.
      max_children: at most this many children (specs, running or not);
        `start_child` past it raises `TooManyChildren`. None: no limit.
    """

    name: str
    strategy: Strategy
    children: tuple[ChildSpec | Supervisor, ...]
    max_children: int | None

    def __init__(
        self,
        *,
        name: str,
        strategy: Strategy | None = None,
        children: Sequence[ChildSpec | Supervisor] = (),
        max_children: int | None = None,
    ) -> None:
        check_name(name, label="Supervisor name", wrong_type=ValueError)
        strategy = OneForOne() if strategy is None else strategy
        if not isinstance(strategy, Strategy):
            raise TypeError(f"strategy must be OneForOne(), OneForAll() or RestForOne(), not {type(strategy).__name__}")
        if isinstance(children, (str, bytes)) or not isinstance(children, Sequence):
            raise TypeError("children must be a list of ChildSpec or Supervisor")
        names: set[str] = set()
        seen: set[int] = set()
        for child in children:
            if not isinstance(child, (ChildSpec, Supervisor)):
                hint = "; wrap it: ChildSpec(YourActor, name=...)" if isinstance(child, type) else ""
                raise TypeError(
                    f"children of supervisor '{name}' must be ChildSpec or Supervisor, not {safe_repr(child)}{hint}"
                )
            if id(child) in seen:
                raise ValueError(
                    f"supervisor '{name}' has the same {type(child).__name__} twice in its children; make one per child"
                )
            seen.add(id(child))
            if child.name is not None:
                if child.name in names:
                    raise ValueError(f"supervisor '{name}' has two children named '{child.name}'")
                names.add(child.name)
        if max_children is not None:
            check_count("max_children", max_children, optional=True)
            if len(children) > max_children:
                raise ValueError(
                    f"supervisor '{name}' has {len(children)} children, more than its max_children={max_children}"
                )
        self.name = name
        self.strategy = strategy
        self.children: tuple[ChildSpec | Supervisor, ...] = tuple(children)
        self.max_children = max_children
        self._table = ChildTable()
        # (time, child name) of each restart within the strategy's window: the intensity
        self._restart_times: collections.deque[tuple[float, str]] = collections.deque()
        self._backoff_state: dict[Child, tuple[int, float]] = {}
        # Children waiting for a restart, with when it is due and why (a group restart's
        # timer, or the child's own backoff wait): each failure keeps its own clock.
        self._due: dict[ChildHandle, tuple[float, BaseException | None]] = {}
        self._resume_reason: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} {type(self.strategy).__name__} children={len(self.children)}>"

    # -- starting ----------------------------------------------------------

    def _tree_kwargs(self) -> dict[str, Any]:
        """The keyword arguments each incarnation of this tree is built with."""
        kwargs: dict[str, Any] = {"name": self.name, "strategy": self.strategy, "children": self.children}
        if self.max_children is not None:  # (only when set: a subclass's __init__ may predate it)
            kwargs["max_children"] = self.max_children
        return kwargs

    async def _start_tree(self, parent: Actor, record: Child | None = None) -> ActorRef[Any]:
        """Start this tree as a child of ``parent`` (``ActorSystem.spawn_tree`` calls it)."""
        return await lowlevel.spawn_child(
            parent, type(self), (), self._tree_kwargs(), name=self.name, spec=self if record is None else record
        )

    async def on_restart(self, exc: BaseException) -> None:
        """Keep why this supervisor restarts: its children resume with that reason."""
        self._resume_reason = exc

    async def on_start(self) -> None:
        """Start the children in order (or resume them, after a restart of this supervisor).

        Raises:
          ChildStartFailed: a child's ``__init__`` or ``on_start`` raised.
        """
        # Drop the reference at once: the failure's traceback holds the previous
        # incarnation, whose own _resume_reason would hold the one before, and so on.
        reason, self._resume_reason = self._resume_reason, None
        kept = {id(c.spec.spec): c for c in lowlevel.children(self) if isinstance(c.spec, Child) and not c.spec.dynamic}
        for spec in self.children:
            existing = kept.get(id(spec))
            if existing is not None:  # restarted with this supervisor: adopt its record
                self._table.add(existing.spec)
                await existing.resume(reason)
                continue
            record = Child(spec, dynamic=False)
            self._table.add(record)
            await self._start(
                record,
                f"supervisor '{self.name}' did not start either (the children started before it were stopped again)",
            )

    async def _start(self, record: Child, then: str, *, forget: bool = True) -> ActorRef[Any]:
        """Start ``record``'s child; if that fails, raise `ChildStartFailed` saying ``then``.

        ``forget``: also drop the record then (a new child), or keep it (`restart_child`).
        """
        spec = record.spec
        try:
            if isinstance(spec, Supervisor):
                ref = await spec._start_tree(self, record)
            else:
                ref = await lowlevel.spawn_child(
                    self,
                    spec.actor_cls,
                    spec.args,
                    spec.kwargs,
                    name=record.name,
                    mailbox_size=spec.mailbox_size,
                    shutdown_timeout=spec.shutdown_timeout,
                    message_timeout=spec.message_timeout,
                    spec=record,
                )
                if spec.public:
                    await lowlevel.serve(self, ref)
        except BaseException as exc:
            if forget:
                self._table.remove(record)
            if isinstance(exc, (ChildStartFailed, ActorNameTaken)) or not isinstance(exc, Exception):
                raise
            what = spec.actor_cls.__name__ if isinstance(spec, ChildSpec) else "Supervisor"
            child = record.name or f"({what})"
            raise ChildStartFailed(
                f"child '{child}' of supervisor '{self.name}' failed to start: {safe_repr(exc)}; {then}",
                supervisor=self.name,
                child=child,
                error=exc,
            ) from exc
        self._table.started(record, lowlevel.handle(ref))
        self._publish(ChildStarted(self.ref.path, ref.path))
        return ref

    # -- messages ----------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        """Answer `GetChildren` and the requests of `start_child` and its friends."""
        if isinstance(message, GetChildren):
            return [child.ref for child in self._table.living()]
        if isinstance(message, RestartDue):
            lowlevel.run_soon(self, self._resume_due)
            return None
        if isinstance(message, (StartChild, TerminateChild, RestartChild, DeleteChild, WhichChildren, CountChildren)):
            # A bad request is the asker's error, not a failure of this supervisor.
            handle = self.defer_reply()
            try:
                result = await self._serve(message)
            except Exception as exc:
                handle.fail(exc)
            else:
                handle.reply(result)
            return None
        self.unhandled(message)

    async def _serve(self, request: Request) -> Any:
        match request:
            case WhichChildren():
                return [record.info() for record in self._table]
            case CountChildren():
                return self._table.counts()
            case StartChild(spec):
                return await self._start_dynamic(spec)
        record = self._find(request.name)
        match request:
            case TerminateChild():
                cell = record.cell
                if cell is not None and not cell.stopped:
                    await cell.stop()
                elif self._forgets(record):
                    self._table.remove(record)
                return None
            case RestartChild():
                if record.cell is not None and not record.cell.stopped:
                    raise ChildRunning(
                        f"child '{record.name}' of supervisor '{self.name}' is {record.phase()}; only a "
                        f"terminated child can be restarted by hand: terminate_child(sup, '{record.name}') first"
                    )
                return await self._start(record, "its spec is kept", forget=False)
            case DeleteChild():
                if record.cell is not None and not record.cell.stopped:
                    raise ChildRunning(
                        f"child '{record.name}' of supervisor '{self.name}' is {record.phase()} and cannot be "
                        f"deleted; terminate_child(sup, '{record.name}') first"
                    )
                self._table.remove(record)
                return None
        raise AssertionError(request)  # pragma: no cover

    async def _start_dynamic(self, spec: ChildSpec | Supervisor) -> ActorRef[Any]:
        name = spec.name
        if name is not None and (existing := self._table.named(name)) is not None:
            raise ActorNameTaken(
                f"supervisor '{self.name}' already has a child named '{name}' ({existing.phase()}); "
                f"choose another name, or terminate_child and delete_child it first"
            )
        limit = self.max_children
        if limit is not None and len(self._table) >= limit:
            raise TooManyChildren(
                f"supervisor '{self.name}' already has {len(self._table)} children, its max_children; "
                f"child {safe_repr(name) if name else type(spec).__name__} was not started. Wait for a child "
                f"to end, or terminate_child and delete_child one"
            )
        record = Child(spec, dynamic=True)
        self._table.add(record)
        try:
            return await self._start(record, "nothing was started")
        except ActorNameTaken as exc:
            raise ActorNameTaken(f"supervisor '{self.name}' cannot start child '{name}': {exc}") from exc

    # A Supervisor keeps the spec of a child that ended for good (except a temporary
    # one's), as OTP's supervisor does; a DynamicSupervisor forgets every ended child.
    _forgets_ended_children = False
    _forgotten_hint = "a temporary child is forgotten once it ends"

    def _forgets(self, record: Child) -> bool:
        return record.restart == "temporary" or self._forgets_ended_children

    def _find(self, name: Any) -> Child:
        record = self._table.named(name) if isinstance(name, str) else None
        if record is None:
            names = self._table.names()
            known = ", ".join(f"'{n}'" for n in names[:10]) or "none"
            if len(names) > 10:
                known += f", ... ({len(names)} in all)"
            raise ActorNotFound(
                f"supervisor '{self.name}' has no child named {safe_repr(name)} (its children: {known}); "
                f"{self._forgotten_hint}"
            )
        return record

    # -- the parent policy (actors.lowlevel.ParentPolicy) -----------------

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        """A child's incarnation ended: decide (stop, keep, restart later in this supervisor's task)."""
        record = child.spec
        if record not in self._table:
            return Directive.stop()  # spawned by hand with self.spawn: not supervised by spec
        if error is not None:
            self._publish(ChildFailed(self.ref.path, child.path, error))
            decision = self._decide(record, child, error)
            if decision is None:
                return None  # the decide function failed: so does this supervisor (queued)
            if decision is Decision.RESUME:
                return Directive.continue_()
            if decision is Decision.STOP:
                return Directive.stop()
            if decision is Decision.ESCALATE:
                lowlevel.run_soon(self, self._escalate, child, error)
                return None
        restart = record.restart
        if restart == "temporary" or (restart == "transient" and error is None):
            return Directive.stop()
        lowlevel.run_soon(self, self._restart, child, error)
        return None

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """This supervisor restarts: its static children are suspended (its next incarnation
        resumes them), its dynamic ones stopped (as in OTP)."""
        reason = lowlevel.handle(self).last_error
        for record in reversed(list(self._table)):
            cell = record.cell
            if cell is None or cell.stopped:
                continue
            if record.dynamic:
                await cell.stop()  # a restarted supervisor starts from its spec, as in OTP
            else:
                await cell.suspend(reason)

    def child_stopped(self, child: ChildHandle) -> None:
        """A child ended for good: update its record, publish `ChildStopped`."""
        record = child.spec
        self._due.pop(child, None)
        if record not in self._table:
            return
        if record.cell is child or record.cell is None:
            record.cell = None
            record.restarts = max(0, child.incarnations - 1)
            self._backoff_state.pop(record, None)
            if self._forgets(record):
                self._table.remove(record)  # as in OTP: a temporary child leaves no spec behind
        self._publish(ChildStopped(self.ref.path, child.path, child.stop_reason))

    # -- policy ------------------------------------------------------------

    def _decide(self, record: Child, child: ChildHandle, error: BaseException) -> Decision | None:
        decide = self.strategy.decide
        if decide is None:
            return Decision.RESTART
        try:
            decision = decide(error)
            if not isinstance(decision, Decision):
                raise TypeError(f"it returned {safe_repr(decision)} (a {type(decision).__name__}), not a Decision")
        except Exception as exc:
            lowlevel.run_soon(self, self._decide_failed, child, error, exc)
            return None
        if decision is Decision.RESUME and (not child.started or record.kind == "supervisor"):
            return Decision.RESTART  # no working instance to keep: restart it
        return decision

    async def _restart(self, child: ChildHandle, error: BaseException | None) -> None:
        """Runs in this supervisor's task: restart what the strategy says, or give up."""
        if child.phase is not Phase.EXITING:
            return  # resolved meanwhile (stopped, or restarted with its siblings)
        now = trio.current_time()
        await self._count_restart(child, error, now)
        delay = self._next_delay(child.spec, now)
        affected = self.strategy.affected(self._table.living(), child)
        # Erlang/OTP: a temporary sibling is never restarted, only stopped with the group.
        temporary = {c for c in affected if c is not child and c.spec.restart == "temporary"}
        due = now + delay
        for cell in affected:
            if cell not in temporary:
                # A child already waiting for an earlier failure's restart waits for both.
                when = max(due, self._due[cell][0]) if cell in self._due else due
                self._due[cell] = (when, error)
                self._publish(ChildRestarted(self.ref.path, cell.path, error, cell.incarnations, when - now))
        if affected == [child]:
            child.resolve(Directive.restart(self._due[child][0] - now))  # it waits out its backoff itself
            return
        for cell in reversed(affected):
            if cell in temporary:
                await cell.stop()
            else:
                await cell.suspend(error)
        if delay > 0:
            self.schedule_once(delay, RestartDue())  # meanwhile this supervisor serves on
        await self._resume_due()

    async def _resume_due(self) -> None:
        """Start again, in start order, the suspended children whose restart is due."""
        now = trio.current_time()
        for cell in self._table.living():
            entry = self._due.get(cell)
            if entry is None or entry[0] > now:
                continue
            del self._due[cell]
            if cell.phase is Phase.SUSPENDED:
                await cell.resume(entry[1])

    async def _count_restart(self, child: ChildHandle, error: BaseException | None, now: float) -> None:
        strategy = self.strategy
        times = self._restart_times
        while times and times[0][0] <= now - strategy.within:
            times.popleft()
        if len(times) >= strategy.max_restarts:
            await self._give_up(child, error)
        times.append((now, child.name))

    def _next_delay(self, record: Child, now: float) -> float:
        backoff = self.strategy.backoff
        if backoff is None:
            return 0.0
        attempt, restarted_at = self._backoff_state.get(record, (0, now))
        if now - restarted_at >= self.strategy.within:
            attempt = 0  # it ran quietly long enough: start again from the initial delay
        delay = backoff.delay(attempt)
        self._backoff_state[record] = (attempt + 1, now + delay)  # it runs again from now + delay
        return delay

    async def _give_up(self, child: ChildHandle, error: BaseException | None) -> None:
        strategy = self.strategy
        if error is None:
            error = ActorError(f"actor '{child.name}' kept exiting normally (restart='permanent')")
        self._publish(SupervisorGaveUp(self.ref.path, child.path, error, strategy.max_restarts, strategy.within))
        window = "ever" if strategy.within == math.inf else f"within {strategy.within:g} s"
        if strategy.max_restarts == 0:
            counted = "its strategy allows no restarts (max_restarts=0)"
        else:
            times = self._restart_times
            per_child = collections.Counter(name for _, name in times)
            listing = ", ".join(f"'{name}' {count}" for name, count in per_child.items())
            counted = (
                f"its children had already been restarted {len(times)} time{'s' * (len(times) != 1)} "
                f"{window} ({listing}), as many as max_restarts={strategy.max_restarts} allows"
            )
        await self._fail(
            child,
            error,
            f"supervisor '{self.name}' gave up: child '{child.name}' failed and {counted}; last error: "
            f"{_last(error)}. Fix the failing child, or raise max_restarts/within on the strategy",
        )

    async def _escalate(self, child: ChildHandle, error: BaseException) -> None:
        await self._fail(
            child,
            error,
            f"supervisor '{self.name}' escalated the failure of child '{child.name}' (its strategy's decide "
            f"function returned Decision.ESCALATE for {_last(error)})",
        )

    async def _decide_failed(self, child: ChildHandle, error: BaseException, exc: Exception) -> None:
        await self._fail(
            child,
            exc,
            f"supervisor '{self.name}' failed: its strategy's decide function raised {safe_repr(exc)} while "
            f"deciding about child '{child.name}', which failed with {safe_repr(error)}. A decide function must "
            f"return a Decision (RESTART, RESUME, STOP or ESCALATE) and not raise",
        )

    async def _fail(self, child: ChildHandle, error: BaseException, message: str) -> None:
        """Stop the children (last started first) and fail this supervisor with ``message``."""
        for living in reversed(self._table.living()):
            await living.suspend(error)
        raise EscalatedFailure(message, supervisor=self.name, child=child.name, error=error)

    # -- helpers -----------------------------------------------------------

    def _actors_inspect_children(self) -> tuple[list[ChildInfo], ChildCounts]:
        """For ``system.inspect()``: `which_children` and `count_children`, read in place."""
        return [record.info() for record in self._table], self._table.counts()

    def _publish(self, event: SupervisionEvent) -> None:
        log.info("%s", SafeRepr(event), extra={"actor": event.supervisor, "trace_id": "-"})
        self.system.publish(SupervisionEvent, event)


def _last(error: BaseException) -> str:
    if isinstance(error, EscalatedFailure):
        return f"supervisor '{error.supervisor}' gave up (the failure started as {safe_repr(error.root_cause)})"
    return safe_repr(error)


def restart_count(ref: ActorRef[Any]) -> int:
    """How many times the actor behind ``ref`` has been restarted so far."""
    check_instance(ref, ActorRef, "restart_count", "an ActorRef")
    return max(0, lowlevel.handle(ref).incarnations - 1)
