"""One node of the multi-process tests: ``python node_main.py URL NAMESPACE NODE [DELAY]``.

Serves ``worker`` (nodekit.Worker) and ``counter``, which records each Item's
sequence number in the Redis list ``<namespace>:done`` (so the test sees every
handling, duplicates included, even of a node it killed).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import redis
import trio
from nodekit import ERRORS, MESSAGES, Item, Worker

from actors import Actor, open_actor_system
from actors.redis import RedisTransport


class Counter(Actor):
    def __init__(self, url: str, key: str, delay: float) -> None:
        self.client = redis.Redis.from_url(url)
        self.key = key
        self.delay = delay

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Item):
            await trio.sleep(self.delay)
            self.client.rpush(self.key, message.seq)  # the effect (quick; a test node)
        return None


async def main(url: str, namespace: str, node: str, delay: float) -> None:
    transport = RedisTransport(
        url,
        namespace=namespace,
        messages=MESSAGES,
        errors=ERRORS,
        lease=1.0,
        read_block=1.0,
        prefetch=int(os.environ.get("NODE_PREFETCH", "16")),
    )
    async with open_actor_system(node=node, transport=transport) as system:
        await system.spawn(Worker, node, name="worker", public=True)
        await system.spawn(Counter, url, f"{namespace}:done", delay, name="counter", public=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
