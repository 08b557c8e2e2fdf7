"""Threads: worker threads and processes for tools, and calls made from other threads.

The actor system lives in one thread, trio's. Blocking tools run in worker
threads (`Workers`); code running in any other thread (a tool, an SDK
callback, a plain `threading.Thread`) reaches the system only through
`hand_over` (``tell``, ``publish``, ``DeferredReply.reply``/``fail``), and every
other sync API checks `require_trio_thread` and refuses at once.

A handler's wait on a worker needs no cancel scope of its own: the handler
already runs in one per message (its cell's), which the served ask's deadline
cancels (deadlines flow: `actors._deadlines`) and which a stop or restart
cancels at once while a worker is awaited (`ToolWaits` counts those waits).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import trio

from ._checks import check_callable, check_count
from ._exceptions import ActorStopped, WorkerProcessError
from ._text import safe_repr

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["ToolOwner", "ToolWaits", "Workers", "get_ident", "hand_over", "require_trio_thread"]

T = TypeVar("T")
log = logging.getLogger("actors")

#: The thread's identity; the hot path (``tell``) compares it with ``ActorSystem._thread_id``.
get_ident = threading.get_ident


def require_trio_thread(system: ActorSystem, what: str, instead: str) -> None:
    """Raise `RuntimeError` unless called in the thread that runs ``system``.

    ``what`` names the call (``"ref.ask_nowait()"``), ``instead`` the thread-safe
    way to do it from another thread.
    """
    if get_ident() != system._thread_id:
        raise RuntimeError(
            f"{what} must be called in the trio thread that runs the actor system, not in thread "
            f"{threading.current_thread().name!r}; {instead}"
        )


def hand_over(system: ActorSystem, what: str, fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn(*args)`` soon in the system's trio thread; called from another thread.

    Never blocks: the call is queued through the system's trio token, and calls
    queued from one thread run in the order made. ``fn`` runs in a copy of the
    calling thread's context, so a tell made in a worker thread that an actor
    started still names that actor as its sender. ``fn`` must not raise (an error
    escaping a token callback would crash the trio run): one that does is logged.

    Raises:
      ActorStopped: the system has finished (or not started), so nothing would
        ever run ``fn``.
    """
    token = system._token
    if token is not None:
        try:
            token.run_sync_soon(_run_handed_over, contextvars.copy_context(), what, fn, args)
        except trio.RunFinishedError:
            pass
        else:
            return
    raise ActorStopped(
        f"the actor system has finished, so {what} from thread {threading.current_thread().name!r} "
        f"cannot be delivered; stop the thread before leaving 'async with open_actor_system()'"
    )


def _run_handed_over(context: contextvars.Context, what: str, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
    try:
        context.run(fn, *args)
    except Exception:
        log.exception("%s, handed over from another thread, failed in the trio thread", what)


class ToolWaits:
    """How many waits on worker threads and processes one actor has now.

    While any is in progress, a stop or restart of the actor cancels its
    handler at once rather than granting it the shutdown grace: a thread
    cannot be interrupted, so its caller stops waiting, and a late result
    becomes a dead letter (a worker process is killed).
    """

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def enter(self) -> None:
        """A wait begins."""
        self._count += 1

    def exit(self) -> None:
        """A wait ended."""
        self._count -= 1

    @property
    def active(self) -> bool:
        """True while any wait is in progress."""
        return self._count > 0


class ToolOwner(Protocol):
    """What a worker call needs from the actor it runs for (the runtime's cell)."""

    @property
    def ref(self) -> ActorRef[Any]: ...

    def worker_waits(self) -> ToolWaits:
        """The actor's count of waits on workers."""


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
        waits = owner.worker_waits() if owner is not None else None
        limiter = limiter or self.limiter
        if waits is not None:
            waits.enter()
        try:
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
                waits.exit()

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
                "run_in_process needs the trio-parallel package: install it with pip install 'trio-actors[process]'"
            ) from exc

        check_callable(fn, "run_in_process needs")
        waits = owner.worker_waits() if owner is not None else None
        if waits is not None:
            waits.enter()
        try:
            return cast("T", await trio_parallel.run_sync(fn, *args, kill_on_cancel=True))
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
                waits.exit()


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

    def abandon(
        self, token: trio.lowlevel.TrioToken | None, late: Callable[[tuple[Any, BaseException | None]], None]
    ) -> tuple[Any, BaseException | None] | None:
        """In the event loop: the caller gave up. Returns the outcome if the thread already
        ended (the caller records it now); else the thread will hand it to ``late``."""
        with self.lock:
            self.abandoned = True
            self.token = token
            self.late = late
            return self.outcome


_to_thread = trio.to_thread.run_sync
