"""Ask deadlines: one heap and one ticker task for the whole system.

Entering a trio cancel scope with a deadline costs several microseconds; an
ask instead pushes ``(deadline, id(reply), reply)`` on a heap (the id breaks
ties: replies do not compare), and a single ticker task expires overdue
replies: each completes itself with `AskTimeout` (`Reply._time_out`). Finished
replies stay in the heap until it is pruned (when it doubles), as trio prunes
its own deadlines.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any

import trio


if TYPE_CHECKING:
    from ._reply import Reply

__all__ = ["Deadlines"]


class Deadlines:
    """Expire replies at their deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Reply[Any]]] = []
        self._prune_at = 1024
        self._armed = math.inf  # the deadline the ticker sleeps until
        self._scope: trio.CancelScope | None = None
        self._life = trio.CancelScope(shield=True)  # the ticker's whole life: see close()

    def add(self, reply: Reply[Any], deadline: float) -> None:
        """Expire ``reply`` (made with this ``deadline``) at its deadline unless it is done by then."""
        heap = self._heap
        heapq.heappush(heap, (deadline, id(reply), reply))
        if len(heap) > self._prune_at:
            self._prune()
        if deadline < self._armed and self._scope is not None:
            self._armed = deadline
            self._scope.deadline = deadline

    def _prune(self) -> None:
        heap = [entry for entry in self._heap if not entry[2]._finished()]
        heapq.heapify(heap)
        self._heap = heap
        self._prune_at = max(1024, 2 * len(heap))

    def close(self) -> None:
        """End the ticker, now or as soon as it starts (it is shielded from other cancels)."""
        self._life.cancel()

    async def run(self) -> None:
        """The ticker: sleep until the earliest deadline, expire what is overdue, repeat.

        Shielded until `close`, so that deadlines keep expiring while the system shuts
        down after a cancel from outside.
        """
        with self._life:
            await self._tick()

    async def _tick(self) -> None:
        while True:
            heap = self._heap
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                heapq.heappop(heap)[2]._time_out()
            self._armed = heap[0][0] if heap else math.inf
            with trio.CancelScope(deadline=self._armed) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
