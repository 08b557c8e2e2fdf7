"""Remote actors on Redis Streams: ``pip install 'trio-actors[redis]'``.

`RedisTransport` carries messages between actor systems on different
processes or machines through Redis 7 (single server, ACL users, TLS, or
Redis Cluster): give it to ``open_actor_system(node=..., transport=...)``,
then ``spawn(..., public=True)`` and ``system.remote(name)``.
"""

try:
    import msgspec as _msgspec  # noqa: F401
    import redis as _redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"actors.redis needs the 'redis' extra ({exc.name} is missing): pip install 'trio-actors[redis]'"
    ) from exc

from .._transport import RemoteError as RemoteError
from ._client import TransportError as TransportError
from ._transport import RedisTransport as RedisTransport

__all__ = ["RedisTransport", "RemoteError", "TransportError"]
