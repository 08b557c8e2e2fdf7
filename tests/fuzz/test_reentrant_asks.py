"""Reentrant asks: a cycle raises DeadlockError at once, never a wait until the timeout.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import trio
import trio.testing
from fuzz_helpers import (
    assert_system_works,
    run_virtual,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorRef,
    AskAbandoned,
    DeadlockError,
    gather,
    open_actor_system,
)

ASK_STYLES = ("ask", "ask_nowait then await", "gather(ask)", "gather(ask_nowait)")


class Hop(Actor):
    """On ``("go", hops)``, asks the next actor of the ring ``("go", hops - 1)`` in a drawn style.

    A DeadlockError is caught and handed back up the chain (so no actor fails), with the
    virtual time at which it was raised. ``hops == 0``: answer "leaf".
    """

    def __init__(self, style: str) -> None:
        self.style = style
        self.next: ActorRef[Any] | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.next = message
            return None
        _, hops = message
        if hops == 0:
            return "leaf"
        assert self.next is not None
        request = ("go", hops - 1)
        try:
            if self.style == "ask":
                return await self.next.ask(request, timeout=100)
            if self.style == "ask_nowait then await":
                return await self.next.ask_nowait(request, timeout=100)
            if self.style == "gather(ask)":
                [answer] = await gather(self.next.ask(request, timeout=100))
                return answer
            [answer] = await gather(self.next.ask_nowait(request, timeout=100))
            return answer
        except DeadlockError as exc:
            return ("deadlock", self.ref.name, trio.current_time(), str(exc))


@settings(max_examples=40, deadline=None)
@given(styles=st.lists(st.sampled_from(ASK_STYLES), min_size=1, max_size=4))
def test_an_ask_cycle_raises_deadlock_error_at_once(styles: list[str]) -> None:
    """Actor i asks actor i+1, the last asks actor 0 (one actor: it asks itself): the
    ask that closes the cycle raises DeadlockError without virtual time passing, and the
    chain unwinds with no actor failing. A message an ask_nowait enqueued before the
    refusal is given up by its asker: it is dropped unhandled (or, if already being
    handled, its handler is cancelled), and recorded as a dead letter."""
    n = len(styles)

    async def main() -> None:
        async with open_actor_system() as system:
            ring = [await system.spawn(Hop, style, name=f"hop{i}") for i, style in enumerate(styles)]
            for i, ref in enumerate(ring):
                await ref.ask(ring[(i + 1) % n], timeout=1)
            start = trio.current_time()
            answer = await ring[0].ask(("go", n), timeout=100)
            assert isinstance(answer, tuple) and answer[0] == "deadlock", answer
            _, who, when, text = answer
            assert when == start and trio.current_time() == start, "a deadlock must not wait for a timeout"
            if n == 1:
                assert text.startswith("actor 'hop0' asked itself tuple while handling a message"), text
            else:
                # Which ask closes the cycle depends on the order the awaits ran in (an
                # ask_nowait joins the chain only when awaited): any hop may be refused.
                assert re.match(rf"^ask cycle: '{who}' -> ", text), text
                assert all(f"'hop{i}'" in text for i in range(n)), text
            # Everything settles: each actor still answers, nobody failed.
            await trio.sleep(1)
            for ref in ring:
                assert ref.is_alive
                assert await ref.ask(("go", 0), timeout=1) == "leaf"
            letters = list(system.dead_letters)
            assert all(isinstance(d.error, AskAbandoned) for d in letters), letters
            assert len(letters) <= n, "only asks refused after being enqueued are given up"
            assert trio.current_time() - start == 1

    run_virtual(main)


async def test_asking_yourself_from_on_start_or_a_nested_gather_is_a_deadlock_at_once(autojump_clock: Any) -> None:
    class SelfAsker(Actor):
        async def on_start(self) -> None:
            start = trio.current_time()
            with pytest.raises(DeadlockError, match=r"asked itself str"):
                await self.ref.ask("hello")
            assert trio.current_time() == start
            self.started_ok = True

        async def receive(self, message: Any) -> Any:
            if message == "nested":
                inner = gather(gather(self.ref.ask("x", timeout=50)))
                try:
                    await inner
                except DeadlockError:
                    return "deadlock"
            return self.started_ok

    async with open_actor_system() as system:
        ref = await system.spawn(SelfAsker)
        start = trio.current_time()
        assert await ref.ask("nested", timeout=100) == "deadlock"
        assert trio.current_time() == start
        assert await ref.ask("ok?", timeout=1) is True
        await assert_system_works(system)
