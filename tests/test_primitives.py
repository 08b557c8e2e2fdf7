"""The runtime's primitives on their own: the wait graph, the registry, the timer set, tool waits."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from actors import ActorNameTaken, DeadlockError
from actors._registry import Registry
from actors._threads import ToolWaits
from actors._timers import TimerSet
from actors._waits import WaitGraph


@attrs.define(eq=False)
class Node:
    name: str
    path: str = ""
    closed: bool = False


def test_the_wait_graph_refuses_an_ask_to_self() -> None:
    graph: WaitGraph[Node] = WaitGraph()
    a = Node("a")
    with pytest.raises(DeadlockError, match=r"^actor 'a' asked itself Ping while handling a message"):
        graph.check(a, a, "Ping")


def test_the_wait_graph_names_the_whole_cycle() -> None:
    graph: WaitGraph[Node] = WaitGraph()
    a, b, c = Node("a"), Node("b"), Node("c")
    graph.add(b, c)
    graph.add(c, a)
    graph.check(b, a, "Ping")  # a waits on nobody: fine
    with pytest.raises(DeadlockError, match=r"^ask cycle: 'a' -> 'b' -> 'c' -> 'a'\. Actor 'a' asked 'b' for Ping"):
        graph.check(a, b, "Ping")


def test_the_wait_graph_counts_waits_and_forgets_an_asker_waiting_on_nobody() -> None:
    graph: WaitGraph[Node] = WaitGraph()
    a, b = Node("a"), Node("b")
    graph.add(a, b)
    graph.add(a, b)
    graph.remove(a, b)
    assert graph.waits_of(a) == [b]
    graph.remove(a, b)
    assert graph.waits_of(a) == []
    graph.check(b, a, "Ping")


def test_the_registry_reserves_binds_and_releases_names() -> None:
    registry: Registry[Node] = Registry()
    assert registry.reserve(None, "Echo") == "Echo-1"
    assert registry.reserve(None, "Echo") == "Echo-2"
    name = registry.reserve("worker", "Worker")
    node = Node("worker", "/team/worker")
    registry.bind(name, node)
    with pytest.raises(ActorNameTaken, match=r"^an actor named 'worker' already exists at /team/worker"):
        registry.reserve("worker", "Worker")
    assert registry.find("worker") is node
    assert registry.find("/team/worker") is node
    assert registry.find("/other/worker") is None
    registry.release("worker", None)  # not its owner: nothing happens
    assert "worker" in registry
    registry.forget(node)
    assert "worker" not in registry


def test_the_registry_keeps_subscriptions_in_order_and_drops_closed_subscribers() -> None:
    registry: Registry[Node] = Registry()
    a, b = Node("a"), Node("b")
    registry.subscribe(a, "news")
    registry.subscribe(b, "news")
    registry.subscribe(a, "news")
    assert registry.subscribers("news") == [a, b]
    b.closed = True
    assert registry.subscribers("news") == [a]
    registry.forget(a)
    assert not registry.has_subscribers("news")
    registry.unsubscribe(a, "never")  # nothing to undo


async def test_a_timer_set_delivers_and_cancels_all_its_timers(autojump_clock: trio.testing.MockClock) -> None:
    delivered: list[tuple[object, int | None]] = []
    timers = TimerSet(lambda message, trace_id: delivered.append((message, trace_id)), None)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        timers.start(nursery, 0.5, "once", repeat=False, trace_id=7)
        every = timers.start(nursery, 1, "tick", repeat=True, trace_id=None)
        await trio.sleep(2.5)
        assert len(timers) == 1
        assert every.active
        timers.cancel_all()
    assert delivered == [("once", 7), ("tick", None), ("tick", None)]
    assert len(timers) == 0
    assert not every.active


def test_tool_waits_count_the_waits_in_progress() -> None:
    waits = ToolWaits()
    assert not waits.active
    waits.enter()
    waits.enter()
    waits.exit()
    assert waits.active
    waits.exit()
    assert not waits.active
