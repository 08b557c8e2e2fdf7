"""Worker threads and processes for blocking and CPU-bound tools."""

from __future__ import annotations

import math
import threading
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
        A call that returns in time costs one hand-off each way, as
        ``trio.to_thread.run_sync`` does: the thread reports back to the event
        loop a second time only when its caller had given up (see `_ThreadCall`).
        """
        if not callable(fn):
            check_callable(fn, "run_in_thread needs")
        call = _ThreadCall(fn, args, kwargs)
        handler, envelope, scope, waits = _served_scope(owner)
        limiter = limiter or self.limiter
        try:
            if scope is None:  # (not in a handler: nothing to cut it short but its caller's scopes)
                if slot is None:
                    return await _to_thread(call.work, limiter=limiter, abandon_on_cancel=True)
                async with slot:
                    return await _to_thread(call.work, limiter=limiter, abandon_on_cancel=True)
            with scope:
                if slot is None:
                    return await _to_thread(call.work, limiter=limiter, abandon_on_cancel=True)
                async with slot:
                    return await _to_thread(call.work, limiter=limiter, abandon_on_cancel=True)
        except BaseException as exc:
            outcome = call.outcome
            if outcome is not None and outcome[1] is exc:
                raise  # the function's own error, delivered to its caller: nothing is late
            self._abandon(call, owner)
            raise
        finally:
            if waits is not None:
                waits.close(scope)  # type: ignore[arg-type]
        # only reached when our own scope was cancelled (the with-block swallowed it)
        self._abandon(call, owner)
        raise _cut_short(handler, envelope, fn, "stopped waiting for {}() in a worker thread",
                         "the thread's late result goes to dead letters")

    def _abandon(self, call: _ThreadCall, owner: ToolOwner | None) -> None:
        """The caller gave up on ``call``: its result, now or when the thread ends, is late."""
        token = self._system._token

        def late(outcome: tuple[Any, BaseException | None]) -> None:
            self._late(call.fn, outcome, owner)

        outcome = call.abandon(token, late)
        if outcome is not None:
            late(outcome)

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
        handler, envelope, served, waits = _served_scope(owner)
        scope = trio.CancelScope() if served is None else served
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


def _served_scope(owner: ToolOwner | None) -> tuple[ToolOwner | None, Envelope | None, trio.CancelScope | None,
                                                    ToolWaits | None]:
    """A scope that ends a handler's wait on a worker when the ask it serves times out.

    Inside a handler (or a task it started: tool calls fanned out in its nursery)
    the scope has the served ask's deadline, and the actor cuts it at once
    (`ToolWaits.cut`) when it is stopped or restarted. Elsewhere: no scope (None).
    """
    serving = owner.serving() if owner is not None else None
    if serving is None:
        return None, None, None, None
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


class _ThreadCall:
    """One call in a worker thread, and who learns of its result when its caller gave up.

    The thread records its outcome, and the event loop marks the call abandoned,
    each under the lock, so exactly one of them sees both: the thread reports a
    late result back itself (through the trio token) if the call was abandoned
    first; otherwise the loop, abandoning it after it finished, records the
    result at once. A call that returns in time never reports back twice.
    """

    __slots__ = ("abandoned", "args", "fn", "kwargs", "late", "lock", "outcome", "token")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.lock = threading.Lock()
        self.outcome: tuple[Any, BaseException | None] | None = None  # set by the thread when fn ends
        self.abandoned = False  # set by the event loop when the caller gives up
        self.token: trio.lowlevel.TrioToken | None = None
        self.late: Callable[[tuple[Any, BaseException | None]], None] | None = None

    def work(self) -> Any:
        """In the worker thread: run the function and record how it ended."""
        try:
            value = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self._ended((None, exc))
            raise
        self._ended((value, None))
        return value

    def _ended(self, outcome: tuple[Any, BaseException | None]) -> None:
        with self.lock:
            self.outcome = outcome
            late = self.late if self.abandoned else None
        if late is not None and self.token is not None:
            try:
                self.token.run_sync_soon(late, outcome)
            except trio.RunFinishedError:
                pass  # the system is gone; nobody is left to record it

    def abandon(self, token: trio.lowlevel.TrioToken | None,
                late: Callable[[tuple[Any, BaseException | None]], None]) -> tuple[Any, BaseException | None] | None:
        """In the event loop: the caller gave up. Returns the outcome if the thread already
        ended (the caller records it now); else the thread will hand it to ``late``."""
        with self.lock:
            self.abandoned = True
            self.token = token
            self.late = late
            return self.outcome


_to_thread = trio.to_thread.run_sync
