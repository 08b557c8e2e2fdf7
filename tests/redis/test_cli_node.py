"""``python -m actors run ... --node NAME --transport MODULE:ATTR``: the live view of a node
names it, lists the public names it serves with every node serving each, and marks public
actors; run as users do, against the real Redis."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import trio

from actors import Actor, open_actor_system

APP = """
import os

import trio

from actors import Actor
from actors.redis import RedisTransport


class Echo(Actor):
    async def receive(self, message):
        return message


def make_transport():
    return RedisTransport(os.environ["ACTORS_REDIS_URL"], namespace=os.environ["APP_NAMESPACE"])


async def main(system):
    await system.spawn(Echo, name="echo", public=True)
    await system.spawn(Echo, name="helper")
    with trio.fail_after(10):  # until the other node of the pool shows in the view
        while await system.serving("echo") != ["n1", "n2"]:
            await trio.sleep(0.05)
    await trio.sleep(0.3)  # a few refreshes of the view
"""


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def test_the_view_of_a_node_lists_what_it_serves_and_marks_public_actors(
    make_transport: Any, namespace: str, redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "nodeapp.py").write_text(APP)
    env = {**os.environ, "ACTORS_REDIS_URL": redis_url, "APP_NAMESPACE": namespace}
    async with open_actor_system(node="n2", transport=make_transport()) as other:
        await other.spawn(Echo, name="echo", public=True)  # n2 serves "echo" too: a pool
        with trio.fail_after(30):
            done = await trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "actors",
                    "run",
                    "nodeapp:main",
                    "--node",
                    "n1",
                    "--transport",
                    "nodeapp:make_transport",
                    "--refresh",
                    "0.1",
                ],
                cwd=tmp_path,
                env=env,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    final = out[out.index("(final) ---") - 80 :].splitlines()
    header = next(line for line in final if line.endswith("(final) ---"))
    assert header.startswith("--- t=") and f"2 actors, node 'n1' (namespace '{namespace}') (final) ---" in header
    assert "serves: echo [n1, n2]" in final
    echo = next(line for line in final if line.startswith("/echo"))
    helper = next(line for line in final if line.startswith("/helper"))
    assert echo.endswith("  public") and not helper.endswith("public")
