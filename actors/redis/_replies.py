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

Streamed answers (``ask_stream``) come as ITEM frames before the end (a
REPLY or FAILURE); each ITEM names the serving node's reply stream, where the
asker writes a CANCEL frame when it leaves early. An ITEM that finds no slot
(its asker has left) is answered with a CANCEL too, so a producer stops at its
next item even when the asker left before the first one. The serving side
records, per streamed ask it serves, where its CANCEL and CREDIT frames go
(`watch_controls`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import trio

from .._transport import RemoteError, ReplyCallback
from ._client import Client
from ._outbox import FIELD, Outbox, Reply
from ._resp import Channel, Words, entries
from ._wire import Codec, Kind, WireError

__all__ = ["STREAM_WINDOW", "Replies"]

#: Items a streamed answer's producer may send before its asker has read them;
#: the asker grants more with CREDIT frames as it reads (half a window at a time).
STREAM_WINDOW = 16

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
        # (asker side) a streamed ask's items: on_item(value, serving node's reply stream)
        self._items: dict[int, Callable[[Any, str | None], None]] = {}
        # (serving side) the streamed asks served here, by (asker's reply stream, cid)
        self._controls: dict[tuple[str, int], Callable[[Kind, int], None]] = {}
        self.outbox: Outbox | None = None  # set by the transport: CANCEL frames go out through it
        self.maxlen = 10_000

    def is_reply_key(self, key: str | None) -> bool:
        """True for the name of a reply stream of this namespace (where answers may go)."""
        prefix = self.key.split("@", 1)[0] + "@"
        return key is not None and key.startswith(prefix) and ":replies:" in key

    def __len__(self) -> int:
        return len(self._slots)

    def open_slot(self, on_reply: ReplyCallback) -> int:
        cid = self._next()
        self._slots[cid] = on_reply
        return cid

    def open_stream(self, on_item: Callable[[Any, str | None], None], on_reply: ReplyCallback) -> int:
        """A slot for a streamed ask: ``on_item`` for each item, ``on_reply`` at its end."""
        cid = self.open_slot(on_reply)
        self._items[cid] = on_item
        return cid

    def forget(self, cid: int) -> None:
        self._slots.pop(cid, None)
        self._items.pop(cid, None)

    def fail(self, cid: int, error: BaseException) -> None:
        """Complete an ask that could not even be sent."""
        self._items.pop(cid, None)
        slot = self._slots.pop(cid, None)
        if slot is not None:
            slot(None, error)

    def streaming(self, cid: int) -> bool:
        """True while streamed ask ``cid`` waits for items (not ended, not forgotten)."""
        return cid in self._items

    def cancel(self, server: str | None, cid: int) -> None:
        """Tell the node serving streamed ask ``cid`` (its reply stream ``server``) to stop."""
        self._control(Kind.CANCEL, server, cid, 0)

    def grant(self, server: str | None, cid: int, items: int) -> None:
        """Let the node serving streamed ask ``cid`` send ``items`` more items."""
        self._control(Kind.CREDIT, server, cid, items)

    def _control(self, kind: Kind, server: str | None, cid: int, count: int) -> None:
        if self.outbox is None or not self.is_reply_key(server):
            return
        assert server is not None
        data = self._codec.encode(kind, count, cid=cid, trace=0, reply_to=self.key)
        self.outbox.put(Reply(server, self.maxlen, data), force=True)

    def watch_controls(self, asker: str, cid: int, on_control: Callable[[Kind, int], None]) -> Callable[[], None]:
        """(Serving side) route the CANCEL and CREDIT frames of stream ``cid`` of
        ``asker`` (its reply stream) to ``on_control(kind, count)``; returns the
        function that stops the routing (the stream ended)."""
        route = (asker, cid)
        self._controls[route] = on_control

        def stop() -> None:
            if self._controls.get(route) is on_control:
                del self._controls[route]

        return stop

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
        read = Words("XREAD", "COUNT", 1000, "BLOCK", self._block_ms, "STREAMS", self.key)
        backoff = 0.05
        while True:
            try:
                reply = await channel.execute(read, self._last_id, block_seconds=self._block_ms / 1000)
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
        if frame.kind is Kind.ITEM:
            self._item(frame)
            return
        if frame.kind is Kind.CANCEL or frame.kind is Kind.CREDIT:
            on_control = self._controls.get((frame.reply_to or "", frame.cid))
            if on_control is not None:
                try:
                    count = self._codec.decode_message(frame)
                except WireError:
                    count = 0
                on_control(frame.kind, count if isinstance(count, int) and not isinstance(count, bool) else 0)
            return
        self._items.pop(frame.cid, None)
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

    def _item(self, frame: Any) -> None:
        on_item = self._items.get(frame.cid)
        if on_item is None:  # its asker has left: the producer should stop
            self.dropped += 1
            self.cancel(frame.reply_to, frame.cid)
            return
        try:
            value = self._codec.decode_message(frame)
        except WireError as exc:
            self._items.pop(frame.cid, None)
            slot = self._slots.pop(frame.cid, None)
            self.cancel(frame.reply_to, frame.cid)
            if slot is not None:
                slot(None, RemoteError("WireError", f"an item of the stream could not be decoded here: {exc}"))
            return
        on_item(value, frame.reply_to)
