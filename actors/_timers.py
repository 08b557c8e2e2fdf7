"""Timers: messages an actor schedules for itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from ._checks import check_seconds

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Timer"]


class Timer:
    """A scheduled message; ``cancel()`` it to stop it.

    Made by `Actor.schedule_once` and `Actor.schedule_every`. A timer belongs to
    one incarnation of its actor: it is cancelled when the actor stops or is
    restarted. A timer set while handling a message delivers into that
    message's conversation (its trace id), like a tell made there.
    """

    __slots__ = ("_cell", "_scope", "_trace_id", "interval", "message", "repeat")

    _cell: Cell
    _scope: trio.CancelScope
    _trace_id: int | None
    interval: float
    """Seconds before it fires (between firings, if it repeats)."""
    message: Any
    """What it delivers to its actor."""
    repeat: bool
    """True for ``schedule_every``."""

    def __init__(self) -> None:
        raise TypeError("Timer has no public constructor; use self.schedule_once() or self.schedule_every()")

    @classmethod
    def _start(cls, cell: Cell, interval: float, message: Any, repeat: bool) -> Timer:
        interval = check_seconds("interval" if repeat else "delay", interval, zero=not repeat)
        self = object.__new__(cls)
        self._cell = cell
        self._trace_id = None if cell.current is None else cell.current.trace_id
        self._scope = trio.CancelScope()
        self.interval = interval
        self.message = message
        self.repeat = repeat
        assert cell.home is not None and cell.timers is not None
        cell.timers.add(self)  # now, not when its task first runs: a stop right after cancels it
        cell.home.start_soon(self._run)
        return self

    @property
    def active(self) -> bool:
        """True until the timer fired its last time or was cancelled."""
        return not self._scope.cancel_called

    def cancel(self) -> None:
        """Stop the timer; a message it already delivered stays delivered."""
        self._scope.cancel()

    async def _run(self) -> None:
        cell = self._cell
        timers = cell.timers
        assert timers is not None  # made by Cell.schedule before any timer starts
        try:
            with self._scope:
                when = trio.current_time() + self.interval
                while True:
                    await trio.sleep_until(when)
                    cell.deliver_from_timer(self.message, self._trace_id)
                    if not self.repeat:
                        break
                    when += self.interval
        finally:
            self._scope.cancel()
            timers.discard(self)
