"""TestProbe: an actor a test hands out as a ref, then questions about what it received."""

from __future__ import annotations

import collections
import itertools
import weakref
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._actor import Actor
from .._checks import check_seconds
from .._exceptions import ActorNameTaken
from .._reply import DeferredReply
from .._streams import ReplyStream, is_stream_ask

if TYPE_CHECKING:
    from .._envelope import Envelope
    from .._ref import ActorRef
    from .._system import ActorSystem

__all__ = ["Received", "TestProbe"]


@attrs.frozen
class Received:
    """One message a probe got: the message, who sent it, and its envelope."""

    message: Any
    sender: ActorRef[Any] | None
    envelope: Envelope = attrs.field(repr=False)
    deferred: DeferredReply[Any] | None = attrs.field(default=None, repr=False, eq=False)
    stream: ReplyStream[Any] | None = attrs.field(default=None, repr=False, eq=False)
    """For an ask_stream: ``await received.stream.send(item)``; ``probe.reply(None)`` ends it."""

    @property
    def is_ask(self) -> bool:
        """True if the sender is waiting for a reply (use `TestProbe.reply`)."""
        return self.envelope.reply is not None


class _ProbeActor(Actor):
    def __init__(self, probe: TestProbe) -> None:
        self._probe = probe

    async def receive(self, message: Any) -> Any:
        envelope = self.envelope
        assert envelope is not None
        stream = self.reply_stream() if is_stream_ask(envelope) else None
        deferred = self.defer_reply() if envelope.reply is not None else None
        self._probe._arrived(Received(message, envelope.sender, envelope, deferred, stream))


# The next probe number of each system: probes are named probe-1, probe-2, ...
_numbers: weakref.WeakKeyDictionary[ActorSystem, itertools.count[int]] = weakref.WeakKeyDictionary()


async def _spawn_numbered(system: ActorSystem, probe: TestProbe) -> ActorRef[Any]:
    """Spawn the probe's actor as the first free ``probe-<n>`` of ``system``."""
    numbers = _numbers.setdefault(system, itertools.count(1))
    while True:
        try:
            return await system.spawn(_ProbeActor, probe, name=f"probe-{next(numbers)}")
        except ActorNameTaken:
            continue  # the test gave that name to an actor of its own: take the next


def _describe(what: type | Any) -> str:
    if isinstance(what, type):
        return what.__name__
    return getattr(what, "__name__", repr(what))


class TestProbe:
    """A stand-in actor for tests: hand out ``probe.ref``, then assert on what arrives.

    ::

        probe = await TestProbe.spawn(system)
        worker.tell(Start(report_to=probe.ref))
        done = await probe.expect(Done, timeout=1)
        await probe.expect_no_message(within=0.5)

    Messages are consumed in arrival order by ``expect``; ``received`` keeps all
    of them. An ask to the probe waits until the test calls ``probe.reply``.
    Failures are ``AssertionError``s that show what did arrive instead.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self) -> None:
        raise TypeError("use 'probe = await TestProbe.spawn(system)'")

    @classmethod
    async def spawn(cls, system: ActorSystem, *, name: str | None = None) -> TestProbe:
        """Spawn a probe in ``system`` and return it (its ref is ``probe.ref``).

        Unnamed probes are called ``probe-1``, ``probe-2``, ... (numbered per system).
        """
        self = object.__new__(cls)
        self.received = []
        self._pending = collections.deque()
        self._changed = trio.Event()
        self._last = None
        if name is None:
            self.ref = await _spawn_numbered(system, self)
        else:
            self.ref = await system.spawn(_ProbeActor, self, name=name)
        return self

    _pending: collections.deque[Received]
    _changed: trio.Event
    _last: Received | None

    received: list[Received]
    """Every message the probe got, in arrival order."""

    ref: ActorRef[Any]
    """The probe's ref: hand it to the actors under test."""

    def _arrived(self, item: Received) -> None:
        self.received.append(item)
        self._pending.append(item)
        self._changed.set()
        self._changed = trio.Event()

    async def _next(self, timeout: float) -> Received | None:
        with trio.move_on_after(timeout):
            while not self._pending:
                await self._changed.wait()
            return self._pending.popleft()
        return None

    def _history(self) -> str:
        if not self.received:
            return "nothing at all"
        shown = ", ".join(repr(r.message) for r in self.received[-10:])
        more = f" (last 10 of {len(self.received)})" if len(self.received) > 10 else ""
        return f"[{shown}]{more}"

    async def expect(self, what: type | Any = object, *, timeout: float = 1.0) -> Any:
        """Wait for the next message and check it; return it.

        Args:
          what: a type (the message must be an instance), a predicate
            (``lambda m: ...`` returning true), or a value the message must equal.
          timeout: seconds to wait (virtual seconds under a MockClock).

        Raises:
          AssertionError: nothing arrived in time, or the message did not match.
        """
        timeout = check_seconds("timeout", timeout, zero=True)
        item = await self._next(timeout)
        if item is None:
            raise AssertionError(
                f"probe '{self.ref.name}' expected {_describe(what)} within {timeout:g} s, but no "
                f"message arrived; it had received {self._history()}"
            )
        if isinstance(what, type):
            ok = isinstance(item.message, what)
        elif callable(what):
            ok = bool(what(item.message))
        else:
            ok = item.message == what
        if not ok:
            raise AssertionError(
                f"probe '{self.ref.name}' expected {_describe(what)} but got {item.message!r}; "
                f"it had received {self._history()}"
            )
        self._last = item
        return item.message

    async def expect_no_message(self, *, within: float = 0.1) -> None:
        """Assert that no (unconsumed) message arrives within ``within`` seconds."""
        within = check_seconds("within", within, zero=True)
        item = await self._next(within)
        if item is not None:
            self._pending.appendleft(item)
            raise AssertionError(
                f"probe '{self.ref.name}' expected no message within {within:g} s but got {item.message!r}"
            )

    def reply(self, value: Any, *, to: Received | None = None) -> None:
        """Answer an ask the probe got: the last one ``expect`` returned, or ``to``."""
        target = to if to is not None else self._last
        if target is None:
            raise AssertionError(f"probe '{self.ref.name}' has no message to reply to; call expect() first")
        if target.deferred is None:
            raise AssertionError(f"{target.message!r} was told, not asked: there is nobody to reply to")
        if not target.deferred.reply(value):
            raise AssertionError(f"the asker of {target.message!r} is no longer waiting (timed out or answered)")

    @property
    def last(self) -> Received | None:
        """The record of the message ``expect`` returned last."""
        return self._last
