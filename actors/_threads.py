"""Threads: worker threads and processes for tools, and calls made from other threads.

The actor system lives in one thread, trio's. Blocking tools run in worker
threads (`Workers`); code running in any other thread (a tool, an SDK
callback, a plain `threading.Thread`) reaches the system only through
`hand_over` (``tell``, ``publish``, ``DeferredReply.reply``/``fail``), and every
other sync API checks `require_trio_thread` and refuses at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from ._context import blocking_cell
from ._exceptions import ActorError, ActorStopped, AskAbandoned, WorkerProcessError
from ._text import safe_repr

if TYPE_CHECKING:
    from ._cell import Cell
    from ._envelope import Envelope
    from ._system import ActorSystem

__all__ = ["Workers", "hand_over", "require_trio_thread"]

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


class Workers:
    """The system's pool policy: one `trio.CapacityLimiter` bounds all tool threads."""

    def __init__(self, system: ActorSystem, max_threads: int) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int):
            raise TypeError(f"max_threads must be an int, not {type(max_threads).__name__}")
        if max_threads < 1:
            raise ValueError("max_threads must be >= 1")
        self._system = system
        self.limiter = trio.CapacityLimiter(max_threads)

    async def run(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        owner: Cell | None,
        limiter: trio.CapacityLimiter | None = None,
        slot: trio.CapacityLimiter | None = None,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread; a late result becomes a dead letter.

        ``slot``: a tool's own limiter, acquired first (its wait is cut like the thread's).
        """
        if not callable(fn):
            raise TypeError(f"run_in_thread needs a callable, not {type(fn).__name__}")
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

        handler, envelope, scope = _served_scope(owner)
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
            _release(handler, scope)
        # only reached when our own scope was cancelled (the with-block swallowed it)
        state["abandoned"] = True
        if state["finished"] is not None:
            self._late(fn, state["finished"], owner)
        raise _cut_short(handler, envelope, fn, "stopped waiting for {}() in a worker thread",
                         "the thread's late result goes to dead letters")

    def _late(self, fn: Callable[..., Any], outcome: tuple[Any, BaseException | None], owner: Cell | None) -> None:
        value, error = outcome
        name = getattr(fn, "__qualname__", repr(fn))
        self._system._dead_letter(
            value if error is None else error,
            recipient=owner.ref if owner is not None else None,
            reason=f"late result of {name}() in a worker thread: its caller had been cancelled"
            + ("" if error is None else f" (it raised {safe_repr(error)})"),
            error=error,
        )

    async def run_process(self, fn: Callable[..., T], args: tuple[Any, ...], *, owner: Cell | None) -> T:
        """Run ``fn(*args)`` in a trio-parallel worker process; errors keep their traceback."""
        import trio_parallel

        if not callable(fn):
            raise TypeError(f"run_in_process needs a callable, not {type(fn).__name__}")
        handler, envelope, scope = _served_scope(owner)
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
            _release(handler, scope)
        # only reached when our own scope was cancelled: trio-parallel killed the worker
        raise _cut_short(handler, envelope, fn, "killed the worker process running {}()",
                         "a process, unlike a thread, can be stopped: nothing is late")


def _served_scope(owner: Cell | None) -> tuple[Cell | None, Envelope | None, trio.CancelScope]:
    """A scope that ends a handler's wait on a worker when the ask it serves times out.

    Inside a handler (or a task it started: tool calls fanned out in its nursery)
    the scope has the served ask's deadline, and the cell cancels it at once
    (``thread_scopes``) when the actor is stopped or restarted. Elsewhere: no limit.
    """
    handler = owner if owner is not None and blocking_cell() is owner else None
    envelope = handler.current if handler is not None else None
    # No deadline of its own: the served ask's deadline (or its asker giving up) now
    # cancels the whole handler (_deadlines.asker_gave_up), which ends this wait too.
    scope = trio.CancelScope()
    if handler is not None:
        if handler.thread_scopes is None:
            handler.thread_scopes = set()
        handler.thread_scopes.add(scope)
    return handler, envelope, scope


def _release(handler: Cell | None, scope: trio.CancelScope) -> None:
    if handler is not None and handler.thread_scopes is not None:
        handler.thread_scopes.discard(scope)


def _cut_short(handler: Cell | None, envelope: Envelope | None, fn: Callable[..., Any], did: str,
               after: str) -> ActorError:
    """The error for a handler whose wait on a worker was cut (``did`` names the worker)."""
    name = getattr(fn, "__qualname__", repr(fn))
    who = handler.name if handler is not None else "?"
    if handler is not None and handler.control is not None:
        return ActorStopped(f"actor '{who}' {did.format(name)} because it is stopping or restarting; {after}")
    what = type(envelope.message).__name__ if envelope is not None else "message"
    return AskAbandoned(f"actor '{who}' {did.format(name)}: the ask for {what} timed out; {after}")


def _notify(token: trio.lowlevel.TrioToken, fn: Callable[[Any], None], outcome: Any) -> None:
    try:
        token.run_sync_soon(fn, outcome)
    except trio.RunFinishedError:
        pass  # the system is gone; nobody is left to record it
