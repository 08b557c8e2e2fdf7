"""Nodes as separate OS processes: asks across processes, and kill -9 in the middle
of 1,000 tells (lost == 0; duplicates within the documented bound)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from node_main import Counter
from nodekit import ERRORS, MESSAGES, Echo, Item

from actors import open_actor_system

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOTAL = 1000
PREFETCH = 16  # node_main's: at most this many handled-but-unacknowledged at a kill


class Nodes:
    """Node processes started by a test, killed by their (python) PID at the end."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, node: str, delay: float = 0.0) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
        process = subprocess.Popen(
            [sys.executable, str(HERE / "node_main.py"), self.url, self.namespace, node, str(delay)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def nodes(redis_url: str, namespace: str, raw: Any) -> Iterator[Nodes]:
    started = Nodes(redis_url, namespace)
    yield started
    started.stop_all()
    raw.delete(f"{namespace}:done")


async def wait_serving(system: Any, name: str, expected: list[str], timeout: float = 30.0) -> None:
    with trio.fail_after(timeout):
        while await system.serving(name) != expected:
            await trio.sleep(0.05)  # waiting for another process to come up


async def test_ask_and_tell_between_two_processes(make_transport: Any, nodes: Nodes) -> None:
    nodes.start("a")
    async with open_actor_system(node="b", transport=make_transport(messages=MESSAGES, errors=ERRORS)) as b:
        await wait_serving(b, "worker", ["a"])
        worker = b.remote("worker")
        assert await worker.ask(Echo("hi"), timeout=10) == "a:HI"
        replies = [worker.ask_nowait(Echo(str(i)), timeout=10) for i in range(50)]
        assert [await r for r in replies] == [f"a:{i}" for i in range(50)]


async def send_all(system: Any) -> None:
    counter = system.remote("counter")
    for i in range(TOTAL):
        counter.tell(Item("b", i))
    await system._remote.transport._outbox.wait_flushed()


async def wait_done(raw: Any, key: str, at_least: int, timeout: float = 60.0) -> list[int]:
    with trio.fail_after(timeout):
        while True:
            done = [int(x) for x in raw.lrange(key, 0, -1)]
            if len(set(done)) >= at_least:
                return done
            await trio.sleep(0.05)  # polling another process's effects in Redis


async def test_kill_9_mid_stream_another_node_takes_over_and_nothing_is_lost(
    make_transport: Any, nodes: Nodes, raw: Any, redis_url: str, namespace: str
) -> None:
    key = f"{namespace}:done"
    victim = nodes.start("a", delay=0.002)
    async with open_actor_system(node="b", transport=make_transport(messages=MESSAGES, errors=ERRORS)) as b:
        await wait_serving(b, "counter", ["a"])
        await send_all(b)
        await wait_done(raw, key, 300)
        os.kill(victim.pid, signal.SIGKILL)  # the node's own python process
        victim.wait()
        handled_before = raw.llen(key)
        assert handled_before < TOTAL, "the node finished before the kill; slow it down"
        # node 'b' now serves 'counter' too: it claims what 'a' held once a's lease expires
        await b.spawn(Counter, redis_url, key, 0.0, name="counter", public=True)
        done = await wait_done(raw, key, TOTAL)
    lost = set(range(TOTAL)) - set(done)
    duplicates = len(done) - len(set(done))
    print(
        f"kill -9 takeover by another node: handled before the kill {handled_before}, lost {len(lost)}, "
        f"duplicates {duplicates}"
    )
    assert lost == set()
    assert duplicates <= PREFETCH, duplicates  # handled, not yet acknowledged at the kill


async def test_kill_9_then_the_same_node_restarted_finishes_its_pending_messages(
    make_transport: Any, nodes: Nodes, raw: Any, namespace: str
) -> None:
    key = f"{namespace}:done"
    victim = nodes.start("a", delay=0.002)
    async with open_actor_system(node="b", transport=make_transport(messages=MESSAGES, errors=ERRORS)) as b:
        await wait_serving(b, "counter", ["a"])
        await send_all(b)
        await wait_done(raw, key, 300)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        nodes.start("a")  # the same node name: reads its own pending list first
        done = await wait_done(raw, key, TOTAL)
    print(f"kill -9 and restart: lost {len(set(range(TOTAL)) - set(done))}, duplicates {len(done) - len(set(done))}")
    assert set(range(TOTAL)) - set(done) == set()
    assert len(done) - len(set(done)) <= PREFETCH
