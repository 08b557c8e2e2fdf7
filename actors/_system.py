"""The actor system: spawning, lookup, pub/sub, dead letters, and orderly shutdown."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import trio

from ._actor import Actor, check_actor_class, check_init_arguments
from ._cell import Cell
from ._checks import check_count, check_instance, check_seconds
from ._dead_letters import DeadLetter, DeadLetters
from ._deadlines import Deadlines
from ._envelope import Envelope
from ._exceptions import ActorNotFound, ActorStopped, EscalatedFailure, MailboxFull, WorkerProcessError
from ._groups import fatal_error, one_exception, precedence
from ._inbox import Inbox
from ._inspect import ActorInfo, snapshot
from ._parents import ChildHandle
from ._ref import ActorRef
from ._registry import Registry
from ._remote import RemoteNode, check_node
from ._states import Directive
from ._text import SafeRepr, safe_repr
from ._threads import Workers, get_ident, hand_over, require_trio_thread
from ._tools import current_system
from ._tracing import Tracer
from ._transport import Transport
from ._waits import WaitGraph

__all__ = ["ActorSystem", "open_actor_system"]

log = logging.getLogger("actors")
A = TypeVar("A", bound=Actor)

# the thread-safe way to make a call that needs trio's thread (format with the call's arguments)
_RUN_IN_TRIO = (
    "hand it to trio's thread: trio.from_thread.run_sync(system.{}) (from a thread trio did "
    "not start, add trio_token=trio.lowlevel.current_trio_token(), captured in trio)"
)


class _Guardian(Actor):
    """The root of every system: parent of top-level actors and trees (a `ParentPolicy`).

    A top-level actor that fails is stopped (its watchers told); a supervision
    tree whose root supervisor gives up escalates out of the system block.
    """

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        """Stop the child; a failure escalated by a supervision tree fails the whole system."""
        if isinstance(error, EscalatedFailure):
            self._actors_own_cell.system._escalate(error)
        return Directive.stop()

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """Never called: the guardian is never restarted."""

    def child_stopped(self, child: ChildHandle) -> None:
        """Nothing to do."""


class ActorSystem:
    """A running actor system; got from ``async with open_actor_system() as system``.

    Every actor is a trio task under the system's nursery (children in their
    parent's), so none outlives the ``async with`` block.
    """

    def __init__(
        self,
        *,
        shutdown_timeout: float = 5.0,
        ask_timeout: float = 30.0,
        max_threads: int = 40,
        throughput: int = 100,
        dead_letters_size: int = 1000,
        trace: bool | Tracer | str | os.PathLike[str] | None = None,
        node: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._shutdown_timeout = check_seconds("shutdown_timeout", shutdown_timeout, finite=True)
        self._default_ask_timeout = check_seconds("ask_timeout", ask_timeout)
        self._throughput = check_count("throughput", throughput)
        self.dead_letters = DeadLetters(check_count("dead_letters_size", dead_letters_size))
        # called with (actor path, what it was doing, error) for failures nobody else sees
        self._failure_listeners: list[Callable[[str, str, BaseException], object]] = []
        # called with every DeadLetter as it is made (the test kit's schedule runner)
        self._dead_letter_listeners: list[Callable[[DeadLetter], object]] = []
        self._threads = Workers(self, max_threads)
        self._trace_path: str | os.PathLike[str] | None = None
        if trace is None or trace is False:
            self._tracer: Tracer | None = None
        elif trace is True:
            self._tracer = Tracer()
        elif isinstance(trace, Tracer):
            self._tracer = trace
        elif isinstance(trace, (str, os.PathLike)):
            self._tracer = Tracer()
            self._trace_path = trace
        else:
            raise TypeError(f"trace must be True, a Tracer or a file path, not {type(trace).__name__}")
        self._registry: Registry[Cell] = Registry()  # names and topics
        self._deadlines = Deadlines()
        self._waits: WaitGraph[Inbox] = WaitGraph()  # which handler waits on whose answer
        self._escalation: EscalatedFailure | None = None
        # A KeyboardInterrupt, SystemExit or other BaseException that escaped an actor (the first
        # one): raised out of the block once every actor has stopped. `_fatal_note` says why the
        # system is going down, for the reasons of everything it stops meanwhile.
        self._fatal_error: BaseException | None = None
        self._fatal_note: str | None = None
        self._body_scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None  # None once closed: threads get ActorStopped
        # The thread that runs the system (set when it opens, kept after it closes). Sync calls
        # compare it with threading.get_ident() to tell trio's thread from any other.
        self._thread_id: int | None = None
        # The remote face (public actors, remote refs), only with node= and transport=.
        check_node(node, transport)
        self._remote: RemoteNode | None = (
            None if node is None or transport is None else RemoteNode(self, node, transport)
        )
        self._guardian: Cell = Cell(
            self,
            None,
            _Guardian,
            (),
            {},
            "/",
            None,
            shutdown_timeout=self._shutdown_timeout,
            message_timeout=None,
        )

    # ------------------------------------------------------------------
    # Public API

    @property
    def thread_limiter(self) -> trio.CapacityLimiter:
        """The system-wide limiter that bounds worker threads (``max_threads``)."""
        return self._threads.limiter

    @property
    def tracer(self) -> Tracer | None:
        """The `Tracer` recording message events, if ``trace=`` turned it on."""
        return self._tracer

    @property
    def shutdown_timeout(self) -> float:
        """Default seconds a stopping actor's handler and ``on_stop`` each get."""
        return self._shutdown_timeout

    @property
    def ask_timeout(self) -> float:
        """Default timeout of an ask made with ``timeout=None``."""
        return self._default_ask_timeout

    async def spawn(
        self,
        actor_cls: type[A],
        *args: Any,
        name: str | None = None,
        mailbox_size: int | None = None,
        public: bool = False,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a top-level actor and return its ref once its ``on_start`` has run.

        ``*args`` and ``**kwargs`` go to the actor's ``__init__``, except the
        keywords spawn keeps for itself: ``name`` and ``mailbox_size``. An
        ``__init__`` that needs a parameter of one of those names gets it
        positionally (``spawn(Greeter, "bob", name="greeter")``), or call the
        parameter something else (``greeter_name``); spawn raises a TypeError
        saying so when such a parameter would be left without a value. A
        top-level actor that fails is stopped (its watchers get `Terminated`
        with the error); put it under a `supervision.Supervisor` to have it
        restarted.

        Args:
          actor_cls: an `Actor` subclass (the class, not an instance), whose
            ``receive``, ``on_start``, ``on_stop`` and ``on_restart`` are
            ``async def``.
          name: unique in the system; generated from the class name if None.
            Reserved by spawn: never passed to ``__init__``.
          mailbox_size: bound the mailbox (``tell`` then raises `MailboxFull`
            when full, ``send`` waits); None for unbounded. Reserved by spawn
            too.
          public: also serve the actor's name to other nodes through the
            system's transport (``open_actor_system(node=, transport=)``);
            returns once the node serves it. Reserved by spawn too.

        Raises:
          TypeError: ``actor_cls`` is not an `Actor` subclass, one of its hooks
            is not ``async def``, or its ``__init__`` needs ``name`` or
            ``mailbox_size`` and the arguments leave it without one.
          ActorNameTaken: ``name`` belongs to a living actor.
          Exception: what the actor's ``__init__`` or ``on_start`` raised.
        """
        check_actor_class(actor_cls, "spawn")
        check_init_arguments(actor_cls, args, "spawn")
        if public and self._remote is None:
            raise TypeError(
                "spawn(..., public=True) needs a transport: open the system with "
                "open_actor_system(node='name', transport=RedisTransport(...))"
            )
        ref = await self._guardian.spawn_child(actor_cls, args, kwargs, name=name, mailbox_size=mailbox_size)
        if public:
            await self._serve(ref)
        return ref

    async def _serve(self, ref: ActorRef[Any]) -> None:
        """Serve a just-started actor's name through the transport (``public=True`` of
        ``spawn`` and of a supervisor's ``ChildSpec``); if that fails, stop the actor
        (no half-public actor) and raise."""
        remote = self._remote
        try:
            if remote is None:
                raise TypeError(
                    f"actor '{ref.name}' is public (public=True) but the system has no transport: open "
                    f"it with open_actor_system(node='name', transport=RedisTransport(...))"
                )
            await remote.publish(ref._cell)
        except BaseException:
            with trio.CancelScope(shield=True):
                await ref._cell.stop()
            raise

    def remote(self, name: str) -> ActorRef[Any]:
        """The ref of public ``name``, served by whichever nodes serve it (no round trip).

        ``tell``, ``send``, ``ask`` and ``ask_nowait`` work as on a local ref;
        messages to a name nobody serves yet wait in its inbox (bounded).

        Raises:
          TypeError: the system has no transport (see ``open_actor_system``).
        """
        return self._require_remote("remote").ref(name)

    async def serving(self, name: str) -> list[str]:
        """The names of the nodes that serve public ``name`` now (sorted)."""
        return await self._require_remote("serving").serving(name)

    @property
    def node(self) -> str | None:
        """This system's node name (``open_actor_system(node=...)``), or None."""
        return None if self._remote is None else self._remote.node

    def _require_remote(self, verb: str) -> RemoteNode:
        if self._remote is None:
            raise TypeError(
                f"{verb}() needs a transport: open the system with "
                f"open_actor_system(node='name', transport=RedisTransport(...))"
            )
        return self._remote

    async def spawn_tree(self, tree: Any) -> ActorRef[Any]:
        """Start a supervision tree (a `supervision.Supervisor`) and return its root's ref."""
        start = getattr(tree, "_start_tree", None)
        if start is None:
            raise TypeError(
                f"spawn_tree() takes a supervision.Supervisor, not {type(tree).__name__}; "
                f"use spawn() for a single actor"
            )
        ref: ActorRef[Any] = await start(self._guardian.instance)
        return ref

    def lookup(self, name_or_path: str) -> ActorRef[Any]:
        """The ref of the living actor with this name (or path, like ``/team/planner``).

        Thread-safe: a read, so another thread may look an actor up (and then
        ``tell`` it).

        Raises:
          ActorNotFound: no living actor has it (an actor that is stopping is not
            found either, though its name stays taken until it has stopped).
        """
        check_instance(name_or_path, str, "lookup", "a name or path string")
        cell = self._registry.find(name_or_path)
        if cell is not None and cell.closed and not cell.stopped:
            raise ActorNotFound(
                f"actor '{name_or_path}' is stopping (it takes no more messages); its name is free "
                f"again once it has stopped: await system.stop(ref), or watch it"
            )
        if cell is None or cell.stopped:
            raise ActorNotFound(
                f"no living actor is called '{name_or_path}'; it may have stopped or never been "
                f"spawned (check the name, or watch the actor to learn when it stops)"
            )
        return cell.ref

    async def stop(self, ref: ActorRef[Any]) -> None:
        """Stop an actor (children first) and return once it has stopped.

        A running handler gets up to ``shutdown_timeout`` to finish, then is
        cancelled; then ``on_stop`` runs under the same bound. Queued asks fail
        with `ActorStopped`, queued tells go to dead letters. Stopping a
        supervised child this way is final: its supervisor does not restart it
        (until the supervisor itself is restarted, which starts its spec anew,
        as in OTP).
        Stopping an actor that already stopped does nothing.
        """
        check_instance(ref, ActorRef, "stop", "an ActorRef")
        require_trio_thread(
            self,
            "await system.stop()",
            "from a worker thread, use trio.from_thread.run(system.stop, ref), or tell the actor to stop itself",
        )
        await ref._cell.stop()

    def publish(self, topic: Hashable, message: Any) -> int:
        """Tell ``message`` to every actor subscribed to ``topic``; return how many.

        Sync, like ``tell``. Publishing to a topic nobody subscribes to is not a
        dead letter (returns 0). A subscriber whose bounded mailbox is full
        misses the message, recorded in dead letters.

        Thread-safe, like ``tell``: from another thread than trio's the message
        is handed to the event loop and published there soon (in the order of
        that thread's calls); the count returned is then of the subscribers at
        the time of the call.

        Raises:
          ActorStopped: (from another thread) the actor system has finished.
        """
        if get_ident() != self._thread_id:
            count = self._registry.count(topic)
            hand_over(self, f"publish({type(message).__name__})", self.publish, topic, message)
            return count
        delivered = 0
        for cell in self._registry.subscribers(topic):
            try:
                cell.tell(message)
            except MailboxFull as exc:
                self._dead_letter(message, recipient=cell.ref, reason=str(exc), error=exc)
            else:
                delivered += 1
        return delivered

    def subscribe(self, ref: ActorRef[Any], topic: Hashable) -> None:
        """Subscribe ``ref`` to ``topic`` (any hashable; a stopped actor is dropped).

        The runtime publishes on two topics of its own: `DeadLetter` (each dead
        letter record) and ``supervision.SupervisionEvent`` (restarts and such).
        """
        check_instance(ref, ActorRef, "subscribe", "an ActorRef")
        require_trio_thread(self, "system.subscribe()", _RUN_IN_TRIO.format("subscribe, ref, topic"))
        hash(topic)
        cell = ref._cell
        if cell.closed:
            raise ActorStopped(f"actor '{cell.name}' has stopped and cannot subscribe to {safe_repr(topic)}")
        self._registry.subscribe(cell, topic)

    def unsubscribe(self, ref: ActorRef[Any], topic: Hashable) -> None:
        """Unsubscribe ``ref`` from ``topic`` (nothing happens if it was not subscribed)."""
        check_instance(ref, ActorRef, "unsubscribe", "an ActorRef")
        require_trio_thread(self, "system.unsubscribe()", _RUN_IN_TRIO.format("unsubscribe, ref, topic"))
        self._registry.unsubscribe(ref._cell, topic)

    def inspect(self) -> list[ActorInfo]:
        """A snapshot of every living actor: path, state, mailbox depth, restarts, last error.

        Raises:
          RuntimeError: called in another thread than trio's.
        """
        require_trio_thread(self, "system.inspect()", _RUN_IN_TRIO.format("inspect"))
        return snapshot(self._guardian)

    def actors(self) -> list[ActorRef[Any]]:
        """Refs of every living actor, parents before their children.

        Raises:
          RuntimeError: called in another thread than trio's.
        """
        require_trio_thread(self, "system.actors()", _RUN_IN_TRIO.format("actors"))
        found: list[ActorRef[Any]] = []

        def walk(cell: Cell) -> None:
            for child in list(cell.children.values()):
                if not child.stopped:
                    found.append(child.ref)
                    walk(child)

        walk(self._guardian)
        return found

    # ------------------------------------------------------------------
    # Runtime services (private)

    def _ask_timeout(self, timeout: float | None) -> float:
        seconds = check_seconds("timeout", timeout, zero=True, optional=True)
        return self._default_ask_timeout if seconds is None else seconds

    def _dead_letter(
        self,
        message: Any,
        *,
        recipient: ActorRef[Any] | None,
        reason: str,
        envelope: Envelope | None = None,
        error: BaseException | None = None,
        sender: ActorRef[Any] | None = None,
    ) -> None:
        if sender is None and envelope is not None:
            sender = envelope.sender
        record = DeadLetter(message, recipient, reason, sender, error, envelope)
        self.dead_letters._append(record)
        for listener in self._dead_letter_listeners:
            listener(record)
        if self._tracer is not None:
            self._tracer._dead_letter(recipient.path if recipient is not None else "-", envelope, message, reason)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "dead letter to %s: %s (%s)",
                recipient,
                SafeRepr(message),
                reason,
                extra={
                    "actor": recipient.path if recipient is not None else "-",
                    "trace_id": envelope.trace_id if envelope is not None else "-",
                },
            )
        if self._registry.has_subscribers(DeadLetter) and not isinstance(message, DeadLetter):
            for cell in self._registry.subscribers(DeadLetter):
                try:
                    cell.tell(record)
                except MailboxFull:
                    pass  # counted in total; never recurse on dead letters

    def _report_failure(self, path: str, doing: str, error: BaseException) -> None:
        """Tell the failure listeners (the test kit's fixtures) of a failure nobody else sees."""
        for listener in self._failure_listeners:
            listener(path, doing, error)

    def _escalate(self, failure: EscalatedFailure) -> None:
        if self._escalation is None:
            self._escalation = failure
            log.error("%s", SafeRepr(failure))
            self._cancel_body()

    def _cancel_body(self) -> None:
        """End the block's body now: leaving it stops every actor, in order."""
        if self._body_scope is not None:
            self._body_scope.cancel()

    def _fatal(
        self, error: BaseException, who: str, doing: str, settle: Callable[[ActorStopped], object] | None = None
    ) -> ActorStopped:
        """A KeyboardInterrupt, SystemExit or other BaseException escaped ``who`` (while ``doing``).

        ``settle`` first gets the `ActorStopped` that answers the message in flight
        (returned too). Then every actor refuses messages (queued ones become dead
        letters), the body is cancelled, the actors stop in the usual order and
        bounds, and the block raises the exception itself (the first, or a
        KeyboardInterrupt that came with it).
        """
        fatal = fatal_error(error) or error
        what = f"{who} raised {safe_repr(fatal)} while {doing}"
        stopped = ActorStopped(
            f"{what}, so the actor system is shutting down (and raises it out of its 'async with' block)"
        )
        stopped.__cause__ = fatal
        if settle is not None:
            settle(stopped)
        first = self._fatal_error
        if first is None:
            self._fatal_error = fatal
            self._fatal_note = f"the actor system is shutting down because {what}"
            log.error(
                "%s; every actor now stops, and the exception leaves the actor system's block",
                what,
                extra={"actor": "-", "trace_id": "-"},
            )
            self._close_all()
            self._cancel_body()
        elif fatal is not first:
            # Raise the one a user most expects (as one_exception picks from a group); name the other.
            if precedence(fatal) < precedence(first):
                self._fatal_error = fatal
                fatal.add_note(f"raised at the same time, in another actor: {safe_repr(first)}")
            else:
                first.add_note(f"while the actor system shut down, {what}")
        return stopped

    def _close_all(self) -> None:
        """Every actor stops taking messages now; each stops later, in order."""
        stack = [self._guardian]
        while stack:
            cell = stack.pop()
            cell.refuse_messages()
            stack.extend(cell.children.values())

    async def _shutdown(self, *, settle: bool) -> None:
        if settle:
            # One scheduling round first: an actor woken by a message told just before
            # (its task launched, not yet run) starts handling it, as an actor already
            # running would have. Without it, whether such a message is handled within
            # the shutdown grace or dead-lettered would depend on trio's random batch
            # order. (Not after a cancel from outside: then every actor is unwinding.)
            await trio.lowlevel.checkpoint()
        await self._guardian.stop()


class open_actor_system:
    """Open an actor system: ``async with open_actor_system(**config) as system:``.

    Leaving the block stops every actor (children before parents, in reverse
    start order; each handler gets ``shutdown_timeout`` to finish and then
    ``on_stop`` runs under the same bound) and returns once all have stopped.
    This cleanup also runs, bounded, when the block is cancelled from outside.
    A failure that escalates past the root supervisor cancels the block's body
    and is raised out of it as one `EscalatedFailure`.

    A KeyboardInterrupt, SystemExit or other BaseException (not an Exception)
    raised by a handler, a hook or a thread tool is not a failure to
    supervise: the message being handled is settled at once (its asker gets
    `ActorStopped`, it is a dead letter), every actor refuses new messages,
    the body is cancelled, the actors stop as above, and the block raises
    that exception itself.

    The system lives in the thread that entered the block. From any other
    thread, ``ref.tell``, ``system.publish``, ``system.lookup`` and
    ``DeferredReply.reply``/``fail`` work (handed to the event loop, never
    blocking; ``ref.ask_from_thread`` blocks that thread for an answer);
    every other call raises `RuntimeError` naming the way to do it.

    Args:
      shutdown_timeout: seconds (default 5) a stopping actor's handler, and
        then its ``on_stop``, may take before being cancelled.
      ask_timeout: default timeout (default 30 s) of asks made with
        ``timeout=None``; an ask never waits forever unless you pass math.inf.
      max_threads: size (default 40) of the limiter bounding worker threads.
      throughput: messages (default 100) an actor handles before yielding to
        the scheduler, so one busy actor never starves the others.
      dead_letters_size: how many dead letters are kept (default 1000).
      trace: True (or a `Tracer`) records message events in ``system.tracer``;
        a file path also writes them there as JSON lines when the system closes.
      node: this node's name, unique among the nodes sharing a transport's
        namespace; give it together with ``transport``.
      transport: an `actors.redis.RedisTransport` (or another `Transport`):
        enables ``spawn(..., public=True)``, ``system.remote(name)`` and
        ``system.serving(name)``. The block connects before its body runs.
    """

    def __init__(self, **config: Any) -> None:
        self._system = ActorSystem(**config)
        self._manager: Any = None

    def __enter__(self) -> None:
        raise RuntimeError("use 'async with open_actor_system(...)', not 'with open_actor_system(...)'")

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ always raises
        return None

    async def __aenter__(self) -> ActorSystem:
        if self._manager is not None:
            raise RuntimeError("this open_actor_system() was already entered; call it again for a new system")
        _refuse_in_a_bootstrapping_worker()
        self._manager = _run_system(self._system)
        system: ActorSystem = await self._manager.__aenter__()
        return system

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._manager.__aexit__(exc_type, exc, tb)  # type: ignore[no-any-return]


def _refuse_in_a_bootstrapping_worker() -> None:
    """A worker process (run_in_process) re-imports the main module; a script without a
    ``__main__`` guard would start its whole program again in there. Refuse, clearly: the
    worker then fails to start, and the parent's run_in_process raises WorkerProcessError."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise WorkerProcessError(
            "open_actor_system() was called while a worker process was importing your main "
            "module: worker processes (run_in_process) re-import it, so guard your script's entry "
            "point with 'if __name__ == \"__main__\":' (or the program runs again in each worker)"
        )


@asynccontextmanager
async def _run_system(system: ActorSystem) -> AsyncIterator[ActorSystem]:
    body_error: BaseException | None = None
    system._token = trio.lowlevel.current_trio_token()
    system._thread_id = get_ident()
    token = current_system.set(system)
    try:
        async with _system_nursery(system, token) as nursery:
            # The deadline ticker is shielded, so that asks made during a shutdown forced by a
            # cancel from outside (say, from on_stop) still time out; it ends with close().
            try:
                nursery.start_soon(system._deadlines.run)  # (sync: no cancel can come between)
                system._guardian.build()
                await system._guardian.start_in(nursery)
                if system._remote is not None:
                    await system._remote.start(nursery)  # connected before the body runs
                try:
                    with trio.CancelScope() as body_scope:
                        system._body_scope = body_scope
                        yield system
                except BaseException as exc:  # re-raised below, outside the nursery: never grouped
                    body_error = exc
                finally:
                    system._body_scope = None
                    with trio.CancelScope(shield=True):
                        if system._remote is not None:
                            await system._remote.quiesce()  # take no more remote messages in
                        await system._shutdown(settle=body_error is None)
                        if system._remote is not None:
                            await system._remote.close()  # send the last answers and acks
            finally:
                system._deadlines.close()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Something no handler may catch (KeyboardInterrupt, SystemExit...) escaped the
        # runtime, or the block was cancelled from outside: the user gets that exception
        # itself, not a group around it.
        if system._fatal_error is None:
            raise one_exception(group) from None
    if system._fatal_error is not None:
        fatal = system._fatal_error
        if body_error is not None and not isinstance(body_error, trio.Cancelled):
            fatal.add_note(f"meanwhile the body of the actor system's block raised {safe_repr(body_error)}")
        raise fatal
    if system._escalation is not None:
        escalation = system._escalation
        raise escalation from escalation.root_cause
    if body_error is not None:
        raise body_error


@asynccontextmanager
async def _system_nursery(system: ActorSystem, token: Any) -> AsyncIterator[trio.Nursery]:
    """The system's nursery; on the way out, unhook the system from its context."""
    try:
        async with trio.open_nursery() as nursery:
            system._nursery = nursery
            yield nursery
    finally:
        current_system.reset(token)
        system._token = None  # threads can no longer reach this system
        if system._tracer is not None and system._trace_path is not None:
            system._tracer.export_jsonl(system._trace_path)
