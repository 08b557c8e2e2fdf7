"""The hot path's connections: RESP on non-blocking sockets (hiredis parses), or redis-py in threads.

A `Channel` is one connection used by one task at a time: the outbox's
pipelines, one inbox's blocking XREADGROUP, the reply stream's blocking
XREAD. On a single Redis (``redis://``, ``rediss://``, ``unix://``) it is a
`NativeChannel`: the commands go over a non-blocking socket that the task
waits on through trio (TLS over trio's SSLStream), so a round trip costs no
thread hop and little Python: an ask's four hops were most of its latency.
With Redis Cluster it is a `ThreadChannel` over redis-py's
cluster client (slot routing, redirections), each call in a worker thread.

Timeouts: a call on a plain connection records its deadline, and one task
per client (`enforce_timeouts`) closes a connection whose call waits past it;
a cancel scope per wait cost as much as the rest of the call.

Cancellation: a native call cut short leaves its connection in an unknown
state, so the connection is closed and the next call opens a new one (nothing
leaks, unlike a pool slot). Errors are redis-py's exception types, so callers
handle both kinds of channel alike.
"""

from __future__ import annotations

import math
import socket
import ssl
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol

import hiredis
import redis
import trio

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Channel", "NativeChannel", "ThreadChannel", "Words", "enforce_timeouts", "entries", "expand"]

Command = tuple[Any, ...]


class Channel(Protocol):
    """One connection for one task (see the module docstring)."""

    async def execute_many(self, commands: list[Command]) -> list[Any]:
        """Send ``commands`` as one pipeline; replies in order, a refused command's
        reply being its `redis.ResponseError` (not raised)."""

    async def execute(self, *command: Any, block_seconds: float = 0.0) -> Any:
        """One command (which may block up to ``block_seconds`` in Redis); raises its error."""

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""


def entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
    """The entries of an XREAD/XREADGROUP reply of one stream (RESP2, raw)."""
    if not reply:
        return []
    found = []
    for entry_id, fields in reply[0][1]:
        if isinstance(fields, list):  # raw RESP (a native channel); redis-py gives a dict
            fields = {fields[0]: fields[1]} if len(fields) == 2 else dict(zip(fields[::2], fields[1::2]))
        found.append((entry_id, fields or None))
    return found


class Words:
    """The fixed first words of a command, encoded once: ``(Words("XREAD", "COUNT", 10), ...)``.

    A command read in a loop (a blocking XREAD) differs from the last only in an id or
    two; its other words cost nothing to send again.
    """

    __slots__ = ("resp", "words")

    def __init__(self, *words: Any) -> None:
        self.words = words
        self.resp = b"".join(_bulk(word) for word in words)

    def __repr__(self) -> str:
        return f"Words{self.words!r}"


def expand(command: Command) -> Command:
    """The command as plain words (for redis-py)."""
    if command and type(command[0]) is Words:
        return (*command[0].words, *command[1:])
    return command


#: RESP bulk strings of the str and int arguments seen lately (command names, keys, group
#: and consumer names, counts): a command is mostly the same words each time.
_BULK: dict[str | int, bytes] = {}
_BULK_MAX = 4096


def _bulk(arg: Any) -> bytes:
    if type(arg) is bytes:
        return b"$%d\r\n%s\r\n" % (len(arg), arg)
    if isinstance(arg, str):
        data = arg.encode()
    elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
        data = repr(arg).encode()
    elif isinstance(arg, (bytes, bytearray, memoryview)):
        data = bytes(arg)
    else:
        raise TypeError(f"cannot send {type(arg).__name__} to Redis")
    chunk = b"$%d\r\n%s\r\n" % (len(data), data)
    if type(arg) is str or type(arg) is int:
        if len(_BULK) >= _BULK_MAX:
            _BULK.clear()
        _BULK[arg] = chunk
    return chunk


def _encode(commands: list[Command]) -> bytes:
    """Commands as RESP arrays of bulk strings, in one buffer."""
    parts: list[bytes] = []
    append, cached = parts.append, _BULK.get
    for command in commands:
        head = command[0]
        if type(head) is Words:
            append(b"*%d\r\n" % (len(head.words) + len(command) - 1))
            append(head.resp)
            command = command[1:]
        else:
            append(b"*%d\r\n" % len(command))
        for arg in command:
            if type(arg) is bytes:  # data: a frame, an entry id
                append(b"$%d\r\n%s\r\n" % (len(arg), arg))
                continue
            chunk = cached(arg) if type(arg) is str or type(arg) is int else None
            append(chunk if chunk is not None else _bulk(arg))
    return b"".join(parts)


def _error(reply: hiredis.ReplyError) -> redis.RedisError:
    text = str(reply)
    if text.startswith(("WRONGPASS", "NOAUTH")):
        return redis.AuthenticationError(text)
    if text.startswith("NOPERM"):
        return redis.exceptions.NoPermissionError(text)
    if text.startswith("LOADING"):
        return redis.exceptions.BusyLoadingError(text)
    return redis.ResponseError(text)


def _ssl_context(options: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if options.get("ssl_certfile"):
        context.load_cert_chain(options["ssl_certfile"], options.get("ssl_keyfile"))
    reqs = options.get("ssl_cert_reqs", "required")
    reqs = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}.get(reqs, reqs)
    context.check_hostname = bool(options.get("ssl_check_hostname", True)) and reqs != ssl.CERT_NONE
    context.verify_mode = reqs
    return context


class NativeChannel:
    """RESP2 over one connection, parsed by hiredis.

    A plain connection (TCP, Unix socket) is driven as a non-blocking socket:
    a command is sent with ``send`` at once and the task waits only for its
    answer (`trio.lowlevel.wait_readable`), without the per-call checkpoints
    and cancel scopes of a trio stream, which cost more than the round trip
    itself. TLS goes through trio's `SSLStream`.
    """

    def __init__(self, url: str, *, timeout: float, options: dict[str, Any]) -> None:
        parts = urllib.parse.urlsplit(url)
        self._scheme = parts.scheme
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._path = parts.path
        self._username = urllib.parse.unquote(parts.username) if parts.username else None
        self._password = urllib.parse.unquote(parts.password) if parts.password else options.get("password")
        db = parts.path.strip("/") if parts.scheme != "unix" else urllib.parse.parse_qs(parts.query).get("db", ["0"])[0]
        self._db = int(db or 0)
        self._ssl = _ssl_context(options) if parts.scheme == "rediss" else None
        self._timeout = timeout
        self._name = options.get("client_name")
        self._socket: socket.socket | None = None  # a plain connection (non-blocking)
        self._stream: trio.SSLStream[trio.SocketStream] | None = None  # a TLS connection
        self._reader = hiredis.Reader()
        # While a call on the plain connection waits for Redis: when it times out (else inf).
        # `enforce_timeouts` closes a connection past it: cheaper than a cancel scope per wait.
        self.deadline = math.inf
        self._timed_out = False

    @property
    def connected(self) -> bool:
        return self._socket is not None or self._stream is not None

    async def _connect(self) -> None:
        try:
            with trio.fail_after(self._timeout):
                if self._scheme == "unix":
                    stream = await trio.open_unix_socket(self._path)
                else:
                    stream = await trio.open_tcp_stream(self._host, self._port)  # (TCP_NODELAY set)
                if self._ssl is not None:
                    tls = trio.SSLStream(stream, self._ssl, server_hostname=self._host)
                    await tls.do_handshake()
                    self._stream = tls
                else:
                    trio_socket = stream.socket
                    self._socket = socket.socket(
                        trio_socket.family, trio_socket.type, trio_socket.proto, fileno=trio_socket.detach()
                    )
                    self._socket.setblocking(False)
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
            raise redis.ConnectionError(f"Error connecting to {self._host}:{self._port}: {exc}") from None
        self._reader = hiredis.Reader()
        self._timed_out = False
        hello: list[Command] = []
        if self._password is not None:
            hello.append(("AUTH", self._username, self._password) if self._username else ("AUTH", self._password))
        if self._db:
            hello.append(("SELECT", self._db))
        if self._name:
            hello.append(("CLIENT", "SETNAME", self._name))  # CLIENT LIST shows whose it is
        if hello:
            for reply in await self._roundtrip(hello, 0.0):
                if isinstance(reply, redis.RedisError):
                    self.close()
                    raise reply

    async def _roundtrip(self, commands: list[Command], block_seconds: float) -> list[Any]:
        if self._socket is None and self._stream is None:
            await self._connect()
        payload = _encode(commands)
        limit = self._timeout + block_seconds
        try:
            if self._socket is not None:
                return await self._socket_roundtrip(self._socket, payload, len(commands), limit)
            assert self._stream is not None
            return await self._stream_roundtrip(self._stream, payload, len(commands), limit)
        except trio.TooSlowError:
            self.close()
            raise redis.TimeoutError(f"Redis did not answer within {limit:g} s") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.close()
            if self._timed_out:  # closed by enforce_timeouts
                raise redis.TimeoutError(f"Redis did not answer within {limit:g} s") from None
            raise redis.ConnectionError(f"lost the connection to Redis: {exc}") from None
        except BaseException:
            self.close()  # cancelled mid-call: the connection's state is unknown
            raise

    async def _socket_roundtrip(self, sock: socket.socket, payload: bytes, count: int, limit: float) -> list[Any]:
        self.deadline = trio.current_time() + limit
        try:
            sent = sock.send(payload)
        except BlockingIOError:
            sent = 0
        if sent < len(payload):  # more than the socket's buffer takes at once
            view = memoryview(payload)[sent:]
            while view:
                await trio.lowlevel.wait_writable(sock)
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    pass
        reader = self._reader
        replies: list[Any] = []
        waited = False
        while len(replies) < count:
            reply = reader.gets()
            if reply is False:  # Redis has not answered yet: wait (it never has, right after a send)
                waited = True
                await trio.lowlevel.wait_readable(sock)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    raise redis.ConnectionError("Redis closed the connection")
                reader.feed(data)
                continue
            replies.append(_error(reply) if type(reply) is hiredis.ReplyError else reply)
        self.deadline = math.inf
        if not waited:  # every async call is a checkpoint, even when Redis was that fast
            await trio.lowlevel.checkpoint()
        return replies

    async def _stream_roundtrip(self, stream: trio.abc.Stream, payload: bytes, count: int, limit: float) -> list[Any]:
        reader = self._reader
        replies: list[Any] = []
        with trio.fail_after(limit):
            await stream.send_all(payload)
            while len(replies) < count:
                reply = reader.gets()
                if reply is False:
                    data = await stream.receive_some(65536)
                    if not data:
                        raise redis.ConnectionError("Redis closed the connection")
                    reader.feed(bytes(data))
                    continue
                replies.append(_error(reply) if isinstance(reply, hiredis.ReplyError) else reply)
        return replies

    async def execute_many(self, commands: list[Command]) -> list[Any]:
        return await self._roundtrip(commands, 0.0)

    async def execute(self, *command: Any, block_seconds: float = 0.0) -> Any:
        reply = (await self._roundtrip([command], block_seconds))[0]
        if isinstance(reply, redis.RedisError):
            raise reply
        return reply

    def expire(self, now: float) -> None:
        """Close the connection if its call has waited past its deadline (see `enforce_timeouts`)."""
        if self.deadline <= now:
            self._timed_out = True
            self.close()

    def close(self) -> None:
        self.deadline = math.inf
        sock, self._socket = self._socket, None
        if sock is not None:
            try:
                trio.lowlevel.notify_closing(sock)  # a task waiting on it wakes (ClosedResourceError)
            except RuntimeError:  # closed outside trio: nobody can be waiting on it
                pass
            sock.close()
        stream, self._stream = self._stream, None
        if stream is not None:
            # Closing the socket needs no wait: drop it (an SSLStream's own aclose would
            # want a round trip, and this runs in cancelled code too).
            transport = stream.transport_stream
            trio_socket = getattr(transport, "socket", None)
            if trio_socket is not None:
                trio_socket.close()


async def enforce_timeouts(channels: list[Channel], period: float) -> None:
    """Fail the calls of native channels that wait on Redis past their deadline.

    One task watches all of a client's channels: every ``period`` seconds it
    closes the connection of a call waiting too long, which then raises
    `redis.TimeoutError` (so a timeout fires up to ``period`` late). Run it
    for as long as the channels are used; without it, calls on plain
    connections wait for as long as Redis takes.
    """
    while True:
        await trio.sleep(period)
        now = trio.current_time()
        for channel in channels:
            if isinstance(channel, NativeChannel):
                channel.expire(now)


class ThreadChannel:
    """redis-py (plain or cluster) in worker threads: for Redis Cluster."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def execute_many(self, commands: list[Command]) -> list[Any]:
        def run() -> list[Any]:
            pipe = self._client.redis.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*expand(command))
            return pipe.execute(raise_on_error=False)  # type: ignore[no-any-return]

        return await self._client.call(run)

    async def execute(self, *command: Any, block_seconds: float = 0.0) -> Any:
        command = expand(command)
        if block_seconds:
            return await self._client.blocking(self._client.redis.execute_command, *command)
        return await self._client.call(self._client.redis.execute_command, *command)

    def close(self) -> None:
        pass
