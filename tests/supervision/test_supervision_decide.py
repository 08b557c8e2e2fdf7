"""Decisions per failure (``decide=`` on a strategy): RESTART, RESUME, STOP, ESCALATE."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from supkit import Add, Boom, Collector, Crash, Echo, Get, Worker, events_of, lifecycle, settle

from actors import Actor, ActorSystem, EscalatedFailure, Terminated, open_actor_system
from supervision import (
    ChildFailed,
    ChildRestarted,
    ChildSpec,
    Decision,
    OneForAll,
    OneForOne,
    RestForOne,
    SupervisionEvent,
    Supervisor,
    restart_child,
    restart_count,
    which_children,
)

pytestmark = pytest.mark.allow_actor_failures


class Malformed(Exception):
    """A model answer that could not be parsed: worth skipping, not restarting for."""


class Flaky(Worker):
    """A `Worker` that raises the exception it is sent (an instance of a BaseException)."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Exception):
            raise message
        return await super().receive(message)


def by_type(error: BaseException) -> Decision:
    if isinstance(error, Malformed):
        return Decision.RESUME
    if isinstance(error, ConnectionError):
        return Decision.RESTART
    if isinstance(error, KeyError):
        return Decision.STOP
    return Decision.ESCALATE


async def start(system: ActorSystem, strategy: Any, log: list[Any], names: tuple[str, ...] = ("w",)) -> list[Any]:
    await system.spawn_tree(
        Supervisor(name="sup", strategy=strategy, children=[ChildSpec(Flaky, name=n, log=log) for n in names])
    )
    return [system.lookup(n) for n in names]


async def test_resume_keeps_the_instance_and_its_state(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    [w] = await start(actor_system, OneForOne(max_restarts=0, decide=by_type), log)
    await w.ask(Add(5))
    for n in range(3):  # max_restarts=0, yet no give-up: a resume is not a restart
        with pytest.raises(Malformed):
            await w.ask(Malformed(f"garbled {n}"))
    assert await w.ask(Add(1)) == 6
    assert restart_count(w) == 0
    assert lifecycle(log) == [("start", "w")]  # never stopped, never restarted
    letters = [letter for letter in actor_system.dead_letters if isinstance(letter.message, Malformed)]
    assert [str(letter.error) for letter in letters] == ["garbled 0", "garbled 1", "garbled 2"]


async def test_resume_keeps_the_timers_of_the_instance(actor_system_autojump: ActorSystem) -> None:
    class Ticking(Flaky):
        async def on_start(self) -> None:
            await super().on_start()
            self.schedule_every(1.0, Echo("tick"))

    log: list[Any] = []
    await actor_system_autojump.spawn_tree(
        Supervisor(name="sup", strategy=OneForOne(decide=by_type), children=[ChildSpec(Ticking, name="w", log=log)])
    )
    w = actor_system_autojump.lookup("w")
    await trio.sleep(2.5)
    w.tell(Malformed("x"))
    await trio.sleep(2.0)
    ticks = [round(entry[3], 6) for entry in log if entry[0] == "handled"]
    assert ticks == [1.0, 2.0, 3.0, 4.0]


async def test_resume_leaves_the_siblings_of_a_group_alone(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    a, b = await start(actor_system, OneForAll(decide=by_type), log, ("a", "b"))
    with pytest.raises(Malformed):
        await a.ask(Malformed("x"))
    assert await b.ask(Echo("b")) == "b"
    assert lifecycle(log) == [("start", "a"), ("start", "b")]


async def test_the_decider_picks_per_error(actor_system: ActorSystem) -> None:
    collector = await actor_system.spawn(Collector)
    actor_system.subscribe(collector, SupervisionEvent)
    log: list[Any] = []
    [w] = await start(actor_system, OneForOne(max_restarts=5, decide=by_type), log)
    await w.ask(Add(2))
    with pytest.raises(Malformed):
        await w.ask(Malformed("skip it"))
    assert await w.ask(Get()) == 2  # resumed
    with pytest.raises(ConnectionResetError):
        await w.ask(ConnectionResetError("dropped"))
    assert await w.ask(Get()) == 0  # restarted
    seen = await collector.ask(Get())
    assert [type(e.error) for e in events_of(seen, ChildFailed)] == [Malformed, ConnectionResetError]
    assert [type(e.error) for e in events_of(seen, ChildRestarted)] == [ConnectionResetError]


async def test_stop_stops_a_permanent_child_and_keeps_its_spec(actor_system: ActorSystem) -> None:
    class Watcher(Actor):
        def __init__(self, seen: list[Any]) -> None:
            self.seen = seen

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Terminated):
                self.seen.append(message)
            else:
                self.watch(message)

    log: list[Any] = []
    [w] = await start(actor_system, OneForOne(decide=by_type), log)
    seen: list[Any] = []
    watcher = await actor_system.spawn(Watcher, seen)
    await watcher.ask(w)
    with pytest.raises(KeyError) as info:
        await w.ask(KeyError("gone"))
    await settle()
    assert not w.is_alive
    assert seen == [Terminated(w, info.value)]
    sup = actor_system.lookup("sup")
    assert [(c.name, c.phase) for c in await which_children(sup)] == [("w", "terminated")]
    assert (await restart_child(sup, "w")).is_alive


async def test_escalate_fails_the_supervisor_at_once_with_the_childs_error(autojump_clock: Any) -> None:
    log: list[Any] = []
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            [w] = await start(system, OneForOne(max_restarts=100, decide=by_type), log)
            w.tell(RuntimeError("disk on fire"))
            await trio.sleep(1000)
            pytest.fail("the supervisor did not escalate")
    failure = info.value
    assert (failure.supervisor, failure.child) == ("sup", "w")
    assert isinstance(failure.__cause__, RuntimeError) and failure.error is failure.__cause__
    assert str(failure) == (
        "supervisor 'sup' escalated the failure of child 'w' (its strategy's decide function "
        "returned Decision.ESCALATE for RuntimeError('disk on fire'))"
    )
    assert ("restart", "w") not in lifecycle(log)


async def test_escalate_in_a_nested_supervisor_restarts_it_through_its_parent(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    tree = Supervisor(
        name="root",
        strategy=OneForOne(max_restarts=5),
        children=[
            Supervisor(
                name="inner",
                strategy=RestForOne(decide=lambda error: Decision.ESCALATE),
                children=[ChildSpec(Flaky, name="w", log=log)],
            ),
        ],
    )
    await actor_system.spawn_tree(tree)
    w = actor_system.lookup("w")
    await w.ask(Add(3))
    with pytest.raises(Boom):
        await w.ask(Crash())
    assert await w.ask(Get()) == 0  # restarted with its supervisor
    assert restart_count(actor_system.lookup("inner")) == 1


@pytest.mark.parametrize(
    ("decide", "said"),
    [
        (lambda error: 1 / 0, "raised ZeroDivisionError('division by zero')"),
        (lambda error: "restart", "raised TypeError(\"it returned 'restart' (a str), not a Decision\")"),
    ],
)
async def test_a_decide_function_that_fails_fails_the_supervisor_saying_so(
    autojump_clock: Any, decide: Any, said: str
) -> None:
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            [w] = await start(system, OneForOne(decide=decide), [])
            w.tell(Crash("x"))
            await trio.sleep(1000)
            pytest.fail("the supervisor did not fail")
    assert str(info.value) == (
        f"supervisor 'sup' failed: its strategy's decide function {said} while deciding about child 'w', "
        f"which failed with Boom(\"w crashed on 'x'\"). A decide function must return a Decision (RESTART, "
        f"RESUME, STOP or ESCALATE) and not raise"
    )
    assert info.value.__cause__ is not None and not isinstance(info.value.__cause__, Boom)


async def test_resume_of_a_failed_restart_restarts_instead(actor_system: ActorSystem) -> None:
    class StartsOnce(Flaky):
        async def on_start(self) -> None:
            await super().on_start()
            if sum(1 for e in self.log if e[0] == "start") == 2:
                raise Malformed("on_start failed on the first restart")

    log: list[Any] = []
    await actor_system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=OneForOne(max_restarts=5, decide=by_type),
            children=[ChildSpec(StartsOnce, name="w", log=log)],
        )
    )
    w = actor_system.lookup("w")
    w.tell(ConnectionResetError("dropped"))  # restart; its on_start fails (Malformed): no instance to resume
    assert await w.ask(Echo("back")) == "back"
    assert restart_count(w) == 2
