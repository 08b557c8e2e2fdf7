"""The Redis client: redis-py's synchronous client in worker threads, and hot-path channels.

Chosen by measurement (see the handoff notes and ``benchmarks``): on this
machine redis-py costs about a sixth of coredis's CPU per command, pipelines
twice as fast, and it has no connection-pool leak on cancelled blocking reads
(coredis 6.9 loses a pool slot per cancelled XREADGROUP and then hangs). The
price is a thread hop per call (~100 us), so the transport batches: one call
carries every queued tell, reply and acknowledgement as a pipeline.

Cancellation: a short command is never abandoned (its thread finishes within
``socket_timeout``); a blocking read is abandoned on cancel, and anything it
delivered afterwards stays pending for this consumer, read again with id ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.cluster
import trio

from ._resp import Channel, NativeChannel, ThreadChannel, enforce_timeouts

__all__ = ["Client", "Keys", "TransportError", "check_namespace", "check_public_name", "is_nogroup", "is_transient"]

T = TypeVar("T")

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]+$")


class TransportError(ConnectionError):
    """Redis refused or could not be reached; the text says which and what to check."""


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, not {type(namespace).__name__}")
    if not _NAMESPACE.match(namespace):
        raise ValueError(f"namespace must be letters, digits, '_', '.' or '-', got {namespace!r}")
    return namespace


def check_public_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not name or any(c in name for c in "{}/") or not name.isprintable():
        raise ValueError(f"{what} must be a non-empty printable string without '{{', '}}' or '/', got {name!r}")
    return name


class Keys:
    """Every Redis key of one namespace. Keys of one public name share a hash tag
    (one Redis Cluster slot), and so do the keys of one node."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def inbox(self, name: str) -> str:
        """The public name's stream (read through the consumer group ``name``)."""
        return f"actors:{{{self.namespace}/{name}}}:inbox"

    def epoch(self, name: str) -> str:
        """Set when the group is created: a NOGROUP without it means Redis lost its data."""
        return f"actors:{{{self.namespace}/{name}}}:epoch"

    def servers(self, name: str) -> str:
        """The set of nodes that serve the name (each also needs a live lease)."""
        return f"actors:{{{self.namespace}/{name}}}:nodes"

    def lease(self, node: str) -> str:
        """A node's heartbeat lease; its value is the node's incarnation id."""
        return f"actors:{{{self.namespace}@{node}}}:lease"

    def replies(self, node: str, incarnation: str) -> str:
        """A node incarnation's reply stream (answers to its asks)."""
        return f"actors:{{{self.namespace}@{node}}}:replies:{incarnation}"


def is_transient(error: BaseException) -> bool:
    """An outage worth retrying (connection lost, cluster re-sharding, Redis loading)."""
    transient = (
        redis.ConnectionError,
        redis.TimeoutError,
        redis.exceptions.BusyLoadingError,
        redis.exceptions.ClusterDownError,
        redis.exceptions.TryAgainError,
    )
    return isinstance(error, transient)


def is_nogroup(error: BaseException) -> bool:
    return isinstance(error, redis.ResponseError) and str(error).startswith("NOGROUP")


def _describe(error: BaseException, url: str) -> str:
    where = _redact(url)
    text = str(error) or type(error).__name__
    if isinstance(error, redis.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return f"Redis at {where} refused the credentials ({text}); check the user and password in the URL"
    if isinstance(error, redis.exceptions.NoPermissionError) or "NOPERM" in text:
        return (
            f"Redis at {where} denied a command ({text}); the ACL user needs stream, key and script "
            f"commands on keys 'actors:{{<namespace>...' (see the README)"
        )
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return f"cannot reach Redis at {where} ({text}); is it running, and is the URL (rediss:// for TLS) right?"
    return f"Redis at {where} failed: {text}"


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


class Client:
    """One redis-py client (plain or cluster) and the threads that drive it."""

    def __init__(self, url: str, *, cluster: bool, socket_timeout: float, options: dict[str, Any]) -> None:
        self.url = url
        kwargs = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout, **options}
        self.cluster = cluster
        self.socket_timeout = socket_timeout
        self.options = options
        if cluster:
            self.redis: Any = redis.cluster.RedisCluster.from_url(url, **kwargs)
        else:
            self.redis = redis.Redis.from_url(url, **kwargs)
        self._channels: list[Channel] = []
        # Our own threads: one per blocking reader plus a few for commands; never the
        # system's tool limiter, so user tools cannot starve the transport (or it them).
        self.limiter = trio.CapacityLimiter(256)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (a redis-py call) in a thread; finish it even if cancelled."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self.limiter)

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like `call`, for a blocking read: abandoned (not waited for) when cancelled."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self.limiter, abandon_on_cancel=True)

    def channel(self) -> Channel:
        """A connection of its own for one task's hot path (see ``_resp``)."""
        channel: Channel
        if self.cluster:
            channel = ThreadChannel(self)
        else:
            channel = NativeChannel(self.url, timeout=self.socket_timeout, options=self.options)
        self._channels.append(channel)
        return channel

    async def enforce_timeouts(self) -> None:
        """Time out the channels' calls after ``socket_timeout`` (run while the client is used)."""
        await enforce_timeouts(self._channels, period=min(1.0, self.socket_timeout / 10))

    def error(self, error: BaseException) -> TransportError:
        """One clear error for a redis-py failure (never a group, never a bare driver error)."""
        return TransportError(_describe(error, self.url))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        try:
            self.redis.close()
        except Exception:  # closing a broken client: nothing left to do
            pass
