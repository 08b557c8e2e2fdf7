"""Reply.add_done_callback: a callback that raises never breaks the others or the system.

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
    assert_system_works,
    run_virtual,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorStopped,
    AskTimeout,
    Reply,
    UnhandledMessage,
    open_actor_system,
)


class Servant(Actor):
    """Answers by what it is sent: a value, an error, a long sleep, or unhandled."""

    async def receive(self, message: Any) -> Any:
        if message == "value":
            return 42
        if message == "error":
            raise Boom("handler error")
        if message == "slow":
            await trio.sleep(50)
            return "too late"
        self.unhandled(message)


class UnprintableCallback:
    """A callable whose repr raises (the runtime logs callbacks with %r)."""

    def __init__(self, calls: list[Any], index: int, fail: bool) -> None:
        self.calls, self.index, self.fail = calls, index, fail

    def __call__(self, reply: Reply[Any]) -> None:
        self.calls.append((self.index, reply))
        if self.fail:
            raise Boom(f"callback {self.index} failed")

    def __repr__(self) -> str:
        raise RuntimeError("UnprintableCallback.__repr__ raised")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcome=st.sampled_from(["value", "error", "slow", "unhandled", "stopped"]),
    callbacks=st.lists(
        st.tuples(st.booleans(), st.sampled_from(["before", "after"]), st.sampled_from(["function", "unprintable"])),
        min_size=1,
        max_size=6,
    ),
)
def test_done_callbacks_that_raise_do_not_stop_the_others_or_the_system(
    outcome: str, callbacks: list[tuple[bool, str, str]], quiet_actors_logger: None
) -> None:
    calls: list[tuple[int, Any]] = []

    def make(index: int, fail: bool, kind: str) -> Callable[[Reply[Any]], None]:
        if kind == "unprintable":
            return UnprintableCallback(calls, index, fail)

        def callback(reply: Reply[Any]) -> None:
            calls.append((index, reply))
            if fail:
                raise Boom(f"callback {index} failed")

        return callback

    async def main() -> None:
        async with open_actor_system() as system:
            servant = await system.spawn(Servant, name="servant")
            reply = servant.ask_nowait("slow" if outcome == "stopped" else outcome, timeout=10)
            for index, (fail, when, kind) in enumerate(callbacks):
                if when == "before":
                    reply.add_done_callback(make(index, fail, kind))
            if outcome == "stopped":
                await trio.sleep(1)
                await system.stop(servant)
            with trio.fail_after(20):
                while not reply.done():
                    await trio.sleep(0.5)
            for index, (fail, when, kind) in enumerate(callbacks):
                if when == "after":
                    reply.add_done_callback(make(index, fail, kind))
            before = [i for i, (_, when, _) in enumerate(callbacks) if when == "before"]
            after = [i for i, (_, when, _) in enumerate(callbacks) if when == "after"]
            assert [i for i, _ in calls] == before + after, "every callback runs once, in the order added"
            assert all(r is reply for _, r in calls)
            expected = {
                "value": type(None),
                "error": Boom,
                "slow": AskTimeout,
                "unhandled": UnhandledMessage,
                "stopped": ActorStopped,
            }[outcome]
            if outcome == "value":
                assert reply.result() == 42
            else:
                assert isinstance(reply.exception(), expected), reply.exception()
            # The actor (unless it failed or was stopped) and the deadline ticker still work.
            if outcome in ("value", "slow", "unhandled"):
                assert servant.is_alive
            with pytest.raises(AskTimeout):
                await (await system.spawn(Servant)).ask("slow", timeout=1)
            await assert_system_works(system)

    run_virtual(main)
