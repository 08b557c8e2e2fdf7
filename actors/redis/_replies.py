"""Answers to this node's asks: one reply stream per node incarnation, and the slots.

Each ask takes a correlation id and a slot (its callback) here; the answer
comes back on this node's reply stream, which one reader task reads with a
long blocking XREAD, never cancelled while the node runs. Timeouts belong to
the waiting ask (the system's deadline ticker completes its `Reply` with
`AskTimeout` and the slot is forgotten), never to the read: a cancelled read
is how Redis clients leak connections or lose entries. An answer that finds
no slot (its asker gave up) is dropped: answers are at-most-once.

The stream's name holds the incarnation id, so a restarted node never reads
answers meant for its previous life; it expires with the node's lease, and
answers are written with NOMKSTREAM, so answers to a dead node go nowhere.
"""

from __future__ import annotations

import itertools
import logging

import trio

from .._transport import RemoteError, ReplyCallback
from ._client import Client
from ._outbox import FIELD
from ._resp import Channel, entries
from ._wire import Codec, Kind, WireError

__all__ = ["Replies"]

log = logging.getLogger("actors.redis")


class Replies:
    """The reply stream of one node incarnation and its correlation slots."""

    def __init__(self, client: Client, codec: Codec, key: str, *, block_ms: int) -> None:
        self.key = key
        self._client = client
        self._codec = codec
        self._block_ms = block_ms
        self._slots: dict[int, ReplyCallback] = {}
        self._next = itertools.count(1).__next__
        self._last_id: bytes | str = "0"
        self.dropped = 0  # answers that found no slot

    def __len__(self) -> int:
        return len(self._slots)

    def open_slot(self, on_reply: ReplyCallback) -> int:
        cid = self._next()
        self._slots[cid] = on_reply
        return cid

    def forget(self, cid: int) -> None:
        self._slots.pop(cid, None)

    def fail(self, cid: int, error: BaseException) -> None:
        """Complete an ask that could not even be sent."""
        slot = self._slots.pop(cid, None)
        if slot is not None:
            slot(None, error)

    async def create(self, ttl_ms: int) -> None:
        """Make the stream (with a first entry, so NOMKSTREAM writes find it) and its TTL."""
        r = self._client.redis

        def create() -> bytes:
            entry_id: bytes = r.xadd(self.key, {FIELD: b""}, maxlen=10_000, approximate=True)
            r.pexpire(self.key, ttl_ms)
            return entry_id

        self._last_id = await self._client.call(create)

    async def run(self) -> None:
        """Read answers until cancelled (the node leaving)."""
        channel = self._client.channel()  # a connection of its own: it blocks in XREAD
        try:
            await self._read_with(channel)
        finally:
            channel.close()

    async def _read_with(self, channel: Channel) -> None:
        backoff = 0.05
        while True:
            try:
                reply = await channel.execute("XREAD", "COUNT", 1000, "BLOCK", self._block_ms, "STREAMS",
                                              self.key, self._last_id, block_seconds=self._block_ms / 1000)
            except Exception as exc:
                log.warning("reading replies failed, retrying in %.2f s: %s", backoff, self._client.error(exc))
                await trio.sleep(backoff)
                backoff = min(2 * backoff, 2.0)
                continue
            backoff = 0.05
            found = entries(reply)
            if not found:
                continue
            self._last_id = found[-1][0]
            for _, fields in found:
                data = fields.get(FIELD) if fields else None
                if data:
                    self._answer(data)

    def _answer(self, data: bytes) -> None:
        codec = self._codec
        try:
            frame = codec.decode(data)
        except WireError as exc:
            log.warning("dropped a malformed entry of the reply stream %s: %s", self.key, exc)
            return
        slot = self._slots.pop(frame.cid, None)
        if slot is None:
            self.dropped += 1
            log.debug("an answer (correlation id %d) came after its asker gave up; dropped", frame.cid)
            return
        if frame.kind is Kind.REPLY:
            try:
                value = codec.decode_message(frame)
            except WireError as exc:
                slot(None, RemoteError("WireError", f"the answer could not be decoded here: {exc}"))
                return
            slot(value, None)
        elif frame.kind is Kind.FAILURE:
            slot(None, codec.decode_failure(frame))
        else:
            slot(None, RemoteError("WireError", f"a {frame.kind.name} frame came as an answer"))
