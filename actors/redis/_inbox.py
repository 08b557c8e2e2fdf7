"""A public name's inbox: a Redis Stream read through a consumer group.

One `Inbox` per name a node serves. The group is named after the public name
and each node reads as the consumer named after itself, so several nodes
serving one name share its messages (a worker pool; order is then per
consumer). How it reads:

- Its own pending list first (id ``0``), then new entries (``>``): a read cut
  short (a cancel, a lost connection, a crash before this start) leaves entries
  delivered to this consumer but never handled; they are handled first, at
  start and after any error. Entries already in flight here are skipped.
- At most ``prefetch`` entries are in flight (read, not yet settled), read at
  most half of that at a time: the next read is under way while the actor
  handles the last one's (an actor handles up to 100 messages before yielding).
- A blocking read is never cancelled while serving; its BLOCK is seconds long
  (Redis 7.0 wakes it at once for data, but times it out on ~100 ms ticks).
- An entry is acknowledged (XACK, then XDEL, so the stream's length is the
  backlog a full inbox is judged by) only after its handler has ended.
- NOGROUP (Redis restarted without persistence, or the stream was deleted):
  the group is made again from ``0`` with MKSTREAM and the loss is logged; a
  missing epoch key tells a Redis that lost its data from a deleted group.
- Takeover: entries pending for a consumer that no longer serves the name (its
  node's lease expired after kill -9, or it stopped serving) are claimed
  (XCLAIM) and handled here. Claiming by liveness, not by idle time alone,
  never takes a slow handler's message from a live node.

Input that is not a frame this node accepts (garbage, another wire version,
an unknown type, oversize) is recorded as a dead letter with the reason and
acknowledged, and the node keeps serving; an ask gets the reason as an error.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import trio

from .._transport import InboundMessage, RemoteError, TransportHooks
from ._client import Client, Keys, is_nogroup
from ._outbox import FIELD, Ack, Outbox, Reply
from ._replies import STREAM_WINDOW, Replies
from ._resp import Channel, Words, entries
from ._wire import Codec, Frame, Kind, WireError

__all__ = ["Inbox", "InboxSettings"]

log = logging.getLogger("actors.redis")


class InboxSettings:
    """The knobs an inbox takes from its transport."""

    __slots__ = ("block_ms", "claim_idle_ms", "prefetch", "reply_maxlen")

    def __init__(self, *, prefetch: int, block_ms: int, claim_idle_ms: int, reply_maxlen: int) -> None:
        self.prefetch = prefetch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.reply_maxlen = reply_maxlen


class Inbox:
    """Serve one public name: read, deliver, settle (see the module docstring)."""

    def __init__(
        self,
        name: str,
        deliver: Callable[[InboundMessage], None],
        *,
        client: Client,
        keys: Keys,
        codec: Codec,
        outbox: Outbox,
        hooks: TransportHooks,
        settings: InboxSettings,
        replies: Replies | None = None,
    ) -> None:
        self.name = name
        self.deliver = deliver
        self.key = keys.inbox(name)
        self.group = name
        self._epoch_key = keys.epoch(name)
        self._reply_prefix = keys.replies("", "").split("@", 1)[0] + "@"
        self._client = client
        self._codec = codec
        self._outbox = outbox
        self._hooks = hooks
        self._settings = settings
        self._replies = replies
        self._consumer = hooks.node
        self._in_flight: set[bytes] = set()
        self._room = trio.Event()
        self.scope = trio.CancelScope()
        self.delivered = 0  # entries handed to the system (tests, statistics)

    # -- the group ---------------------------------------------------------

    async def ensure_group(self) -> None:
        """Create the group (from ``0``, with the stream) unless it exists, and the epoch key."""
        r = self._client.redis

        def create() -> None:
            try:
                r.xgroup_create(self.key, self.group, id="0", mkstream=True)
            except Exception as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            r.set(self._epoch_key, secrets.token_hex(8), nx=True)

        await self._client.call(create)

    async def _recover_group(self) -> None:
        epoch = await self._client.call(self._client.redis.exists, self._epoch_key)
        cause = (
            "Redis lost its data (a restart without persistence?)" if not epoch else "its stream or group was deleted"
        )
        log.error(
            "the inbox of '%s' had no consumer group: %s. Messages that were in flight to '%s' "
            "were lost; the group is made again from the start of the stream. Run Redis with "
            "appendonly yes (appendfsync everysec or always) to keep them across restarts",
            self.name,
            cause,
            self.name,
        )
        await self.ensure_group()

    # -- reading -----------------------------------------------------------

    async def run(self) -> None:
        """Read and deliver until cancelled (by `Transport.unserve` or the node leaving)."""
        with self.scope:
            await self._read_loop()

    async def _read_loop(self) -> None:
        channel = self._client.channel()  # a connection of its own: it blocks in XREADGROUP
        try:
            await self._read_with(channel)
        finally:
            channel.close()

    async def _read_with(self, channel: Channel) -> None:
        pending_from: bytes | str | None = "0"  # reading our own pending list first (None: done)
        read = Words("XREADGROUP", "GROUP", self.group, self._consumer)
        block_ms = self._settings.block_ms
        blocking_reads: dict[int, Words] = {}  # the whole blocking read, by COUNT
        backoff = 0.05
        prefetch = self._settings.prefetch
        most = max(1, prefetch // 2)  # per read: the next read is under way while an actor works
        while True:
            room = prefetch - len(self._in_flight)
            if room <= 0:
                self._room = trio.Event()
                await self._room.wait()
                continue
            room = min(room, most)
            try:
                if pending_from is not None:
                    reply = await channel.execute(read, "COUNT", room, "STREAMS", self.key, pending_from)
                else:
                    words = blocking_reads.get(room)
                    if words is None:
                        words = blocking_reads[room] = Words(
                            "XREADGROUP",
                            "GROUP",
                            self.group,
                            self._consumer,
                            "COUNT",
                            room,
                            "BLOCK",
                            block_ms,
                            "STREAMS",
                            self.key,
                            ">",
                        )
                    reply = await channel.execute(words, block_seconds=block_ms / 1000)
            except Exception as exc:
                if is_nogroup(exc):
                    await self._recover_group()
                else:
                    log.warning(
                        "reading the inbox of '%s' failed, retrying in %.2f s: %s",
                        self.name,
                        backoff,
                        self._client.error(exc),
                    )
                    await trio.sleep(backoff)
                    backoff = min(2 * backoff, 2.0)
                pending_from = "0"
                continue
            backoff = 0.05
            found = entries(reply)
            if pending_from is not None:
                if not found:
                    pending_from = None  # our pending list is done: new entries from now on
                    continue
                pending_from = found[-1][0]
            for entry_id, fields in found:
                self._accept(entry_id, fields)

    async def claim_orphans(self, live: set[str]) -> None:
        """Claim entries pending for consumers not in ``live`` (the name's live servers)."""
        r = self._client.redis
        me = self._consumer
        try:
            consumers = await self._client.call(r.xinfo_consumers, self.key, self.group)
        except Exception as exc:
            if not is_nogroup(exc):
                log.warning("cannot list the consumers of '%s': %s", self.name, self._client.error(exc))
            return
        for consumer in consumers:
            owner = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            if owner == me or owner in live:
                continue
            if consumer["pending"] == 0:
                await self._client.call(r.xgroup_delconsumer, self.key, self.group, owner)
                continue
            room = self._settings.prefetch - len(self._in_flight)
            if room <= 0:
                return
            pending = await self._client.call(r.xpending_range, self.key, self.group, "-", "+", room, owner)
            ids = [item["message_id"] for item in pending]
            if not ids:
                continue
            claimed = await self._client.call(r.xclaim, self.key, self.group, me, self._settings.claim_idle_ms, ids)
            if claimed:
                log.warning(
                    "'%s': took over %d message(s) pending for node '%s', which no longer serves it",
                    self.name,
                    len(claimed),
                    owner,
                )
            for entry_id, fields in claimed:
                self._accept(entry_id, fields)

    # -- one entry ---------------------------------------------------------

    def _accept(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        if entry_id in self._in_flight:
            return  # read again from our pending list while still being handled here
        data = fields.get(FIELD) if fields else None
        if data is None:
            self._reject(entry_id, fields, None, "a stream entry without the field 'm' (not written by trio-actors)")
            return
        try:
            frame = self._codec.decode(data)
        except WireError as exc:
            self._reject(entry_id, data, None, str(exc))
            return
        if frame.kind is not Kind.TELL and frame.kind is not Kind.ASK and frame.kind is not Kind.STREAM:
            self._reject(entry_id, data, frame, f"a {frame.kind.name} frame in an inbox")
            return
        try:
            message = self._codec.decode_message(frame)
        except WireError as exc:
            self._reject(entry_id, data, frame, str(exc))
            return
        asks = frame.kind is not Kind.TELL
        if asks and frame.deadline is not None and time.time() > frame.deadline:
            self._reject(
                entry_id,
                message,
                None,
                f"an ask past its deadline (by {time.time() - frame.deadline:.3f} s): "
                f"its asker has given up, so it was not handled",
            )
            return
        self._in_flight.add(entry_id)
        self.delivered += 1
        unwatch: list[Callable[[], None]] = []
        inbound = InboundMessage(
            name=self.name,
            message=message,
            sender=frame.sender,
            trace_id=frame.trace,
            expects_reply=asks,
            settle=lambda value, error, handled: self._settle(entry_id, frame, value, error, handled, unwatch),
            deadline=frame.deadline if asks else None,
        )
        if frame.kind is Kind.STREAM and self._replies is not None and self._replies.is_reply_key(frame.reply_to):
            assert frame.reply_to is not None
            inbound.send_item = lambda item: self._send_item(frame, item)
            inbound.window = STREAM_WINDOW
            unwatch.append(
                self._replies.watch_controls(
                    frame.reply_to, frame.cid, lambda kind, count: _control(inbound, kind, count)
                )
            )
        self.deliver(inbound)

    def _reject(self, entry_id: bytes, what: Any, frame: Frame | None, reason: str) -> None:
        """Bad input: a dead letter with the reason, acknowledged; an asker learns why."""
        log.warning("dropped an entry of the inbox of '%s' (%s): %s", self.name, entry_id.decode(), reason)
        self._hooks.dead_letter(what, self.name, f"rejected from the inbox: {reason}", None)
        if frame is not None and frame.kind is not Kind.TELL:
            self._answer(frame, None, RemoteError("WireError", reason))
        self._outbox.put(Ack(self.key, self.group, entry_id), force=True)

    def _settle(
        self,
        entry_id: bytes,
        frame: Frame,
        value: Any,
        error: BaseException | None,
        handled: bool,
        unwatch: list[Callable[[], None]],
    ) -> None:
        self._in_flight.discard(entry_id)
        self._room.set()
        for stop_watching in unwatch:
            stop_watching()
        if frame.kind is not Kind.TELL:
            self._answer(frame, value, error)
        if handled:
            self._outbox.put(Ack(self.key, self.group, entry_id), force=True)

    def _send_item(self, frame: Frame, item: Any) -> None:
        """One item of a streamed answer, to the asker's reply stream (in order, through
        the outbox). Raises TypeError or ValueError for an item that cannot cross."""
        assert frame.reply_to is not None
        assert self._replies is not None
        data = self._codec.encode(Kind.ITEM, item, cid=frame.cid, trace=frame.trace, reply_to=self._replies.key)
        self._outbox.put(Reply(frame.reply_to, self._settings.reply_maxlen, data), force=True)

    def _answer(self, frame: Frame, value: Any, error: BaseException | None) -> None:
        reply_to = frame.reply_to
        if reply_to is None or not reply_to.startswith(self._reply_prefix) or ":replies:" not in reply_to:
            log.warning("'%s': an ask named no valid reply stream (%r); its answer is dropped", self.name, reply_to)
            return
        codec = self._codec
        if error is None:
            try:
                data = codec.encode(Kind.REPLY, value, cid=frame.cid, trace=frame.trace)
            except (TypeError, ValueError) as exc:
                data = codec.encode_failure(exc, cid=frame.cid, trace=frame.trace)
        else:
            data = codec.encode_failure(error, cid=frame.cid, trace=frame.trace)
        self._outbox.put(Reply(reply_to, self._settings.reply_maxlen, data), force=True)


def _control(inbound: InboundMessage, kind: Kind, count: int) -> None:
    """A CANCEL or CREDIT frame for a streamed ask this node serves."""
    if kind is Kind.CANCEL:
        if inbound.on_cancel is not None:
            inbound.on_cancel()
    elif count > 0 and inbound.on_credit is not None:
        inbound.on_credit(count)
