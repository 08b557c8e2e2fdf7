"""``python -m benchmarks._streams``: ask_stream items per second next to a raw trio memory channel.

Both move N integers from a producer to a reader through a buffer of 16, in one
trio run: the raw one from a task with ``await send_channel.send(i)`` to a task
that iterates the receive channel; the actor one from a handler with ``await
stream.send(i)`` to ``async for`` over ``ref.ask_stream(...)``. The two take
turns, best of the repeats, as the main benchmarks do. Target: ask_stream at
least half the raw channel's rate.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

import trio

from actors import Actor, open_actor_system

BUFFER = 16


class Producer(Actor):
    async def receive(self, n: int) -> None:
        stream = self.reply_stream()
        for i in range(n):
            await stream.send(i)


async def raw_channel(n: int) -> float:
    send, receive = trio.open_memory_channel[int](BUFFER)
    total = 0

    async def produce() -> None:
        async with send:
            for i in range(n):
                await send.send(i)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(produce)
        async with receive:
            async for item in receive:
                total += item
    elapsed = time.perf_counter() - started
    assert total == n * (n - 1) // 2
    return n / elapsed


async def ask_stream(n: int) -> float:
    async with open_actor_system() as system:
        ref = await system.spawn(Producer)
        total = 0
        started = time.perf_counter()
        async with ref.ask_stream(n, timeout=600, buffer=BUFFER) as items:
            async for item in items:
                total += item
        elapsed = time.perf_counter() - started
    assert total == n * (n - 1) // 2
    return n / elapsed


def measure(n: int, repeats: int) -> dict[str, float]:
    best = {"raw_trio_channel_items_per_s": 0.0, "ask_stream_items_per_s": 0.0}
    for _ in range(repeats):
        for key, fn in (("raw_trio_channel_items_per_s", raw_channel), ("ask_stream_items_per_s", ask_stream)):
            gc.collect()
            best[key] = max(best[key], trio.run(fn, n))
    best["ask_stream_vs_raw_trio_channel"] = best["ask_stream_items_per_s"] / best["raw_trio_channel_items_per_s"]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    figures = measure(args.items, args.repeats)
    figures["target_met_0_5x"] = figures["ask_stream_vs_raw_trio_channel"] >= 0.5
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value
                      for key, value in figures.items()}))


if __name__ == "__main__":
    main()
