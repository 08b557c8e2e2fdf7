"""The outbox: every write (tells, asks, replies, acknowledgements), pipelined.

``tell`` is sync and must return at once, so writes are queued here and one
flusher task sends everything queued as one pipeline per round trip: under
load a pipeline carries hundreds of writes, and a run of posts to one inbox is
a single script call. Per sender the queue is FIFO, and one pipeline runs at a
time, so tells from one sender reach a stream in the order sent.

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
from ._resp import Command, Words

__all__ = ["Ack", "Outbox", "Post", "Reply", "pipeline"]

log = logging.getLogger("actors.redis")

FIELD = b"m"  # the one field of a stream entry: the frame

# XADD each frame (ARGV[2..]) while the stream holds fewer than ARGV[1] entries
# (unacknowledged ones: acknowledged entries are removed), so a full inbox refuses
# instead of trimming unread messages. Returns how many were added: the first ones
# (a refused frame's successors are refused too, which keeps each sender's order).
# One call per run of frames to one inbox: a call per frame cost Redis 3x the XADD.
_POST = """
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local n = #ARGV - 1
if room < n then n = math.max(room, 0) end
for i = 2, n + 1 do redis.call('XADD', KEYS[1], '*', 'm', ARGV[i]) end
return n
"""

# Acknowledge entries (ARGV[2..]) of group ARGV[1], then remove every acknowledged
# entry from the stream, so its length is its backlog: everything older than the
# group's oldest pending entry goes in one XTRIM MINID (cheap: whole nodes at a
# time); only entries acknowledged out of order, newer than that, need an XDEL
# (an XDEL costs Redis about 2 us an entry). With nothing pending, everything
# through the newest entry acknowledged here goes. (One group reads a stream.)
_ACK = """
local key, group = KEYS[1], ARGV[1]
local acked = redis.call('XACK', key, group, unpack(ARGV, 2))
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local pending = redis.call('XPENDING', key, group)
if pending[1] == 0 then
  local top_ms, top_seq = -1, -1
  for i = 2, #ARGV do
    local ms, seq = parse(ARGV[i])
    if ms > top_ms or (ms == top_ms and seq > top_seq) then top_ms, top_seq = ms, seq end
  end
  redis.call('XTRIM', key, 'MINID', string.format('%d-%d', top_ms, top_seq + 1))
  return acked
end
local oldest_ms, oldest_seq = parse(pending[2])
redis.call('XTRIM', key, 'MINID', pending[2])
local newer = {}
for i = 2, #ARGV do
  local ms, seq = parse(ARGV[i])
  if ms > oldest_ms or (ms == oldest_ms and seq > oldest_seq) then newer[#newer + 1] = ARGV[i] end
end
if #newer > 0 then redis.call('XDEL', key, unpack(newer)) end
return acked
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


Carried = list[Post] | Reply | None


def pipeline(batch: list[Op], heads: dict[tuple[Any, ...], Words]) -> tuple[list[Command], list[Carried]]:
    """The commands of one pipeline, and what each carries (its posts, its reply, or None).

    Posts and replies go in order (one script call per run of posts to one inbox), then
    the acknowledgements, one script call per inbox (after the replies: an answer is
    written before its ask is acknowledged). A command's fixed words come from
    ``heads`` (encoded once per inbox or reply stream; the caller keeps it).
    """
    commands: list[Command] = []
    carried: list[Carried] = []
    acks: dict[tuple[str, str], list[bytes]] = {}
    run: list[Post] = []  # consecutive posts to one inbox (with one bound)

    def head(*words: Any) -> Words:
        found = heads.get(words)
        if found is None:
            if len(heads) >= 4096:
                heads.clear()
            found = heads[words] = Words(*words)
        return found

    def end_run() -> None:
        if run:
            commands.append((head("EVAL", _POST, 1, run[0].key, run[0].limit), *[post.data for post in run]))
            carried.append(run.copy())
            run.clear()

    for op in batch:
        if isinstance(op, Post):
            if run and (run[0].key != op.key or run[0].limit != op.limit):
                end_run()
            run.append(op)
        elif isinstance(op, Reply):
            end_run()
            commands.append((head("XADD", op.key, "NOMKSTREAM", "MAXLEN", "~", op.maxlen, "*", FIELD), op.data))
            carried.append(op)
        else:
            acks.setdefault((op.key, op.group), []).append(op.entry_id)
    end_run()
    for (key, group), ids in acks.items():
        commands.append((head("EVAL", _ACK, 1, key, group), *ids))
        carried.append(None)
    return commands, carried


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
        self._heads: dict[tuple[Any, ...], Words] = {}  # see `pipeline`
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
            commands, carried = pipeline(batch, self._heads)
            try:
                results = await self._channel.execute_many(commands)
            except Exception as exc:
                if not is_transient(exc):  # a refusal, not an outage: retrying would not help
                    log.error("Redis refused a batch of %d writes: %s", len(batch), self._client.error(exc))
                    self._settle(carried, [exc] * len(carried))
                    continue
                self._queue.extendleft(reversed(batch))
                log.warning("cannot write to Redis, retrying in %.2f s: %s", backoff, self._client.error(exc))
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self.sent += len(batch)
            self._settle(carried, results)

    def _settle(self, carried: list[Carried], results: list[Any]) -> None:
        for what, result in zip(carried, results):
            if isinstance(what, list):  # posts: the script took the first ``result`` of them
                if isinstance(result, Exception):
                    error = self._client.error(result)
                    for post in what:
                        post.done(False, error)
                    continue
                for index, post in enumerate(what):
                    post.done(index < result, None)
            elif isinstance(result, Exception):
                refused = "a reply" if what is not None else "an acknowledgement"
                log.warning("Redis refused %s: %s", refused, self._client.error(result))
