"""Redis Cluster: a 3-master cluster on loopback started by the test
(``redis-server --cluster-enabled yes`` on free ports, ``redis-cli --cluster
create``), stopped by PID afterwards; the same tell/ask paths run on it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.cluster
import trio
from conftest import Server, free_port, need_redis_server, start_server, wait_until
from nodekit import ERRORS, MESSAGES, Collector, Echo, Hello, Item, Worker

from actors import AskTimeout, gather, open_actor_system
from actors.redis import RedisTransport


def cluster_ok(port: int) -> bool:
    try:
        info = redis.Redis(port=port, socket_timeout=1).execute_command("CLUSTER INFO")
    except Exception:
        return False
    if isinstance(info, dict):
        return info.get("cluster_state") in ("ok", b"ok")
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_redis_server()
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")
    folder = tmp_path_factory.mktemp("cluster")
    servers: list[Server] = []
    ports: list[int] = []
    try:
        for _ in range(3):
            port = free_port()
            server, _ = start_server(
                folder,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-port",
                str(free_port()),
                "--cluster-node-timeout",
                "5000",
                port=port,
            )
            servers.append(server)
            ports.append(port)
        for port in ports:
            wait_until(lambda: redis.Redis(port=port, socket_timeout=1).ping(), "a cluster node to start")
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            wait_until(lambda: cluster_ok(port), "the cluster to agree", timeout=30)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for server in servers:
            server.stop()


def transport(url: str, namespace: str, **options: Any) -> RedisTransport:
    return RedisTransport(
        url, namespace=namespace, messages=MESSAGES, errors=ERRORS, cluster=True, lease=1.0, read_block=1.0, **options
    )


async def test_tell_ask_gather_and_refs_on_a_cluster(cluster_url: str, namespace: str) -> None:
    seen: list[Any] = []
    got = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport(cluster_url, namespace)) as a,
        open_actor_system(node="b", transport=transport(cluster_url, namespace)) as b,
    ):
        # several names, so their inboxes land in different slots (and masters)
        for name in ("w1", "w2", "w3", "w4"):
            await a.spawn(Worker, "a", name=name, public=True)
        inbox = await b.spawn(Collector, seen, got, 21, name="inbox", public=True)
        results = await gather(*(b.remote(f"w{i % 4 + 1}").ask(Echo(str(i)), timeout=10) for i in range(40)))
        assert results == [f"a:{i}" for i in range(40)]
        for i in range(20):
            b.remote("inbox").tell(Item("b", i))
        assert await b.remote("w1").ask(Hello(inbox, "b"), timeout=10) == "sent"
        with trio.fail_after(10):
            await got.wait()
        assert seen[:20] == [Item("b", i) for i in range(20)] and seen[20].text == "hello b from a"
        assert await b.serving("w3") == ["a"]
        with pytest.raises(AskTimeout):
            await b.remote("nobody").ask(Echo("x"), timeout=0.2)


async def test_a_cluster_node_taking_over_a_name_from_one_that_left(cluster_url: str, namespace: str) -> None:
    seen: list[Any] = []
    got = trio.Event()
    async with open_actor_system(node="b", transport=transport(cluster_url, namespace)) as b:
        for i in range(10):
            b.remote("late").tell(Item("b", i))
        await b._remote.transport._outbox.wait_flushed()
        async with open_actor_system(node="a", transport=transport(cluster_url, namespace)) as a:
            await a.spawn(Collector, seen, got, 10, name="late", public=True)
            with trio.fail_after(10):
                await got.wait()
    assert seen == [Item("b", i) for i in range(10)]
