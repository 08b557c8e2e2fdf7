"""Shutdown in the middle of load settles every message within the bound.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

import math
from typing import Any

import trio
import trio.testing
from fuzz_helpers import (
    run_virtual,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorStopped,
    AskTimeout,
    Reply,
    open_actor_system,
)


@settings(max_examples=40, deadline=None)
@given(
    actors=st.integers(1, 6),
    asks=st.integers(0, 300),
    handler_seconds=st.sampled_from([0.0, 0.01, 0.5, 2.0, 100.0]),
    ask_timeout=st.sampled_from([0.1, 1.0, 30.0, math.inf]),
    shutdown_timeout=st.sampled_from([0.5, 1.0]),
    mailbox_size=st.sampled_from([None, 1000]),
    leave_after=st.sampled_from([0.0, 0.05, 1.0]),
    how=st.sampled_from(["leave the block", "cancel the block from outside"]),
)
def test_leaving_with_many_outstanding_asks_settles_every_reply_within_the_bound(
    actors: int,
    asks: int,
    handler_seconds: float,
    ask_timeout: float,
    shutdown_timeout: float,
    mailbox_size: int | None,
    leave_after: float,
    how: str,
) -> None:
    """Hundreds of ask_nowait replies are outstanding when the block ends: each one settles
    (a value, AskTimeout or ActorStopped, nothing else), none stays pending, every message
    is either handled or a dead letter, and the exit takes at most each actor's grace."""
    handled: list[int] = []

    class Busy(Actor):
        async def receive(self, message: int) -> str:
            if handler_seconds:
                await trio.sleep(handler_seconds)
            handled.append(message)
            return f"answer {message}"  # not an int: a late answer's dead letter stays apart

    replies: list[Reply[Any]] = []
    timings: dict[str, float] = {}
    systems: list[Any] = []

    async def main() -> None:
        with trio.CancelScope() as outer:
            async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
                systems.append(system)
                refs = [await system.spawn(Busy, mailbox_size=mailbox_size) for _ in range(actors)]
                for i in range(asks):
                    replies.append(refs[i % actors].ask_nowait(i, timeout=ask_timeout))
                await trio.sleep(leave_after)
                timings["leave"] = trio.current_time()
                if how == "cancel the block from outside":
                    outer.cancel()
                    await trio.sleep(1)  # cancelled here
        timings["exit"] = trio.current_time()

    run_virtual(main)
    pending = [i for i, reply in enumerate(replies) if not reply.done()]
    assert pending == [], f"{len(pending)} replies never settled, first ones: {pending[:5]}"
    for i, reply in enumerate(replies):
        error = reply.exception()
        if error is None:
            assert reply.result() == f"answer {i}"
        else:
            assert isinstance(error, (AskTimeout, ActorStopped)), f"reply {i} failed with {error!r}"
    # Stops are sequential; each actor gets its handler grace, then its on_stop (instant).
    took = timings["exit"] - timings["leave"]
    assert took <= actors * shutdown_timeout + 1e-9, f"exit took {took} virtual seconds"
    letters = systems[0].dead_letters
    dead = [d.message for d in letters if isinstance(d.message, int)]
    if letters.total <= letters.maxlen:  # (else the oldest records were dropped, as documented)
        lost = sorted(set(range(asks)) - set(handled) - set(dead))
        assert lost == [], f"messages neither handled nor dead letters: {lost[:10]}"
        assert sorted(handled + dead) == list(range(asks)), "a message was handled and dead-lettered"
