"""Logging with actor context: each record says which actor and which conversation.

The runtime logs on two loggers: ``actors`` (failures, dead letters at DEBUG)
and ``supervision`` (restarts, give-ups). Unlike trio and pykka, it adds no
``NullHandler`` to them, on purpose: a failure nobody saw (a told message whose
handler raised, an ``on_stop`` that failed) is then printed to stderr by
Python's last-resort handler even in a program that never configured logging,
instead of vanishing. Configure logging as usual to route these records; to
silence them, ``logging.getLogger("actors").setLevel(logging.CRITICAL)`` (and
the same for ``"supervision"``).
"""

from __future__ import annotations

import logging

from ._context import current_cell

__all__ = ["ActorContextFilter"]


class ActorContextFilter(logging.Filter):
    """Adds ``actor`` (the path, or "-") and ``trace_id`` ("-" if none) to every record.

    Attach it to a handler, then use them in the format::

        handler.addFilter(ActorContextFilter())
        handler.setFormatter(logging.Formatter("%(actor)s [%(trace_id)s] %(message)s"))

    Any ``logging`` call made while an actor handles a message (the actor's
    own, or a library's) then names that actor and the message's trace id. The
    runtime's own records of failures carry both too (set with ``extra=``), so
    they also work without the filter, for instance under pytest's ``caplog``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.actor`` and ``record.trace_id`` (unless set already); keep the record."""
        if hasattr(record, "actor") and hasattr(record, "trace_id"):
            return True  # set by the runtime itself (``extra=``): a failure it logs after the handler
        cell = current_cell.get()
        if cell is None:
            record.actor = "-"
            record.trace_id = "-"
        else:
            record.actor = cell.path
            envelope = cell.current
            record.trace_id = envelope.trace_id if envelope is not None else "-"
        return True
