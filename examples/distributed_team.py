"""A research team split over processes: a planner on one node, workers in a pool of two.

Each node is its own OS process (or machine) with its own actor system; they
meet in Redis (7 or later) under one namespace. The worker nodes each serve
the public name "worker", so they form a pool: the questions the planner asks
are shared between them, one at a time each (prefetch=1), and if one dies
the other takes over what it held. The planner is public too, so a worker
could answer it with a tell.

Run one command per node, in three terminals (Redis on 127.0.0.1:6379, or set
ACTORS_REDIS_URL):

    python -m examples.distributed_team worker w1
    python -m examples.distributed_team worker w2
    python -m examples.distributed_team planner

or all three at once (the worker nodes as child processes of this one):

    python -m examples.distributed_team
"""

import os
import signal
import subprocess
import sys
import uuid

import attrs
import redis
import trio

from actors import Actor, gather, open_actor_system
from actors.redis import RedisTransport

URL = os.environ.get("ACTORS_REDIS_URL", "redis://127.0.0.1:6379")
TOPIC = "keeping a team of LLM agents responsive"
QUESTIONS = (
    "time agents spend waiting on tools",
    "blocking tool calls inside an event loop",
    "request-reply versus fire-and-forget messaging",
    "supervisors that restart crashed agents",
    "tracing one conversation across many agents",
    "durable inboxes for agents on several machines",
)
SEARCH_SECONDS = 0.2  # what a worker's search takes (a stand-in for a slow API)


# -- the messages: listed on every node's transport, so they cross the wire --


@attrs.frozen
class Research:  # main -> planner (ask; answered with the report)
    topic: str


@attrs.frozen
class Question:  # planner -> worker pool (ask; answered with a Finding)
    id: int
    text: str


@attrs.frozen
class Finding:
    id: int
    text: str
    node: str  # which worker node found it


MESSAGES = [Research, Question, Finding]


def transport(namespace: str, **options: object) -> RedisTransport:
    return RedisTransport(URL, namespace=namespace, messages=MESSAGES, **options)


# -- the actors ----------------------------------------------------------------


class Worker(Actor):
    """Answers one question at a time (a pool of these shares the name "worker")."""

    def __init__(self, node: str) -> None:
        self.node = node

    async def receive(self, message):
        match message:
            case Question(id, text):
                await trio.sleep(SEARCH_SECONDS)  # the slow search
                return Finding(id, f"notes on {text}", self.node)


class Planner(Actor):
    """Asks the worker pool every question at once, then writes the report."""

    async def receive(self, message):
        match message:
            case Research(topic):
                pool = self.system.remote("worker")  # an address: wherever "worker" is served
                print(
                    f"planner: {len(QUESTIONS)} questions on '{topic}' to the worker pool "
                    f"{await self.system.serving('worker')}"
                )
                findings = await gather(*(pool.ask(Question(i, q), timeout=30) for i, q in enumerate(QUESTIONS, 1)))
                for finding in findings:
                    print(f"planner: q{finding.id} answered ({finding.text!r})")
                nodes = sorted({f.node for f in findings})
                print(f"planner: {len(findings)} findings in, from {len(nodes)} worker nodes")
                return f"Report on {topic}: {len(findings)} findings"


# -- the nodes -------------------------------------------------------------------


async def run_worker(node: str, namespace: str) -> None:
    # prefetch=1: take one question at a time, so the pool shares the work evenly
    async with open_actor_system(node=node, transport=transport(namespace, prefetch=1)) as system:
        await system.spawn(Worker, node, name="worker", public=True)
        print(f"{node}: serving 'worker' (Ctrl-C to stop)", flush=True)
        await trio.sleep_forever()


async def run_planner(namespace: str, expect_workers: int = 2) -> None:
    async with open_actor_system(node="planner", transport=transport(namespace)) as system:
        planner = await system.spawn(Planner, name="planner", public=True)
        with trio.fail_after(30):  # wait for the worker nodes to come up
            while len(await system.serving("worker")) < expect_workers:
                await trio.sleep(0.1)
        report = await planner.ask(Research(TOPIC), timeout=60)
        print(f"main: {report}")


def forget_namespace(namespace: str) -> None:
    """Delete a finished demo's keys (its inboxes are empty: every message was acknowledged)."""
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=f"actors:{{{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()


async def main() -> None:
    args = sys.argv[1:]
    namespace = os.environ.get("TEAM_NAMESPACE", "distributed-team")
    if args[:1] == ["worker"] and len(args) >= 2:
        await run_worker(args[1], namespace)
    elif args == ["planner"]:
        await run_planner(namespace)
    elif not args:
        # The whole team from one command: two worker nodes as child processes, a fresh
        # namespace so that nothing from an earlier run is in the streams.
        namespace = f"distributed-team-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "TEAM_NAMESPACE": namespace}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "examples.distributed_team", "worker", node], env=env, stdout=subprocess.DEVNULL
            )
            for node in ("w1", "w2")
        ]
        try:
            await run_planner(namespace)
        finally:
            for process in workers:
                process.send_signal(signal.SIGINT)  # Ctrl-C: each node leaves Redis in order
                process.wait()
            forget_namespace(namespace)
    else:
        sys.exit("usage: python -m examples.distributed_team [worker NODE | planner]")


if __name__ == "__main__":
    try:
        trio.run(main)
    except KeyboardInterrupt:  # Ctrl-C stops a node; its system has closed in order by now
        pass
