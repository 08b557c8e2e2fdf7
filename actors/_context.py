"""The context variable that tells runtime code which actor is running."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["current_cell"]

#: The cell whose task (or a task it started) is running now; None outside actors.
current_cell: ContextVar[Cell | None] = ContextVar("actors_current_cell", default=None)
