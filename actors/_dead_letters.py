"""Dead letters: the record of every message that could not be delivered or answered."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import attrs

if TYPE_CHECKING:
    from ._envelope import Envelope
    from ._ref import ActorRef

__all__ = ["DeadLetter", "DeadLetters"]


@attrs.frozen
class DeadLetter:
    """One message that was not handled or whose answer had nowhere to go.

    Attributes:
      message: the message (or, for a late reply, the reply value).
      recipient: the `ActorRef` it was addressed to (None for a late reply
        whose asker was outside any actor).
      reason: what happened, in words.
      sender: the sender's ref, or None.
      error: the exception involved, if any (a handler's failure, say).
      envelope: the full envelope, with correlation and trace ids.
    """

    message: Any
    recipient: ActorRef[Any] | None
    reason: str
    sender: ActorRef[Any] | None = None
    error: BaseException | None = None
    envelope: Envelope | None = attrs.field(default=None, repr=False)


class DeadLetters(Sequence[DeadLetter]):
    """A bounded, read-only sequence of the newest dead letters.

    Oldest records are dropped first once ``maxlen`` is reached; ``total``
    counts every record ever made, dropped or not. Subscribe an actor to the
    topic `DeadLetter` (``system.subscribe(ref, DeadLetter)``) to be told of
    each one as it happens.
    """

    def __init__(self, maxlen: int) -> None:
        self._records: collections.deque[DeadLetter] = collections.deque(maxlen=maxlen)
        self.total = 0

    @property
    def maxlen(self) -> int:
        """How many records are kept."""
        return self._records.maxlen or 0

    def _append(self, record: DeadLetter) -> None:
        self._records.append(record)
        self.total += 1

    def clear(self) -> None:
        """Forget the kept records (``total`` keeps counting)."""
        self._records.clear()

    @overload
    def __getitem__(self, index: int) -> DeadLetter: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DeadLetter]: ...
    def __getitem__(self, index: int | slice) -> DeadLetter | Sequence[DeadLetter]:
        if isinstance(index, slice):
            return list(self._records)[index]
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(list(self._records))

    def __repr__(self) -> str:
        return f"<DeadLetters {len(self)} kept of {self.total}>"
