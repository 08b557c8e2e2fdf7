"""Node liveness: a heartbeat lease per node, and who serves each public name.

A node holds the key ``lease(node)`` (its incarnation id, with a TTL of
``lease`` seconds) and renews it every third of that. A name's server set
lists the nodes that serve it; a node counts as serving a name while it is in
the set *and* its lease lives, so a node killed with ``kill -9`` stops counting
within one lease, and other servers of its names then claim its pending
messages. A node that leaves in order deletes its lease and leaves the sets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ._client import Client, Keys

__all__ = ["Liveness"]

log = logging.getLogger("actors.redis")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Liveness:
    """This node's lease and its entries in the server sets."""

    def __init__(
        self, client: Client, keys: Keys, node: str, incarnation: str, *, lease_ms: int, replies_key: str
    ) -> None:
        self._client = client
        self._keys = keys
        self.node = node
        self.incarnation = incarnation
        self.lease_ms = lease_ms
        self._replies_key = replies_key

    async def start(self) -> None:
        r = self._client.redis
        previous = await self._client.call(
            r.set, self._keys.lease(self.node), self.incarnation, px=self.lease_ms, get=True
        )
        if previous is not None:
            log.info(
                "node '%s' takes over from its previous incarnation (lease %s); it handles "
                "what that one left pending first",
                self.node,
                _text(previous),
            )

    async def beat(self, names: Iterable[str]) -> bool:
        """Renew the lease and this node's server entries; False if the reply stream was gone."""
        r = self._client.redis
        keys = self._keys
        names = list(names)

        def beat() -> list[object]:
            pipe = r.pipeline(transaction=False)
            pipe.set(keys.lease(self.node), self.incarnation, px=self.lease_ms)
            pipe.pexpire(self._replies_key, 3 * self.lease_ms)
            for name in names:
                pipe.sadd(keys.servers(name), self.node)
            return pipe.execute()  # type: ignore[no-any-return]

        results = await self._client.call(beat)
        return bool(results[1])

    async def join(self, name: str) -> None:
        await self._client.call(self._client.redis.sadd, self._keys.servers(name), self.node)

    async def part(self, name: str) -> None:
        await self._client.call(self._client.redis.srem, self._keys.servers(name), self.node)

    async def servers(self, name: str) -> list[str]:
        """The nodes serving ``name`` now (in its set, lease alive), sorted; prunes the dead."""
        r = self._client.redis
        keys = self._keys

        def look() -> list[str]:
            members = sorted(_text(m) for m in r.smembers(keys.servers(name)))
            if not members:
                return []
            pipe = r.pipeline(transaction=False)
            for member in members:
                pipe.exists(keys.lease(member))
            alive = pipe.execute()
            dead = [m for m, a in zip(members, alive) if not a]
            if dead:
                r.srem(keys.servers(name), *dead)
            return [m for m, a in zip(members, alive) if a]

        return await self._client.call(look)

    async def leave(self, names: Iterable[str]) -> None:
        """Drop the lease and leave every server set (an orderly stop)."""
        r = self._client.redis
        keys = self._keys
        names = list(names)

        def leave() -> None:
            pipe = r.pipeline(transaction=False)
            for name in names:
                pipe.srem(keys.servers(name), self.node)
            pipe.delete(keys.lease(self.node))
            pipe.delete(self._replies_key)
            pipe.execute()

        await self._client.call(leave)
