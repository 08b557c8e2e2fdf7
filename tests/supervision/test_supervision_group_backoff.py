"""A OneForAll/RestForOne supervisor never sleeps in its handler.

A group restart waits out its backoff in a timer: meanwhile the supervisor
answers messages and handles other children's failures, and each failure
keeps its own backoff clock (Erlang/OTP's ``hanging_restart_loop`` asks the
same of a supervisor: keep serving while it restarts).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from supkit import Crash, Echo, Worker, wait_until

from actors import ActorSystem
from supervision import Backoff, ChildSpec, GetChildren, OneForAll, RestForOne, Supervisor, restart_count

pytestmark = pytest.mark.allow_actor_failures


def starts(log: list[Any], name: str) -> list[float]:
    return [round(entry[2], 6) for entry in log if entry[0] == "start" and entry[1] == name]


async def spawn_group(system: ActorSystem, strategy: Any, log: list[Any], names: tuple[str, ...]) -> list[Any]:
    await system.spawn_tree(
        Supervisor(
            name="sup",
            strategy=strategy,
            children=[ChildSpec(Worker, name=n, log=log) for n in names],
        )
    )
    return [system.lookup(n) for n in names]


@pytest.mark.parametrize("strategy", [OneForAll, RestForOne])
async def test_the_supervisor_answers_during_a_group_backoff(actor_system_autojump: ActorSystem, strategy: Any) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    backoff = Backoff(initial=5.0, maximum=5.0, jitter=0)
    a, b = await spawn_group(system, strategy(max_restarts=10, backoff=backoff), log, ("a", "b"))
    crashed_at = trio.current_time()
    a.tell(Crash())
    await trio.sleep(0.5)  # the group is down, half a second into its 5 s backoff
    sup = system.lookup("sup")
    with trio.fail_after(1):
        assert await sup.ask(GetChildren(), timeout=1) == [a, b]
    assert trio.current_time() - crashed_at == pytest.approx(0.5)
    assert await b.ask(Echo("back"), timeout=100) == "back"
    assert starts(log, "a")[-1] - crashed_at == pytest.approx(5.0)
    assert starts(log, "b")[-1] - crashed_at == pytest.approx(5.0)


async def test_rest_for_one_handles_an_earlier_childs_failure_during_a_backoff_on_its_own_clock(
    actor_system_autojump: ActorSystem,
) -> None:
    """The issue's case: c2 fails at t=0, c1 at t=1, 5 s backoff: all three are back at t=6, not t=10."""
    system = actor_system_autojump
    log: list[Any] = []
    backoff = Backoff(initial=5.0, maximum=5.0, jitter=0)
    c1, c2, c3 = await spawn_group(
        system, RestForOne(max_restarts=10, within=60, backoff=backoff), log, ("c1", "c2", "c3")
    )
    t0 = trio.current_time()
    c2.tell(Crash())
    await trio.sleep(1.0)
    c1.tell(Crash())
    assert await c3.ask(Echo("back"), timeout=100) == "back"
    assert [starts(log, n)[-1] - t0 for n in ("c1", "c2", "c3")] == [pytest.approx(6.0)] * 3
    assert [restart_count(r) for r in (c1, c2, c3)] == [1, 1, 1]  # c2 and c3 restarted once, not twice


async def test_a_longer_pending_backoff_is_not_cut_short_by_a_later_shorter_one(
    actor_system_autojump: ActorSystem,
) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    backoff = Backoff(initial=1.0, multiplier=4.0, maximum=100.0, jitter=0)
    c1, c2, c3 = await spawn_group(
        system, RestForOne(max_restarts=10, within=60, backoff=backoff), log, ("c1", "c2", "c3")
    )
    t0 = trio.current_time()
    c2.tell(Crash(1))  # c2's first backoff: 1 s
    assert await c3.ask(Echo("first"), timeout=100) == "first"
    await trio.sleep_until(t0 + 2.0)
    c2.tell(Crash(2))  # c2's second: 4 s, due at t0 + 6
    await trio.sleep(1.0)
    c1.tell(Crash(3))  # c1's first: 1 s, due at t0 + 4; c2 and c3 stay down until t0 + 6
    assert await c1.ask(Echo("c1"), timeout=100) == "c1"
    assert trio.current_time() - t0 == pytest.approx(4.0)
    assert await c3.ask(Echo("c3"), timeout=100) == "c3"
    assert starts(log, "c1")[-1] - t0 == pytest.approx(4.0)
    assert starts(log, "c2")[-1] - t0 == pytest.approx(6.0)
    assert starts(log, "c3")[-1] - t0 == pytest.approx(6.0)


async def test_stopping_a_child_during_its_group_backoff_leaves_the_rest_to_restart(
    actor_system_autojump: ActorSystem,
) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    backoff = Backoff(initial=5.0, maximum=5.0, jitter=0)
    a, b, c = await spawn_group(system, OneForAll(max_restarts=10, backoff=backoff), log, ("a", "b", "c"))
    a.tell(Crash())
    await wait_until(lambda: ("stop", "a") in [(e[0], e[1]) for e in log])
    await system.stop(b)  # stopped while waiting for the group's restart: final
    assert await c.ask(Echo("c"), timeout=100) == "c"
    assert await a.ask(Echo("a"), timeout=100) == "a"
    assert not b.is_alive
    assert await system.lookup("sup").ask(GetChildren()) == [a, c]
