"""Shared odd values, actors and runners for the fuzz tests in tests/fuzz/ (not a test module).

Everything here is deliberately hostile: messages whose ``__repr__``, ``__eq__`` or
``__hash__`` raise, exceptions that cannot be printed, huge and deeply nested values.
The actors record what happens to them in plain lists and counters handed in through
their constructors, so a test can count handled messages and lifecycle hooks.
"""

from __future__ import annotations

import _thread
import collections
import faulthandler
import functools
import itertools
import math
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing

from actors import Actor

__all__ = [
    "ODD_MESSAGES",
    "BadEq",
    "BadHash",
    "BadRepr",
    "Boom",
    "Echo",
    "Lifecycle",
    "Picky",
    "ReprRaisingError",
    "StuckRun",
    "odd_message",
    "run_virtual",
]

#: Virtual seconds after which a run counts as a hang (MockClock: costs no real time).
HANG = 10_000.0

#: Real seconds after which a stuck run kills the test process (the last resort, so that a
#: hang the detector below misses cannot hold up CI forever).
REAL_TIME_LIMIT = 60.0


class StuckRun(AssertionError):
    """The run under test can never make progress again: a hang, found without waiting."""


class _StuckDetector(trio.abc.Instrument):
    """Notices a run that is idle with no deadline pending and nothing queued.

    Under an autojump MockClock such a run would spin forever (there is no deadline to jump
    to, and no thread in these tests to wake it): a deadlock, typically inside a shielded
    shutdown that ``trio.fail_after`` cannot interrupt. The detector then delivers a
    KeyboardInterrupt to the main task (trio delivers those even through shields), which
    `run_virtual` turns into a `StuckRun` failure naming where each task was blocked.
    """

    def __init__(self, patience: int = 20) -> None:
        self.patience = patience
        self.idle = 0
        self.fired = 0
        self.where: list[str] = []

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.idle = 0

    def after_io_wait(self, timeout: float) -> None:
        stats = trio.lowlevel.current_statistics()
        if stats.tasks_runnable or stats.run_sync_soon_queue_size or stats.seconds_to_next_deadline != math.inf:
            self.idle = 0
            return
        self.idle += 1
        if self.idle < self.patience:
            return
        self.idle = 0
        self.fired += 1
        if self.fired == 1:
            self.where = _blocked_tasks()
        if self.fired > 5:
            faulthandler.dump_traceback()
            os._exit(70)  # cannot unwind: better a dead test run than a hung one
        _thread.interrupt_main()


def _blocked_tasks() -> list[str]:
    """For every task of the run: its name and its innermost frames outside trio."""
    found: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        coro: Any = task.coro
        frames = []
        while coro is not None:
            frame = next(
                (getattr(coro, a) for a in ("cr_frame", "gi_frame", "ag_frame") if getattr(coro, a, None)), None
            )
            if frame is not None and "/trio/" not in frame.f_code.co_filename:
                frames.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
            coro = next(
                (getattr(coro, a) for a in ("cr_await", "gi_yieldfrom", "ag_await") if getattr(coro, a, None)), None
            )
            if coro is not None and type(coro).__name__.startswith("async_generator_") and frame is not None:
                coro = getattr(frame.f_locals.get("self"), "gen", None)  # inside an asynccontextmanager
        found.append(f"{task.name}: {' > '.join(frames[-3:]) or '(trio internals)'}")
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(trio.lowlevel.current_root_task())
    return found


def run_virtual(fn: Callable[..., Awaitable[Any]], *args: Any, hang: float = HANG) -> Any:
    """``trio.run(fn, *args)`` under an autojump MockClock; returns what ``fn`` returned.

    A hang fails instead of hanging: ``trio.TooSlowError`` past ``hang`` virtual seconds,
    `StuckRun` when the run can never progress again (see `_StuckDetector`).
    """
    detector = _StuckDetector()

    async def bounded() -> Any:
        with trio.fail_after(hang):
            return await fn(*args)

    def last_resort() -> None:
        faulthandler.dump_traceback()
        os._exit(71)

    watchdog = threading.Timer(REAL_TIME_LIMIT, last_resort)
    watchdog.daemon = True
    watchdog.start()
    try:
        return trio.run(bounded, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[detector])
    except BaseException as exc:
        if detector.fired:
            raise StuckRun(
                "the run got stuck: every task blocked, no deadline pending, so nothing could "
                "ever happen again. Blocked tasks:\n  " + "\n  ".join(detector.where)
            ) from exc
        raise
    finally:
        watchdog.cancel()


class Boom(Exception):
    """The error the test actors raise on purpose."""


class BadRepr:
    """A message that cannot be printed: repr, str and format all raise."""

    def __repr__(self) -> str:
        raise RuntimeError("BadRepr.__repr__ raised")

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        raise RuntimeError("BadRepr.__format__ raised")


class BadEq:
    """A message that cannot be compared (hashable by identity only)."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("BadEq.__eq__ raised")

    def __ne__(self, other: object) -> bool:
        raise RuntimeError("BadEq.__ne__ raised")

    __hash__ = object.__hash__


class BadHash:
    """A message that cannot be hashed, compared or printed."""

    def __hash__(self) -> int:
        raise RuntimeError("BadHash.__hash__ raised")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("BadHash.__eq__ raised")

    def __repr__(self) -> str:
        raise RuntimeError("BadHash.__repr__ raised")


class ReprRaisingError(Exception):
    """An exception that cannot be printed (a real thing: args holding broken objects)."""

    def __repr__(self) -> str:
        raise RuntimeError("ReprRaisingError.__repr__ raised")

    def __str__(self) -> str:
        raise RuntimeError("ReprRaisingError.__str__ raised")


@functools.cache
def _ten_megabytes() -> bytes:
    return b"\x00" * (10 * 1024 * 1024)


@functools.cache
def _ten_megachars() -> str:
    return "x" * (10 * 1024 * 1024)


def _deeply_nested(depth: int = 50_000) -> list[Any]:
    """A list nested ``depth`` levels deep: its repr raises RecursionError."""
    root: list[Any] = []
    node = root
    for _ in range(depth):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


async def _a_coroutine() -> int:
    return 1


def _a_generator() -> Any:
    yield 1


#: Factories of odd messages, by a name a failing example prints.
ODD_MESSAGES: dict[str, Callable[[], Any]] = {
    "None": lambda: None,
    "empty tuple": lambda: (),
    "nan": lambda: math.nan,
    "10 MB of bytes": _ten_megabytes,
    "10 MB str": _ten_megachars,
    "list nested 50000 deep (repr raises RecursionError)": _deeply_nested,
    "unhashable dict": lambda: {"a": [1, 2]},
    "unhashable list": lambda: [[], {}],
    "object whose __repr__ raises": BadRepr,
    "object whose __eq__ raises": BadEq,
    "object whose __hash__/__eq__/__repr__ raise": BadHash,
    "exception instance": lambda: ValueError("just a value"),
    "exception whose repr raises": ReprRaisingError,
    "exception holding an unprintable object": lambda: ValueError(BadRepr()),
    "BaseException instance (KeyboardInterrupt)": KeyboardInterrupt,
    "a class": lambda: Echo,
    "the Actor base class": lambda: Actor,
    "unawaited coroutine": _a_coroutine,
    "generator": _a_generator,
    "lambda": lambda: lambda: None,
    "trio.Event": trio.Event,
}


def odd_message(kind: str) -> Any:
    return ODD_MESSAGES[kind]()


def dispose(message: Any) -> None:
    """Close coroutines and generators a test made, so none warns 'never awaited'."""
    close = getattr(message, "close", None)
    if close is not None and (hasattr(message, "cr_frame") or hasattr(message, "gi_frame")):
        close()


class Echo(Actor):
    """Returns every message as it is, and records it (by identity) in ``seen``."""

    def __init__(self, seen: list[Any] | None = None) -> None:
        self.seen = [] if seen is None else seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return message


class Picky(Actor):
    """Handles only ints; everything else is declared unhandled."""

    def __init__(self, seen: list[Any] | None = None) -> None:
        self.seen = [] if seen is None else seen

    async def receive(self, message: Any) -> Any:
        if type(message) is int:
            self.seen.append(message)
            return message
        self.unhandled(message)


class Lifecycle:
    """Counts lifecycle hooks per actor instance: on_start completed, on_stop begun.

    Call ``life.start(self)`` at the end of ``on_start`` and ``life.stop(self)`` at the top
    of ``on_stop``. Instances are told apart by a serial number (ids get reused).
    """

    def __init__(self) -> None:
        self.started: collections.Counter[int] = collections.Counter()
        self.stopped: collections.Counter[int] = collections.Counter()
        self.names: dict[int, str] = {}
        self._serial = itertools.count(1)

    def key(self, actor: Any) -> int:
        key: int = actor.__dict__.setdefault("_lifecycle_key", next(self._serial))
        cell = getattr(actor, "_actors_cell", None)
        self.names[key] = f"{type(actor).__name__} #{key}" + (f" ({cell.path})" if cell is not None else "")
        return key

    def start(self, actor: Any) -> None:
        self.started[self.key(actor)] += 1

    def stop(self, actor: Any) -> None:
        self.stopped[self.key(actor)] += 1

    def problems(self) -> list[str]:
        """Instances whose on_stop did not run exactly once after a completed on_start."""
        found = []
        for key in set(self.started) | set(self.stopped):
            starts, stops = self.started[key], self.stopped[key]
            if starts > 1 or stops > 1 or starts != stops:
                found.append(f"{self.names.get(key, key)}: on_start completed {starts}x, on_stop ran {stops}x")
        return sorted(found)


SEND_KINDS = ("tell", "send", "ask", "ask_nowait", "publish")


async def assert_system_works(system: Any) -> None:
    """A fresh actor can still be spawned, asked and stopped."""
    fresh = await system.spawn(Echo)
    assert await fresh.ask("still working", timeout=1) == "still working"
    await system.stop(fresh)


def contains(items: list[Any], obj: Any) -> int:
    """How many times ``obj`` itself (by identity, never ``==``) is in ``items``."""
    return sum(1 for item in items if item is obj)
