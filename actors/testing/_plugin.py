"""pytest plugin (entry point ``pytest11``): fixtures that open an actor system per test.

``actor_system_autojump`` runs its test under ``MockClock(autojump_threshold=0)``:
the plugin marks every test that uses it with a pytest-trio runner that brings
that clock (unless the test already takes a clock fixture of its own).

An actor that fails where nobody sees it (a told message's handler raised, a
restart or ``on_stop`` failed, ``on_stop`` hung) fails the test at teardown,
with each failure's traceback. Failures that reach someone are not counted: an
asker gets the handler's error, ``spawn`` raises the ``on_start`` error, an
escalation leaves the system block. A test that crashes actors on purpose says
so with ``@pytest.mark.allow_actor_failures`` (any failure) or
``@pytest.mark.allow_actor_failures(types=(Boom, MessageTimeout))`` (those
types only; ``types=`` because pytest takes a lone class argument for the
thing to decorate).

A failure that escalates past the root supervisor cancels the test and fails
it with that `actors.EscalatedFailure` (its cause, the child's error, shown
above it). A test that expects an escalation opens its own system instead:
``with pytest.raises(EscalatedFailure): async with open_actor_system() as system: ...``.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from .._system import ActorSystem, open_actor_system

__all__ = ["actor_system", "actor_system_autojump"]

MARKER = "allow_actor_failures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(types=(...)): the test expects actors to fail (with these exception types; any "
        "if none given); the actor_system fixtures then do not fail it for those failures",
    )


@pytest.fixture
async def actor_system(request: pytest.FixtureRequest) -> AsyncIterator[ActorSystem]:
    """An open `ActorSystem` for the test, closed (every actor stopped) after it.

    Failures nobody saw fail the test at teardown (see the module's docstring).

    Not for a hypothesis ``@given`` test: its examples would share one system
    (hypothesis's ``function_scoped_fixture`` health check refuses that). Open
    a fresh system per example in the test body instead, ``async with
    open_actor_system() as system:``, or let `run_schedule` open one.
    """
    async with _checked_system(request) as system:
        yield system


@pytest.fixture
async def actor_system_autojump(request: pytest.FixtureRequest) -> AsyncIterator[ActorSystem]:
    """Like `actor_system`, but the test runs under ``MockClock(autojump_threshold=0)``.

    Virtual time jumps ahead whenever every task is blocked, so timeouts,
    timers and backoff delays take no real time and are exact.

    Not for a hypothesis ``@given`` test (see `actor_system`); pytest-trio
    also runs an async ``@given`` test under the real clock. For a property in
    virtual time, write a sync ``@given`` test that runs each example with
    ``trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))``,
    ``main`` opening its own system.
    """
    async with _checked_system(request) as system:
        yield system


@asynccontextmanager
async def _checked_system(request: pytest.FixtureRequest) -> AsyncIterator[ActorSystem]:
    # A context manager, not a generator the fixtures iterate: when an escalation
    # cancels the test, pytest-trio throws that Cancelled in at the fixture's yield,
    # and only a context manager passes it on into the system's block (which then
    # raises the EscalatedFailure). A generator left suspended there would leave the
    # system's nursery open as the fixture's task ends: a corrupted nursery stack.
    failures: list[tuple[str, str, BaseException]] = []
    async with open_actor_system() as system:
        system._failure_listeners.append(lambda *failure: failures.append(failure))
        yield system
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        types = marker.kwargs.get("types", marker.args)
        allowed = (types,) if isinstance(types, type) else tuple(types) or (BaseException,)
        failures = [failure for failure in failures if not isinstance(failure[2], allowed)]
    if failures:
        pytest.fail(_describe(failures, marker is not None), pytrace=False)


def _describe(failures: list[tuple[str, str, BaseException]], marked: bool) -> str:
    count = f"{len(failures)} actor failure{'s' * (len(failures) != 1)}"
    lines = [f"{count} that no asker or spawner saw{' and the test did not allow' * marked}:"]
    for path, doing, error in failures:
        lines.append(f"\n--- actor {path} failed while {doing}:")
        lines.append("".join(traceback.format_exception(error)).rstrip())
    types = ", ".join(sorted({type(error).__name__ for _, _, error in failures}))
    lines.append(
        f"\nIf the test expects them, mark it @pytest.mark.{MARKER}(types=({types},)) "
        f"(or with no arguments, to allow any failure)."
    )
    return "\n".join(lines)


def _run_with_autojump(fn: Callable[[], Any], *, clock: trio.abc.Clock | None = None, **kwargs: Any) -> Any:
    return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0), **kwargs)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "actor_system_autojump" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.trio(run=_run_with_autojump), append=False)
