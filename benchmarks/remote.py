"""``python -m benchmarks.remote [--quick] [--json] [--repeats N]``: remote actors over Redis, beside the raw client.

Also ``python -m benchmarks --remote``. Two OS processes and a Redis 7 (``ACTORS_REDIS_URL``,
else 127.0.0.1:6379). Each round starts fresh peer processes and measures every figure once;
the figures compared with each other run interleaved in slices (raw, ours, raw, ours...), so a
noisy spell of the shared machine hits both. Figures are medians of the rounds (with min-max);
ratios are medians of the per-round ratios, as in ``python -m benchmarks``.

- ``raw_roundtrip_per_s``: redis-py (sync) XADD a request; a peer process blocked in
  XREADGROUP XADDs it to a reply stream and XACKs; the sender's blocking XREAD gets it.
- ``remote_ask_per_s``: sequential ``await ref.ask(Echo)`` to a public actor on the other
  process; ``remote_ask_20_per_s`` and ``remote_ask_100_per_s``: from 20 / 100 tasks.
- ``raw_pipelined_per_s``: N XADDs in one pipeline, then a consumer XREADGROUPs and XACKs
  them all (COUNT 1000).
- ``remote_tell_per_s``: N ``ref.tell`` (sync) and a final ask, which the receiver handles
  after every tell (per-sender order): time until all were handled.
- ``raw_ping_per_s``: sequential PINGs (redis-py).
- ``client_cpu_us_per_ask``, ``client_cpu_us_per_raw_roundtrip``: CPU time (user + system)
  the measuring process spent per sequential remote ask, and per raw round trip.

The targets of issue 14 are printed beside the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import trio
import trio.lowlevel

from actors import Actor, open_actor_system

from ._report import spread


def redis_url() -> str:
    """The Redis to measure with: ``ACTORS_REDIS_URL``, else 127.0.0.1:6379 (read at each
    call; the peer processes inherit the environment)."""
    return os.environ.get("ACTORS_REDIS_URL", "redis://127.0.0.1:6379")


@attrs.frozen
class RemoteSizes:
    """Operations per figure and round."""

    asks: int  # sequential asks (and raw round trips); the concurrent runs do twice as many
    tells: int  # tells (and raw pipelined XADDs)
    repeats: int  # rounds
    slices: int = 4  # raw and ours take turns this many times within a round


FULL = RemoteSizes(asks=2_000, tells=20_000, repeats=5)
QUICK = RemoteSizes(asks=500, tells=5_000, repeats=3)

#: (key, top, bottom, limit): ratios per round; issue 14's target is median >= limit.
RATIOS: tuple[tuple[str, str, str, float], ...] = (
    ("ask_vs_raw_roundtrip", "remote_ask_per_s", "raw_roundtrip_per_s", 0.8),
    ("tell_vs_raw_pipelined", "remote_tell_per_s", "raw_pipelined_per_s", 0.5),
    ("ask_100_vs_sequential", "remote_ask_100_per_s", "remote_ask_per_s", 3.0),
)


def unavailable() -> str | None:
    """Why the remote benchmark cannot run here (None: it can)."""
    url = redis_url()
    try:
        import hiredis  # noqa: F401
        import msgspec  # noqa: F401
        import redis
    except ImportError as exc:
        return f"the 'redis' extra is not installed ({exc}): pip install 'trio-actors[redis]'"
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"no Redis answers at {url} ({exc}); start redis-server or set ACTORS_REDIS_URL"
    return None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peer(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.remote", *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(f"the benchmark's peer process ({' '.join(args)}) did not start")
    return process


# -- the peer processes ----------------------------------------------------------


def serve_raw(request: str, reply: str) -> None:
    """The raw peer: XREADGROUP requests, XADD each to the reply stream, XACK."""
    import redis

    client: Any = redis.Redis.from_url(redis_url())  # (redis-py's stubs type replies loosely)
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
    """The remote peer: a node serving the public actor ``echo``."""
    from actors.redis import RedisTransport  # (the 'redis' extra: imported only when used)

    transport = RedisTransport(redis_url(), namespace=namespace, messages=[Echo])
    async with open_actor_system(node="server", transport=transport) as system:
        await system.spawn(Echoer, name="echo", public=True)
        print("ready", flush=True)
        await trio.sleep_forever()


@attrs.frozen
class Echo:
    text: str


class Echoer(Actor):
    async def receive(self, message: Any) -> Any:
        return message


# -- the raw client's workloads ----------------------------------------------------


class RawPeer:
    """The raw round trip: this process's redis-py client and a peer process (`serve_raw`)."""

    def __init__(self, client: Any) -> None:
        tag = uuid.uuid4().hex[:8]
        self.client = client
        self.request, self.reply = f"bench:{tag}:req", f"bench:{tag}:rep"
        self.last = client.xadd(self.reply, {b"m": b"start"})
        self.process = _peer("--serve-raw", self.request, self.reply)

    def roundtrips(self, n: int) -> float:
        """Seconds for ``n`` sequential round trips."""
        client, request, reply = self.client, self.request, self.reply
        last = self.last
        start = time.perf_counter()
        for _ in range(n):
            client.xadd(request, {b"m": b"hello"})
            while not (result := client.xread({reply: last}, count=1, block=1000)):
                pass
            last = result[0][1][-1][0]
        elapsed = time.perf_counter() - start
        self.last = last
        return elapsed

    def close(self) -> None:
        self.client.xadd(self.request, {b"m": b"stop"})
        self.process.wait()
        self.client.delete(self.request, self.reply)


def raw_pipelined(client: Any, n: int) -> float:
    """Seconds to XADD ``n`` entries in one pipeline, then XREADGROUP and XACK them all."""
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
    return elapsed


def raw_ping(client: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.ping()
    return time.perf_counter() - start


# -- one round ---------------------------------------------------------------------


async def one_round(sizes: RemoteSizes, client: Any) -> dict[str, float]:
    """Every figure once: a fresh peer node and raw peer, raw and ours interleaved."""
    from actors.redis import RedisTransport

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    node = _peer("--serve-node", namespace)
    raw = RawPeer(client)
    figures: dict[str, float] = {}
    try:
        transport = RedisTransport(redis_url(), namespace=namespace, messages=[Echo])
        async with open_actor_system(node="client", transport=transport) as system:
            echo = system.remote("echo")
            for _ in range(100):  # warm up: connections, caches
                assert await echo.ask(Echo("w"), timeout=30) == Echo("w")
            raw.roundtrips(100)

            async def asks(n: int) -> float:
                start = time.perf_counter()
                for _ in range(n):
                    await echo.ask(Echo("x"), timeout=30)
                return time.perf_counter() - start

            async def tells(n: int) -> float:
                start = time.perf_counter()
                for i in range(n):
                    echo.tell(Echo("t"))
                    if i % 1000 == 999:
                        await trio.lowlevel.checkpoint()  # let the outbox flush as a real sender would
                assert await echo.ask(Echo("end"), timeout=300) == Echo("end")
                return time.perf_counter() - start

            each = sizes.asks // sizes.slices
            ours = theirs = ours_cpu = theirs_cpu = 0.0
            for turn in range(sizes.slices):  # who goes first alternates
                for side in ("raw", "ours") if turn % 2 == 0 else ("ours", "raw"):
                    cpu = _cpu()
                    if side == "raw":
                        theirs += raw.roundtrips(each)
                        theirs_cpu += _cpu() - cpu
                    else:
                        ours += await asks(each)
                        ours_cpu += _cpu() - cpu
            total = each * sizes.slices
            figures["raw_roundtrip_per_s"] = total / theirs
            figures["remote_ask_per_s"] = total / ours
            figures["client_cpu_us_per_raw_roundtrip"] = theirs_cpu / total * 1e6
            figures["client_cpu_us_per_ask"] = ours_cpu / total * 1e6

            for tasks in (20, 100):
                per_task = max(1, 2 * sizes.asks // tasks)

                async def asker(count: int = per_task) -> None:
                    for _ in range(count):
                        await echo.ask(Echo("x"), timeout=60)

                start = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    for _ in range(tasks):
                        nursery.start_soon(asker)
                figures[f"remote_ask_{tasks}_per_s"] = per_task * tasks / (time.perf_counter() - start)

            half = sizes.tells // 2
            ours = theirs = 0.0
            for side in ("raw", "ours", "ours", "raw"):
                if side == "raw":
                    theirs += raw_pipelined(client, half)
                else:
                    ours += await tells(half)
            figures["raw_pipelined_per_s"] = 2 * half / theirs
            figures["remote_tell_per_s"] = 2 * half / ours
            figures["raw_ping_per_s"] = sizes.asks / raw_ping(client, sizes.asks)
    finally:
        raw.close()
        node.kill()
        node.wait()
        keys = list(client.scan_iter(match=f"actors:{{{namespace}*"))
        if keys:
            client.delete(*keys)
    return figures


def measure(sizes: RemoteSizes, progress: Callable[[str], None] = lambda _: None) -> dict[str, list[float]]:
    """Every figure of every round: ``{key: [round 1, round 2, ...]}``."""
    import redis

    client = redis.Redis.from_url(redis_url())
    rates: dict[str, list[float]] = {}
    try:
        for repeat in range(sizes.repeats):
            for key, value in trio.run(one_round, sizes, client).items():
                rates.setdefault(key, []).append(value)
            ratio = rates["remote_ask_per_s"][-1] / rates["raw_roundtrip_per_s"][-1]
            progress(f"remote round {repeat + 1} of {sizes.repeats}: ask {ratio:.2f}x the raw round trip")
    finally:
        client.close()
    return rates


def summarise(rates: dict[str, list[float]], sizes: RemoteSizes | None = None) -> dict[str, Any]:
    """Medians (with ranges) of the figures and of the per-round ratios, and the targets."""
    figures = {key: spread(values, 1) for key, values in rates.items()}
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    for key, top, bottom, limit in RATIOS:
        per_round = [a / b for a, b in zip(rates.get(top, []), rates.get(bottom, []))]
        ratios[key] = spread(per_round, 3)
        value = None if ratios[key] is None else ratios[key]["median"]
        targets[f"{key}_{limit:g}x"] = {
            "of": key,
            "op": ">=",
            "limit": limit,
            "source": "issue 14",
            "value": value,
            "met": value is not None and value >= limit,
        }
    return {
        "url": redis_url(),
        "sizes": None if sizes is None else attrs.asdict(sizes),
        "figures": figures,
        "ratios": ratios,
        "targets": targets,
    }


def render(result: dict[str, Any]) -> str:
    """The table: figures, then ratios against their targets."""
    rows = []
    for key, figure in result["figures"].items():
        unit = "us" if key.startswith("client_cpu") else "/s"
        rows.append(f"{key:<34} {figure['median']:>10,.0f}{unit:<3} ({figure['min']:,.0f} - {figure['max']:,.0f})")
    rows.append("")
    for key, _, _, limit in RATIOS:
        ratio = result["ratios"][key]
        if ratio is None:
            rows.append(f"{key:<34} not measured")
            continue
        met = "met" if ratio["median"] >= limit else "NOT met"
        rows.append(
            f"{key:<34} {ratio['median']:>10.2f}x   ({ratio['min']:.2f} - {ratio['max']:.2f}); "
            f"target >= {limit:g}x: {met}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None, *, prog: str = "python -m benchmarks.remote") -> int:
    """The command line; returns the exit status (0, also when skipped for want of Redis)."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (about half a minute)")
    parser.add_argument("--json", action="store_true", help="print one line of JSON instead of the table")
    parser.add_argument("--repeats", type=int, metavar="N", help="rounds (default 5; --quick 3)")
    parser.add_argument("--serve-raw", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--serve-node", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_raw:
        serve_raw(*args.serve_raw)
        return 0
    if args.serve_node:
        trio.run(serve_node, args.serve_node)
        return 0
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        sizes = attrs.evolve(sizes, repeats=args.repeats)
    reason = unavailable()
    if reason is not None:
        print(f"remote benchmark skipped: {reason}", file=sys.stderr)
        if args.json:
            print(json.dumps({"skipped": reason}))
        return 0
    result = summarise(measure(sizes, lambda line: print(line, file=sys.stderr, flush=True)), sizes)
    print(json.dumps(result, separators=(",", ":")) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
