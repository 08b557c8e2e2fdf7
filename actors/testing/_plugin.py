"""pytest plugin (entry point ``pytest11``): fixtures that open an actor system per test.

``actor_system_autojump`` runs its test under ``MockClock(autojump_threshold=0)``:
the plugin marks every test that uses it with a pytest-trio runner that brings
that clock (unless the test already takes a clock fixture of its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import trio.testing

from .._system import ActorSystem, open_actor_system

__all__ = ["actor_system", "actor_system_autojump"]


@pytest.fixture
async def actor_system() -> AsyncIterator[ActorSystem]:
    """An open `ActorSystem` for the test, closed (every actor stopped) after it."""
    async with open_actor_system() as system:
        yield system


@pytest.fixture
async def actor_system_autojump() -> AsyncIterator[ActorSystem]:
    """Like `actor_system`, but the test runs under ``MockClock(autojump_threshold=0)``.

    Virtual time jumps ahead whenever every task is blocked, so timeouts,
    timers and backoff delays take no real time and are exact.
    """
    async with open_actor_system() as system:
        yield system


def _run_with_autojump(fn: Callable[[], Any], *, clock: trio.abc.Clock | None = None, **kwargs: Any) -> Any:
    return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0), **kwargs)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "actor_system_autojump" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.trio(run=_run_with_autojump), append=False)
