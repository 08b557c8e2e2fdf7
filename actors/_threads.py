"""Worker threads and processes for blocking and CPU-bound tools."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from ._checks import check_callable, check_count
from ._exceptions import ActorError, ActorStopped, AskAbandoned, WorkerProcessError
from ._text import safe_repr

if TYPE_CHECKING:
    from ._envelope import Envelope
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["ToolOwner", "ToolWaits", "Workers"]

T = TypeVar("T")


class ToolWaits:
    """The cancel scopes of one actor's waits on worker threads and processes.

    A handler (or a task it started) waits on a worker inside a scope opened
    here, with the deadline of the ask it serves; `cut` cancels them all at
    once when the actor stops or restarts. A thread cannot be interrupted: its
    caller stops waiting, and its late result becomes a dead letter.
    """

    __slots__ = ("_scopes",)

    def __init__(self) -> None:
        self._scopes: set[trio.CancelScope] = set()

    def open(self, deadline: float) -> trio.CancelScope:
        """A new scope with ``deadline``, cancelled by `cut` until `close`."""
        scope = trio.CancelScope(deadline=deadline)
        self._scopes.add(scope)
        return scope

    def close(self, scope: trio.CancelScope) -> None:
        """The wait in ``scope`` is over."""
        self._scopes.discard(scope)

    def cut(self) -> None:
        """Cancel every open wait now."""
        for scope in self._scopes:
            scope.cancel()


class ToolOwner(Protocol):
    """What a worker call needs from the actor it runs for (the runtime's cell)."""

    @property
    def name(self) -> str: ...

    @property
    def ref(self) -> ActorRef[Any]: ...

    @property
    def interrupted(self) -> bool:
        """True once the actor is asked to stop or restart."""

    def serving(self) -> tuple[ToolWaits, Envelope | None] | None:
        """If the current task is this actor's handler (or blocks it): its waits and its envelope."""


class Workers:
    """The system's pool policy: one `trio.CapacityLimiter` bounds all tool threads."""

    def __init__(self, system: ActorSystem, max_threads: int) -> None:
        self._system = system
        self.limiter = trio.CapacityLimiter(check_count("max_threads", max_threads))

    async def run(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        owner: ToolOwner | None,
        limiter: trio.CapacityLimiter | None = None,
        slot: trio.CapacityLimiter | None = None,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread; a late result becomes a dead letter.

        ``slot``: a tool's own limiter, acquired first (its wait is cut like the thread's).
        """
        check_callable(fn, "run_in_thread needs")
        token = trio.lowlevel.current_trio_token()
        # Both fields are only touched in the trio thread, so there is no race
        # between "the caller gave up" and "the thread finished".
        state: dict[str, Any] = {"abandoned": False, "finished": None}

        def finished(outcome: tuple[Any, BaseException | None]) -> None:
            state["finished"] = outcome
            if state["abandoned"]:
                self._late(fn, outcome, owner)

        def work() -> T:
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:
                _notify(token, finished, (None, exc))
                raise
            _notify(token, finished, (value, None))
            return value

        handler, envelope, scope, waits = _served_scope(owner)
        try:
            with scope:
                async with slot if slot is not None else contextlib.nullcontext():
                    return await trio.to_thread.run_sync(work, limiter=limiter or self.limiter, abandon_on_cancel=True)
        except BaseException as exc:
            # (not named `finished`: that would rebind the callback the thread is about to queue)
            outcome = state["finished"]
            if outcome is not None and outcome[1] is exc:
                raise  # the function's own error, delivered to its caller: nothing is late
            state["abandoned"] = True
            if outcome is not None:
                self._late(fn, outcome, owner)
            raise
        finally:
            if waits is not None:
                waits.close(scope)
        # only reached when our own scope was cancelled (the with-block swallowed it)
        state["abandoned"] = True
        if state["finished"] is not None:
            self._late(fn, state["finished"], owner)
        raise _cut_short(handler, envelope, fn, "stopped waiting for {}() in a worker thread",
                         "the thread's late result goes to dead letters")

    def _late(self, fn: Callable[..., Any], outcome: tuple[Any, BaseException | None], owner: ToolOwner | None) -> None:
        value, error = outcome
        name = getattr(fn, "__qualname__", repr(fn))
        self._system._dead_letter(
            value if error is None else error,
            recipient=owner.ref if owner is not None else None,
            reason=f"late result of {name}() in a worker thread: its caller had been cancelled"
            + ("" if error is None else f" (it raised {safe_repr(error)})"),
            error=error,
        )

    async def run_process(self, fn: Callable[..., T], args: tuple[Any, ...], *, owner: ToolOwner | None) -> T:
        """Run ``fn(*args)`` in a trio-parallel worker process; errors keep their traceback."""
        try:
            import trio_parallel
        except ModuleNotFoundError as exc:
            if exc.name != "trio_parallel":
                raise
            raise ImportError(
                "run_in_process needs the trio-parallel package: install it with "
                "pip install 'trio-actors[process]'"
            ) from exc

        check_callable(fn, "run_in_process needs")
        handler, envelope, scope, waits = _served_scope(owner)
        try:
            with scope:
                return await trio_parallel.run_sync(fn, *args, kill_on_cancel=True)
        except trio_parallel.BrokenWorkerError as exc:
            name = getattr(fn, "__qualname__", repr(fn))
            raise WorkerProcessError(
                f"the worker process died while running {name}() ({exc}). Worker processes re-import "
                f"the main module: if your script has no 'if __name__ == \"__main__\":' guard, add one "
                f"and define {name} at module level; otherwise {name}() itself ended the process "
                f"(os._exit, a crash in native code, or memory)"
            ) from exc
        finally:
            if waits is not None:
                waits.close(scope)
        # only reached when our own scope was cancelled: trio-parallel killed the worker
        raise _cut_short(handler, envelope, fn, "killed the worker process running {}()",
                         "a process, unlike a thread, can be stopped: nothing is late")


def _served_scope(owner: ToolOwner | None) -> tuple[ToolOwner | None, Envelope | None, trio.CancelScope,
                                                    ToolWaits | None]:
    """A scope that ends a handler's wait on a worker when the ask it serves times out.

    Inside a handler (or a task it started: tool calls fanned out in its nursery)
    the scope has the served ask's deadline, and the actor cuts it at once
    (`ToolWaits.cut`) when it is stopped or restarted. Elsewhere: no limit.
    """
    serving = owner.serving() if owner is not None else None
    if serving is None:
        return None, None, trio.CancelScope(), None
    waits, envelope = serving
    deadline = envelope.reply._deadline if envelope is not None and envelope.reply is not None else math.inf
    return owner, envelope, waits.open(deadline), waits


def _cut_short(handler: ToolOwner | None, envelope: Envelope | None, fn: Callable[..., Any], did: str,
               after: str) -> ActorError:
    """The error for a handler whose wait on a worker was cut (``did`` names the worker)."""
    name = getattr(fn, "__qualname__", repr(fn))
    who = handler.name if handler is not None else "?"
    if handler is not None and handler.interrupted:
        return ActorStopped(f"actor '{who}' {did.format(name)} because it is stopping or restarting; {after}")
    what = type(envelope.message).__name__ if envelope is not None else "message"
    return AskAbandoned(f"actor '{who}' {did.format(name)}: the ask for {what} timed out; {after}")


def _notify(token: trio.lowlevel.TrioToken, fn: Callable[[Any], None], outcome: Any) -> None:
    try:
        token.run_sync_soon(fn, outcome)
    except trio.RunFinishedError:
        pass  # the system is gone; nobody is left to record it
