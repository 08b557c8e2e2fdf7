"""The context variable that tells runtime code which actor is running."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["acting_for", "blocking_cell", "current_cell"]

#: The cell whose task (or a task it started) is running now; None outside actors.
current_cell: ContextVar[Cell | None] = ContextVar("actors_current_cell", default=None)

#: Set in helper tasks that a handler waits on (gather's), so that the deadlock
#: guard treats their asks as the handler's own.
acting_for: ContextVar[Cell | None] = ContextVar("actors_acting_for", default=None)


def blocking_cell() -> Cell | None:
    """The actor whose handler is blocked by what the current task waits on, if any.

    That is the actor whose task this is, or whose task started this one (through
    any depth of nurseries: gather's, or the handler's own), since the handler
    cannot return before such a task ends.
    """
    cell = current_cell.get()
    if cell is None:
        return None
    task = trio.lowlevel.current_task()
    if cell.task is task or acting_for.get() is cell:
        return cell
    handler = cell.task
    if handler is None:
        return None
    nursery = task.parent_nursery
    while nursery is not None:
        parent = nursery.parent_task
        if parent is handler:
            return cell
        nursery = parent.parent_nursery
    return None
