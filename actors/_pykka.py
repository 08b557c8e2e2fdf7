"""pykka interop: front a pykka actor with a trio actor, or own one under a supervisor.

The migration path from pykka: keep the pykka actors you have, talk to them
through `ActorRef` from trio code, and move them over one at a time.

Who stops the pykka actor (pykka's actor threads are not daemon threads, so
the interpreter waits at exit for every pykka actor still running):

- `PykkaBridge` fronts a pykka actor *you* started and handed in: it never
  stops it, not even when the system closes (other pykka code may still use
  it). Stop it yourself (``pykka_ref.stop()`` in a ``finally``, or
  ``pykka.ActorRegistry.stop_all()``).
- `PykkaChild` starts its pykka actor itself, so it owns it: it stops it when
  it stops, and so at the latest when the system closes, whichever way it
  closes (the block ends, raises, is cancelled, or a failure escalates). A
  supervisor can restart it, with a fresh pykka actor. It needs no supervisor:
  ``system.spawn(PykkaChild, MyPykkaActor)`` is the way to have a pykka actor
  live exactly as long as the system.

pykka's calls block (an ask waits on a `threading.Condition`), so every ask
waits for its pykka future in a worker thread (`Actor.run_in_thread`), never on
the event loop. A tell is forwarded directly: pykka's ``tell`` only puts the
message on the pykka actor's queue.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import attrs
import pykka
import trio

from ._actor import Actor
from ._checks import check_seconds
from ._exceptions import ActorStopped, AskTimeout

__all__ = ["PykkaBridge", "PykkaChild"]

log = logging.getLogger("actors")


@attrs.frozen
class _CheckAlive:
    """Timer message: is the pykka actor still alive?"""


_CHECK = _CheckAlive()


@attrs.frozen
class _Failed:
    """What the pykka future raised, returned (not raised) from the worker thread.

    Returning it keeps the pykka handler's errors apart from what the runtime
    raises out of ``run_in_thread`` itself (`AskAbandoned` when the asker's
    deadline passes, `ActorStopped` when this actor stops), which must
    propagate untouched.
    """

    error: BaseException
    expired: bool = False  # True: our own wait ran out (not an error of the handler)


def _wait_for_pykka_reply(future: pykka.Future[Any], timeout: float | None) -> Any:
    """Block (in a worker thread) until the pykka future has its value."""
    started = time.monotonic()
    try:
        return future.get(timeout=timeout)
    except pykka.Timeout as exc:
        # ThreadingFuture.get raises its own Timeout only once the full timeout
        # has passed; an earlier Timeout is the handler's own error (say, from
        # its own ask to a third actor) and reaches the asker as it is.
        expired = timeout is not None and time.monotonic() - started >= timeout
        return _Failed(exc, expired=expired)
    except Exception as exc:
        return _Failed(exc)


class PykkaBridge(Actor):
    """An actor that fronts an existing pykka actor: messages to it go to the pykka actor.

    A told message is forwarded with ``pykka_ref.tell`` (non-blocking). An asked
    message is forwarded with ``pykka_ref.ask(message, block=False)`` and the
    pykka future is awaited in a worker thread, so the event loop keeps running
    every other actor meanwhile. The bridge handles one message at a time, like
    the pykka actor behind it, so messages reach pykka in the order they were
    sent to the bridge (an ask finishes before the next message is forwarded).

    What the asker gets:

    - the pykka handler's return value;
    - what the pykka handler raised, as the same type (the bridge keeps
      running, as the pykka actor does);
    - `AskTimeout` when the pykka actor does not answer within ``ask_timeout``
      (the bridge keeps running; the pykka actor still handles the message,
      and its late answer is dropped, since a pykka future has no callback).
      When the asker's own ``ask(..., timeout=)`` runs out first, the bridge
      stops waiting at once and records the late answer in dead letters;
    - `ActorStopped` when the pykka actor is dead. This one is a failure of
      the bridge: without a supervisor the bridge stops (watchers get
      `Terminated`), under one it is restarted, and it fails again at once if
      the pykka actor is still dead, so its supervisor escalates. To have the
      pykka actor itself restarted, use `PykkaChild`.

    The bridge never stops the pykka actor, not even when the system closes:
    you started it, so you stop it (``legacy.stop()`` in a ``finally``, as
    below). A pykka actor left running keeps the interpreter from exiting
    (pykka's threads are not daemon threads). To have trio-actors start the
    pykka actor and stop it with the system, spawn `PykkaChild` instead.

    Args:
      pykka_ref: the `pykka.ActorRef` of a running pykka actor.
      ask_timeout: seconds to wait for the pykka actor's answer to an ask;
        None (default) means the system's ``ask_timeout``, ``math.inf`` waits
        forever (a worker thread then waits as long as pykka does).
      check_interval: if set, check this often that the pykka actor is alive
        and fail (as above) as soon as it is not; None (default) notices its
        death only when a message is forwarded.

    Example::

        import pykka, trio
        from actors import PykkaBridge, open_actor_system

        class Greeter(pykka.ThreadingActor):
            def on_receive(self, message):
                return f"hello, {message}"

        async def main() -> None:
            legacy = Greeter.start()
            try:
                async with open_actor_system() as system:
                    greeter = await system.spawn(PykkaBridge, legacy, name="greeter", ask_timeout=10.0)
                    print(await greeter.ask("trio"))   # hello, trio
            finally:
                legacy.stop()

        trio.run(main)
    """

    pykka_ref: pykka.ActorRef[Any] | None
    """The pykka actor behind this bridge (None in a `PykkaChild` before it starts)."""

    def __init__(
        self,
        pykka_ref: pykka.ActorRef[Any],
        *,
        ask_timeout: float | None = None,
        check_interval: float | None = None,
    ) -> None:
        if not isinstance(pykka_ref, pykka.ActorRef):
            hint = (
                "; to have the bridge start and own the actor, use PykkaChild"
                if isinstance(pykka_ref, type) and issubclass(pykka_ref, pykka.Actor)
                else ""
            )
            raise TypeError(
                f"PykkaBridge takes a pykka.ActorRef (what pykka's start() returns), not {pykka_ref!r}{hint}"
            )
        self.pykka_ref = pykka_ref
        self._configure(ask_timeout, check_interval)

    def _configure(self, ask_timeout: float | None, check_interval: float | None) -> None:
        self._ask_timeout = check_seconds("ask_timeout", ask_timeout, optional=True)
        self._check_interval = check_seconds("check_interval", check_interval, finite=True, optional=True)

    async def on_start(self) -> None:
        """Start watching the pykka actor (if ``check_interval`` is set)."""
        self._arm_check()

    async def receive(self, message: Any) -> Any:
        """Forward ``message`` to the pykka actor (see the class docstring)."""
        if isinstance(message, _CheckAlive):
            self._check_alive()
            self._arm_check()
            return None
        return await self._forward(message)

    # -- forwarding (shared with PykkaChild) -------------------------------

    async def _forward(self, message: Any) -> Any:
        ref = self.pykka_ref
        if ref is None:  # pragma: no cover - on_start sets it before any message
            raise ActorStopped(f"actor '{self.ref.name}' has no pykka actor yet")
        envelope = self.envelope
        if envelope is None or envelope.reply is None:
            try:
                ref.tell(message)
            except pykka.ActorDeadError as exc:
                raise self._dead_error(ref, message) from exc
            return None

        # An ask: wait for pykka's answer in a worker thread. If the asker's
        # deadline passes first, run_in_thread raises AskAbandoned (and if this
        # actor is stopped, ActorStopped): both propagate, and the runtime
        # records the message and the thread's late answer in dead letters.
        future = ref.ask(message, block=False)
        seconds = self._ask_timeout if self._ask_timeout is not None else self.system.ask_timeout
        outcome = await self.run_in_thread(_wait_for_pykka_reply, future, None if seconds == math.inf else seconds)
        if not isinstance(outcome, _Failed):
            return outcome
        error = outcome.error
        if outcome.expired:
            error = AskTimeout(
                f"pykka actor {ref} behind '{self.ref.name}' did not answer "
                f"{type(message).__name__} within {seconds:g} s; it may be busy or stuck: raise "
                f"ask_timeout on the bridge, or check what the pykka actor is doing"
            )
        elif isinstance(error, pykka.ActorDeadError) and not ref.is_alive():
            raise self._dead_error(ref, message) from error
        # An error for the asker, not a failure of the bridge (pykka's actor
        # lives on too): answer through a deferred reply instead of raising.
        self.defer_reply().fail(error)
        return None

    def _dead_error(self, ref: pykka.ActorRef[Any], message: Any) -> ActorStopped:
        return ActorStopped(
            f"pykka actor {ref} behind bridge '{self.ref.name}' is dead, so "
            f"{type(message).__name__} could not be delivered; start a new pykka actor and spawn "
            f"a bridge for it, or use PykkaChild under a supervisor to have it restarted"
        )

    # -- liveness ----------------------------------------------------------

    def _arm_check(self) -> None:
        # A one-shot timer re-armed after each check (not schedule_every): while
        # the bridge waits on a slow ask, checks do not pile up in the mailbox.
        if self._check_interval is not None:
            self.schedule_once(self._check_interval, _CHECK)

    def _check_alive(self) -> None:
        ref = self.pykka_ref
        if ref is not None and not ref.is_alive():
            raise self._died_error(ref)

    def _died_error(self, ref: pykka.ActorRef[Any]) -> ActorStopped:
        return ActorStopped(
            f"pykka actor {ref} behind bridge '{self.ref.name}' has died (see pykka's log for "
            f"why); start a new pykka actor and spawn a bridge for it, or use PykkaChild under a "
            f"supervisor to have it restarted"
        )


class PykkaChild(PykkaBridge):
    """An actor that starts and owns a pykka actor, so a supervisor can restart it.

    ``PykkaChild(pykka_cls, *args, **kwargs)`` calls ``pykka_cls.start(*args,
    **kwargs)`` in ``on_start`` (in a worker thread: pykka runs the actor's
    ``__init__`` in the caller) and stops the pykka actor in ``on_stop``
    (waiting at most the actor's ``shutdown_timeout``). Messages are forwarded
    as by `PykkaBridge`.

    It started the pykka actor, so it stops it: when it stops, is restarted,
    and at the latest when the system closes, whichever way (the block ends or
    raises, it is cancelled from outside, a failure escalates), so nothing is
    left to hold the interpreter at exit. It works without a supervisor too:
    ``await system.spawn(PykkaChild, MyPykkaActor, name="legacy")``. (A pykka
    actor still busy with a message when asked to stop stops after it: pykka's
    threads cannot be interrupted.)

    Every ``check_interval`` seconds it checks that the pykka actor is alive.
    A pykka actor dies when its ``on_receive`` raises for a *told* message
    (pykka logs the error and stops it; for an ask the asker gets the error
    and the actor lives on), or when its ``on_start`` raises. Then the
    PykkaChild fails with `ActorStopped` (so does forwarding a message to the
    dead actor), and its supervisor restarts it: the new incarnation starts a
    fresh pykka actor, with fresh state, behind the same `ActorRef`.

    ``check_interval`` and ``ask_timeout`` are the PykkaChild's own keyword
    arguments; every other argument goes to ``pykka_cls.start``.

    Example::

        import pykka, trio
        from actors import PykkaChild, open_actor_system
        from supervision import ChildSpec, OneForOne, Supervisor

        class Counter(pykka.ThreadingActor):
            def __init__(self, start=0):
                super().__init__()
                self.total = start

            def on_receive(self, message):
                self.total += message      # a told "x" raises and kills the actor
                return self.total

        tree = Supervisor(name="legacy", strategy=OneForOne(), children=[
            ChildSpec(PykkaChild, Counter, start=10, name="counter", check_interval=0.5),
        ])

        async def main() -> None:
            async with open_actor_system() as system:
                await system.spawn_tree(tree)
                counter = system.lookup("counter")
                print(await counter.ask(1))     # 11
                counter.tell("x")               # the pykka actor dies...
                await trio.sleep(1)             # ...and is restarted fresh
                print(await counter.ask(1))     # 11 again

        trio.run(main)
    """

    def __init__(
        self,
        pykka_cls: type[pykka.Actor],
        *args: Any,
        check_interval: float = 0.5,
        ask_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(pykka_cls, type) and issubclass(pykka_cls, pykka.Actor)):
            hint = (
                "; to front a pykka actor that is already running, use PykkaBridge"
                if isinstance(pykka_cls, pykka.ActorRef)
                else ""
            )
            raise TypeError(
                f"PykkaChild takes a pykka.Actor subclass (such as a pykka.ThreadingActor), not {pykka_cls!r}{hint}"
            )
        self.pykka_cls = pykka_cls
        self._start_args = args
        self._start_kwargs = kwargs
        self.pykka_ref = None
        self._configure(ask_timeout, check_interval)

    async def on_start(self) -> None:
        """Start a fresh pykka actor (each incarnation gets its own)."""
        # Not run_in_thread: a cancellation must not abandon a start that then
        # succeeds, leaving a pykka actor nobody stops. Starting is brief.
        ref = await trio.to_thread.run_sync(
            lambda: self.pykka_cls.start(*self._start_args, **self._start_kwargs),
            limiter=self.system.thread_limiter,
        )
        self.pykka_ref = ref
        try:
            self._arm_check()
        except ActorStopped:
            return  # stopped while starting (say, the spawner gave up): on_stop stops the pykka actor
        except BaseException:
            ref.stop(block=False)  # on_stop does not run after a failed on_start
            raise

    async def on_stop(self) -> None:
        """Stop the pykka actor, waiting (bounded) for it in a thread."""
        ref, self.pykka_ref = self.pykka_ref, None
        if ref is None:
            return
        # Queue pykka's stop at once, so the pykka actor stops after its current
        # message even if this wait is cut short; wait a little less than the
        # shutdown bound on on_stop, so a slow stop is reported here, plainly.
        stopped = ref.stop(block=False)
        timeout = 0.9 * self._actors_own_cell.shutdown_timeout
        try:
            await self.run_in_thread(stopped.get, timeout=timeout)  # False if it had died already
        except pykka.Timeout:
            log.warning(
                "pykka actor %s owned by '%s' did not stop within %g s; it is still handling "
                "a message and stops after it",
                ref,
                self.ref.name,
                timeout,
            )

    def _dead_error(self, ref: pykka.ActorRef[Any], message: Any) -> ActorStopped:
        return ActorStopped(
            f"pykka actor {ref} owned by '{self.ref.name}' is dead, so {type(message).__name__} "
            f"could not be delivered; under a supervisor '{self.ref.name}' is restarted with a "
            f"fresh pykka actor (send it again then)"
        )

    def _died_error(self, ref: pykka.ActorRef[Any]) -> ActorStopped:
        return ActorStopped(
            f"pykka actor {ref} owned by '{self.ref.name}' has died (see pykka's log for why: "
            f"a pykka actor stops when on_receive raises for a told message); under a supervisor "
            f"'{self.ref.name}' is restarted with a fresh pykka actor"
        )
