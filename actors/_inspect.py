"""A snapshot of the actors of a system, for dashboards, the live view and debugging.

Also, for a node (a system with a transport), what it serves to other nodes:
`node_info` names the public names it serves and which nodes serve each now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._states import Phase
from ._text import safe_repr

if TYPE_CHECKING:
    from ._cell import Cell
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["ActorInfo", "NodeInfo", "ServedName", "node_info", "snapshot"]


@attrs.frozen
class ActorInfo:
    """What one actor is doing right now.

    Attributes:
      ref: its ref.
      path: its place in the tree, like ``/team/planner``.
      depth: how deep in the tree (top-level actors are 1).
      actor_type: the class name.
      state: "idle" (never sent anything), "running" (waiting for or handling
        messages), "handling" (inside a handler now), "restarting",
        "suspended", "exiting" (waiting on its supervisor) or "stopped".
      mailbox: messages waiting.
      restarts: how often it has been restarted.
      last_error: repr of the last failure, or None.
      children: how many living children.
      supervised: for a supervisor, its children as ``supervision.ChildInfo``
        values (what ``which_children`` answers: running or not, in start
        order); None for other actors.
      child_counts: for a supervisor, ``supervision.ChildCounts`` (what
        ``count_children`` answers); None for other actors.
      public: True when the actor serves its name to other nodes
        (``spawn(..., public=True)`` on a system with a transport).
    """

    ref: ActorRef[Any] = attrs.field(repr=False)
    path: str
    depth: int
    actor_type: str
    state: str
    mailbox: int
    restarts: int
    last_error: str | None
    children: int
    supervised: tuple[Any, ...] | None = attrs.field(default=None, repr=False)
    child_counts: Any = None
    public: bool = False


@attrs.frozen
class ServedName:
    """A public name a node serves, and the nodes that serve it now (a worker pool has
    several); ``servers`` is None when the transport could not be asked (Redis away)."""

    name: str
    servers: tuple[str, ...] | None


@attrs.frozen
class NodeInfo:
    """What a node (a system opened with ``node=`` and ``transport=``) serves to the others."""

    node: str
    namespace: str
    serving: tuple[ServedName, ...]


def _state(cell: Cell) -> str:
    if cell.stopped:
        return "stopped"
    phase = cell.phase
    if phase is Phase.NEW:
        return "idle"
    if phase is Phase.STARTING:  # (its on_start or on_restart runs)
        return "idle" if cell.incarnations <= 1 else "restarting"
    if phase is Phase.RUNNING and cell.current is not None:
        return "handling"
    return phase.value


def snapshot(root: Cell) -> list[ActorInfo]:
    """Every living actor under ``root``, parents before children, in start order."""
    found: list[ActorInfo] = []
    remote = root.system._remote

    def walk(cell: Cell, depth: int) -> None:
        for child in list(cell.children.values()):
            if child.stopped:
                continue
            # A supervisor describes its children itself (supervision builds on actors,
            # never the other way round: duck-typed, no import).
            describe = getattr(child.instance, "_actors_inspect_children", None)
            supervised, counts = describe() if describe is not None else (None, None)
            found.append(
                ActorInfo(
                    child.ref,
                    child.path,
                    depth,
                    child.actor_cls.__name__,
                    _state(child),
                    len(child.mailbox),
                    max(0, child.incarnations - 1),
                    None if child.last_error is None else safe_repr(child.last_error),
                    sum(1 for c in child.children.values() if not c.stopped),
                    None if supervised is None else tuple(supervised),
                    counts,
                    remote is not None and remote.public_name_of(child) is not None,
                )
            )
            walk(child, depth + 1)

    walk(root, 1)
    return found


async def node_info(system: ActorSystem) -> NodeInfo | None:
    """What ``system`` serves as a node, asking its transport who serves each name
    (one round trip per name); None for a system without a transport."""
    remote = system._remote
    if remote is None:
        return None
    serving = []
    for name in remote.public_names():
        try:
            servers: tuple[str, ...] | None = tuple(await remote.serving(name))
        except Exception:  # the transport cannot tell now (Redis away): shown as unknown
            servers = None
        serving.append(ServedName(name, servers))
    return NodeInfo(remote.node, remote.namespace, tuple(serving))
