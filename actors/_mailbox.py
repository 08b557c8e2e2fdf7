"""An actor's inbox: a deque with a lazy wake-up of the one task that drains it.

Putting a message is a plain append (no await, no task switch); only when the
consumer is parked on an empty mailbox is it rescheduled. The consumer then
drains messages in batches. This is what makes ``tell`` fast: an ``await`` per
message (as with a memory channel) costs a task switch each time.

The API for the consumer (the cell's dispatch loop), in full: test
``mailbox.queue`` for emptiness, take with `Mailbox.popleft` (or the callable
`Mailbox.taker` returns), and park on an
empty mailbox with ``mailbox.arm(task)`` followed by
``await trio.lowlevel.wait_task_rescheduled(mailbox.abort_wait)`` (`Mailbox.wait`
in two halves, without a coroutine frame per park). Producers use
`Mailbox.put_nowait`, `Mailbox.wait_for_space` and `Mailbox.full`. Nobody else
reads or writes the mailbox's fields.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ._checks import check_count
from ._exceptions import MailboxFull

if TYPE_CHECKING:
    from ._envelope import Envelope

__all__ = ["Mailbox"]

_reschedule = trio.lowlevel.reschedule

#: Stands for the consumer of a mailbox whose task has not started yet: the
#: first put (or wake) starts it, through the mailbox's launcher.
_UNSTARTED: Any = object()


class Mailbox:
    """FIFO of envelopes, unbounded unless ``maxsize`` is given.

    One consumer task (the actor's) may wait on it; any number of producers put.
    """

    __slots__ = ("_consumer", "_launcher", "_owner", "_space", "maxsize", "queue")

    def __init__(self, maxsize: int | None, owner: str) -> None:
        if maxsize is not None:
            check_count("mailbox_size", maxsize, optional=True)
        self.queue: collections.deque[Envelope] = collections.deque()
        """The envelopes waiting, oldest first: read-only outside this class (test it, never change it)."""
        self.maxsize = maxsize
        """The bound, or None when unbounded (read-only)."""
        self._owner = owner
        self._consumer: trio.lowlevel.Task | None = None
        self._space: trio.lowlevel.ParkingLot | None = None
        self._launcher: Callable[[], None] | None = None

    def start_lazily(self, launcher: Callable[[], None]) -> None:
        """Call ``launcher()`` (which starts the consumer task) on the first put or wake."""
        self._launcher = launcher
        self._consumer = _UNSTARTED

    def disarm(self) -> bool:
        """If the consumer was never started, forget the launcher and return True."""
        if self._consumer is _UNSTARTED:
            self._consumer = None
            self._launcher = None
            return True
        return False

    def __len__(self) -> int:
        return len(self.queue)

    def full(self) -> bool:
        """True when a bounded mailbox has no room."""
        return self.maxsize is not None and len(self.queue) >= self.maxsize

    def put_nowait(self, envelope: Envelope, force: bool = False) -> None:
        """Append, or raise `MailboxFull` when bounded and full (unless ``force``)."""
        if self.maxsize is not None and len(self.queue) >= self.maxsize and not force:
            raise MailboxFull(
                f"mailbox of actor '{self._owner}' is full ({self.maxsize} messages) and cannot "
                f"take {type(envelope.message).__name__}; use 'await ref.send(message)' to wait "
                f"for space, or spawn it with a larger mailbox_size"
            )
        self.queue.append(envelope)
        consumer = self._consumer
        if consumer is not None:  # (`wake`, inlined for a parked consumer: one call less)
            self._consumer = None
            if consumer is _UNSTARTED:
                self._launch()
            else:
                _reschedule(consumer)

    async def wait_for_space(self) -> None:
        """Return once a put would not raise `MailboxFull` (a checkpoint either way)."""
        while self.full():
            if self._space is None:
                self._space = trio.lowlevel.ParkingLot()
            await self._space.park()
        await trio.lowlevel.checkpoint_if_cancelled()

    def popleft(self) -> Envelope:
        """Take the oldest envelope (the caller checked the mailbox is not empty)."""
        envelope = self.queue.popleft()
        if self._space is not None:
            self._space.unpark()  # (a producer waiting for room; none: nothing happens)
        return envelope

    def taker(self) -> Callable[[], Envelope]:
        """The fastest way to `popleft`, for the consumer's loop.

        For an unbounded mailbox that is the deque's own ``popleft`` (no
        producer ever waits for room, so there is nobody to wake): one Python
        call fewer per message.
        """
        return self.queue.popleft if self.maxsize is None else self.popleft

    def drain(self) -> list[Envelope]:
        """Take every envelope at once, waking every producer waiting for space."""
        items = list(self.queue)
        self.queue.clear()
        if self._space is not None:
            self._space.unpark_all()
        return items

    async def wait(self) -> None:
        """Park the consumer until something is put or `wake` is called.

        The dispatch loop does the same in two halves (`arm`, then
        ``wait_task_rescheduled(abort_wait)``) to save a coroutine frame per park.
        """
        self._consumer = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self.abort_wait)

    def arm(self, consumer: trio.lowlevel.Task) -> None:
        """First half of `wait`: the next put (or `wake`) reschedules ``consumer``.

        The consumer must then park at once with
        ``await trio.lowlevel.wait_task_rescheduled(mailbox.abort_wait)``.
        """
        self._consumer = consumer

    def abort_wait(self, _: object) -> trio.lowlevel.Abort:
        """Abort function for a parked consumer (cancellation while waiting)."""
        self._consumer = None
        return trio.lowlevel.Abort.SUCCEEDED

    def wake(self) -> None:
        """Wake a parked consumer without a message (for a control signal)."""
        consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            if consumer is _UNSTARTED:
                self._launch()
            else:
                _reschedule(consumer)

    def _launch(self) -> None:
        launcher, self._launcher = self._launcher, None
        assert launcher is not None
        launcher()
