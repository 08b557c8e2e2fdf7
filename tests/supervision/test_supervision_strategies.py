"""Strategies: OneForOne, OneForAll and RestForOne restart exactly the right children.

Each test crashes one child of a supervisor with four children a, b, c, d and
reads the lifecycle log the children write: which instances were stopped,
which were rebuilt (``on_restart`` then ``on_start``), and in what order.
"""

from __future__ import annotations

from typing import Any

import pytest
from supkit import Boom, Crash, Echo, Worker, lifecycle

from actors import ActorSystem
from supervision import ChildSpec, GetChildren, OneForAll, OneForOne, RestForOne, Strategy, Supervisor, restart_count

NAMES = ["a", "b", "c", "d"]


async def start_team(system: ActorSystem, strategy: Strategy, log: list[Any]) -> dict[str, Any]:
    tree = Supervisor(
        name="team",
        strategy=strategy,
        children=[ChildSpec(Worker, name=name, log=log) for name in NAMES],
    )
    await system.spawn_tree(tree)
    return {name: system.lookup(name) for name in NAMES}


async def crash_b_and_wait(refs: dict[str, Any], log: list[Any]) -> None:
    """Crash 'b' with an ask (which fails), then ask every child to be sure all run again."""
    log.clear()
    with pytest.raises(Boom, match=r"^b crashed on 'x'$"):
        await refs["b"].ask(Crash("x"))
    for name in NAMES:
        assert await refs[name].ask(Echo(name)) == name


async def test_children_start_in_order_and_get_children_lists_them_in_order(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, OneForOne(), log)
    assert lifecycle(log) == [("start", n) for n in NAMES]
    team = actor_system.lookup("team")
    assert await team.ask(GetChildren()) == [refs[n] for n in NAMES]
    assert [ref.path for ref in refs.values()] == ["/team/a", "/team/b", "/team/c", "/team/d"]


async def test_one_for_one_restarts_only_the_failed_child(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, OneForOne(max_restarts=10), log)
    await crash_b_and_wait(refs, log)
    assert lifecycle(log) == [("stop", "b"), ("restart", "b"), ("start", "b")]
    assert {n: restart_count(refs[n]) for n in NAMES} == {"a": 0, "b": 1, "c": 0, "d": 0}


async def test_one_for_all_stops_all_in_reverse_then_starts_all_in_order(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, OneForAll(max_restarts=10), log)
    await crash_b_and_wait(refs, log)
    assert lifecycle(log) == [
        ("stop", "d"),
        ("stop", "c"),
        ("stop", "b"),
        ("stop", "a"),
        ("restart", "a"),
        ("start", "a"),
        ("restart", "b"),
        ("start", "b"),
        ("restart", "c"),
        ("start", "c"),
        ("restart", "d"),
        ("start", "d"),
    ]
    assert {n: restart_count(refs[n]) for n in NAMES} == {"a": 1, "b": 1, "c": 1, "d": 1}


async def test_one_for_all_passes_the_failure_to_on_restart_of_every_child(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, OneForAll(max_restarts=10), log)
    await crash_b_and_wait(refs, log)
    errors = {entry[1]: entry[2] for entry in log if entry[0] == "restart"}
    assert set(errors) == set(NAMES)
    for error in errors.values():
        assert isinstance(error, Boom) and str(error) == "b crashed on 'x'"


async def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it(
    actor_system: ActorSystem,
) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, RestForOne(max_restarts=10), log)
    await crash_b_and_wait(refs, log)
    assert lifecycle(log) == [
        ("stop", "d"),
        ("stop", "c"),
        ("stop", "b"),
        ("restart", "b"),
        ("start", "b"),
        ("restart", "c"),
        ("start", "c"),
        ("restart", "d"),
        ("start", "d"),
    ]
    assert {n: restart_count(refs[n]) for n in NAMES} == {"a": 0, "b": 1, "c": 1, "d": 1}


async def test_rest_for_one_on_the_last_child_restarts_only_it(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, RestForOne(max_restarts=10), log)
    log.clear()
    with pytest.raises(Boom):
        await refs["d"].ask(Crash("x"))
    assert await refs["d"].ask(Echo(1)) == 1
    assert lifecycle(log) == [("stop", "d"), ("restart", "d"), ("start", "d")]
    assert {n: restart_count(refs[n]) for n in NAMES} == {"a": 0, "b": 0, "c": 0, "d": 1}


async def test_get_children_keeps_start_order_after_a_one_for_all_restart(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    refs = await start_team(actor_system, OneForAll(max_restarts=10), log)
    await crash_b_and_wait(refs, log)
    team = actor_system.lookup("team")
    assert await team.ask(GetChildren()) == [refs[n] for n in NAMES]
