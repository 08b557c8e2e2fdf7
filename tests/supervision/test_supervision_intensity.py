"""Restart intensity, escalation, backoff and supervision events.

Everything time-dependent runs under ``MockClock(autojump_threshold=0)``:
virtual time jumps to the next deadline whenever every task is blocked, so
delays are exact and no test sleeps for real.
"""

from __future__ import annotations

import gc
import math
from typing import Any

import pytest
import trio
from supkit import Add, Boom, Collector, Crash, Echo, Get, Worker, events_of, handled, lifecycle, settle, wait_until

from actors import Actor, ActorSystem, EscalatedFailure, open_actor_system
from supervision import (
    Backoff,
    ChildFailed,
    ChildRestarted,
    ChildSpec,
    ChildStarted,
    ChildStopped,
    OneForAll,
    OneForOne,
    SupervisionEvent,
    Supervisor,
    SupervisorGaveUp,
    restart_count,
)

# These tests crash their actors on purpose: the test kit fails a test for any actor
# failure nobody saw, unless the test allows it.
pytestmark = pytest.mark.allow_actor_failures


# -- restart intensity and escalation ---------------------------------------------


async def test_supervisor_gives_up_past_max_restarts_and_the_system_raises(autojump_clock: Any) -> None:
    log: list[Any] = []
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            tree = Supervisor(
                name="sup",
                strategy=OneForOne(max_restarts=2, within=10.0),
                children=[ChildSpec(Worker, name="w", log=log)],
            )
            await system.spawn_tree(tree)
            ref = system.lookup("w")
            for n in range(2):  # two restarts are allowed ...
                with pytest.raises(Boom):
                    await ref.ask(Crash(n))
                assert await ref.ask(Echo(n)) == n
            assert restart_count(ref) == 2
            ref.tell(Crash(2))  # ... the third failure within 10 s is one too many
            await trio.sleep(1000)
            pytest.fail("the supervisor did not give up")
    failure = info.value
    assert failure.supervisor == "sup"
    assert failure.child == "w"
    assert isinstance(failure.error, Boom) and str(failure.error) == "w crashed on 2"
    assert failure.__cause__ is failure.error
    assert str(failure) == (
        "supervisor 'sup' gave up: child 'w' failed and its children had already been restarted 2 times "
        "within 10 s ('w' 2), as many as max_restarts=2 allows; last error: Boom('w crashed on 2'). "
        "Fix the failing child, or raise max_restarts/within on the strategy"
    )
    assert [entry[0] for entry in log].count("start") == 3  # no fourth incarnation
    assert log[-1][0] == "stop"


async def test_max_restarts_zero_gives_up_on_the_first_failure(autojump_clock: Any) -> None:
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            tree = Supervisor(
                name="sup",
                strategy=OneForOne(max_restarts=0),
                children=[ChildSpec(Worker, name="w", log=[])],
            )
            await system.spawn_tree(tree)
            system.lookup("w").tell(Crash())
            await trio.sleep(1000)
            pytest.fail("the supervisor did not give up")
    assert (info.value.supervisor, info.value.child) == ("sup", "w")


async def test_failure_escalates_through_two_supervisors_and_out_of_the_system(autojump_clock: Any) -> None:
    log: list[Any] = []
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            tree = Supervisor(
                name="root",
                strategy=OneForOne(max_restarts=1, within=10.0),
                children=[
                    ChildSpec(Worker, name="bystander", log=log),
                    Supervisor(
                        name="mid",
                        strategy=OneForOne(max_restarts=1, within=10.0),
                        children=[ChildSpec(Worker, name="w", log=log)],
                    ),
                ],
            )
            await system.spawn_tree(tree)
            w = system.lookup("w")
            # mid restarts w once; the second failure makes mid give up; root
            # restarts mid (and w with it); w fails twice more: mid gives up
            # again, and that is root's second failure within 10 s.
            for n in range(4):
                w.tell(Crash(n))
            await trio.sleep(1000)
            pytest.fail("the failure did not escalate")
    failure = info.value
    assert failure.supervisor == "root"
    assert failure.child == "mid"
    assert isinstance(failure.error, EscalatedFailure)
    assert failure.error.supervisor == "mid"
    assert failure.error.child == "w"
    assert isinstance(failure.__cause__, Boom)
    assert str(failure.__cause__) == "w crashed on 3"
    assert failure.root_cause is failure.__cause__
    assert "supervisor 'mid' gave up" in str(failure)
    assert [(e[0], e[2]) for e in log if e[0] == "crash"] == [("crash", n) for n in range(4)]


async def test_failures_spread_out_beyond_within_never_escalate(actor_system_autojump: ActorSystem) -> None:
    system = actor_system_autojump
    tree = Supervisor(
        name="sup",
        strategy=OneForOne(max_restarts=2, within=1.0),
        children=[ChildSpec(Worker, name="w", log=[], start=5)],
    )
    await system.spawn_tree(tree)
    ref = system.lookup("w")
    for n in range(20):
        await ref.ask(Add(1))
        with pytest.raises(Boom):
            await ref.ask(Crash(n))
        await trio.sleep(0.6)  # at most two failures in any 1-second window
    assert ref.is_alive
    assert restart_count(ref) == 20
    assert await ref.ask(Get()) == 5


async def test_intensity_window_slides(actor_system_autojump: ActorSystem) -> None:
    """Two quick failures, a quiet while, two more: never three within `within`."""
    system = actor_system_autojump
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    tree = Supervisor(
        name="sup",
        strategy=OneForOne(max_restarts=2, within=5.0),
        children=[ChildSpec(Worker, name="w", log=[])],
    )
    await system.spawn_tree(tree)
    ref = system.lookup("w")
    for burst in range(5):
        for n in range(2):
            with pytest.raises(Boom):
                await ref.ask(Crash((burst, n)))
        await trio.sleep(5.0)
    assert await ref.ask(Echo("alive")) == "alive"
    assert restart_count(ref) == 10
    assert events_of(await collector.ask(Get()), SupervisorGaveUp) == []


# -- backoff ------------------------------------------------------------------------


def restart_delays(log: list[Any], name: str = "w") -> list[float]:
    """Time from each crash to the ``on_start`` that follows it."""
    delays = []
    crashed_at = None
    for entry in log:
        if entry[1] != name:
            continue
        if entry[0] == "crash":
            crashed_at = entry[3]
        elif entry[0] == "start" and crashed_at is not None:
            delays.append(round(entry[2] - crashed_at, 9))
            crashed_at = None
    return delays


async def spawn_with_backoff(system: ActorSystem, log: list[Any], backoff: Backoff, within: float = 60.0) -> Any:
    tree = Supervisor(
        name="sup",
        strategy=OneForOne(max_restarts=1000, within=within, backoff=backoff),
        children=[ChildSpec(Worker, name="w", log=log)],
    )
    await system.spawn_tree(tree)
    return system.lookup("w")


async def crash_and_wait_for_restart(ref: Any, tag: Any) -> None:
    ref.tell(Crash(tag))
    assert await ref.ask(Echo(("after", tag)), timeout=1000) == ("after", tag)


async def test_backoff_delays_grow_by_the_multiplier_and_cap_at_maximum(actor_system_autojump: ActorSystem) -> None:
    log: list[Any] = []
    ref = await spawn_with_backoff(
        actor_system_autojump, log, Backoff(initial=0.5, multiplier=3.0, maximum=10.0, jitter=0)
    )
    for n in range(6):
        await crash_and_wait_for_restart(ref, n)
    assert restart_delays(log) == [0.5, 1.5, 4.5, 10.0, 10.0, 10.0]


async def test_backoff_delay_is_in_the_restarted_event(actor_system_autojump: ActorSystem) -> None:
    system = actor_system_autojump
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    ref = await spawn_with_backoff(system, [], Backoff(initial=1.0, multiplier=2.0, maximum=3.0, jitter=0))
    for n in range(4):
        await crash_and_wait_for_restart(ref, n)
    restarted = events_of(await collector.ask(Get()), ChildRestarted)
    assert [event.delay for event in restarted] == [1.0, 2.0, 3.0, 3.0]


async def test_backoff_resets_once_the_child_has_run_within_seconds_quietly(
    actor_system_autojump: ActorSystem,
) -> None:
    log: list[Any] = []
    ref = await spawn_with_backoff(
        actor_system_autojump, log, Backoff(initial=1.0, multiplier=2.0, maximum=100.0, jitter=0), within=20.0
    )
    for n in range(3):
        await crash_and_wait_for_restart(ref, n)  # 1, 2, 4
    await trio.sleep(20.0)  # runs quietly for `within` seconds after its last restart
    for n in range(3, 5):
        await crash_and_wait_for_restart(ref, n)  # back to 1, then 2
    assert restart_delays(log) == [1.0, 2.0, 4.0, 1.0, 2.0]


async def test_backoff_does_not_reset_before_the_child_has_run_within_seconds(
    actor_system_autojump: ActorSystem,
) -> None:
    """The waiting time of the backoff itself is not time the child has run."""
    log: list[Any] = []
    ref = await spawn_with_backoff(
        actor_system_autojump, log, Backoff(initial=8.0, multiplier=2.0, maximum=100.0, jitter=0), within=10.0
    )
    await crash_and_wait_for_restart(ref, 0)  # waits 8 s, restarted at t0 + 8
    await trio.sleep(5.0)  # the new incarnation has run 5 s (< within), 13 s after the crash
    await crash_and_wait_for_restart(ref, 1)
    assert restart_delays(log) == [8.0, 16.0]


async def test_messages_sent_during_the_backoff_wait_and_are_handled_after_in_order(
    actor_system_autojump: ActorSystem,
) -> None:
    log: list[Any] = []
    ref = await spawn_with_backoff(
        actor_system_autojump, log, Backoff(initial=4.0, multiplier=2.0, maximum=10.0, jitter=0)
    )
    crashed_at = trio.current_time()
    ref.tell(Crash("x"))
    replies = []
    for n in range(6):
        await trio.sleep(0.5)
        if n % 2:
            replies.append(ref.ask_nowait(Echo(n), timeout=1000))
        else:
            ref.tell(Echo(n))
    assert [await reply for reply in replies] == [1, 3, 5]
    assert handled(log) == [0, 1, 2, 3, 4, 5]
    restarted_at = next(e[2] for e in log if e[0] == "start" and e[2] > crashed_at)
    assert restarted_at - crashed_at == pytest.approx(4.0)
    assert all(e[3] >= restarted_at for e in log if e[0] == "handled")


async def test_one_for_all_backoff_delays_every_sibling(actor_system_autojump: ActorSystem) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    tree = Supervisor(
        name="sup",
        strategy=OneForAll(max_restarts=100, within=60.0, backoff=Backoff(initial=2.0, jitter=0)),
        children=[ChildSpec(Worker, name=name, log=log) for name in ("a", "b")],
    )
    await system.spawn_tree(tree)
    a, b = system.lookup("a"), system.lookup("b")
    crashed_at = trio.current_time()
    a.tell(Crash())
    await wait_until(lambda: ("stop", "b") in lifecycle(log))  # b is down, waiting out the backoff
    b.tell(Echo("queued during backoff"))
    assert await b.ask(Echo("b"), timeout=1000) == "b"
    starts = {e[1]: e[2] - crashed_at for e in log if e[0] == "start" and e[2] > crashed_at}
    assert starts == {"a": pytest.approx(2.0), "b": pytest.approx(2.0)}
    assert handled(log, "b") == ["queued during backoff", "b"]


# -- events -----------------------------------------------------------------------------


async def test_a_crash_publishes_child_failed_then_child_restarted(actor_system: ActorSystem) -> None:
    system = actor_system
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    tree = Supervisor(name="sup", strategy=OneForOne(max_restarts=5), children=[ChildSpec(Worker, name="w", log=[])])
    await system.spawn_tree(tree)
    ref = system.lookup("w")
    assert restart_count(ref) == 0
    with pytest.raises(Boom) as first:
        await ref.ask(Crash(1))
    await ref.ask(Get())
    assert restart_count(ref) == 1
    with pytest.raises(Boom) as second:
        await ref.ask(Crash(2))
    await ref.ask(Get())
    assert restart_count(ref) == 2
    seen = await collector.ask(Get())
    assert seen == [
        ChildStarted("/sup", "/sup/w"),
        ChildFailed("/sup", "/sup/w", first.value),
        ChildRestarted("/sup", "/sup/w", first.value, 1, 0.0),
        ChildFailed("/sup", "/sup/w", second.value),
        ChildRestarted("/sup", "/sup/w", second.value, 2, 0.0),
    ]


async def test_giving_up_publishes_supervisor_gave_up(autojump_clock: Any) -> None:
    seen: list[Any] = []

    class Keeper(Collector):
        async def receive(self, message: Any) -> Any:
            seen.append(message)

    with pytest.raises(EscalatedFailure):
        async with open_actor_system() as system:
            collector = await system.spawn(Keeper, name="collector")
            system.subscribe(collector, SupervisionEvent)
            tree = Supervisor(
                name="sup",
                strategy=OneForOne(max_restarts=1, within=10.0),
                children=[ChildSpec(Worker, name="w", log=[])],
            )
            await system.spawn_tree(tree)
            ref = system.lookup("w")
            ref.tell(Crash(1))
            ref.tell(Crash(2))
            await trio.sleep(1000)
    # The collector may be stopped (at close) before it handled the last
    # events; those are then in the dead letters, in order.
    seen += [letter.message for letter in system.dead_letters if isinstance(letter.message, SupervisionEvent)]
    gave_up = events_of(seen, SupervisorGaveUp)
    assert len(gave_up) == 1
    event = gave_up[0]
    assert (event.supervisor, event.child, event.max_restarts, event.within) == ("/sup", "/sup/w", 1, 10.0)
    assert isinstance(event.error, Boom) and str(event.error) == "w crashed on 2"
    assert [type(e) for e in seen] == [
        ChildStarted,
        ChildFailed,
        ChildRestarted,
        ChildFailed,
        SupervisorGaveUp,
        ChildStopped,
    ]
    assert events_of(seen, ChildRestarted)[0].restarts == 1


async def test_temporary_child_that_fails_publishes_child_stopped_with_the_reason(actor_system: ActorSystem) -> None:
    system = actor_system
    collector = await system.spawn(Collector, name="collector")
    system.subscribe(collector, SupervisionEvent)
    tree = Supervisor(name="sup", children=[ChildSpec(Worker, name="w", log=[], restart="temporary")])
    await system.spawn_tree(tree)
    with pytest.raises(Boom) as info:
        await system.lookup("w").ask(Crash())
    await settle()
    seen = await collector.ask(Get())
    assert seen == [
        ChildStarted("/sup", "/sup/w"),
        ChildFailed("/sup", "/sup/w", info.value),
        ChildStopped("/sup", "/sup/w", info.value),
    ]


class Fragile(Actor):
    """Fails on `Crash`, echoes `Echo`; keeps nothing (unlike `Worker`, whose log keeps errors)."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise Boom("fragile")
        return message.value


async def test_repeated_give_ups_do_not_keep_old_supervisor_incarnations_alive(autojump_clock: Any) -> None:
    """A team that gives up ten times and is restarted by the root each time leaves no trail.

    Each give-up's error carries a traceback into the dying incarnation; if the new
    incarnation kept that error, every earlier instance would stay reachable.
    """
    async with open_actor_system() as system:
        team = Supervisor(name="team", strategy=OneForOne(max_restarts=0), children=[ChildSpec(Fragile, name="w")])
        await system.spawn_tree(
            Supervisor(name="root", strategy=OneForOne(max_restarts=100, within=1.0), children=[team])
        )
        for n in range(10):
            before = restart_count(system.lookup("team"))
            system.lookup("w").tell(Crash(n))
            await wait_until(lambda: restart_count(system.lookup("team")) == before + 1)
            await trio.sleep(2.0)  # outside the root's window
        assert restart_count(system.lookup("team")) == 10
        assert await system.lookup("w").ask(Echo("alive")) == "alive"
        gc.collect()
        alive = [obj for obj in gc.get_objects() if isinstance(obj, Supervisor)]
        # two specs, two running incarnations, at most one earlier team kept by last_error
        assert len(alive) <= 5, alive


# -- what the give-up message counts -----------------------------------------------------


async def give_up_message(strategy: Any, crashes: list[str]) -> str:
    with pytest.raises(EscalatedFailure) as info:
        async with open_actor_system() as system:
            await system.spawn_tree(
                Supervisor(
                    name="team",
                    strategy=strategy,
                    children=[ChildSpec(Worker, name=name, log=[]) for name in ("w1", "w2")],
                )
            )
            for n, name in enumerate(crashes):
                ref = system.lookup(name)
                with pytest.raises(Boom):
                    await ref.ask(Crash(n))
                await settle()  # restarted (or given up) before the next crash
            await trio.sleep(1000)
            pytest.fail("the supervisor did not give up")
    return str(info.value)


async def test_the_give_up_message_counts_the_restarts_of_all_children(autojump_clock: Any) -> None:
    message = await give_up_message(OneForOne(max_restarts=3, within=10.0), ["w1", "w2", "w1", "w2"])
    assert message == (
        "supervisor 'team' gave up: child 'w2' failed and its children had already been restarted 3 times "
        "within 10 s ('w1' 2, 'w2' 1), as many as max_restarts=3 allows; last error: Boom('w2 crashed on 3'). "
        "Fix the failing child, or raise max_restarts/within on the strategy"
    )


async def test_the_give_up_message_with_no_restarts_allowed(autojump_clock: Any) -> None:
    message = await give_up_message(OneForOne(max_restarts=0), ["w2"])
    assert message.startswith(
        "supervisor 'team' gave up: child 'w2' failed and its strategy allows no restarts (max_restarts=0); "
        "last error: Boom('w2 crashed on 0')."
    )


async def test_the_give_up_message_for_a_window_of_a_lifetime(autojump_clock: Any) -> None:
    message = await give_up_message(OneForOne(max_restarts=1, within=math.inf), ["w1", "w1"])
    assert "had already been restarted 1 time ever ('w1' 1), as many as max_restarts=1 allows" in message
