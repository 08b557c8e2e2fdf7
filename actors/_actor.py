"""Actor: the base class users subclass. Private state, one message at a time."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import trio

from ._checks import check_instance
from ._deadlines import served_deadline
from ._exceptions import ActorError, UnhandledMessage
from ._ref import ActorRef
from ._streams import ReplyStream, open_reply_stream
from ._text import qualname, safe_repr

if TYPE_CHECKING:
    from ._cell import Cell
    from ._envelope import Envelope
    from ._reply import DeferredReply
    from ._system import ActorSystem
    from ._timers import Timer

__all__ = ["Actor"]

T = TypeVar("T")
A = TypeVar("A", bound="Actor")


class Actor:
    """Subclass this: an object with private state that handles one message at a time.

    Override ``async def receive(self, message)``; its return value is the reply
    to an ``ask`` (and ignored for a ``tell``). The runtime never calls two
    handlers of one actor at once, even while a handler awaits, so plain
    attributes are safe without locks. A subclass may define ``__init__`` with
    its own arguments (``spawn`` passes them on) and need not call
    ``super().__init__()``.

    Lifecycle hooks, all optional and async: ``on_start`` (before the first
    message), ``on_stop`` (after the last, bounded by the shutdown timeout),
    ``on_restart(exc)`` (on a fresh instance made by a supervisor after ``exc``,
    before its ``on_start``).

    An exception escaping ``receive`` is a failure: the asker gets it, the
    message is recorded in dead letters, and the actor stops (or, under a
    supervisor, is restarted with a fresh instance). A message ``receive`` does
    not understand should ``raise UnhandledMessage`` (``self.unhandled(message)``
    does so): that is not a failure.

    Example::

        import attrs, trio
        from actors import Actor, open_actor_system

        @attrs.frozen
        class Add:
            amount: int

        class Counter(Actor):
            def __init__(self, start: int = 0) -> None:
                self.total = start

            async def receive(self, message):
                match message:
                    case Add(amount):
                        self.total += amount
                        return self.total
                    case _:
                        self.unhandled(message)

        async def main() -> None:
            async with open_actor_system() as system:
                counter = await system.spawn(Counter, 10, name="counter")
                counter.tell(Add(1))                       # fire-and-forget
                print(await counter.ask(Add(2), timeout=1))  # 13

        trio.run(main)
    """

    _actors_cell: Cell

    finish_abandoned_asks: ClassVar[bool] = False
    """Set True on a class whose handlers must run to their end for any asker.

    By default a handler serving an ask is cancelled (at its next checkpoint)
    when the asker's deadline passes or the asker gives up, and an ask whose
    asker gave up before it started is dropped: both are recorded as
    `AskAbandoned`, not failures. With True, such handlers finish (bounded only
    by ``message_timeout`` and stops), their late replies go to dead letters,
    and asks they make do not inherit the served deadline. For work whose result
    outlives the asker (a cache filled for the next one, a paid model call
    almost done); shielding the whole handler instead would also shield it from
    stops and restarts.
    """

    # -- to override -------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        """Handle one message; return the reply to an ask. Default: unhandled."""
        self.unhandled(message)

    async def on_start(self) -> None:
        """Called before the first message (``spawn`` returns after it)."""

    async def on_stop(self) -> None:
        """Called once no more messages will be handled, bounded by the shutdown timeout."""

    async def on_restart(self, exc: BaseException) -> None:
        """Called on the fresh instance a supervisor made after ``exc``, before ``on_start``."""

    # -- context -----------------------------------------------------------

    @property
    def _actors_own_cell(self) -> Cell:
        try:
            return self._actors_cell
        except AttributeError:
            raise ActorError(
                f"{type(self).__name__} is not running in an actor system; create actors with "
                f"'await system.spawn({type(self).__name__}, ...)', not by calling the class"
            ) from None

    @property
    def ref(self) -> ActorRef[Any]:
        """This actor's own ref (the same across restarts)."""
        return self._actors_own_cell.ref

    @property
    def system(self) -> ActorSystem:
        """The system this actor runs in."""
        return self._actors_own_cell.system

    @property
    def envelope(self) -> Envelope | None:
        """The envelope of the message being handled (ids, sender), or None."""
        return self._actors_own_cell.current

    @property
    def deadline(self) -> float:
        """The absolute deadline (trio's clock) of the ask being handled.

        ``math.inf`` for a told message, an ask without a deadline, or outside a
        handler. Past it the handler is cancelled (unless the class sets
        ``finish_abandoned_asks``), and asks it makes end no later than it.
        """
        return served_deadline(self._actors_own_cell)

    def time_left(self) -> float:
        """Seconds left until `deadline` (0.0 once past it; ``math.inf`` if none).

        Pass it as a model SDK's ``timeout=`` so the SDK's own retries stop in time::

            answer = await client.chat.completions.create(..., timeout=self.time_left())
        """
        return max(0.0, served_deadline(self._actors_own_cell) - trio.current_time())

    @property
    def sender(self) -> ActorRef[Any] | None:
        """The ref of the current message's sender, or None (outside any actor)."""
        current = self._actors_own_cell.current
        return None if current is None else current.sender

    # -- acting ------------------------------------------------------------

    async def spawn(
        self,
        actor_cls: type[A],
        *args: Any,
        name: str | None = None,
        mailbox_size: int | None = None,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a child actor in this actor's nursery; it stops before this one.

        Same arguments as `ActorSystem.spawn`; the child's path is under this
        actor's path. Returns once the child's ``on_start`` has run.

        ``name`` and ``mailbox_size`` are spawn's own keywords: they never reach
        the child's ``__init__`` (pass such a value positionally, or name the
        parameter otherwise; spawn raises a TypeError saying so).
        """
        check_actor_class(actor_cls, "spawn")
        check_init_arguments(actor_cls, args, "spawn")
        return await self._actors_own_cell.spawn_child(actor_cls, args, kwargs, name=name, mailbox_size=mailbox_size)

    def stop(self) -> None:
        """Stop this actor once the current message is handled.

        Messages still queued then go to dead letters (asks fail with
        `ActorStopped`), unless a supervisor restarts it: under a supervisor
        this is a normal exit, and a ``permanent`` child is restarted with its
        mailbox (queued messages are handled by the new instance), while
        ``transient`` and ``temporary`` children stop for good.
        """
        self._actors_own_cell.request_exit()

    def defer_reply(self) -> DeferredReply[Any]:
        """Answer the current ask later: returns a handle with ``reply``/``fail``.

        The handler's own return value is then ignored. If the actor stops
        before answering, the asker gets `ActorStopped`.
        """
        return self._actors_own_cell.defer_reply()

    def reply_stream(self) -> ReplyStream[Any]:
        """Answer the current `ActorRef.ask_stream` with a stream of items.

        ``await stream.send(item)`` delivers each item in order, waiting while the
        asker's buffer is full (backpressure). Returning from the handler ends the
        stream; raising fails it (the asker's iteration raises the same exception
        after the items sent before). The asker leaving early, or its deadline
        passing, cancels the handler (`AskAbandoned`), as for an ask. With
        `defer_reply`, the stream ends when the deferred handle answers instead.

        Raises:
          ActorError: not called from ``receive`` while it handles an ask_stream.
        """
        return open_reply_stream(self._actors_own_cell)

    def unhandled(self, message: Any) -> NoReturn:
        """Declare ``message`` not understood (raises `UnhandledMessage`).

        The asker gets the error, a told message goes to dead letters, and the
        actor keeps running.
        """
        raise UnhandledMessage(
            f"actor '{self._actors_own_cell.name}' ({type(self).__name__}) does not handle "
            f"{type(message).__name__} messages; add a case for it to receive(), or "
            f"send it to an actor that does"
        )

    def watch(self, ref: ActorRef[Any]) -> None:
        """Be told `Terminated(ref, reason)` when ``ref`` stops (at once if it has)."""
        self._actors_own_cell.watch(_cell_of(ref, "watch"))

    def unwatch(self, ref: ActorRef[Any]) -> None:
        """Stop watching ``ref``."""
        self._actors_own_cell.unwatch(_cell_of(ref, "unwatch"))

    def schedule_once(self, delay: float, message: Any) -> Timer:
        """Tell this actor ``message`` after ``delay`` seconds; returns a cancellable `Timer`.

        Timers stop with the actor (and at a restart).
        """
        return self._actors_own_cell.schedule(delay, message, repeat=False)

    def schedule_every(self, interval: float, message: Any) -> Timer:
        """Tell this actor ``message`` every ``interval`` seconds until cancelled or stopped."""
        return self._actors_own_cell.schedule(interval, message, repeat=True)

    async def run_in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking function in a worker thread and return its result.

        The event loop keeps running every other actor meanwhile; this actor
        waits (one message at a time). Threads are bounded by the system's
        limiter (``open_actor_system(max_threads=...)``). A thread cannot be
        killed: if this actor is cancelled (ask timeout, stop, restart) it stops
        waiting at once and the thread's late result goes to dead letters.
        """
        cell = self._actors_own_cell
        return await cell.system._threads.run(fn, args, kwargs, owner=cell)

    async def run_in_process(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a CPU-bound function in a worker process (trio-parallel) and return its result.

        ``fn`` and its arguments must be picklable (a module-level function).
        Errors raised in the process are re-raised here with their traceback text.
        """
        cell = self._actors_own_cell
        return await cell.system._threads.run_process(fn, args, owner=cell)

    def __repr__(self) -> str:
        cell = getattr(self, "_actors_cell", None)
        where = cell.path if cell is not None else "not running"
        return f"<{type(self).__name__} {where}>"


def _cell_of(ref: Any, verb: str) -> Cell:
    return check_instance(ref, ActorRef, verb, "an ActorRef")._cell


# The keywords spawn() keeps for itself: an actor's __init__ cannot get them by keyword.
SPAWN_KEYWORDS = ("name", "mailbox_size")

# The hooks the runtime awaits, with the signature each is written with.
_HOOKS = {
    "receive": "receive(self, message)",
    "on_start": "on_start(self)",
    "on_stop": "on_stop(self)",
    "on_restart": "on_restart(self, exc)",
}


# Classes that passed check_actor_class (weakly held: classes made on the fly may go away).
_checked_classes: weakref.WeakSet[type] = weakref.WeakSet()


def check_actor_class(actor_cls: Any, verb: str) -> None:
    """Raise a TypeError unless ``actor_cls`` is an `Actor` subclass whose hooks are async.

    ``verb`` names the caller in the message (``spawn``, ``ChildSpec``). The
    hooks (``receive``, ``on_start``, ``on_stop``, ``on_restart``) must be
    ``async def``: the runtime awaits them, and a plain ``def`` would fail only
    later, at its first message, with "object NoneType can't be used in
    'await' expression".
    """
    if actor_cls in _checked_classes:
        return
    if not (isinstance(actor_cls, type) and issubclass(actor_cls, Actor)):
        hint = " (pass the class, not an instance)" if isinstance(actor_cls, Actor) else ""
        raise TypeError(f"{verb}() takes an Actor subclass, not {safe_repr(actor_cls)}{hint}")
    for hook, signature in _HOOKS.items():
        fn = getattr(actor_cls, hook)
        if fn is getattr(Actor, hook) or _is_async(fn):
            continue
        if inspect.isasyncgenfunction(fn):
            what = "an async generator (it contains 'yield'), which cannot be awaited"
        elif callable(fn):
            what = "a plain 'def', so the runtime cannot await it"
        else:
            what = f"not a method but {safe_repr(fn)}"
        raise TypeError(
            f"{verb}() refused {qualname(actor_cls)}: its {hook} is {what}; write it as 'async def {signature}:'"
        )
    _checked_classes.add(actor_cls)


def _is_async(fn: Any) -> bool:
    """True for an ``async def`` function or method, also behind a ``functools.wraps`` decorator."""
    if inspect.iscoroutinefunction(fn):
        return True
    try:
        return inspect.iscoroutinefunction(inspect.unwrap(fn))
    except ValueError:  # a __wrapped__ cycle
        return False


def check_init_arguments(
    actor_cls: type[Actor], args: tuple[Any, ...], verb: str, reserved: tuple[str, ...] = SPAWN_KEYWORDS
) -> None:
    """Raise a TypeError if ``actor_cls.__init__`` needs a keyword that ``verb`` keeps for itself.

    ``spawn(Greeter, name="bob")`` gives ``name`` to spawn (the actor's name), so
    ``Greeter.__init__(self, name)`` would fail with a bare "missing argument".
    This says why, and how to pass the value: positionally, or under another
    parameter name. Cheap when no parameter has a reserved name (the usual case).
    """
    init = actor_cls.__init__
    code = getattr(init, "__code__", None)
    if code is not None:
        parameters = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        for word in reserved:
            if word in parameters:
                break
        else:
            return
    elif init is object.__init__:
        return
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError):  # not introspectable: let __init__ itself complain
        return
    before: list[str] = []  # the positional parameters before this one
    for index, parameter in enumerate(signature.parameters.values()):
        if index == 0:
            continue  # self
        kind = parameter.kind
        required = parameter.default is parameter.empty
        if (
            parameter.name in reserved
            and required
            and (
                kind is parameter.KEYWORD_ONLY or (kind is parameter.POSITIONAL_OR_KEYWORD and len(before) >= len(args))
            )
        ):
            cls = qualname(actor_cls)
            other = _other_name(cls, parameter.name)
            if kind is parameter.KEYWORD_ONLY:
                how = f"rename the parameter (say, {other}): a keyword-only one cannot be passed positionally"
            else:
                slots = "".join(f"<{name}>, " for name in before)
                how = (
                    f"pass it positionally, {verb}({cls}, {slots}<{parameter.name}>, name=...), "
                    f"or rename the parameter (say, {other})"
                )
            raise TypeError(
                f"{cls}.__init__() needs '{parameter.name}', but {verb}() keeps the keywords "
                f"{_words(reserved)} for itself, so {cls} cannot get {parameter.name}= from it; {how}"
            )
        if kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            before.append(parameter.name)


def _words(reserved: tuple[str, ...]) -> str:
    words = [f"{word}=" for word in reserved]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _other_name(cls: str, word: str) -> str:
    prefix = "".join("_" + c.lower() if c.isupper() else c for c in cls.rsplit(".", 1)[-1]).lstrip("_")
    return f"{prefix}_{word}"
