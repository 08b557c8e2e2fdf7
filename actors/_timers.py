"""Timers: messages an actor schedules for itself, and the set of one actor's timers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ._checks import check_seconds
from ._threads import require_trio_thread

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["Timer", "TimerSet"]

#: How a timer delivers: ``deliver(message, trace_id)``.
Deliver = Callable[[Any, "int | None"], None]


class TimerSet:
    """The running timers of one actor: each delivers through one callback; all stop together.

    Its owner (the cell) makes one on the first timer, starts timers with
    `start` and ends them all with `cancel_all` when the incarnation ends.
    A timer leaves the set when it fires its last time or is cancelled.
    """

    __slots__ = ("_deliver", "_system", "_timers")

    def __init__(self, deliver: Deliver, system: ActorSystem) -> None:
        self._deliver = deliver
        self._system = system  # (whose thread may cancel a timer)
        self._timers: set[Timer] = set()

    def __len__(self) -> int:
        return len(self._timers)

    def start(
        self, nursery: trio.Nursery, interval: float, message: Any, *, repeat: bool, trace_id: int | None
    ) -> Timer:
        """Start a timer in ``nursery``: deliver ``message`` after ``interval`` seconds (and every
        ``interval`` after that, with ``repeat``)."""
        interval = check_seconds("interval" if repeat else "delay", interval, zero=not repeat)
        timer = Timer._create(self, interval, message, repeat, trace_id)
        self._timers.add(timer)  # now, not when its task first runs: a cancel_all right after ends it
        nursery.start_soon(timer._run)
        return timer

    def cancel_all(self) -> None:
        """Cancel every timer (messages they already delivered stay delivered)."""
        for timer in list(self._timers):
            timer._scope.cancel()


class Timer:
    """A scheduled message; ``cancel()`` it to stop it.

    Made by `Actor.schedule_once` and `Actor.schedule_every`. A timer belongs to
    one incarnation of its actor: it is cancelled when the actor stops or is
    restarted. A timer set while handling a message delivers into that
    message's conversation (its trace id), like a tell made there.
    """

    __slots__ = ("_scope", "_set", "_trace_id", "interval", "message", "repeat")

    _set: TimerSet
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
    def _create(cls, timers: TimerSet, interval: float, message: Any, repeat: bool, trace_id: int | None) -> Timer:
        self = object.__new__(cls)
        self._set = timers
        self._trace_id = trace_id
        self._scope = trio.CancelScope()
        self.interval = interval
        self.message = message
        self.repeat = repeat
        return self

    @property
    def active(self) -> bool:
        """True until the timer fired its last time or was cancelled."""
        return not self._scope.cancel_called

    def cancel(self) -> None:
        """Stop the timer; a message it already delivered stays delivered.

        Raises:
          RuntimeError: called in another thread than trio's.
        """
        require_trio_thread(
            self._set._system,
            "timer.cancel()",
            "tell the actor a message whose handler cancels it (ref.tell is thread-safe)",
        )
        self._scope.cancel()

    async def _run(self) -> None:
        timers = self._set
        try:
            with self._scope:
                when = trio.current_time() + self.interval
                while True:
                    await trio.sleep_until(when)
                    timers._deliver(self.message, self._trace_id)
                    if not self.repeat:
                        break
                    when += self.interval
        finally:
            self._scope.cancel()
            timers._timers.discard(self)
