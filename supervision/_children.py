"""A supervisor's children: the records it keeps, what it reports about them, and the
requests `start_child` and friends send it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import attrs

from actors import ActorRef

from ._spec import ChildSpec, Restart

if TYPE_CHECKING:
    from actors.lowlevel import ChildHandle

    from ._supervisor import Supervisor

__all__ = ["ChildCounts", "ChildInfo", "ChildTable", "Kind", "Phase"]

Kind = Literal["worker", "supervisor"]
Phase = Literal["running", "restarting", "stopping", "terminated"]


@attrs.frozen
class ChildInfo:
    """One child of a supervisor, as `which_children` reports it (OTP's ``which_children``).

    Attributes:
      name: the child's name (unique in the system).
      ref: its ref, or None when it is not running (``phase == "terminated"``).
      restart: its restart type: "permanent", "transient" or "temporary".
      kind: "worker", or "supervisor" for a nested supervision tree.
      phase: "running" (started, handling or waiting for messages);
        "restarting" (failed, or stopped with its group, and waiting to be
        started again: a backoff, a group restart, its supervisor's restart);
        "stopping" (stopped, not yet ended); "terminated" (not running; its spec
        is kept: `restart_child` starts it again, `delete_child` forgets it).
      restarts: how many times the current (or last) incarnation chain was
        restarted, as `restart_count` counts.
      dynamic: True for a child added with `start_child` (a restart of the
        supervisor stops it and forgets its spec, as in OTP).
    """

    name: str
    ref: ActorRef[Any] | None = attrs.field(eq=False)
    restart: Restart
    kind: Kind
    phase: Phase
    restarts: int
    dynamic: bool


@attrs.frozen
class ChildCounts:
    """How many children a supervisor has (OTP's ``count_children``).

    Attributes:
      specs: every child it knows, running or not.
      active: children running now (phase "running").
      supervisors: children that are supervisors, running or not.
      workers: children that are workers, running or not.
    """

    specs: int
    active: int
    supervisors: int
    workers: int


class Child:
    """A supervisor's record of one child: its spec and, while it runs, its cell.

    The cell's ``spec`` slot points at this record, so a failure of the cell
    finds it at once. A static child's record outlives the supervisor's own
    restarts (the new incarnation adopts it with the child's cell).
    """

    __slots__ = ("cell", "dynamic", "name", "restarts", "spec")

    def __init__(self, spec: ChildSpec | Supervisor, *, dynamic: bool) -> None:
        self.spec = spec
        self.name: str | None = spec.name
        self.cell: ChildHandle | None = None  # None: not running (or not started yet)
        self.dynamic = dynamic
        self.restarts = 0  # of the last cell, kept once it has ended

    @property
    def restart(self) -> Restart:
        return self.spec.restart if isinstance(self.spec, ChildSpec) else "permanent"

    @property
    def kind(self) -> Kind:
        return "worker" if isinstance(self.spec, ChildSpec) else "supervisor"

    def phase(self) -> Phase:
        cell = self.cell
        if cell is None or cell.stopped:
            return "terminated"
        if cell.closed:
            return "stopping"
        if cell.phase in ("new", "running") or (cell.phase == "starting" and cell.incarnations <= 1):
            return "running"
        return "restarting"

    def info(self) -> ChildInfo:
        cell = self.cell
        ref: ActorRef[Any] | None = None
        restarts = self.restarts
        if cell is not None and not cell.stopped:
            ref, restarts = cell.ref, max(0, cell.incarnations - 1)
        return ChildInfo(self.name or "?", ref, self.restart, self.kind, self.phase(), restarts, self.dynamic)

    def __repr__(self) -> str:
        return f"<child {self.name!r} {self.phase()}>"


class ChildTable:
    """A supervisor's children in start order, with an index by name.

    Invariant: ``_names[r.name] is r`` for every record ``r`` with a name; the
    order of ``_order`` is the start order (RestForOne's "started after").
    """

    __slots__ = ("_names", "_order")

    def __init__(self) -> None:
        self._order: dict[Child, None] = {}
        self._names: dict[str, Child] = {}

    def __iter__(self) -> Iterator[Child]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, record: object) -> bool:
        return record in self._order

    def add(self, record: Child) -> None:
        self._order[record] = None
        if record.name is not None:
            self._names[record.name] = record

    def remove(self, record: Child) -> None:
        self._order.pop(record, None)
        if record.name is not None and self._names.get(record.name) is record:
            del self._names[record.name]

    def named(self, name: str) -> Child | None:
        return self._names.get(name)

    def started(self, record: Child, cell: ChildHandle) -> None:
        """``record`` runs as ``cell`` now (unless that cell already ended)."""
        if record.name is None:
            record.name = cell.name
            if record in self._order:
                self._names[cell.name] = record
        if not cell.stopped:
            record.cell = cell

    def living(self) -> list[ChildHandle]:
        """The cells of the children that have not stopped, in start order."""
        return [r.cell for r in self._order if r.cell is not None and not r.cell.stopped]

    def names(self) -> list[str]:
        return [r.name for r in self._order if r.name is not None]

    def counts(self) -> ChildCounts:
        records = list(self._order)
        supervisors = sum(1 for r in records if r.kind == "supervisor")
        active = sum(1 for r in records if r.phase() == "running")
        return ChildCounts(len(records), active, supervisors, len(records) - supervisors)


# -- requests (sent by start_child and friends; answered by Supervisor.receive) ------


@attrs.frozen
class StartChild:
    spec: ChildSpec | Supervisor


@attrs.frozen
class TerminateChild:
    name: str


@attrs.frozen
class RestartChild:
    name: str


@attrs.frozen
class DeleteChild:
    name: str


@attrs.frozen
class WhichChildren:
    pass


@attrs.frozen
class CountChildren:
    pass


Request = StartChild | TerminateChild | RestartChild | DeleteChild | WhichChildren | CountChildren


@attrs.frozen
class RestartDue:
    """A supervisor's own timer: a group restart's backoff has run out."""
