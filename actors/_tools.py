"""Blocking tools: turn a sync function into an awaitable that runs in a worker thread."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import trio

from ._checks import check_callable, check_count
from ._context import current_cell

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["blocking", "current_system", "tool"]

P = ParamSpec("P")
T = TypeVar("T")

#: The system of the innermost ``async with open_actor_system()`` in this context.
current_system: ContextVar[ActorSystem | None] = ContextVar("actors_current_system", default=None)


def _system_here() -> ActorSystem:
    cell = current_cell.get()
    if cell is not None:
        return cell.system
    system = current_system.get()
    if system is None:
        raise RuntimeError(
            "a blocking tool needs a running actor system: call it from an actor, or inside "
            "'async with open_actor_system()'"
        )
    return system


class _Tool:
    """An async wrapper that runs a sync function in the system's worker threads."""

    def __init__(self, fn: Callable[..., Any], limit: int | None) -> None:
        check_callable(fn, "tool() wraps")
        check_count("limit", limit, optional=True)
        functools.update_wrapper(self, fn)
        self._fn = fn
        self.limit = limit
        # one limiter per system (trio objects belong to one run)
        self._limiters: weakref.WeakKeyDictionary[ActorSystem, trio.CapacityLimiter] = weakref.WeakKeyDictionary()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        system = _system_here()
        owner = current_cell.get()
        if self.limit is None:
            return await system._threads.run(self._fn, args, kwargs, owner=owner)
        limiter = self._limiters.get(system)
        if limiter is None:
            limiter = self._limiters[system] = trio.CapacityLimiter(self.limit)
        # this tool's own bound, inside the system-wide one (waiting for it is cut too)
        return await system._threads.run(self._fn, args, kwargs, owner=owner, slot=limiter)

    def __repr__(self) -> str:
        return f"<tool {getattr(self._fn, '__qualname__', self._fn)!r} limit={self.limit}>"


@overload
def tool(fn: Callable[P, T], /) -> Callable[P, Awaitable[T]]: ...
@overload
def tool(*, limit: int | None = None) -> Callable[[Callable[P, T]], Callable[P, Awaitable[T]]]: ...
def tool(fn: Callable[..., Any] | None = None, /, *, limit: int | None = None) -> Any:
    """Decorate a blocking function so that calling it returns an awaitable run in a worker thread.

    ``@tool`` or ``@tool(limit=3)``; then ``await fetch_weather("Oslo")`` from any
    actor (or from inside ``open_actor_system``). Every call is bounded by the
    system's thread limiter (``max_threads``) and, with ``limit``, by the
    tool's own limit too, so a flood of calls never spawns unbounded threads.
    The calling task stops waiting at once when cancelled; the thread runs on
    (threads cannot be killed) and its late result is recorded in dead letters.
    """
    if fn is None:
        return lambda f: _Tool(f, limit)
    return _Tool(fn, limit)


def blocking(fn: Callable[P, T], *, limit: int | None = None) -> Callable[P, Awaitable[T]]:
    """Function form of `tool`: ``search = blocking(requests_search, limit=4)``."""
    return _Tool(fn, limit)
