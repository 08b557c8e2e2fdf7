"""Supervisor: an actor that starts children from specs and restarts them when they fail."""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from actors import Actor, ActorError, ActorRef, EscalatedFailure, lowlevel
from actors.lowlevel import ChildHandle, Directive, Phase, SafeRepr, check_instance, check_name, safe_repr

from ._events import ChildFailed, ChildRestarted, ChildStarted, ChildStopped, SupervisionEvent, SupervisorGaveUp
from ._spec import ChildSpec
from ._strategy import OneForOne, Strategy

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
    children keep their refs too.

    Past the strategy's restart intensity the supervisor gives up: it stops its
    children and fails with `actors.EscalatedFailure`, which its own parent
    handles like any child failure; past the root, ``open_actor_system()``
    raises it.

    Every decision is published on the system topic `SupervisionEvent`.
    A subclass overriding ``on_start``, ``on_restart`` or ``__init__`` must
    call the base method and keep the keyword arguments.
    """

    name: str
    strategy: Strategy
    children: tuple[ChildSpec | Supervisor, ...]

    def __init__(
        self,
        *,
        name: str,
        strategy: Strategy | None = None,
        children: Sequence[ChildSpec | Supervisor] = (),
    ) -> None:
        check_name(name, label="Supervisor name", wrong_type=ValueError)
        strategy = OneForOne() if strategy is None else strategy
        if not isinstance(strategy, Strategy):
            raise TypeError(
                f"strategy must be OneForOne(), OneForAll() or RestForOne(), not {type(strategy).__name__}"
            )
        if isinstance(children, (str, bytes)) or not isinstance(children, Sequence):
            raise TypeError("children must be a list of ChildSpec or Supervisor")
        names: set[str] = set()
        for child in children:
            if not isinstance(child, (ChildSpec, Supervisor)):
                hint = "; wrap it: ChildSpec(YourActor, name=...)" if isinstance(child, type) else ""
                raise TypeError(f"children of supervisor '{name}' must be ChildSpec or Supervisor, "
                                f"not {safe_repr(child)}{hint}")
            if child.name is not None:
                if child.name in names:
                    raise ValueError(f"supervisor '{name}' has two children named '{child.name}'")
                names.add(child.name)
        self.name = name
        self.strategy = strategy
        self.children: tuple[ChildSpec | Supervisor, ...] = tuple(children)
        self._order = {id(spec): index for index, spec in enumerate(self.children)}
        self._restart_times: collections.deque[float] = collections.deque()
        self._backoff_state: dict[ChildHandle, tuple[int, float]] = {}
        self._resume_reason: BaseException | None = None

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} {type(self.strategy).__name__} children={len(self.children)}>"

    # -- starting ----------------------------------------------------------

    async def _start_tree(self, parent: Actor) -> ActorRef[Any]:
        """Start this tree as a child of ``parent`` (``ActorSystem.spawn_tree`` calls it)."""
        kwargs = {"name": self.name, "strategy": self.strategy, "children": self.children}
        return await lowlevel.spawn_child(parent, type(self), (), kwargs, name=self.name, spec=self)

    async def on_restart(self, exc: BaseException) -> None:
        """Keep why this supervisor restarts: its children resume with that reason."""
        self._resume_reason = exc

    async def on_start(self) -> None:
        """Start the children in order (or resume them, after a restart of this supervisor)."""
        # Drop the reference at once: the failure's traceback holds the previous
        # incarnation, whose own _resume_reason would hold the one before, and so on.
        reason, self._resume_reason = self._resume_reason, None
        for spec in self.children:
            existing = self._child_of(spec)
            if existing is not None:
                await existing.resume(reason)
                continue
            if isinstance(spec, Supervisor):
                ref = await spec._start_tree(self)
            else:
                ref = await lowlevel.spawn_child(
                    self,
                    spec.actor_cls,
                    spec.args,
                    spec.kwargs,
                    name=spec.name,
                    mailbox_size=spec.mailbox_size,
                    shutdown_timeout=spec.shutdown_timeout,
                    message_timeout=spec.message_timeout,
                    spec=spec,
                )
            self._publish(ChildStarted(self.ref.path, ref.path))

    async def receive(self, message: Any) -> Any:
        """Answer `GetChildren` with the living children's refs, in start order."""
        if isinstance(message, GetChildren):
            return [child.ref for child in self._living()]
        self.unhandled(message)

    # -- the parent policy (actors.lowlevel.ParentPolicy) -----------------

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        """A child's incarnation ended: stop it, or restart it (later, in this supervisor's task)."""
        spec = child.spec
        if spec is None or id(spec) not in self._order:
            return Directive.stop()  # spawned by hand with self.spawn: not supervised by spec
        if error is not None:
            self._publish(ChildFailed(self.ref.path, child.path, error))
        restart = _restart_type(spec)
        if restart == "temporary" or (restart == "transient" and error is None):
            return Directive.stop()
        lowlevel.run_soon(self, self._restart, child, error)
        return None

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """This supervisor restarts: suspend its children (its next incarnation resumes them)."""
        for child in reversed(self._living()):
            await child.suspend(lowlevel.handle(self).last_error)

    def child_stopped(self, child: ChildHandle) -> None:
        """A child stopped for good: forget its backoff, publish `ChildStopped`."""
        self._backoff_state.pop(child, None)
        if child.spec is not None and id(child.spec) in self._order:
            self._publish(ChildStopped(self.ref.path, child.path, child.stop_reason))

    # -- policy ------------------------------------------------------------

    async def _restart(self, child: ChildHandle, error: BaseException | None) -> None:
        """Runs in this supervisor's task: restart what the strategy says, or give up."""
        if child.phase is not Phase.EXITING:
            return  # resolved meanwhile (stopped, or restarted with its siblings)
        strategy = self.strategy
        now = trio.current_time()
        times = self._restart_times
        while times and times[0] <= now - strategy.within:
            times.popleft()
        if len(times) >= strategy.max_restarts:
            await self._give_up(child, error)
        times.append(now)
        delay = self._next_delay(child, now)
        affected = strategy.affected(self._living(), child)
        # Erlang/OTP: a temporary sibling is never restarted, only stopped with the group.
        temporary = {c for c in affected if c is not child and _restart_type(c.spec) == "temporary"}
        for cell in affected:
            if cell not in temporary:
                self._publish(ChildRestarted(self.ref.path, cell.path, error, cell.incarnations, delay))
        if affected == [child]:
            child.resolve(Directive.restart(delay))
            return
        for cell in reversed(affected):
            if cell in temporary:
                await cell.stop()
            else:
                await cell.suspend(error)
        if delay > 0:
            await trio.sleep(delay)
        for cell in affected:
            if cell not in temporary:
                await cell.resume(error)

    def _next_delay(self, child: ChildHandle, now: float) -> float:
        backoff = self.strategy.backoff
        if backoff is None:
            return 0.0
        attempt, restarted_at = self._backoff_state.get(child, (0, now))
        if now - restarted_at >= self.strategy.within:
            attempt = 0  # it ran quietly long enough: start again from the initial delay
        delay = backoff.delay(attempt)
        self._backoff_state[child] = (attempt + 1, now + delay)  # it runs again from now + delay
        return delay

    async def _give_up(self, child: ChildHandle, error: BaseException | None) -> None:
        strategy = self.strategy
        if error is None:
            error = ActorError(f"actor '{child.name}' kept exiting normally (restart='permanent')")
        self._publish(SupervisorGaveUp(self.ref.path, child.path, error, strategy.max_restarts, strategy.within))
        for living in reversed(self._living()):
            await living.suspend(error)
        if isinstance(error, EscalatedFailure):
            last = f"supervisor '{error.supervisor}' gave up (the failure started as {safe_repr(error.root_cause)})"
        else:
            last = safe_repr(error)
        raise EscalatedFailure(
            f"supervisor '{self.name}' gave up: child '{child.name}' failed more than "
            f"{strategy.max_restarts} times within {strategy.within:g} s; last error: {last}. "
            f"Fix the failing child, or raise max_restarts/within on the strategy",
            supervisor=self.name,
            child=child.name,
            error=error,
        )

    # -- helpers -----------------------------------------------------------

    def _child_of(self, spec: ChildSpec | Supervisor) -> ChildHandle | None:
        for child in lowlevel.children(self):
            if child.spec is spec:
                return child
        return None

    def _living(self) -> list[ChildHandle]:
        """Living spec children in start (spec) order."""
        order = self._order
        living = [c for c in lowlevel.children(self) if id(c.spec) in order]
        living.sort(key=lambda c: order[id(c.spec)])
        return living

    def _publish(self, event: SupervisionEvent) -> None:
        log.info("%s", SafeRepr(event), extra={"actor": event.supervisor, "trace_id": "-"})
        self.system.publish(SupervisionEvent, event)


def _restart_type(spec: Any) -> str:
    return spec.restart if isinstance(spec, ChildSpec) else "permanent"


def restart_count(ref: ActorRef[Any]) -> int:
    """How many times the actor behind ``ref`` has been restarted so far."""
    check_instance(ref, ActorRef, "restart_count", "an ActorRef")
    return max(0, lowlevel.handle(ref).incarnations - 1)

