"""Lifecycle hooks that raise or hang are bounded and reported.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from fuzz_helpers import (
    Boom,
    Echo,
    Lifecycle,
    ReprRaisingError,
    assert_system_works,
    run_virtual,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorError,
    ActorNotFound,
    DeadlockError,
    EscalatedFailure,
    open_actor_system,
)
from supervision import ChildSpec, ChildStartFailed, OneForAll, OneForOne, RestForOne, Supervisor

HOOK_ERRORS: dict[str, Callable[[], Exception]] = {
    "Boom": lambda: Boom("hook failed"),
    "ActorError": lambda: ActorError("a runtime-looking error from user code"),
    "DeadlockError": lambda: DeadlockError("user code raising a runtime error type"),
    "TimeoutError": lambda: TimeoutError("user timeout"),
    "exception whose repr raises": ReprRaisingError,
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hook=st.sampled_from(["__init__", "on_start"]),
    error_kind=st.sampled_from(sorted(HOOK_ERRORS)),
    where=st.sampled_from(["system.spawn", "self.spawn", "under a supervisor"]),
)
def test_an_actor_failing_to_start_raises_from_spawn_frees_its_name_and_gets_no_on_stop(
    hook: str, error_kind: str, where: str, quiet_actors_logger: None
) -> None:
    life = Lifecycle()
    error = HOOK_ERRORS[error_kind]()

    class Failing(Actor):
        def __init__(self) -> None:
            if hook == "__init__":
                raise error

        async def on_start(self) -> None:
            if hook == "on_start":
                await trio.sleep(1)  # fails after an await, not only at once
                raise error
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            try:
                await self.spawn(Failing, name="failing")
            except Exception as exc:
                return exc
            return None

    async def main() -> None:
        async with open_actor_system() as system:
            bystander = await system.spawn(Echo, name="bystander")
            if where == "system.spawn":
                with pytest.raises(type(error)) as info:
                    await system.spawn(Failing, name="failing")
                raised = info.value
            elif where == "self.spawn":
                parent = await system.spawn(Parent, name="parent")
                raised = await parent.ask("spawn", timeout=5)
                assert parent.is_alive
            else:  # spawn_tree names the child and its supervisor; the hook's error is the cause
                with pytest.raises(ChildStartFailed) as failed:
                    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Failing, name="failing")]))
                assert (failed.value.supervisor, failed.value.child) == ("sup", "failing")
                raised = failed.value.__cause__
                with pytest.raises(ActorNotFound):
                    system.lookup("sup")
            assert raised is error, f"spawn raised {raised!r}, not the hook's own error"
            with pytest.raises(ActorNotFound):
                system.lookup("failing")
            assert life.started == {} and life.stopped == {}, "a failed start gets no on_stop"
            assert bystander.is_alive and await bystander.ask("ok", timeout=1) == "ok"
            ref = await system.spawn(Echo, name="failing")  # the name is free again
            assert await ref.ask(1, timeout=1) == 1
            await assert_system_works(system)

    run_virtual(main)


@settings(max_examples=30, deadline=None)
@given(
    give_up_after=st.floats(0, 5),
    shutdown_timeout=st.sampled_from([0.5, 2.0, 5.0]),
    leave_at_once=st.booleans(),
)
def test_a_spawn_abandoned_while_on_start_hangs_leaves_no_trace_and_the_hook_is_cancelled_in_time(
    give_up_after: float, shutdown_timeout: float, leave_at_once: bool
) -> None:
    """The spawner's cancel scope wins at once and the half-started actor leaves no trace:
    ``lookup`` raises ActorNotFound and the name can be taken again right away. Its hung
    on_start gets ``shutdown_timeout`` (like a handler being stopped) and is then cancelled;
    it never completed, so there is no on_stop. Leaving the block at once is bounded too."""
    life = Lifecycle()
    on_start_ended: list[float] = []

    class Hung(Actor):
        async def on_start(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                on_start_ended.append(trio.current_time())

        async def on_stop(self) -> None:
            life.stop(self)

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
            await system.spawn(Echo, name="first")  # (a cancelled *first* spawn: see below)
            start = trio.current_time()
            with trio.move_on_after(give_up_after) as scope:
                await system.spawn(Hung, name="hung")
            assert scope.cancelled_caught
            given_up = trio.current_time()
            assert given_up - start == pytest.approx(give_up_after)
            with pytest.raises(ActorNotFound):
                system.lookup("hung")
            assert [r.name for r in system.actors()] == ["first"]
            if not leave_at_once:
                again = await system.spawn(Echo, name="hung")  # at once, while the old one winds down
                assert await again.ask(1, timeout=1) == 1
                await trio.sleep(2 * shutdown_timeout)
                assert system.lookup("hung") is again, "the old actor's end must not unregister the new one"
                await assert_system_works(system)
        # (Given up before on_start even began, at t=0, it never runs at all.)
        assert len(on_start_ended) <= 1
        assert all(ended - given_up <= shutdown_timeout + 1e-9 for ended in on_start_ended)
        assert life.stopped == {}

    run_virtual(main)


@settings(max_examples=20, deadline=None)
@given(
    first_of=st.sampled_from(["the system (top-level)", "an actor (its first child)"]),
    child=st.sampled_from(["Echo (starts lazily)", "an actor with on_start"]),
    cancel=st.sampled_from(["pre-cancelled scope", "move_on_after(0)"]),
)
def test_a_first_spawn_cancelled_at_once_leaves_no_half_registered_actor(
    first_of: str, child: str, cancel: str
) -> None:
    """Cancelling a spawn at its first checkpoint (here: while the parent opens the nursery
    its children run in, which the first spawn of each parent does) must leave nothing
    behind: no name, no ref, and nothing for the shutdown to wait on forever."""
    life = Lifecycle()

    class Starting(Echo):
        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    child_cls = Echo if child.startswith("Echo") else Starting

    escaped: list[BaseException] = []  # what came out of the cancelled spawn

    async def cancelled_spawn(spawn: Callable[..., Any]) -> None:
        with trio.CancelScope() as scope:
            try:
                if cancel == "pre-cancelled scope":
                    scope.cancel()
                    await spawn(child_cls, name="child")
                else:
                    with trio.move_on_after(0):
                        await spawn(child_cls, name="child")
            except BaseException as exc:
                escaped.append(exc)
                raise

    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            await cancelled_spawn(self.spawn)
            return [ref.name for ref in self.system.actors()]

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=1) as system:
            if first_of.startswith("the system"):
                await cancelled_spawn(system.spawn)
                living = [ref.name for ref in system.actors()]
            else:
                parent = await system.spawn(Parent, name="parent")
                living = await parent.ask("spawn", timeout=5)
            try:
                ref = system.lookup("child")
            except ActorNotFound:
                ref = None
            assert ref is None or not ref.is_alive, f"a cancelled spawn left {ref!r} registered (actors: {living})"
            assert all(isinstance(exc, trio.Cancelled) for exc in escaped), (
                f"spawn let {escaped!r} out instead of a bare trio.Cancelled (an "
                f"'except trio.Cancelled:' around spawn would miss it)"
            )
            await trio.sleep(1)  # any grace is over
            with pytest.raises(ActorNotFound):
                system.lookup("child")
            again = await system.spawn(Echo, name="child")
            assert await again.ask(1, timeout=1) == 1
            await assert_system_works(system)

    run_virtual(main, hang=100)
    assert life.problems() == []


STOP_BEHAVIOURS = ("ok", "raise", "hang", "slow", "unprintable error")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    behaviours=st.lists(st.sampled_from(STOP_BEHAVIOURS), min_size=1, max_size=5),
    shutdown_timeout=st.sampled_from([0.5, 1.0, 3.0]),
    how=st.sampled_from(["leave the block", "system.stop each", "cancel the block from outside"]),
)
def test_on_stop_that_raises_or_hangs_is_bounded_and_the_others_still_stop(
    behaviours: list[str], shutdown_timeout: float, how: str, quiet_actors_logger: None
) -> None:
    """Each on_stop runs once; a raising one is logged; a hanging one is cancelled after
    ``shutdown_timeout``. Stops are sequential (reverse start order, as OTP does), so the
    whole exit takes exactly the sum of each actor's on_stop time, capped per actor."""
    life = Lifecycle()
    slow = shutdown_timeout / 2

    class Stopper(Actor):
        def __init__(self, behaviour: str) -> None:
            self.behaviour = behaviour

        async def on_start(self) -> None:
            life.start(self)

        async def receive(self, message: Any) -> Any:
            return message

        async def on_stop(self) -> None:
            life.stop(self)
            if self.behaviour == "raise":
                raise Boom("on_stop failed")
            if self.behaviour == "unprintable error":
                raise ReprRaisingError()
            if self.behaviour == "hang":
                await trio.sleep_forever()
            if self.behaviour == "slow":
                await trio.sleep(slow)

    cost = {"ok": 0.0, "raise": 0.0, "unprintable error": 0.0, "hang": shutdown_timeout, "slow": slow}
    expected = sum(cost[b] for b in behaviours)

    async def main() -> None:
        with trio.CancelScope() as outer:
            async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
                refs = [await system.spawn(Stopper, b) for b in behaviours]
                start = trio.current_time()
                if how == "system.stop each":
                    for ref in refs:
                        await system.stop(ref)
                        assert not ref.is_alive
                    assert trio.current_time() - start == pytest.approx(expected)
                    await assert_system_works(system)
                    start = trio.current_time()
                    expected_exit = 0.0
                else:
                    expected_exit = expected
                    if how == "cancel the block from outside":
                        outer.cancel()
                        await trio.sleep(1)  # cancelled here
                        raise AssertionError("not cancelled")
        assert trio.current_time() - start == pytest.approx(expected_exit)
        assert life.problems() == []
        assert len(life.stopped) == len(behaviours)

    run_virtual(main)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    restart_failures=st.integers(0, 4),
    max_restarts=st.integers(1, 3),
    strategy=st.sampled_from([OneForOne, OneForAll, RestForOne]),
)
def test_on_restart_that_raises_is_a_failure_the_supervisor_counts(
    restart_failures: int, max_restarts: int, strategy: type, quiet_actors_logger: None
) -> None:
    """A fresh instance whose on_restart raises fails like a crash: the supervisor restarts
    again, and past its intensity gives up, raising one EscalatedFailure out of the block
    whose ``__cause__`` is the last on_restart error. Instances that never finished starting
    get no on_stop; every other one gets exactly one."""
    life = Lifecycle()
    failures_left = [restart_failures]

    class Fragile(Actor):
        def __init__(self, fragile: bool) -> None:
            self.fragile = fragile

        async def on_restart(self, exc: BaseException) -> None:
            if self.fragile and failures_left[0] > 0:
                failures_left[0] -= 1
                raise Boom(f"on_restart failed ({failures_left[0]} more to go)")

        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise Boom("crash")
            return message

    recovers = restart_failures + 1 <= max_restarts

    async def main() -> None:
        async with open_actor_system() as system:
            await system.spawn_tree(
                Supervisor(
                    name="sup",
                    strategy=strategy(max_restarts=max_restarts, within=100),
                    children=[ChildSpec(Fragile, True, name="a"), ChildSpec(Fragile, False, name="b")],
                )
            )
            a = system.lookup("a")
            with pytest.raises(Boom, match="^crash$"):
                await a.ask("crash", timeout=5)
            await trio.sleep(1)
            assert recovers, "the supervisor should have given up by now"
            assert await a.ask("back", timeout=5) == "back"
            assert await system.lookup("b").ask("fine", timeout=5) == "fine"
            await assert_system_works(system)

    if recovers:
        run_virtual(main)
    else:
        with pytest.raises(EscalatedFailure) as info:
            run_virtual(main)
        assert info.value.supervisor == "sup" and info.value.child == "a"
        assert isinstance(info.value.__cause__, Boom)
        assert str(info.value.__cause__).startswith("on_restart failed")
    assert life.problems() == []
