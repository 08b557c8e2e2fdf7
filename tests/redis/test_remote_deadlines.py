"""Deadlines cross the wire: a handler serving a remote ask runs under that ask's deadline.

Real Redis, so real time: the deadlines here are short (a fraction of a
second) and the handlers would otherwise run for a minute, so a handler
that is not cut makes the test fail by its own ``fail_after``.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from nodekit import ERRORS, MESSAGES, Echo, Slow

from actors import Actor, AskAbandoned, AskTimeout, open_actor_system


class Sleeper(Actor):
    """Sleeps on Slow (recording a cancel), answers Echo at once."""

    def __init__(self, cancelled: trio.Event) -> None:
        self.cancelled = cancelled

    async def receive(self, message: Any) -> Any:
        match message:
            case Slow(seconds):
                try:
                    await trio.sleep(seconds)
                except trio.Cancelled:
                    self.cancelled.set()
                    raise
                return "slept"
            case Echo(text):
                return text


def transport_for(make_transport: Any) -> Any:
    return make_transport(messages=MESSAGES, errors=ERRORS)


async def test_a_remote_handler_is_cut_at_the_askers_deadline(make_transport: Any) -> None:
    cancelled = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Sleeper, cancelled, name="sleeper", public=True)
        sleeper = b.remote("sleeper")
        with pytest.raises(AskTimeout):
            await sleeper.ask(Slow(60), timeout=0.5)
        with trio.fail_after(5):  # far less than the 60 s the handler asked for
            await cancelled.wait()
        # The serving node records the cut message as a dead letter with AskAbandoned...
        with trio.fail_after(5):
            while not any(isinstance(letter.error, AskAbandoned) for letter in a.dead_letters):
                await trio.sleep(0.01)
        letter = next(letter for letter in a.dead_letters if isinstance(letter.error, AskAbandoned))
        assert letter.message == Slow(60) and "stopped handling Slow" in str(letter.error)
        # ...and the actor serves the next message at once.
        with trio.fail_after(5):
            assert await sleeper.ask(Echo("next"), timeout=5) == "next"


async def test_a_remote_handler_within_its_deadline_is_not_cut(make_transport: Any) -> None:
    cancelled = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Sleeper, cancelled, name="sleeper", public=True)
        assert await b.remote("sleeper").ask(Slow(0.05), timeout=10) == "slept"
        assert not cancelled.is_set()
        assert not [letter for letter in a.dead_letters if isinstance(letter.error, AskAbandoned)]
