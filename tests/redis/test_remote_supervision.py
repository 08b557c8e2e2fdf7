"""Public actors under local supervisors: ``ChildSpec(..., public=True)``."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from nodekit import ERRORS, MESSAGES, Echo, Fail

from actors import Actor, ActorNotFound, RemoteError, open_actor_system
from supervision import ChildSpec, OneForOne, Supervisor


class Restartable(Actor):
    """Answers Echo with how many times it started; fails on Fail("crash"); stops on Fail("stop")."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts
        starts.append(len(starts) + 1)

    async def receive(self, message: Any) -> Any:
        match message:
            case Echo(text):
                return f"{text}#{self.starts[-1]}"
            case Fail("crash"):
                raise KeyError("crash")
            case Fail("stop"):
                self.stop()
                return "stopping"


def transport_for(make_transport: Any) -> Any:
    return make_transport(messages=MESSAGES, errors=ERRORS)


def tree(starts: list[int], restart: str = "permanent") -> Supervisor:
    return Supervisor(
        name="sup",
        strategy=OneForOne(max_restarts=10, within=60),
        children=[ChildSpec(Restartable, starts, name="worker", restart=restart, public=True)],
    )


async def test_a_public_child_serves_its_name_across_restarts_and_leaves_at_its_final_stop(make_transport: Any) -> None:
    starts: list[int] = []
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn_tree(tree(starts, restart="transient"))
        worker = b.remote("worker")
        assert await a.serving("worker") == ["a"]
        assert await worker.ask(Echo("hi"), timeout=10) == "hi#1"
        with pytest.raises(RemoteError, match="KeyError"):
            await worker.ask(Fail("crash"), timeout=10)
        # Restarted by its supervisor: still served, by a fresh instance.
        assert await worker.ask(Echo("again"), timeout=10) == "again#2"
        assert await a.serving("worker") == ["a"]
        assert a._remote is not None and a._remote.public_names() == ["worker"]
        # A normal exit of a transient child is final: the node stops serving the name.
        assert await worker.ask(Fail("stop"), timeout=10) == "stopping"
        with trio.fail_after(10):
            while await a.serving("worker"):
                await trio.sleep(0.02)
        assert a._remote.public_names() == []


async def test_a_public_child_needs_a_name_and_a_transport() -> None:
    with pytest.raises(ValueError, match="a public child needs a name"):
        ChildSpec(Restartable, [], public=True)
    from supervision import ChildStartFailed

    async with open_actor_system() as system:
        with pytest.raises(ChildStartFailed, match="has no transport"):
            await system.spawn_tree(tree([]))
        with pytest.raises(ActorNotFound):
            system.lookup("worker")  # stopped again: no half-public actor
