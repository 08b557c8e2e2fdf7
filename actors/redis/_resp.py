"""The hot path's connections: RESP over trio streams (hiredis parses), or redis-py in threads.

A `Channel` is one connection used by one task at a time: the outbox's
pipelines, one inbox's blocking XREADGROUP, the reply stream's blocking
XREAD. On a single Redis (``redis://``, ``rediss://``, ``unix://``) it is a
`NativeChannel`: the commands go over a trio socket (TLS with trio's
SSLStream), so a round trip costs no thread hop; an ask's four hops were most
of its latency. With Redis Cluster it is a `ThreadChannel` over redis-py's
cluster client (slot routing, redirections), each call in a worker thread.

Cancellation: a native call cut short leaves its connection in an unknown
state, so the connection is closed and the next call opens a new one (nothing
leaks, unlike a pool slot). Errors are redis-py's exception types, so callers
handle both kinds of channel alike.
"""

from __future__ import annotations

import ssl
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol

import hiredis
import redis
import trio

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Channel", "NativeChannel", "ThreadChannel", "entries"]

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
            fields = dict(zip(fields[::2], fields[1::2]))
        found.append((entry_id, fields or None))
    return found


def _encode(command: Command) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
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
    """RESP2 over a trio stream, parsed by hiredis."""

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
        self._stream: trio.abc.Stream | None = None
        self._reader = hiredis.Reader()

    async def _connect(self) -> trio.abc.Stream:
        try:
            with trio.fail_after(self._timeout):
                if self._scheme == "unix":
                    stream: trio.abc.Stream = await trio.open_unix_socket(self._path)
                else:
                    stream = await trio.open_tcp_stream(self._host, self._port)
                if self._ssl is not None:
                    stream = trio.SSLStream(stream, self._ssl, server_hostname=self._host)
                    await stream.do_handshake()
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
            raise redis.ConnectionError(f"Error connecting to {self._host}:{self._port}: {exc}") from None
        self._stream = stream
        self._reader = hiredis.Reader()
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
        return stream

    async def _roundtrip(self, commands: list[Command], block_seconds: float) -> list[Any]:
        stream = self._stream if self._stream is not None else await self._connect()
        replies: list[Any] = []
        try:
            with trio.fail_after(self._timeout + block_seconds):
                await stream.send_all(b"".join(map(_encode, commands)))
                while len(replies) < len(commands):
                    reply = self._reader.gets()
                    if reply is False:
                        data = await stream.receive_some(65536)
                        if not data:
                            raise redis.ConnectionError("Redis closed the connection")
                        self._reader.feed(bytes(data))
                        continue
                    replies.append(_error(reply) if isinstance(reply, hiredis.ReplyError) else reply)
        except trio.TooSlowError:
            self.close()
            raise redis.TimeoutError(f"Redis did not answer within {self._timeout + block_seconds:g} s") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.close()
            raise redis.ConnectionError(f"lost the connection to Redis: {exc}") from None
        except BaseException:
            self.close()  # cancelled mid-call: the connection's state is unknown
            raise
        return replies

    async def execute_many(self, commands: list[Command]) -> list[Any]:
        return await self._roundtrip(commands, 0.0)

    async def execute(self, *command: Any, block_seconds: float = 0.0) -> Any:
        reply = (await self._roundtrip([command], block_seconds))[0]
        if isinstance(reply, redis.RedisError):
            raise reply
        return reply

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            # Closing the socket needs no wait: drop it (an SSLStream's own aclose would
            # want a round trip, and this runs in cancelled code too).
            transport = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
            socket = getattr(transport, "socket", None)
            if socket is not None:
                socket.close()


class ThreadChannel:
    """redis-py (plain or cluster) in worker threads: for Redis Cluster."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def execute_many(self, commands: list[Command]) -> list[Any]:
        def run() -> list[Any]:
            pipe = self._client.redis.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return pipe.execute(raise_on_error=False)  # type: ignore[no-any-return]

        return await self._client.call(run)

    async def execute(self, *command: Any, block_seconds: float = 0.0) -> Any:
        if block_seconds:
            return await self._client.blocking(self._client.redis.execute_command, *command)
        return await self._client.call(self._client.redis.execute_command, *command)

    def close(self) -> None:
        pass
