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
    """The actor whose handler is blocked by what the current task waits on, if any."""
    cell = current_cell.get()
    if cell is None:
        return None
    if cell.task is trio.lowlevel.current_task() or acting_for.get() is cell:
        return cell
    return None
