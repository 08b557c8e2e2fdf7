"""``python -m benchmarks.remote [--quick] [--json]``: remote actors over Redis, beside the raw client.

Two OS processes and a Redis 7 (``ACTORS_REDIS_URL``, else 127.0.0.1:6379), all measured in
the same run, best of the repeats, the workloads taking turns (the machine is shared):

- ``raw_roundtrip_per_s``: redis-py (sync) XADD a request; a peer process blocked in
  XREADGROUP XADDs it to a reply stream and XACKs; the sender's blocking XREAD gets it.
- ``raw_pipelined_per_s``: N XADDs in one pipeline, then a consumer XREADGROUPs and XACKs
  them all (COUNT 1000).
- ``raw_ping_per_s``: sequential PINGs.
- ``remote_ask_per_s``, ``remote_ask_20_per_s``, ``remote_ask_100_per_s``: ``await
  ref.ask(Echo)`` to a public actor on the other process, sequential and from 20 / 100 tasks.
- ``remote_tell_per_s``: N ``ref.tell`` (sync) and a final ask, which the receiver handles
  after every tell (per-sender order): time until all were handled.

The targets of issue 14 are printed beside the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import attrs
import redis
import trio

from actors import Actor, open_actor_system
from actors.redis import RedisTransport

URL = os.environ.get("ACTORS_REDIS_URL", "redis://127.0.0.1:6379")


@attrs.frozen
class Echo:
    text: str


class Echoer(Actor):
    async def receive(self, message: Any) -> Any:
        return message


# -- the peer processes ----------------------------------------------------------


def serve_raw(request: str, reply: str) -> None:
    """The raw peer: XREADGROUP requests, XADD each to the reply stream, XACK."""
    client = redis.Redis.from_url(URL)
    try:
        client.xgroup_create(request, "g", id="0", mkstream=True)
    except redis.ResponseError:
        pass
    print("ready", flush=True)
    while True:
        result = client.xreadgroup("g", "c", {request: ">"}, count=100, block=2000)
        if not result:
            continue
        pipe = client.pipeline(transaction=False)
        for entry_id, fields in result[0][1]:
            if fields[b"m"] == b"stop":
                return
            pipe.xadd(reply, {b"m": fields[b"m"]})
            pipe.xack(request, "g", entry_id)
        pipe.execute()


async def serve_node(namespace: str) -> None:
    transport = RedisTransport(URL, namespace=namespace, messages=[Echo])
    async with open_actor_system(node="server", transport=transport) as system:
        await system.spawn(Echoer, name="echo", public=True)
        print("ready", flush=True)
        await trio.sleep_forever()


def _peer(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.remote", *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


# -- the workloads -----------------------------------------------------------------


def raw_roundtrip(client: redis.Redis, n: int) -> float:
    tag = uuid.uuid4().hex[:8]
    request, reply = f"bench:{tag}:req", f"bench:{tag}:rep"
    last = client.xadd(reply, {b"m": b"start"})
    peer = _peer("--serve-raw", request, reply)
    try:
        start = time.perf_counter()
        for _ in range(n):
            client.xadd(request, {b"m": b"hello"})
            while not (result := client.xread({reply: last}, count=1, block=1000)):
                pass
            last = result[0][1][-1][0]
        elapsed = time.perf_counter() - start
    finally:
        client.xadd(request, {b"m": b"stop"})
        peer.wait()
        client.delete(request, reply)
    return n / elapsed


def raw_pipelined(client: redis.Redis, n: int) -> float:
    stream = f"bench:{uuid.uuid4().hex[:8]}:bulk"
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for _ in range(n):
        pipe.xadd(stream, {b"m": b"x" * 30})
    pipe.execute()
    got = 0
    while got < n:
        entries = client.xreadgroup("g", "c", {stream: ">"}, count=1000)[0][1]
        ids = [entry_id for entry_id, _ in entries]
        client.xack(stream, "g", *ids)
        got += len(ids)
    elapsed = time.perf_counter() - start
    client.delete(stream)
    return n / elapsed


def raw_ping(client: redis.Redis, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.ping()
    return n / (time.perf_counter() - start)


async def remote(n_asks: int, n_tells: int) -> dict[str, float]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    peer = _peer("--serve-node", namespace)
    figures: dict[str, float] = {}
    try:
        async with open_actor_system(node="client", transport=RedisTransport(URL, namespace=namespace,
                                                                               messages=[Echo])) as system:
            echo = system.remote("echo")
            for _ in range(50):  # warm up: connections, threads
                assert await echo.ask(Echo("w")) == Echo("w")
            start = time.perf_counter()
            for _ in range(n_asks):
                await echo.ask(Echo("x"))
            figures["remote_ask_per_s"] = n_asks / (time.perf_counter() - start)
            for tasks in (20, 100):
                each = max(1, 2 * n_asks // tasks)

                async def asker() -> None:
                    for _ in range(each):
                        await echo.ask(Echo("x"))

                start = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    for _ in range(tasks):
                        nursery.start_soon(asker)
                figures[f"remote_ask_{tasks}_per_s"] = each * tasks / (time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(n_tells):
                echo.tell(Echo("t"))
                if i % 1000 == 999:
                    await trio.sleep(0)  # let the outbox flush as a real sender would
            await echo.ask(Echo("end"), timeout=300)
            figures["remote_tell_per_s"] = n_tells / (time.perf_counter() - start)
    finally:
        peer.kill()
        peer.wait()
        client = redis.Redis.from_url(URL)
        keys = list(client.scan_iter(match=f"actors:{{{namespace}*"))
        if keys:
            client.delete(*keys)
    return figures


def measure(quick: bool) -> dict[str, float]:
    n_asks, n_tells, repeats = (500, 5_000, 2) if quick else (2_000, 20_000, 3)
    client = redis.Redis.from_url(URL)
    best: dict[str, float] = {}
    for repeat in range(repeats):
        round_figures = {
            "raw_roundtrip_per_s": raw_roundtrip(client, n_asks),
            "raw_pipelined_per_s": raw_pipelined(client, n_tells),
            "raw_ping_per_s": raw_ping(client, n_asks),
            **trio.run(remote, n_asks, n_tells),
        }
        for key, value in round_figures.items():
            best[key] = max(best.get(key, 0.0), value)
        print(f"repeat {repeat + 1} of {repeats} done", file=sys.stderr, flush=True)
    return best


def report(figures: dict[str, float]) -> str:
    rows = [f"{key:<24} {value:>12,.0f}/s" for key, value in figures.items()]
    ratio = lambda a, b: figures[a] / figures[b]  # noqa: E731
    rows += [
        "",
        f"remote ask / raw round trip       {ratio('remote_ask_per_s', 'raw_roundtrip_per_s'):.2f}x  (target >= 0.8x)",
        f"remote tell / raw pipelined       {ratio('remote_tell_per_s', 'raw_pipelined_per_s'):.2f}x  (target >= 0.5x)",
        f"100 askers / sequential ask       {ratio('remote_ask_100_per_s', 'remote_ask_per_s'):.1f}x  (target >= 3x)",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.remote", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-raw", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--serve-node", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        serve_raw(*args.serve_raw)
        return
    if args.serve_node:
        trio.run(serve_node, args.serve_node)
        return
    figures = measure(args.quick)
    print(json.dumps(figures) if args.json else report(figures))


if __name__ == "__main__":
    main()
