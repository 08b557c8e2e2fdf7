"""Dynamic supervision: children started, stopped and listed on a running supervisor
(Erlang/OTP's ``supervisor:start_child`` family, Elixir's ``DynamicSupervisor``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors import ActorRef, ActorStopped, UnhandledMessage, lowlevel
from actors.lowlevel import safe_repr

from ._children import (
    ChildCounts,
    ChildInfo,
    CountChildren,
    DeleteChild,
    Request,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._spec import ChildSpec
from ._strategy import Strategy
from ._supervisor import Supervisor

__all__ = [
    "DynamicSupervisor",
    "count_children",
    "delete_child",
    "restart_child",
    "start_child",
    "terminate_child",
    "which_children",
]


class DynamicSupervisor(Supervisor):
    """A `Supervisor` that starts empty: its children come and go with `start_child`.

    For agents made per task or per conversation (Elixir's ``DynamicSupervisor``,
    OTP's ``simple_one_for_one``). A child that ends for good (``self.stop()``,
    `terminate_child`, a failure it is not restarted for) is forgotten, spec and
    all, whatever its restart type, so ``max_children`` bounds the agents alive
    at once and nothing piles up. A ``temporary`` agent ends with its task or
    its first failure; a ``transient`` one is restarted after a failure and ends
    with its task. Start it like any tree::

        agents = await system.spawn_tree(DynamicSupervisor(name="agents", max_children=100))
        ref = await start_child(agents, ChildSpec(Researcher, question, restart="temporary"))

    Children it supervises are treated exactly as a `Supervisor`'s: strategy,
    restart intensity (counted over all of them), backoff, ``message_timeout``,
    stop order. When its own parent restarts it, it starts empty again.

    Args:
      name: its name (unique in the system).
      strategy: `OneForOne` (the default) suits independent agents; any
        strategy works, started-after order being the order of `start_child`.
      max_children: at most this many children at once (None: no limit);
        past it, `start_child` raises `TooManyChildren`.
    """

    def __init__(
        self,
        *,
        name: str,
        strategy: Strategy | None = None,
        max_children: int | None = None,
        children: Sequence[Any] = (),
    ) -> None:
        if children:
            raise TypeError(
                f"DynamicSupervisor '{name}' starts empty; add children with start_child(ref, spec) once it "
                f"runs, or use Supervisor(children=[...]) for children started with it"
            )
        super().__init__(name=name, strategy=strategy, max_children=max_children)

    _forgets_ended_children = True
    _forgotten_hint = "a DynamicSupervisor forgets a child once it ends"

    def _tree_kwargs(self) -> dict[str, Any]:
        return {"name": self.name, "strategy": self.strategy, "max_children": self.max_children}

    def __repr__(self) -> str:
        return f"<DynamicSupervisor {self.name!r} {type(self.strategy).__name__} max_children={self.max_children}>"


async def start_child(
    supervisor: ActorRef[Any], spec: ChildSpec | Supervisor, *, timeout: float | None = None
) -> ActorRef[Any]:
    """Start a child from ``spec`` under a running supervisor and return its ref.

    The child is supervised exactly like one from the tree: the supervisor's
    strategy, restart intensity and backoff apply, and it counts as started
    after every child the supervisor has now. Returns once its ``on_start``
    has run. Works from anywhere: the system block, a handler, another task.

    Args:
      supervisor: the ref of a running `Supervisor` (or `DynamicSupervisor`).
      spec: a `ChildSpec`, or a `Supervisor` value for a whole subtree.
      timeout: seconds to wait for the supervisor's answer (None: the
        system's ``ask_timeout``).

    Raises:
      TooManyChildren: the supervisor has ``max_children`` children already.
      actors.ActorNameTaken: the supervisor, or the system, has an actor of that name.
      ChildStartFailed: the child's ``__init__`` or ``on_start`` raised
        (its error is the ``__cause__``); nothing was started.
      actors.ActorStopped: the supervisor has stopped.
      TypeError: ``supervisor`` is not a supervisor's ref, or ``spec`` not a spec.
    """
    _check(supervisor, "start_child")
    if not isinstance(spec, (ChildSpec, Supervisor)):
        hint = "; wrap it: ChildSpec(YourActor, name=...)" if isinstance(spec, type) else ""
        raise TypeError(f"start_child() takes a ChildSpec or Supervisor, not {safe_repr(spec)}{hint}")
    child = f"child '{spec.name}'" if spec.name else f"a {type(spec).__name__} child"
    result: ActorRef[Any] = await _ask(supervisor, StartChild(spec), "start_child", f"start {child}", timeout)
    return result


async def terminate_child(supervisor: ActorRef[Any], name: str, *, timeout: float | None = None) -> None:
    """Stop the supervisor's child ``name`` for good, keeping its spec (OTP's ``terminate_child``).

    The child stops as on any stop (its handler gets its ``shutdown_timeout``,
    then ``on_stop``; its watchers get `actors.Terminated`); the supervisor does
    not restart it, whatever its restart type. `restart_child` starts it again;
    `delete_child` forgets it. A temporary child's spec is not kept. A child
    that is not running: nothing happens.

    Raises:
      actors.ActorNotFound: the supervisor has no child of that name.
      actors.ActorStopped: the supervisor has stopped.
    """
    await _ask(
        supervisor,
        TerminateChild(_name(name, "terminate_child")),
        "terminate_child",
        f"terminate child '{name}'",
        timeout,
    )


async def restart_child(supervisor: ActorRef[Any], name: str, *, timeout: float | None = None) -> ActorRef[Any]:
    """Start a terminated child again from its kept spec and return its (new) ref.

    As OTP's ``restart_child``: for a child stopped with `terminate_child` (or
    ``system.stop``, or a transient child that exited normally). It keeps its
    place in the start order; this restart does not count toward the intensity.

    Raises:
      ChildRunning: the child is running (terminate it first).
      actors.ActorNotFound: the supervisor has no child of that name.
      ChildStartFailed: its ``on_start`` raised (the spec is still kept).
      actors.ActorStopped: the supervisor has stopped.
    """
    result: ActorRef[Any] = await _ask(
        supervisor, RestartChild(_name(name, "restart_child")), "restart_child", f"restart child '{name}'", timeout
    )
    return result


async def delete_child(supervisor: ActorRef[Any], name: str, *, timeout: float | None = None) -> None:
    """Forget the spec of a terminated child (OTP's ``delete_child``).

    Raises:
      ChildRunning: the child is running: `terminate_child` it first.
      actors.ActorNotFound: the supervisor has no child of that name.
      actors.ActorStopped: the supervisor has stopped.
    """
    await _ask(supervisor, DeleteChild(_name(name, "delete_child")), "delete_child", f"delete child '{name}'", timeout)


async def which_children(supervisor: ActorRef[Any], *, timeout: float | None = None) -> list[ChildInfo]:
    """Every child the supervisor knows, running or not, in start order, as `ChildInfo`.

    Raises:
      actors.ActorStopped: the supervisor has stopped.
    """
    result: list[ChildInfo] = await _ask(supervisor, WhichChildren(), "which_children", "list its children", timeout)
    return result


async def count_children(supervisor: ActorRef[Any], *, timeout: float | None = None) -> ChildCounts:
    """How many children the supervisor has, as `ChildCounts` (specs, active, supervisors, workers).

    Raises:
      actors.ActorStopped: the supervisor has stopped.
    """
    result: ChildCounts = await _ask(supervisor, CountChildren(), "count_children", "count its children", timeout)
    return result


def _check(supervisor: Any, verb: str) -> None:
    if not isinstance(supervisor, ActorRef):
        raise TypeError(f"{verb}() takes a supervisor's ActorRef, not {safe_repr(supervisor)}")
    try:
        cls: Any = lowlevel.handle(supervisor).actor_cls
    except TypeError:  # (a remote ref: the supervisor itself answers)
        cls = None
    if isinstance(cls, type) and not issubclass(cls, Supervisor):
        raise TypeError(
            f"{verb}() takes a supervisor's ref, but '{supervisor.name}' is a {cls.__name__}, not a "
            f"Supervisor; start supervised children under a Supervisor or DynamicSupervisor"
        )


def _name(name: Any, verb: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{verb}() takes the child's name (a str), not {safe_repr(name)}")
    return name


async def _ask(supervisor: ActorRef[Any], request: Request, verb: str, what: str, timeout: float | None) -> Any:
    _check(supervisor, verb)
    try:
        return await supervisor.ask(request, timeout=timeout)
    except ActorStopped as exc:
        raise ActorStopped(
            f"supervisor '{supervisor.name}' has stopped, so it cannot {what}; look the supervisor up "
            f"again if its own supervisor restarts it ({exc})"
        ) from exc
    except UnhandledMessage as exc:  # (an address whose class was not known here)
        raise TypeError(f"'{supervisor.name}' is not a supervisor: it cannot {what}") from exc
