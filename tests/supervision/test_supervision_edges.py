"""Edges of supervision: watchers and timers across restarts, failing restarts,
stopping during a backoff, group restarts with hung or temporary children."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from supkit import (
    Boom,
    Collector,
    Crash,
    Echo,
    Get,
    Hang,
    Worker,
    events_of,
    handled,
    lifecycle,
    restart_reasons,
    settle,
)

from actors import (
    Actor,
    ActorNotFound,
    ActorStopped,
    ActorSystem,
    EscalatedFailure,
    MessageTimeout,
    Terminated,
    open_actor_system,
)
from supervision import (
    Backoff,
    ChildRestarted,
    ChildSpec,
    ChildStartFailed,
    ChildStopped,
    GetChildren,
    OneForAll,
    OneForOne,
    RestForOne,
    SupervisionEvent,
    Supervisor,
    restart_count,
)

# These tests crash their actors on purpose: the test kit fails a test for any actor
# failure nobody saw, unless the test allows it.
pytestmark = pytest.mark.allow_actor_failures


class Watcher(Actor):
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        match message:
            case ("watch", ref):
                self.watch(ref)
            case Terminated():
                self.seen.append(message)


async def test_a_restart_is_not_a_termination_for_watchers(actor_system: ActorSystem) -> None:
    system = actor_system
    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Worker, name="w", log=[])]))
    ref = system.lookup("w")
    seen: list[Any] = []
    watcher = await system.spawn(Watcher, seen)
    await watcher.ask(("watch", ref))
    with pytest.raises(Boom):
        await ref.ask(Crash())
    await ref.ask(Get())
    await settle()
    assert seen == []
    await system.stop(ref)
    await settle()
    assert seen == [Terminated(ref, None)]


async def test_stopping_a_permanent_child_with_system_stop_is_final(actor_system: ActorSystem) -> None:
    system = actor_system
    collector = await system.spawn(Collector)
    system.subscribe(collector, SupervisionEvent)
    log: list[Any] = []
    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Worker, name="w", log=log)]))
    ref = system.lookup("w")
    await system.stop(ref)
    await settle()
    assert not ref.is_alive
    assert restart_count(ref) == 0
    assert lifecycle(log) == [("start", "w"), ("stop", "w")]
    with pytest.raises(ActorNotFound):
        system.lookup("w")
    assert await system.lookup("sup").ask(GetChildren()) == []
    assert events_of(await collector.ask(Get()), ChildStopped) == [ChildStopped("/sup", "/sup/w", None)]


class Ticker(Worker):
    async def on_start(self) -> None:
        await super().on_start()
        self.schedule_every(1.0, Echo("tick"))


async def test_timers_of_the_old_incarnation_stop_at_a_restart(actor_system_autojump: ActorSystem) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Ticker, name="tk", log=log)]))
    ref = system.lookup("tk")
    await trio.sleep(3.5)
    ref.tell(Crash())  # at 3.5: the new incarnation starts its own timer
    await trio.sleep(3.2)
    ticks = [round(entry[3], 6) for entry in log if entry[0] == "handled"]
    assert ticks == [1.0, 2.0, 3.0, 4.5, 5.5, 6.5]  # one timer, never two


class StartFailsAfterRestart(Worker):
    """Starts once; then each of the next ``failures[0]`` restarts fails in on_start."""

    def __init__(self, log: list[Any], failures: list[int]) -> None:
        super().__init__(log)
        self.failures = failures

    async def on_start(self) -> None:
        await super().on_start()
        if self.failures[0] and sum(1 for e in self.log if e[0] == "start") > 1:
            self.failures[0] -= 1
            raise ValueError("cannot start again yet")


async def test_a_restart_whose_on_start_fails_counts_as_a_failure_and_is_retried(actor_system: ActorSystem) -> None:
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=OneForOne(max_restarts=5, within=10.0),
            children=[ChildSpec(StartFailsAfterRestart, name="w", log=log, failures=[2])],
        )
    )
    ref = system.lookup("w")
    ref.tell(Crash())
    assert await ref.ask(Echo("queued")) == "queued"  # kept in the mailbox through three restarts
    assert restart_count(ref) == 3
    assert [type(error) for error in restart_reasons(log)] == [Boom, ValueError, ValueError]
    # on_stop runs only for an incarnation whose on_start succeeded.
    assert [e[0] for e in log if e[0] in ("start", "stop")] == ["start", "stop", "start", "start", "start"]


async def test_a_child_that_can_never_restart_exhausts_the_intensity_and_escalates(autojump_clock: Any) -> None:
    log: list[Any] = []
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            await system.spawn_tree(
                Supervisor(
                    name="sup",
                    strategy=OneForOne(max_restarts=3, within=10.0),
                    children=[ChildSpec(StartFailsAfterRestart, name="w", log=log, failures=[1000])],
                )
            )
            system.lookup("w").tell(Crash())
            await trio.sleep(1000)
            pytest.fail("the supervisor did not give up")
    assert (info.value.supervisor, info.value.child) == ("sup", "w")
    assert isinstance(info.value.__cause__, ValueError)
    assert sum(1 for e in log if e[0] == "start") == 4  # the first start and three failed restarts


class StopFails(Worker):
    async def on_stop(self) -> None:
        await super().on_stop()
        raise RuntimeError("on_stop broke")


async def test_an_on_stop_that_raises_does_not_prevent_the_restart(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    await actor_system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(StopFails, name="w", log=log)]))
    ref = actor_system.lookup("w")
    with pytest.raises(Boom):
        await ref.ask(Crash())
    assert await ref.ask(Echo(1)) == 1
    assert restart_count(ref) == 1


async def test_spawn_tree_raises_a_child_start_error_and_stops_what_it_started(actor_system: ActorSystem) -> None:
    class NeverStarts(Worker):
        async def on_start(self) -> None:
            raise ValueError("bad configuration")

    log: list[Any] = []
    tree = Supervisor(
        name="sup", children=[ChildSpec(Worker, name="ok", log=log), ChildSpec(NeverStarts, name="bad", log=log)]
    )
    with pytest.raises(ChildStartFailed) as info:
        await actor_system.spawn_tree(tree)
    assert str(info.value) == (
        "child 'bad' of supervisor 'sup' failed to start: ValueError('bad configuration'); supervisor 'sup' "
        "did not start either (the children started before it were stopped again)"
    )
    assert (info.value.supervisor, info.value.child) == ("sup", "bad")
    assert isinstance(info.value.__cause__, ValueError) and info.value.error is info.value.__cause__
    await settle()
    assert lifecycle(log) == [("start", "ok"), ("stop", "ok")]
    assert actor_system.actors() == []
    for name in ("sup", "ok", "bad"):
        with pytest.raises(ActorNotFound):
            actor_system.lookup(name)


async def test_message_timeout_of_a_told_message_records_a_dead_letter(actor_system_autojump: ActorSystem) -> None:
    system = actor_system_autojump
    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Worker, name="w", log=[], message_timeout=1.0)]))
    ref = system.lookup("w")
    ref.tell(Hang())
    assert await ref.ask(Echo("after")) == "after"
    [letter] = list(system.dead_letters)
    assert letter.message == Hang()
    assert isinstance(letter.error, MessageTimeout)
    assert restart_count(ref) == 1


# -- group restarts -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [OneForAll, RestForOne])
async def test_a_hung_sibling_is_cut_off_after_its_shutdown_timeout_in_a_group_restart(
    actor_system_autojump: ActorSystem, strategy: Any
) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=strategy(max_restarts=10),
            children=[
                ChildSpec(Worker, name="a", log=log),
                ChildSpec(Worker, name="hung", log=log, shutdown_timeout=2.0),
            ],
        )
    )
    a, hung = system.lookup("a"), system.lookup("hung")
    stuck = hung.ask_nowait(Hang(), timeout=1000)
    await settle()
    crashed_at = trio.current_time()
    a.tell(Crash())
    with pytest.raises(ActorStopped, match=r"^actor 'hung' was stopped while handling Hang; "):
        await stuck
    assert trio.current_time() - crashed_at == pytest.approx(2.0)
    assert await hung.ask(Echo("back")) == "back"
    assert restart_count(hung) == 1


@pytest.mark.parametrize("strategy", [OneForAll, RestForOne])
async def test_a_temporary_child_is_stopped_not_restarted_when_a_sibling_restarts_the_group(
    actor_system: ActorSystem, strategy: Any
) -> None:
    """Erlang/OTP: a temporary child is never restarted, not even by one_for_all/rest_for_one."""
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=strategy(max_restarts=10),
            children=[ChildSpec(Worker, name="a", log=log), ChildSpec(Worker, name="t", log=log, restart="temporary")],
        )
    )
    a, t = system.lookup("a"), system.lookup("t")
    with pytest.raises(Boom):
        await a.ask(Crash())
    await a.ask(Get())
    await settle()
    assert restart_count(a) == 1
    assert restart_count(t) == 0
    assert ("restart", "t") not in lifecycle(log)
    # As in OTP, the group restart stops it for good.
    assert not t.is_alive
    assert lifecycle(log).count(("stop", "t")) == 1


@pytest.mark.parametrize("strategy", [OneForOne, OneForAll, RestForOne])
async def test_closing_the_system_during_a_backoff_does_not_wait_for_it(autojump_clock: Any, strategy: Any) -> None:
    log: list[Any] = []
    async with open_actor_system(shutdown_timeout=5.0) as system:
        await system.spawn_tree(
            Supervisor(
                name="sup",
                strategy=strategy(max_restarts=10, backoff=Backoff(initial=100.0, maximum=100.0, jitter=0)),
                children=[ChildSpec(Worker, name=n, log=log) for n in ("a", "b")],
            )
        )
        system.lookup("a").tell(Crash())
        await trio.sleep(1.0)  # a (and its group) are down, waiting out the 100 s backoff
        closing = trio.current_time()
    assert trio.current_time() - closing <= 5.0
    # Nothing is restarted just to be stopped again.
    assert restart_reasons(log) == []


async def test_messages_to_a_group_keep_their_order_across_a_one_for_all_restart(actor_system: ActorSystem) -> None:
    system = actor_system
    log: list[Any] = []
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=OneForAll(max_restarts=10),
            children=[ChildSpec(Worker, name=n, log=log) for n in ("a", "b", "c")],
        )
    )
    a, b, c = (system.lookup(n) for n in ("a", "b", "c"))
    for n in range(20):
        b.tell(Echo(n))
        c.tell(Echo(n))
        if n == 7:
            a.tell(Crash())
        await trio.lowlevel.checkpoint()
    assert await b.ask(Echo("end")) == "end"
    assert await c.ask(Echo("end")) == "end"
    assert handled(log, "b") == [*range(20), "end"]
    assert handled(log, "c") == [*range(20), "end"]
    assert [restart_count(r) for r in (a, b, c)] == [1, 1, 1]


async def test_restarted_event_names_every_child_of_a_group_restart(actor_system: ActorSystem) -> None:
    system = actor_system
    collector = await system.spawn(Collector)
    system.subscribe(collector, SupervisionEvent)
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=RestForOne(max_restarts=10),
            children=[ChildSpec(Worker, name=n, log=[]) for n in ("a", "b", "c")],
        )
    )
    with pytest.raises(Boom) as info:
        await system.lookup("b").ask(Crash())
    await system.lookup("c").ask(Get())
    restarted = events_of(await collector.ask(Get()), ChildRestarted)
    assert [(e.child, e.error) for e in restarted] == [("/sup/b", info.value), ("/sup/c", info.value)]
