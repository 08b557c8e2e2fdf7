"""RedisTransport: public actors' inboxes as Redis Streams (the `Transport` for Redis)."""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import trio

from .._exceptions import ActorStopped, MailboxFull
from .._transport import InboundMessage, ReplyCallback, StreamHandle, TransportHooks
from ._client import Client, Keys, TransportError, check_namespace, check_public_name
from ._inbox import Inbox, InboxSettings
from ._liveness import Liveness
from ._outbox import Outbox, Post
from ._replies import STREAM_WINDOW, Replies
from ._wire import Codec, Kind

__all__ = ["RedisTransport"]

log = logging.getLogger("actors.redis")


def _positive(name: str, value: float, kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise TypeError(f"{name} must be {'an int' if kind is int else 'a number'}, not {type(value).__name__}")
    if not value > 0 or value == math.inf:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class RedisTransport:
    """Carry messages between nodes through Redis Streams (Redis 7 or later).

    Give one to ``open_actor_system(node="name", transport=...)``. Each public
    actor's inbox is the stream ``actors:{<namespace>/<name>}:inbox``, read
    through a consumer group named after the actor; nodes serving one name
    share its messages (a worker pool). Guarantees: a tell is delivered at
    least once while Redis keeps its data (acknowledged after its handler
    ends; a node's pending messages are taken over when it dies); an answer at
    most once; per sender, messages reach one consumer in the order sent.

    Example::

        transport = RedisTransport("redis://127.0.0.1:6379", namespace="research",
                                   messages=[Step, Report], errors=[QuotaExceeded])
        async with open_actor_system(node="worker-a", transport=transport) as system:
            await system.spawn(Worker, name="worker", public=True)
            plan = await system.remote("planner").ask(Step("next"), timeout=5)

    Args:
      url: ``redis://[user:password@]host:port/db``; ``rediss://`` for TLS
        (certificate options through ``redis_options``, redis-py's names).
      namespace: keeps applications sharing one Redis apart (letters, digits,
        ``_ . -``); every key starts with ``actors:{<namespace>``, so an ACL
        can confine a user to it.
      messages: the message classes that may cross (attrs classes,
        dataclasses, msgspec Structs), besides plain data; list the same ones
        on every node. Fields are decoded by their annotations.
      errors: the exception classes an ask's failure may arrive as; any other
        arrives as `actors.RemoteError` (type name and text). The runtime's own
        errors (`ActorStopped`, `AskTimeout`, ...) always cross as themselves.
      max_message_bytes: the largest frame sent or accepted (checked before
        decoding); larger input is a dead letter, a larger message a ValueError.
      inbox_size: a hard bound on a name's unacknowledged messages; a tell to
        a full inbox becomes a dead letter (`MailboxFull`), ``send`` waits, an
        ask fails with `MailboxFull`.
      outbox_size: writes queued on this node while Redis is slow or away;
        past it ``tell`` raises `MailboxFull`.
      prefetch: messages per served name read ahead of their handling (in
        flight on this node); small values spread a worker pool's load evenly.
      lease: seconds a node counts as alive after its last heartbeat (renewed
        every third); the delay before a killed node's messages are taken over.
      read_block: seconds a blocking read waits before it reads again.
      socket_timeout: seconds a Redis command may take before it fails.
      cluster: connect with Redis Cluster's client (the URL names one node).
      redis_options: more keyword arguments for redis-py's client
        (``ssl_ca_certs``, ``ssl_certfile``, ...).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        namespace: str,
        messages: Iterable[type] = (),
        errors: Iterable[type] = (),
        max_message_bytes: int = 1_048_576,
        inbox_size: int = 100_000,
        outbox_size: int = 100_000,
        prefetch: int = 64,
        lease: float = 10.0,
        read_block: float = 2.0,
        socket_timeout: float = 10.0,
        cluster: bool = False,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"url must start with redis://, rediss:// or unix://, got {url!r}")
        self.url = url
        self.namespace = check_namespace(namespace)
        self.codec = Codec(messages, errors, _positive("max_message_bytes", max_message_bytes, int))
        self.inbox_size = _positive("inbox_size", inbox_size, int)
        self.outbox_size = _positive("outbox_size", outbox_size, int)
        self.lease = float(_positive("lease", lease))
        self.read_block = float(_positive("read_block", read_block))
        self.socket_timeout = float(_positive("socket_timeout", socket_timeout))
        if self.socket_timeout <= self.read_block:
            raise ValueError(f"socket_timeout ({socket_timeout}) must be longer than read_block ({read_block})")
        self._settings = InboxSettings(
            prefetch=_positive("prefetch", prefetch, int),
            block_ms=int(self.read_block * 1000),
            claim_idle_ms=min(1000, int(self.lease * 1000)),
            reply_maxlen=10_000,
        )
        self.cluster = bool(cluster)
        self._redis_options = dict(redis_options or {})
        self._keys = Keys(self.namespace)
        self._hooks: TransportHooks | None = None
        self._client: Client | None = None
        self._outbox: Outbox | None = None
        self._replies: Replies | None = None
        self._liveness: Liveness | None = None
        self._inboxes: dict[str, Inbox] = {}
        self._inbox_keys: dict[str, str] = {}  # public names sent to, checked: their inbox keys
        self._nursery: trio.Nursery | None = None
        self._serving = False  # taking messages in (False once quiesced)
        self._heartbeat_scope = trio.CancelScope()
        self._heartbeat_ended = trio.Event()

    def __repr__(self) -> str:
        return f"<RedisTransport namespace={self.namespace!r} node={getattr(self._hooks, 'node', None)!r}>"

    # -- lifecycle ---------------------------------------------------------

    def attach(self, hooks: TransportHooks) -> None:
        """Bind to one system (done by ``open_actor_system``)."""
        if self._hooks is not None:
            raise RuntimeError(
                "this RedisTransport already belongs to an actor system; make one transport per open_actor_system()"
            )
        check_public_name(hooks.node, "node")
        self._hooks = hooks
        self.codec.ref_for = hooks.ref_for
        self.codec.address_of = hooks.address_of

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, report started, then keep the node's background tasks running."""
        hooks = self._require_attached()
        options = {"client_name": f"actors:{self.namespace}@{hooks.node}", **self._redis_options}
        client = Client(self.url, cluster=self.cluster, socket_timeout=self.socket_timeout, options=options)
        try:
            try:
                await client.call(client.redis.ping)
            except Exception as exc:
                raise client.error(exc) from None
            incarnation = secrets.token_hex(6)
            lease_ms = int(self.lease * 1000)
            replies = Replies(
                client, self.codec, self._keys.replies(hooks.node, incarnation), block_ms=self._settings.block_ms
            )
            liveness = Liveness(client, self._keys, hooks.node, incarnation, lease_ms=lease_ms, replies_key=replies.key)
            try:
                await replies.create(3 * lease_ms)
                await liveness.start()
            except Exception as exc:
                raise client.error(exc) from None
            self._client, self._replies, self._liveness = client, replies, liveness
            self._outbox = Outbox(client, size=self.outbox_size)
            replies.outbox = self._outbox
            replies.maxlen = self._settings.reply_maxlen
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._serving = True
                nursery.start_soon(client.enforce_timeouts)
                nursery.start_soon(self._outbox.run)
                nursery.start_soon(replies.run)
                nursery.start_soon(self._heartbeat)
                task_status.started()
        finally:
            self._nursery = None
            client.close()

    async def _heartbeat(self) -> None:
        """Renew the lease every third of it and claim what dead servers left pending;
        stopped by `close` before the node leaves (a late beat would bring it back)."""
        assert self._liveness is not None and self._replies is not None
        period = self.lease / 3
        try:
            with self._heartbeat_scope:
                while True:
                    await trio.sleep(period)
                    try:
                        if not await self._liveness.beat(list(self._inboxes)):
                            log.error(
                                "the reply stream of node '%s' was gone (Redis lost its data?); "
                                "answers to asks in flight were lost",
                                self._liveness.node,
                            )
                            await self._replies.create(3 * self._liveness.lease_ms)
                        for name, inbox in list(self._inboxes.items()):
                            live = set(await self._liveness.servers(name))
                            await inbox.claim_orphans(live)
                    except Exception as exc:
                        log.warning("heartbeat to Redis failed: %s", self._error(exc))
        finally:
            self._heartbeat_ended.set()

    async def quiesce(self) -> None:
        """Stop reading every inbox (messages not yet read stay for other nodes)."""
        self._serving = False
        for inbox in self._inboxes.values():
            inbox.scope.cancel()
        await trio.lowlevel.checkpoint()

    async def close(self) -> None:
        """Flush queued writes (bounded by ``socket_timeout``), leave, disconnect."""
        if self._nursery is None:
            return
        assert self._outbox is not None and self._liveness is not None
        with trio.move_on_after(self.socket_timeout):
            await self._outbox.wait_flushed()
            self._heartbeat_scope.cancel()  # (a beat in flight ends first: its thread is waited for)
            await self._heartbeat_ended.wait()
            try:
                await self._liveness.leave(list(self._inboxes))
            except Exception as exc:
                log.warning("could not leave Redis in order (the lease will expire): %s", self._error(exc))
        self._inboxes.clear()
        self._nursery.cancel_scope.cancel()

    # -- serving -----------------------------------------------------------

    async def serve(self, name: str, deliver: Callable[[InboundMessage], None]) -> None:
        """Serve public ``name``: read its inbox and hand each message to ``deliver``."""
        check_public_name(name)
        nursery = self._require_running("serve")
        assert self._client is not None and self._outbox is not None and self._liveness is not None
        existing = self._inboxes.get(name)
        if existing is not None:
            existing.deliver = deliver
            return
        inbox = Inbox(
            name,
            deliver,
            client=self._client,
            keys=self._keys,
            codec=self.codec,
            outbox=self._outbox,
            hooks=self._require_attached(),
            settings=self._settings,
            replies=self._replies,
        )
        try:
            await inbox.ensure_group()
            await self._liveness.join(name)
        except Exception as exc:
            raise self._error(exc) from None
        self._inboxes[name] = inbox
        nursery.start_soon(inbox.run)

    async def unserve(self, name: str) -> None:
        """Stop serving ``name``; its unacknowledged messages go to other servers."""
        inbox = self._inboxes.pop(name, None)
        if inbox is None:
            return
        inbox.scope.cancel()
        if self._liveness is not None:
            try:
                await self._liveness.part(name)
            except Exception as exc:
                log.warning("could not leave the servers of '%s': %s", name, self._error(exc))

    async def serving(self, name: str) -> list[str]:
        """The nodes that serve ``name`` now (their lease alive), sorted."""
        check_public_name(name)
        self._require_running("serving")
        assert self._liveness is not None
        try:
            return await self._liveness.servers(name)
        except Exception as exc:
            raise self._error(exc) from None

    # -- sending -----------------------------------------------------------

    def post(self, name: str, message: Any, *, sender: str | None, trace_id: int) -> None:
        """Tell (see `Transport.post`); a full inbox turns the message into a dead letter."""
        outbox, key = self._outbox_for(name)
        data = self.codec.encode(Kind.TELL, message, cid=0, trace=trace_id, sender=sender)
        hooks = self._require_attached()

        def done(accepted: bool, error: BaseException | None) -> None:
            if not accepted:
                reason = str(error) if error is not None else self._full(name, message)
                hooks.dead_letter(message, name, reason, error or MailboxFull(reason))

        outbox.put(Post(key, self.inbox_size, data, done), what=type(message).__name__)

    async def post_wait(self, name: str, message: Any, *, sender: str | None, trace_id: int) -> None:
        """Send (see `Transport.post_wait`): wait until Redis holds it, while the inbox is full."""
        outbox, key = self._outbox_for(name)
        data = self.codec.encode(Kind.TELL, message, cid=0, trace=trace_id, sender=sender)
        backoff = 0.01
        while True:
            outcome: list[Any] = []
            landed = trio.Event()

            def done(accepted: bool, error: BaseException | None) -> None:
                outcome[:] = [accepted, error]
                landed.set()

            while len(outbox) >= self.outbox_size:
                await trio.sleep(backoff)
            outbox.put(Post(key, self.inbox_size, data, done))
            await landed.wait()
            accepted, error = outcome
            if error is not None:
                raise error
            if accepted:
                return
            await trio.sleep(backoff)  # the inbox is full: wait for its consumers
            backoff = min(2 * backoff, 1.0)

    def request(
        self,
        name: str,
        message: Any,
        *,
        sender: str | None,
        trace_id: int,
        timeout: float | None,
        on_reply: ReplyCallback,
    ) -> Callable[[], None]:
        """Ask (see `Transport.request`): the deadline travels with the message."""
        assert self._replies is not None
        return self._ask(Kind.ASK, name, message, sender, trace_id, timeout, self._replies.open_slot(on_reply))

    def request_stream(
        self,
        name: str,
        message: Any,
        *,
        sender: str | None,
        trace_id: int,
        timeout: float | None,
        on_item: Callable[[Any], None],
        on_reply: ReplyCallback,
    ) -> StreamHandle:
        """Ask for a streamed answer (see `Transport.request_stream`). Leaving early
        sends a CANCEL to the serving node once it is known (its first item; a later
        item finds no slot and is answered with a CANCEL too); reading sends CREDIT."""
        replies = self._replies
        assert replies is not None
        server: list[str | None] = [None]

        def item(value: Any, from_node: str | None) -> None:
            server[0] = from_node
            on_item(value)

        cid = replies.open_stream(item, on_reply)
        forget = self._ask(Kind.STREAM, name, message, sender, trace_id, timeout, cid)

        def give_up() -> None:
            if replies.streaming(cid):  # still open: tell its producer (later items get a CANCEL too)
                replies.cancel(server[0], cid)
            forget()

        owed = [0]

        def took(items: int) -> None:
            owed[0] += items
            if owed[0] >= STREAM_WINDOW // 2 and replies.streaming(cid):
                replies.grant(server[0], cid, owed[0])
                owed[0] = 0

        return StreamHandle(took, give_up)

    def _ask(
        self, kind: Kind, name: str, message: Any, sender: str | None, trace_id: int, timeout: float | None, cid: int
    ) -> Callable[[], None]:
        outbox, key = self._outbox_for(name)
        replies = self._replies
        assert replies is not None
        try:
            data = self.codec.encode(
                kind, message, cid=cid, trace=trace_id, sender=sender, reply_to=replies.key, timeout=timeout
            )

            def done(accepted: bool, error: BaseException | None) -> None:
                if error is not None:
                    replies.fail(cid, error)
                elif not accepted:
                    replies.fail(cid, MailboxFull(self._full(name, message)))

            outbox.put(Post(key, self.inbox_size, data, done), what=type(message).__name__)
        except BaseException:
            replies.forget(cid)
            raise
        return lambda: replies.forget(cid)

    # -- helpers -----------------------------------------------------------

    def _full(self, name: str, message: Any) -> str:
        return (
            f"the inbox of '{name}' holds {self.inbox_size} unacknowledged messages (inbox_size), "
            f"so {type(message).__name__} was refused; its servers are behind or none serves it: "
            f"use 'await ref.send(...)' to wait for room"
        )

    def _require_attached(self) -> TransportHooks:
        if self._hooks is None:
            raise RuntimeError("this RedisTransport is not attached; pass it to open_actor_system(transport=...)")
        return self._hooks

    def _require_running(self, verb: str) -> trio.Nursery:
        if self._nursery is None or (not self._serving and verb == "serve"):
            raise ActorStopped(f"{verb}(): the node's Redis transport is not running (the system is closed or closing)")
        return self._nursery

    def _outbox_for(self, name: str) -> tuple[Outbox, str]:
        """The outbox and the inbox key of public ``name`` (checked once per name)."""
        key = self._inbox_keys.get(name)
        if key is None:
            check_public_name(name)
            if len(self._inbox_keys) >= 10_000:
                self._inbox_keys.clear()
            key = self._inbox_keys[name] = self._keys.inbox(name)
        if self._outbox is None or self._nursery is None:
            raise ActorStopped(
                f"cannot send to '{name}': the node's Redis transport is not running (the system is closed or closing)"
            )
        return self._outbox, key

    def _error(self, exc: BaseException) -> TransportError:
        if isinstance(exc, TransportError):
            return exc
        if self._client is None:
            return TransportError(str(exc))
        return self._client.error(exc)
