"""Shared actors and messages for the supervision tests (not a test module).

This directory deliberately has no ``__init__.py``: as a package named
``supervision`` under the ``tests/`` rootdir, pytest's default (prepend) import
mode would import it *as* ``supervision``, shadowing the real package for the
whole test session. Test modules here therefore carry a ``test_supervision_``
prefix so their basenames never clash with ``tests/test_*.py``.

Every actor here writes what happens to it into a plain list passed in its
constructor (through ``ChildSpec`` kwargs, so every incarnation shares it): a
test reads the list to see starts, stops, restarts and handled messages, with
the (mock) time at which each happened.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing

from actors import Actor
from supervision import SupervisionEvent

__all__ = [
    "Add",
    "Boom",
    "Collector",
    "Crash",
    "Echo",
    "Get",
    "Hang",
    "StopSelf",
    "Worker",
    "settle",
]


class Boom(Exception):
    """The error a `Worker` raises on `Crash`."""


@attrs.frozen
class Add:
    amount: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Echo:
    value: Any


@attrs.frozen
class Crash:
    tag: Any = None


@attrs.frozen
class Hang:
    seconds: float = 1_000_000.0


@attrs.frozen
class StopSelf:
    pass


class Worker(Actor):
    """A counter that logs its lifecycle and what it handles into ``log``.

    Log entries are tuples ``(event, name, ...)``:
      ("start", name, t), ("stop", name, t), ("restart", name, error, t),
      ("handled", name, value, t), ("crash", name, tag, t), ("hang", name, t).
    """

    def __init__(self, log: list[tuple[Any, ...]], start: int = 0, tag: str | None = None) -> None:
        self.log = log
        self.total = start
        self.tag = tag

    @property
    def who(self) -> str:
        return self.tag or self.ref.name

    async def on_start(self) -> None:
        self.log.append(("start", self.who, trio.current_time()))

    async def on_stop(self) -> None:
        self.log.append(("stop", self.who, trio.current_time()))

    async def on_restart(self, exc: BaseException) -> None:
        self.log.append(("restart", self.who, exc, trio.current_time()))

    async def receive(self, message: Any) -> Any:
        match message:
            case Add(amount):
                self.total += amount
                self.log.append(("handled", self.who, message, trio.current_time()))
                return self.total
            case Get():
                return self.total
            case Echo(value):
                self.log.append(("handled", self.who, value, trio.current_time()))
                return value
            case Crash(tag):
                self.log.append(("crash", self.who, tag, trio.current_time()))
                raise Boom(f"{self.who} crashed on {tag!r}")
            case Hang(seconds):
                self.log.append(("hang", self.who, trio.current_time()))
                await trio.sleep(seconds)
                return "woke"
            case StopSelf():
                self.stop()
                return "stopping"
            case _:
                self.unhandled(message)


class Collector(Actor):
    """Keeps every message it is told (subscribe it to `SupervisionEvent`); `Get` returns them."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Get):
            return list(self.seen)
        self.seen.append(message)
        return None


def events_of(seen: list[Any], kind: type[SupervisionEvent]) -> list[Any]:
    return [event for event in seen if type(event) is kind]


async def settle() -> None:
    """Let every task run until all are blocked (no time passes: not a sleep)."""
    await trio.testing.wait_all_tasks_blocked()


def lifecycle(log: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    """The (event, name) pairs of start/stop/restart entries, in order."""
    return [(entry[0], entry[1]) for entry in log if entry[0] in ("start", "stop", "restart")]


def handled(log: list[tuple[Any, ...]], name: str | None = None) -> list[Any]:
    """The values (or Add messages) handled, in order, optionally for one actor."""
    return [entry[2] for entry in log if entry[0] == "handled" and (name is None or entry[1] == name)]


def restart_reasons(log: list[tuple[Any, ...]]) -> list[BaseException]:
    """The errors ``on_restart`` received, in order."""
    return [entry[2] for entry in log if entry[0] == "restart"]


async def wait_until(predicate: Any, *, limit: int = 10_000) -> None:
    """Yield (checkpoints only: no time passes, even under MockClock) until ``predicate()``."""
    for _ in range(limit):
        if predicate():
            return
        await trio.lowlevel.checkpoint()
    raise AssertionError(f"condition not reached after {limit} scheduling rounds")
