"""Ask deadlines: one heap and one ticker task, and how deadlines flow through a conversation.

Entering a trio cancel scope with a deadline costs several microseconds; an
ask instead pushes ``(deadline, seq, reply)`` on a heap (the sequence number
breaks ties in the order asks were made, so an outer ask expires before the
nested asks its handler made with the same, inherited, deadline), and a single
ticker task expires overdue replies: each completes itself with `AskTimeout`
(`Reply._time_out`). Finished
replies stay in the heap until it is pruned (when it doubles), as trio prunes
its own deadlines.

Deadlines flow with the conversation (gRPC's deadline propagation):

- A handler serving an ask runs under that ask's deadline. No per-message
  cancel scope is entered for it: when the ticker expires the reply, or the
  asker stops waiting (`Reply._abandon`), `asker_gave_up` has the serving
  cell cancel its handler scope, and the cell records the message as
  `AskAbandoned` (not a failure). An ask whose asker gave up before it was
  dequeued is dropped unhandled. So asks cost nothing extra until they are
  abandoned. Waits on worker threads end with the handler (no scope of theirs).
- An ask made while serving an ask gets the smaller of its own timeout and
  what is left of the served deadline (`ask_deadline`), so a chain
  A -> B -> C ends when A's deadline does.
- An actor class with ``finish_abandoned_asks = True`` opts out of both: its
  handlers run to their end (bounded by ``message_timeout`` and stops only).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING, Any

import trio

from ._context import blocking_cell
from ._exceptions import AskAbandoned, AskTimeout

if TYPE_CHECKING:
    from ._cell import Cell
    from ._envelope import Envelope
    from ._reply import Reply

_heappush = heapq.heappush

__all__ = ["Deadlines", "abandoned_error", "ask_deadline", "asker_gave_up", "binding_deadline", "served_deadline"]


class Deadlines:
    """Expire replies at their deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Reply[Any]]] = []
        self._seq = itertools.count()
        self._prune_at = 1024
        self._armed = math.inf  # the deadline the ticker sleeps until
        self._scope: trio.CancelScope | None = None
        self._life = trio.CancelScope(shield=True)  # the ticker's whole life: see close()

    def add(self, reply: Reply[Any], deadline: float) -> None:
        """Expire ``reply`` (made with this ``deadline``) at its deadline unless it is done by then."""
        heap = self._heap
        _heappush(heap, (deadline, next(self._seq), reply))
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


# ----------------------------------------------------------------------
# Deadlines flowing with the conversation


def served_deadline(cell: Cell) -> float:
    """The absolute deadline of the ask ``cell`` is handling (``math.inf`` for a tell or none)."""
    envelope = cell.current
    if envelope is None or envelope.reply is None:
        return math.inf
    return envelope.reply._deadline


def cuts(cell: Cell) -> bool:
    """True unless the actor's class opted out (``finish_abandoned_asks = True``)."""
    return not getattr(cell.instance, "finish_abandoned_asks", False)


def binding_deadline(cell: Cell) -> float:
    """The served deadline that limits ``cell``'s handler: `served_deadline`, unless opted out."""
    return served_deadline(cell) if cuts(cell) else math.inf


def ask_deadline(seconds: float) -> tuple[float, float, bool]:
    """The deadline of an ask made now with its own timeout of ``seconds``.

    Returns ``(deadline, seconds, inherited)``: made from a handler serving an ask
    (or a task it waits on), the ask gets the smaller of its own timeout and what
    is left of the served one; ``inherited`` is True when that was the smaller.
    """
    now = trio.current_time()
    deadline = now + seconds
    cell = blocking_cell()
    if cell is not None:
        served = binding_deadline(cell)
        if served < deadline:
            return served, max(0.0, served - now), True
    return deadline, seconds, False


def asker_gave_up(reply: Reply[Any]) -> None:
    """The asker of ``reply`` stopped waiting (deadline, cancel, a stream left early).

    If the target actor is handling that very ask now, it cancels its handler at
    its next checkpoint (and records `AskAbandoned`); a shielded section still
    finishes. An ask still queued is dropped when dequeued (see `Dispatcher`).
    """
    cell = reply._target
    if cell is not None and reply.envelope is not None:
        cell.cut_if_serving(reply.envelope)  # type: ignore[attr-defined]  # (a cell: Dispatcher)


def abandoned_error(cell: Cell, envelope: Envelope, *, started: bool) -> AskAbandoned:
    """The error recorded for a message whose asker gave up (``started``: its handler ran)."""
    what = type(envelope.message).__name__
    reply = envelope.reply
    why = (
        "its deadline passed"
        if reply is not None and isinstance(reply._error, AskTimeout)
        else "its asker stopped waiting (cancelled, or left a stream early)"
    )
    if started:
        return AskAbandoned(
            f"actor '{cell.name}' stopped handling {what}: {why}, so the handler was cancelled at its "
            f"next checkpoint; shield work that must finish with trio.CancelScope(shield=True)"
        )
    return AskAbandoned(f"actor '{cell.name}' dropped {what} unhandled: {why} before it was dequeued")
