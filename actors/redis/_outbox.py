"""The outbox: every write (tells, asks, replies, acknowledgements), pipelined.

``tell`` is sync and must return at once, and a thread hop costs ~100 us, so
writes are queued here and one flusher task sends everything queued as one
pipeline per hop: under load a hop carries hundreds of writes. Per sender the
queue is FIFO, and one pipeline runs at a time, so tells from one sender reach
a stream in the order sent.

If Redis cannot be reached, the batch goes back to the front of the queue and
is retried with backoff; the queue is bounded (``outbox_size``), past which
``tell`` raises `MailboxFull` at once.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._exceptions import MailboxFull
from ._client import Client, is_transient

__all__ = ["Ack", "Outbox", "Post", "Reply"]

log = logging.getLogger("actors.redis")

FIELD = b"m"  # the one field of a stream entry: the frame

# XADD unless the stream already holds ``limit`` entries (unacknowledged ones: acked
# entries are deleted), so a full inbox refuses instead of trimming unread messages.
_POST = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'm', ARGV[2])
"""


@attrs.define(slots=True)
class Post:
    """Append a frame to an inbox, unless it is full. ``done(accepted, error)``."""

    key: str
    limit: int
    data: bytes
    done: Callable[[bool, BaseException | None], None]


@attrs.define(slots=True)
class Reply:
    """Append an answer to an asker's reply stream (dropped if that stream is gone)."""

    key: str
    maxlen: int
    data: bytes


@attrs.define(slots=True)
class Ack:
    """Acknowledge and delete an inbox entry once its handler has ended."""

    key: str
    group: str
    entry_id: bytes


Op = Post | Reply | Ack


class Outbox:
    """The write queue and its flusher (run `run` in a nursery)."""

    def __init__(self, client: Client, *, size: int, batch: int = 1000) -> None:
        self._client = client
        self._channel = client.channel()
        self._size = size
        self._batch = batch
        self._queue: collections.deque[Op] = collections.deque()
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self.sent = 0  # writes Redis has taken (for tests and statistics)

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, op: Op, *, what: str = "message", force: bool = False) -> None:
        """Queue a write. Raises `MailboxFull` when the outbox is full (unless ``force``:
        replies and acknowledgements are never refused, or work done would be lost)."""
        if not force and len(self._queue) >= self._size:
            raise MailboxFull(
                f"the Redis outbox holds {self._size} writes not yet sent, so {what} was refused; "
                f"Redis is unreachable or slower than the senders: use 'await ref.send(...)' to wait, "
                f"or raise RedisTransport(outbox_size=...)"
            )
        self._queue.append(op)
        if self._idle.is_set():
            self._idle = trio.Event()
        self._wake.set()

    async def wait_flushed(self) -> None:
        """Return once every write queued so far has been sent (or the queue emptied)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Flush forever: one pipeline per batch, retrying with backoff on failure."""
        backoff = 0.05
        while True:
            if not self._queue:
                self._idle.set()
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            try:
                results = await self._channel.execute_many(self._commands(batch))
            except Exception as exc:
                if not is_transient(exc):  # a refusal, not an outage: retrying would not help
                    log.error("Redis refused a batch of %d writes: %s", len(batch), self._client.error(exc))
                    self._settle(batch, [exc] * (2 * len(batch)))
                    continue
                self._queue.extendleft(reversed(batch))
                log.warning("cannot write to Redis, retrying in %.2f s: %s", backoff, self._client.error(exc))
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self.sent += len(batch)
            self._settle(batch, results)

    @staticmethod
    def _commands(batch: list[Op]) -> list[tuple[Any, ...]]:
        """One pipeline: posts and replies in order, then the acknowledgements, one
        XACK and one XDEL per inbox (after the replies: an answer is written before
        its ask is acknowledged)."""
        commands: list[tuple[Any, ...]] = []
        acks: dict[tuple[str, str], list[bytes]] = {}
        for op in batch:
            if isinstance(op, Post):
                commands.append(("EVAL", _POST, 1, op.key, op.limit, op.data))
            elif isinstance(op, Reply):
                commands.append(("XADD", op.key, "NOMKSTREAM", "MAXLEN", "~", op.maxlen, "*", FIELD, op.data))
            else:
                acks.setdefault((op.key, op.group), []).append(op.entry_id)
        for (key, group), ids in acks.items():
            commands.append(("XACK", key, group, *ids))
            commands.append(("XDEL", key, *ids))
        return commands

    def _settle(self, batch: list[Op], results: list[Any]) -> None:
        writes = [op for op in batch if not isinstance(op, Ack)]
        for op, result in zip(writes, results):
            if isinstance(op, Post):
                if isinstance(result, Exception):
                    op.done(False, self._client.error(result))
                else:
                    op.done(result is not None, None)
            elif isinstance(result, Exception):
                log.warning("Redis refused a reply: %s", self._client.error(result))
        for result in results[len(writes):]:
            if isinstance(result, Exception):
                log.warning("Redis refused an acknowledgement: %s", self._client.error(result))
