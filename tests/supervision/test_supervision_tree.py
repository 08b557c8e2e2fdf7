"""Nested supervisors: a restarted subtree keeps its children's refs, and a big tree survives a crash storm."""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
from supkit import Add, Boom, Collector, Crash, Echo, Get, Worker, events_of, handled, lifecycle, wait_until

from actors import ActorNameTaken, ActorSystem
from supervision import (
    ChildSpec,
    ChildStartFailed,
    GetChildren,
    OneForAll,
    OneForOne,
    RestForOne,
    SupervisionEvent,
    Supervisor,
    SupervisorGaveUp,
    restart_count,
)

# These tests crash their actors on purpose: the test kit fails a test for any actor
# failure nobody saw, unless the test allows it.
pytestmark = pytest.mark.allow_actor_failures


def nested_tree(log: list[Any], inner_strategy: Any = None) -> Supervisor:
    return Supervisor(
        name="root",
        strategy=OneForAll(max_restarts=10, within=60.0),
        children=[
            ChildSpec(Worker, name="a", log=log),
            Supervisor(
                name="inner",
                strategy=inner_strategy or OneForOne(max_restarts=10, within=60.0),
                children=[ChildSpec(Worker, name="b", log=log, start=100), ChildSpec(Worker, name="c", log=log)],
            ),
        ],
    )


async def test_one_for_all_root_restarts_a_nested_supervisor_and_its_children_keep_their_refs(
    actor_system: ActorSystem,
) -> None:
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(nested_tree(log))
    a, inner, b, c = (system.lookup(n) for n in ("a", "inner", "b", "c"))
    assert [ref.path for ref in (a, inner, b, c)] == ["/root/a", "/root/inner", "/root/inner/b", "/root/inner/c"]
    assert await b.ask(Add(5)) == 105
    log.clear()

    with pytest.raises(Boom):
        await a.ask(Crash())
    # The asker hears of the failure before the supervisor has acted on it: wait
    # (without letting time pass) until the last child of the subtree is back.
    await wait_until(lambda: ("start", "c") in lifecycle(log))

    # The refs taken before the restart reach the new incarnations.
    assert await b.ask(Get()) == 100  # fresh state
    assert await c.ask(Echo("c")) == "c"
    assert await a.ask(Echo("a")) == "a"
    assert await inner.ask(GetChildren()) == [b, c]
    assert [system.lookup(n) for n in ("a", "inner", "b", "c")] == [a, inner, b, c]
    assert all(ref.is_alive for ref in (a, inner, b, c))
    assert [restart_count(ref) for ref in (a, inner, b, c)] == [1, 1, 1, 1]
    # The subtree stops bottom-up, in reverse start order, and starts top-down in order.
    assert lifecycle(log) == [
        ("stop", "c"),
        ("stop", "b"),
        ("stop", "a"),
        ("restart", "a"),
        ("start", "a"),
        ("restart", "b"),
        ("start", "b"),
        ("restart", "c"),
        ("start", "c"),
    ]


async def test_messages_to_a_nested_child_sent_during_a_subtree_restart_are_kept_in_order(
    actor_system: ActorSystem,
) -> None:
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(nested_tree(log))
    a, b = system.lookup("a"), system.lookup("b")
    a.tell(Crash())
    for n in range(1, 6):
        b.tell(Echo(n))
        await trio.lowlevel.checkpoint()  # some before the subtree goes down, some during, some after
    # Wait (no time passes) until the subtree is back, then send one more.
    await wait_until(lambda: lifecycle(log).count(("start", "c")) == 2)
    assert await b.ask(Echo(6)) == 6
    assert handled(log, "b") == [1, 2, 3, 4, 5, 6]
    assert restart_count(b) == 1


async def test_a_crash_inside_the_nested_supervisor_stays_inside_it(actor_system: ActorSystem) -> None:
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(nested_tree(log))
    a, inner, b, c = (system.lookup(n) for n in ("a", "inner", "b", "c"))
    log.clear()
    with pytest.raises(Boom):
        await c.ask(Crash())
    assert await c.ask(Echo(1)) == 1
    assert lifecycle(log) == [("stop", "c"), ("restart", "c"), ("start", "c")]
    assert [restart_count(ref) for ref in (a, inner, b, c)] == [0, 0, 0, 1]


async def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent_and_refs_keep_working(
    actor_system_autojump: ActorSystem,
) -> None:
    system = actor_system_autojump
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    log: list[Any] = []
    await system.spawn_tree(nested_tree(log, inner_strategy=OneForOne(max_restarts=1, within=60.0)))
    a, inner, b, c = (system.lookup(n) for n in ("a", "inner", "b", "c"))
    await b.ask(Add(1))
    c.tell(Crash(1))
    c.tell(Crash(2))  # inner gives up; root (OneForAll) restarts a and inner; inner restarts b and c
    assert await c.ask(Echo("c"), timeout=100) == "c"
    assert await b.ask(Get(), timeout=100) == 100
    assert await a.ask(Echo("a")) == "a"
    assert await inner.ask(GetChildren()) == [b, c]
    assert all(ref.is_alive for ref in (a, inner, b, c))
    gave_up = events_of(await collector.ask(Get()), SupervisorGaveUp)
    assert [(e.supervisor, e.child) for e in gave_up] == [("/root/inner", "/root/inner/c")]
    assert restart_count(inner) == 1


async def test_names_are_unique_across_the_whole_tree(actor_system: ActorSystem) -> None:
    tree = Supervisor(
        name="root",
        children=[
            ChildSpec(Worker, name="w", log=[]),
            Supervisor(name="inner", children=[ChildSpec(Worker, name="w", log=[])]),
        ],
    )
    with pytest.raises(ActorNameTaken, match=r"^an actor named 'w' already exists at /root/w; "):
        await actor_system.spawn_tree(tree)


# -- crash storm ---------------------------------------------------------------------

STRATEGIES = [OneForOne, OneForAll, RestForOne]


def storm_tree(log: list[Any]) -> tuple[Supervisor, dict[str, str]]:
    """root -> 5 mid supervisors -> 2 leaf supervisors each -> 5 workers each: 50 workers.

    Returns the tree and each worker's restart type (every 7th is transient,
    every 11th temporary, the rest permanent).
    """
    restart_types: dict[str, str] = {}
    mids = []
    number = 0
    for m in range(5):
        leaves = []
        for s in range(2):
            workers = []
            for _ in range(5):
                name = f"w{number:02d}"
                restart = "temporary" if number % 11 == 10 else "transient" if number % 7 == 6 else "permanent"
                restart_types[name] = restart
                workers.append(ChildSpec(Worker, name=name, log=log, restart=restart, start=number))
                number += 1
            strategy = STRATEGIES[(2 * m + s) % 3](max_restarts=50, within=1.0)
            leaves.append(Supervisor(name=f"leaf{m}{s}", strategy=strategy, children=workers))
        mids.append(Supervisor(name=f"mid{m}", strategy=OneForOne(max_restarts=5, within=1.0), children=leaves))
    root = Supervisor(name="root", strategy=OneForOne(max_restarts=5, within=1.0), children=mids)
    return root, restart_types


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_a_depth_3_tree_of_50_workers_survives_a_crash_storm(
    actor_system_autojump: ActorSystem, seed: int
) -> None:
    system = actor_system_autojump
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    log: list[Any] = []
    tree, restart_types = storm_tree(log)
    await system.spawn_tree(tree)
    names = sorted(restart_types)
    refs = {name: system.lookup(name) for name in names}
    assert len(refs) == 50
    rng = random.Random(seed)
    crashed: set[str] = set()
    pending = []
    for step in range(300):
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.4:
            if restart_types[name] == "temporary" and name not in crashed:
                crashed.add(name)
            refs[name].tell(Crash(step))
        elif roll < 0.7:
            if refs[name].is_alive:
                pending.append((name, step, refs[name].ask_nowait(Echo(step), timeout=1000)))
        else:
            refs[name].tell(Add(1))
        if rng.random() < 0.2:
            await trio.sleep(rng.choice([0, 0.001, 0.05, 0.3]))
    await trio.sleep(1.0)

    # Asks were answered or failed with a clear error, never lost.
    for name, step, reply in pending:
        try:
            assert await reply == step
        except Exception as exc:  # a sibling's restart, or a temporary child that crashed
            assert type(exc).__name__ in ("ActorStopped",), (name, step, exc)

    events = await collector.ask(Get())
    assert events_of(events, SupervisorGaveUp) == []
    for name in names:
        ref = refs[name]
        if restart_types[name] == "temporary":
            # Never restarted; stopped by its own crash (or by a sibling's group restart).
            assert restart_count(ref) == 0, name
            if name in crashed:
                assert not ref.is_alive, name
            continue
        assert ref.is_alive, name
        assert system.lookup(name) is ref
        assert await ref.ask(Echo(name), timeout=10) == name
    crashed_permanent = {e[1] for e in log if e[0] == "crash" and restart_types[e[1]] == "permanent"}
    assert crashed_permanent, "the storm crashed nobody"
    assert all(restart_count(refs[name]) >= 1 for name in crashed_permanent)
    for mid in range(5):
        assert restart_count(system.lookup(f"mid{mid}")) == 0


async def test_a_tree_that_fails_to_start_is_gone_when_spawn_tree_raises(autojump_clock: Any) -> None:
    """The children already started are stopped (on_stop, reverse order) and every name is
    free again before the error reaches the caller, so it can retry at once."""
    from actors import Actor, open_actor_system

    class CannotStart(Actor):
        async def on_start(self) -> None:
            raise Boom("no database")

    log: list[Any] = []
    async with open_actor_system() as system:
        tree = Supervisor(
            name="sup",
            children=[
                ChildSpec(Worker, name="a", log=log),
                Supervisor(name="inner", children=[ChildSpec(Worker, name="b", log=log)]),
                ChildSpec(CannotStart, name="bad"),
            ],
        )
        with pytest.raises(ChildStartFailed, match="^child 'bad' of supervisor 'sup' failed to start: Boom") as info:
            await system.spawn_tree(tree)
        assert isinstance(info.value.__cause__, Boom)
        assert lifecycle(log) == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
        assert system.inspect() == []
        retry = await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Worker, name="a", log=log)]))
        assert retry.is_alive and system.lookup("a").is_alive


async def test_a_child_failing_to_start_deep_in_a_tree_is_named_with_its_own_supervisor(autojump_clock: Any) -> None:
    from actors import Actor, open_actor_system
    from supervision import ChildStartFailed

    class CannotStart(Actor):
        def __init__(self, reason: str) -> None:
            self.reason = reason

        async def on_start(self) -> None:
            raise Boom(self.reason)

    tree = Supervisor(
        name="root",
        children=[
            ChildSpec(Worker, name="a", log=[]),
            Supervisor(name="inner", children=[ChildSpec(CannotStart, "no database", name="bad")]),
        ],
    )
    async with open_actor_system() as system:
        with pytest.raises(ChildStartFailed) as info:
            await system.spawn_tree(tree)
        assert system.inspect() == []
    failure = info.value
    assert (failure.supervisor, failure.child) == ("inner", "bad")
    assert str(failure).startswith("child 'bad' of supervisor 'inner' failed to start: Boom('no database'); ")
    assert isinstance(failure.__cause__, Boom) and failure.error is failure.__cause__
