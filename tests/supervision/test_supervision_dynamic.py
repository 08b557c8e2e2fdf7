"""Dynamic supervision: start_child, terminate_child, restart_child, delete_child,
which_children, count_children, DynamicSupervisor and max_children."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from supkit import Add, Boom, Collector, Crash, Echo, Get, Hang, Worker, lifecycle, settle

from actors import (
    Actor,
    ActorNameTaken,
    ActorNotFound,
    ActorStopped,
    ActorSystem,
    EscalatedFailure,
    MessageTimeout,
    Terminated,
    open_actor_system,
)
from supervision import (
    ChildCounts,
    ChildInfo,
    ChildRunning,
    ChildSpec,
    ChildStarted,
    ChildStartFailed,
    DynamicSupervisor,
    GetChildren,
    OneForOne,
    RestForOne,
    SupervisionEvent,
    Supervisor,
    TooManyChildren,
    count_children,
    delete_child,
    restart_child,
    restart_count,
    start_child,
    terminate_child,
    which_children,
)

pytestmark = pytest.mark.allow_actor_failures


def phases(infos: list[ChildInfo]) -> list[tuple[str, str]]:
    return [(info.name, info.phase) for info in infos]


async def team(system: ActorSystem, log: list[Any], **kwargs: Any) -> Any:
    return await system.spawn_tree(
        Supervisor(name="team", children=[ChildSpec(Worker, name="static", log=log)], **kwargs)
    )


# -- start_child ------------------------------------------------------------------------


async def test_start_child_adds_a_supervised_child_after_the_others(actor_system: ActorSystem) -> None:
    system = actor_system
    collector = await system.spawn(Collector)
    system.subscribe(collector, SupervisionEvent)
    log: list[Any] = []
    sup = await team(system, log)
    ref = await start_child(sup, ChildSpec(Worker, name="extra", log=log, start=10))
    assert ref.path == "/team/extra" and system.lookup("extra") is ref
    assert await ref.ask(Add(1)) == 11
    assert await sup.ask(GetChildren()) == [system.lookup("static"), ref]
    assert phases(await which_children(sup)) == [("static", "running"), ("extra", "running")]
    assert await count_children(sup) == ChildCounts(specs=2, active=2, supervisors=0, workers=2)
    assert ChildStarted("/team", "/team/extra") in await collector.ask(Get())
    # supervised like the others: a crash restarts it behind the same ref, fresh state
    with pytest.raises(Boom):
        await ref.ask(Crash())
    assert await ref.ask(Get()) == 10
    assert restart_count(ref) == 1


async def test_which_children_describes_each_child(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    inner = await start_child(sup, Supervisor(name="inner", children=[ChildSpec(Worker, name="deep", log=[])]))
    temp = await start_child(sup, ChildSpec(Worker, name="temp", log=[], restart="temporary"))
    infos = await which_children(sup)
    assert infos == [
        ChildInfo("static", actor_system.lookup("static"), "permanent", "worker", "running", 0, False),
        ChildInfo("inner", inner, "permanent", "supervisor", "running", 0, True),
        ChildInfo("temp", temp, "temporary", "worker", "running", 0, True),
    ]
    assert [info.ref for info in infos] == [actor_system.lookup("static"), inner, temp]
    assert await count_children(sup) == ChildCounts(specs=3, active=3, supervisors=1, workers=2)
    assert phases(await which_children(inner)) == [("deep", "running")]


async def test_a_child_started_with_start_child_without_a_name_gets_one(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    spec = ChildSpec(Worker, log=[])
    first, second = await start_child(sup, spec), await start_child(sup, spec)
    assert first.name != second.name and first.name.startswith("Worker-")
    assert [info.name for info in await which_children(sup)] == ["static", first.name, second.name]


async def test_start_child_works_from_a_handler(actor_system: ActorSystem) -> None:
    class Spawner(Actor):
        async def receive(self, message: Any) -> Any:
            ref = await start_child(self.system.lookup("team"), ChildSpec(Worker, name=message, log=[]))
            return await ref.ask(Echo("made in a handler"))

    await team(actor_system, [])
    spawner = await actor_system.spawn(Spawner)
    assert await spawner.ask("helper") == "made in a handler"
    assert actor_system.lookup("helper").path == "/team/helper"


async def test_a_dynamic_childs_message_timeout_is_enforced(actor_system_autojump: ActorSystem) -> None:
    sup = await team(actor_system_autojump, [])
    ref = await start_child(sup, ChildSpec(Worker, name="slow", log=[], message_timeout=2.0))
    with pytest.raises(MessageTimeout):
        await ref.ask(Hang(), timeout=100)
    assert await ref.ask(Echo("back")) == "back"
    assert restart_count(ref) == 1


async def test_rest_for_one_restarts_children_started_later_with_start_child(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    sup = await team(actor_system, log, strategy=RestForOne(max_restarts=10))
    extra = await start_child(sup, ChildSpec(Worker, name="extra", log=log))
    log.clear()
    with pytest.raises(Boom):
        await actor_system.lookup("static").ask(Crash())
    assert await extra.ask(Echo("x")) == "x"
    assert lifecycle(log) == [
        ("stop", "extra"),
        ("stop", "static"),
        ("restart", "static"),
        ("start", "static"),
        ("restart", "extra"),
        ("start", "extra"),
    ]


async def test_restart_intensity_counts_the_dynamic_children_too(autojump_clock: Any) -> None:
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            sup = await system.spawn_tree(DynamicSupervisor(name="pool", strategy=OneForOne(max_restarts=2)))
            refs = [await start_child(sup, ChildSpec(Worker, name=f"w{n}", log=[])) for n in range(3)]
            for ref in refs:
                ref.tell(Crash())
                await settle()
            await trio.sleep(1000)
    assert info.value.child == "w2"
    assert "restarted 2 times within 5 s ('w0' 1, 'w1' 1)" in str(info.value)


async def test_children_stop_in_reverse_start_order_when_the_system_closes(autojump_clock: Any) -> None:
    log: list[Any] = []
    async with open_actor_system() as system:
        sup = await team(system, log)
        for name in ("d1", "d2"):
            await start_child(sup, ChildSpec(Worker, name=name, log=log))
        log.clear()
    assert lifecycle(log) == [("stop", "d2"), ("stop", "d1"), ("stop", "static")]


# -- DynamicSupervisor and max_children -------------------------------------------------


class Task(Worker):
    """A temporary agent: handles one question, then ends."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Echo):
            self.stop()
        return await super().receive(message)


async def test_temporary_agents_of_a_dynamic_supervisor_leave_no_spec_behind(actor_system: ActorSystem) -> None:
    pool = await actor_system.spawn_tree(DynamicSupervisor(name="pool"))
    assert await which_children(pool) == []
    refs = [await start_child(pool, ChildSpec(Task, name=f"task-{n}", log=[], restart="temporary")) for n in range(3)]
    assert await count_children(pool) == ChildCounts(specs=3, active=3, supervisors=0, workers=3)
    assert await refs[1].ask(Echo("done")) == "done"
    with pytest.raises(Boom):
        await refs[2].ask(Crash())  # a temporary child that fails is not restarted either
    await settle()
    assert phases(await which_children(pool)) == [("task-0", "running")]
    assert not refs[1].is_alive and not refs[2].is_alive


async def test_start_child_past_max_children_raises_too_many_children(actor_system: ActorSystem) -> None:
    pool = await actor_system.spawn_tree(DynamicSupervisor(name="pool", max_children=2))
    first = await start_child(pool, ChildSpec(Task, name="a", log=[], restart="temporary"))
    await start_child(pool, ChildSpec(Task, name="b", log=[], restart="temporary"))
    with pytest.raises(
        TooManyChildren,
        match=r"^supervisor 'pool' already has 2 children, its max_children; child "
        r"'c' was not started\. Wait for a child to end, or terminate_child "
        r"and delete_child one$",
    ):
        await start_child(pool, ChildSpec(Task, name="c", log=[], restart="temporary"))
    with pytest.raises(ActorNotFound):
        actor_system.lookup("c")
    await first.ask(Echo("done"))  # one ends: there is room again
    await settle()
    assert (await start_child(pool, ChildSpec(Task, name="c", log=[], restart="temporary"))).is_alive


async def test_a_supervisor_restart_stops_its_dynamic_children_and_keeps_its_static_ones(
    actor_system: ActorSystem,
) -> None:
    class Watcher(Actor):
        def __init__(self, seen: list[Any]) -> None:
            self.seen = seen

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Terminated):
                self.seen.append(message.ref.name)
            else:
                self.watch(message)

    root = Supervisor(
        name="root",
        strategy=OneForOne(max_restarts=5),
        children=[
            Supervisor(
                name="team", strategy=OneForOne(max_restarts=0), children=[ChildSpec(Worker, name="static", log=[])]
            ),
        ],
    )
    await actor_system.spawn_tree(root)
    sup = actor_system.lookup("team")
    extra = await start_child(sup, ChildSpec(Worker, name="extra", log=[]))
    seen: list[Any] = []
    watcher = await actor_system.spawn(Watcher, seen)
    await watcher.ask(extra)
    static = actor_system.lookup("static")
    with pytest.raises(Boom):
        await static.ask(Crash())  # 'team' gives up; 'root' restarts it
    assert await static.ask(Echo("static is back")) == "static is back"
    await settle()
    assert seen == ["extra"] and not extra.is_alive
    assert phases(await which_children(sup)) == [("static", "running")]
    assert restart_count(sup) == 1


# -- terminate, restart, delete --------------------------------------------------------


async def test_terminate_child_keeps_the_spec_and_restart_child_starts_it_again(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    sup = await team(actor_system, log)
    old = actor_system.lookup("static")
    await old.ask(Add(5))
    await terminate_child(sup, "static")
    assert not old.is_alive
    assert await which_children(sup) == [ChildInfo("static", None, "permanent", "worker", "terminated", 0, False)]
    assert await count_children(sup) == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    await terminate_child(sup, "static")  # not running: nothing happens
    new = await restart_child(sup, "static")
    assert new.is_alive and actor_system.lookup("static") is new
    assert await new.ask(Get()) == 0  # a fresh start
    assert phases(await which_children(sup)) == [("static", "running")]
    assert lifecycle(log) == [("start", "static"), ("stop", "static"), ("start", "static")]


async def test_terminate_child_of_a_temporary_child_forgets_it(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    await start_child(sup, ChildSpec(Worker, name="temp", log=[], restart="temporary"))
    await terminate_child(sup, "temp")
    assert phases(await which_children(sup)) == [("static", "running")]


async def test_delete_child_forgets_a_terminated_child_and_refuses_a_running_one(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    with pytest.raises(
        ChildRunning,
        match=r"^child 'static' of supervisor 'team' is running and cannot be deleted; "
        r"terminate_child\(sup, 'static'\) first$",
    ):
        await delete_child(sup, "static")
    with pytest.raises(
        ChildRunning,
        match=r"^child 'static' of supervisor 'team' is running; only a terminated "
        r"child can be restarted by hand",
    ):
        await restart_child(sup, "static")
    await terminate_child(sup, "static")
    await delete_child(sup, "static")
    assert await which_children(sup) == []
    # The name is free: a new child may take it.
    assert (await start_child(sup, ChildSpec(Worker, name="static", log=[]))).is_alive


async def test_system_stop_of_a_child_is_a_terminate_and_restart_child_undoes_it(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    await actor_system.stop(actor_system.lookup("static"))
    assert phases(await which_children(sup)) == [("static", "terminated")]
    assert (await restart_child(sup, "static")).is_alive


async def test_restart_child_that_fails_to_start_keeps_the_spec(actor_system: ActorSystem) -> None:
    class StartsOnce(Worker):
        async def on_start(self) -> None:
            await super().on_start()
            if sum(1 for e in self.log if e[0] == "start") > 1:
                raise ValueError("cannot start twice")

    sup = await team(actor_system, [])
    await start_child(sup, ChildSpec(StartsOnce, name="once", log=[]))
    await terminate_child(sup, "once")
    with pytest.raises(
        ChildStartFailed,
        match=r"^child 'once' of supervisor 'team' failed to start: "
        r"ValueError\('cannot start twice'\); its spec is kept$",
    ):
        await restart_child(sup, "once")
    assert phases(await which_children(sup)) == [("static", "running"), ("once", "terminated")]


# -- bad input ---------------------------------------------------------------------------


async def test_an_unknown_child_name_is_a_clear_error(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    for call in (terminate_child, restart_child, delete_child):
        with pytest.raises(
            ActorNotFound,
            match=r"^supervisor 'team' has no child named 'ghost' \(its children: "
            r"'static'\); a temporary child is forgotten once it ends$",
        ):
            await call(sup, "ghost")
    with pytest.raises(TypeError, match=r"^terminate_child\(\) takes the child's name \(a str\), not 3$"):
        await terminate_child(sup, 3)  # type: ignore[arg-type]


async def test_a_taken_name_is_a_clear_error(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    with pytest.raises(
        ActorNameTaken,
        match=r"^supervisor 'team' already has a child named 'static' \(running\); "
        r"choose another name, or terminate_child and delete_child it first$",
    ):
        await start_child(sup, ChildSpec(Worker, name="static", log=[]))
    await actor_system.spawn(Worker, [], name="elsewhere")
    with pytest.raises(
        ActorNameTaken,
        match=r"^supervisor 'team' cannot start child 'elsewhere': an actor named "
        r"'elsewhere' already exists at /elsewhere; ",
    ):
        await start_child(sup, ChildSpec(Worker, name="elsewhere", log=[]))
    assert phases(await which_children(sup)) == [("static", "running")]


async def test_start_child_whose_on_start_fails_leaves_nothing_behind(actor_system: ActorSystem) -> None:
    class NeverStarts(Actor):
        async def on_start(self) -> None:
            raise Boom("no database")

    sup = await team(actor_system, [])
    with pytest.raises(
        ChildStartFailed,
        match=r"^child 'bad' of supervisor 'team' failed to start: "
        r"Boom\('no database'\); nothing was started$",
    ) as info:
        await start_child(sup, ChildSpec(NeverStarts, name="bad"))
    assert isinstance(info.value.__cause__, Boom)
    assert phases(await which_children(sup)) == [("static", "running")]
    with pytest.raises(ActorNotFound):
        actor_system.lookup("bad")
    assert sup.is_alive  # a bad request is the asker's error, not a failure of the supervisor
    assert restart_count(sup) == 0


async def test_requests_to_what_is_not_a_supervisor_are_refused(actor_system: ActorSystem) -> None:
    plain = await actor_system.spawn(Worker, [], name="plain")
    with pytest.raises(
        TypeError,
        match=r"^start_child\(\) takes a supervisor's ref, but 'plain' is a Worker, not "
        r"a Supervisor; ",
    ):
        await start_child(plain, ChildSpec(Worker, log=[]))
    with pytest.raises(TypeError, match=r"^which_children\(\) takes a supervisor's ActorRef, not 'team'$"):
        await which_children("team")  # type: ignore[arg-type]
    sup = await team(actor_system, [])
    with pytest.raises(
        TypeError,
        match=r"^start_child\(\) takes a ChildSpec or Supervisor, not <class .*Worker'>; "
        r"wrap it: ChildSpec\(YourActor, name=\.\.\.\)$",
    ):
        await start_child(sup, Worker)  # type: ignore[arg-type]


async def test_requests_to_a_stopped_supervisor_raise_actor_stopped(actor_system: ActorSystem) -> None:
    sup = await team(actor_system, [])
    await actor_system.stop(sup)
    with pytest.raises(ActorStopped, match=r"^supervisor 'team' has stopped, so it cannot start child 'late'; "):
        await start_child(sup, ChildSpec(Worker, name="late", log=[]))
    with pytest.raises(ActorStopped, match=r"^supervisor 'team' has stopped, so it cannot list its children; "):
        await which_children(sup)


async def test_a_dynamic_supervisor_forgets_every_child_that_ends(actor_system: ActorSystem) -> None:
    """Elixir's DynamicSupervisor, OTP's simple_one_for_one: no spec is kept once a child has ended."""
    pool = await actor_system.spawn_tree(DynamicSupervisor(name="pool"))
    retried = await start_child(pool, ChildSpec(Task, name="retried", log=[], restart="transient"))
    kept = await start_child(pool, ChildSpec(Worker, name="kept", log=[]))
    with pytest.raises(Boom):
        await retried.ask(Crash())  # transient: restarted after a failure ...
    assert await retried.ask(Echo("done")) == "done"  # ... and forgotten once it ends with its task
    await terminate_child(pool, "kept")  # a permanent one too, when terminated
    await settle()
    assert await which_children(pool) == []
    with pytest.raises(
        ActorNotFound,
        match=r"^supervisor 'pool' has no child named 'kept' \(its children: none\); "
        r"a DynamicSupervisor forgets a child once it ends$",
    ):
        await restart_child(pool, "kept")
    assert not kept.is_alive


async def test_start_child_from_the_supervisors_own_handler_is_a_deadlock_error(actor_system: ActorSystem) -> None:
    from actors import DeadlockError

    class Growing(Supervisor):
        async def receive(self, message: Any) -> Any:
            if message == "grow":
                return await start_child(self.ref, ChildSpec(Worker, log=[]))
            return await super().receive(message)

    sup = await actor_system.spawn_tree(Growing(name="growing"))
    with pytest.raises(DeadlockError, match=r"^actor 'growing' asked itself StartChild"):
        await sup.ask("grow")
