"""Streaming replies: ``ref.ask_stream(message)`` on one side, ``self.reply_stream()`` on the other.

One ask, many items: model tokens, partial results, progress reports. The asker::

    async with ref.ask_stream(Generate(prompt), timeout=30, buffer=16) as items:
        async for token in items:
            print(token, end="")

and the handler::

    async def receive(self, message):
        stream = self.reply_stream()
        async for token in model_tokens(message.prompt):
            await stream.send(token)      # waits while the asker's buffer is full
        # returning ends the stream; raising fails it

The items travel through a `_Channel` hung on the ask's promise (a `StreamReply`,
a `Reply` with one more slot), so the stream is an ordinary ask to the runtime:
it is queued in order with the actor's other messages, its deadline is kept by
the system's ticker, and its end is the reply's completion (the handler's return,
its exception, `AskTimeout`, `ActorStopped`). The asker leaving the ``async
with`` early is the asker giving up, as for an ask: the handler is cancelled at
its next checkpoint and `AskAbandoned` is recorded.

Backpressure both ways: ``send`` waits while ``buffer`` items wait unread (with
``buffer=0``, until the reader takes the item), and the reader waits for the
next item. ``send`` yields to the scheduler only when it has to wait, so a
stream costs about what a trio memory channel does.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import trio

from ._context import blocking_cell
from ._deadlines import ask_deadline
from ._exceptions import ActorError, AskAbandoned, AskTimeout
from ._reply import Reply

if TYPE_CHECKING:
    from types import TracebackType

    from ._cell import Cell
    from ._envelope import Envelope
    from ._system import ActorSystem

__all__ = ["AskStream", "ReplyStream", "check_buffer", "is_stream_ask", "open_reply_stream", "reading"]

T = TypeVar("T")


class StreamReply(Reply[Any]):
    """The promise of an ask_stream: a `Reply` that also carries the item channel."""

    __slots__ = ("_channel",)

    _channel: _Channel

    @classmethod
    def _open(
        cls,
        system: ActorSystem,
        target: Cell,
        buffer: int,
        deadline: float,
        timeout: float,
        inherited: bool,
        name: str | None = None,
    ) -> StreamReply:
        self: StreamReply = cls._create(  # type: ignore[assignment]
            system, target, deadline=deadline, timeout=timeout, inherited=inherited, name=name
        )
        self._channel = _Channel(self, target, buffer)
        self.add_done_callback(self._channel._ended)
        return self


def is_stream_ask(envelope: Envelope | None) -> bool:
    """True if ``envelope`` carries an ask made with `ActorRef.ask_stream`."""
    return envelope is not None and isinstance(envelope.reply, StreamReply)


def check_buffer(buffer: Any) -> None:
    """Validate ``ask_stream(buffer=...)``."""
    if isinstance(buffer, bool) or not isinstance(buffer, int):
        raise TypeError(f"buffer must be an int >= 0, not {type(buffer).__name__}")
    if buffer < 0:
        raise ValueError(f"buffer must be >= 0, got {buffer}")


def reading(reply: StreamReply) -> AskStream[Any]:
    """An `AskStream` that reads an existing streamed reply (a node forwarding the
    items of a remote ``ask_stream`` over the wire)."""
    stream: AskStream[Any] = object.__new__(AskStream)
    stream._cell = reply._channel.cell
    stream._message = reply.envelope.message if reply.envelope is not None else None
    stream._timeout = None
    stream._buffer = reply._channel.buffer
    stream._reply = reply
    return stream


class _Channel:
    """The items of one streamed reply, and the tasks waiting on either side.

    Invariants: ``reader`` is the asker's task while it is parked waiting for an
    item (else None); ``writers`` are the producer tasks parked waiting for room.
    Whoever wakes a parked task removes it first, so each is rescheduled once.
    """

    __slots__ = ("buffer", "cell", "handle", "items", "opened", "reader", "reader_gone", "reply", "sent", "writers")

    def __init__(self, reply: StreamReply, cell: Cell, buffer: int) -> None:
        self.reply = reply
        self.cell = cell
        self.buffer = buffer
        self.items: collections.deque[Any] = collections.deque()
        self.reader: trio.lowlevel.Task | None = None
        self.writers: list[trio.lowlevel.Task] = []
        self.opened = False  # the handler called reply_stream()
        self.reader_gone = False  # the asker left the `async with` before the end
        self.sent = 0
        self.handle: ReplyStream[Any] | None = None

    def wake_reader(self) -> None:
        task = self.reader
        if task is not None:
            self.reader = None
            trio.lowlevel.reschedule(task)

    def wake_writers(self) -> None:
        if self.writers:
            writers, self.writers = self.writers, []
            for task in writers:
                trio.lowlevel.reschedule(task)

    def _ended(self, reply: Reply[Any]) -> None:
        """The reply completed: the stream has ended (a return, an error, a timeout, a stop)."""
        if not self.opened and reply._error is None and reply._value is not None:
            self.items.append(reply._value)  # a handler that never streamed: its answer is the item
        self.wake_reader()
        self.wake_writers()  # (they raise: nobody will read)

    def check_open(self) -> None:
        """Raise if no item can be sent any more."""
        reply = self.reply
        what = _what(reply)
        if self.reader_gone or reply._abandoned or isinstance(reply._error, AskTimeout):
            raise AskAbandoned(
                f"actor '{self.cell.name}' cannot stream more of {what}: its asker gave up (left the "
                f"stream early, or its deadline passed); stop producing"
            )
        if reply.done():
            raise ActorError(
                f"the reply stream of actor '{self.cell.name}' for {what} has ended (its handler "
                f"returned, failed or deferred reply was given); send every item before that"
            )


def _what(reply: Reply[Any]) -> str:
    return type(reply.envelope.message).__name__ if reply.envelope is not None else "message"


def _abort_writer(channel: _Channel, task: trio.lowlevel.Task) -> Any:
    def abort(_: object) -> trio.lowlevel.Abort:
        if task in channel.writers:
            channel.writers.remove(task)
        return trio.lowlevel.Abort.SUCCEEDED

    return abort


class ReplyStream(Generic[T]):
    """The producing end of a streamed reply: got from `Actor.reply_stream`.

    ``await send(item)`` delivers items in order. It waits while the asker's
    buffer is full (backpressure: a slow reader slows the producer down), and
    raises `AskAbandoned` once the asker has gone (left early, or its deadline
    passed); a handler serving the stream is normally cancelled first. The
    stream ends when the handler returns (or, after `Actor.defer_reply`, when
    the deferred handle answers), and fails with the handler's exception.
    ``send`` may be called from any task in trio's thread (a probe's test, a
    helper task of the handler).
    """

    __slots__ = ("_channel",)

    _channel: _Channel

    def __init__(self) -> None:
        raise TypeError("ReplyStream has no public constructor; call self.reply_stream() in receive()")

    @property
    def sent(self) -> int:
        """How many items have been sent so far."""
        return self._channel.sent

    @property
    def closed(self) -> bool:
        """True once no more items can be sent (the stream ended, or the asker gave up)."""
        try:
            self._channel.check_open()
        except ActorError:
            return True
        return False

    async def send(self, item: T) -> None:
        """Send one item to the asker; wait while its buffer is full.

        Raises:
          AskAbandoned: the asker gave up (left the stream early, or its deadline passed).
          ActorError: the stream has already ended.
        """
        channel = self._channel
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            channel.check_open()
            if len(channel.items) < channel.buffer or channel.reader is not None:
                break
            task = trio.lowlevel.current_task()
            channel.writers.append(task)
            await trio.lowlevel.wait_task_rescheduled(_abort_writer(channel, task))
        channel.items.append(item)
        channel.sent += 1
        channel.wake_reader()
        tracer = channel.cell.system._tracer
        if tracer is not None and channel.reply.envelope is not None:
            tracer._message("item", channel.cell, channel.reply.envelope, f"item {channel.sent}")

    def __repr__(self) -> str:
        return f"<ReplyStream of {_what(self._channel.reply)} sent={self._channel.sent}>"


def open_reply_stream(cell: Cell) -> ReplyStream[Any]:
    """`Actor.reply_stream`: the stream of the ask_stream ``cell``'s handler serves."""
    envelope = cell.current
    if envelope is None or trio.lowlevel.current_task() is not cell.task:
        raise ActorError(
            "reply_stream() must be called from receive() while it handles a message sent with "
            "ask_stream(); keep the stream it returns to send items from helper tasks"
        )
    reply = envelope.reply
    if not isinstance(reply, StreamReply):
        how = "told" if reply is None else "asked with ask()"
        raise ActorError(
            f"actor '{cell.name}' called reply_stream() while handling {type(envelope.message).__name__}, "
            f"which was {how}, not with ask_stream(): return the answer instead, or have the "
            f"sender use 'async with ref.ask_stream(message) as items'"
        )
    channel = reply._channel
    channel.opened = True
    if channel.handle is None:
        handle: ReplyStream[Any] = object.__new__(ReplyStream)
        handle._channel = channel
        channel.handle = handle
    return channel.handle


class AskStream(Generic[T]):
    """The asking end of a streamed reply: ``async with ref.ask_stream(m) as items``.

    Entering sends the ask; ``async for item in items`` yields the items in the
    order sent, waiting for each. When the handler returns, the iteration ends;
    when it raises, the iteration raises that exception after the items sent
    before it; past the deadline it raises `AskTimeout` (after the items that
    came in time). Leaving the block before the end gives the stream up: the
    handler is cancelled (`AskAbandoned` is recorded, not a failure). A handler
    that answers with a plain return value and never calls ``reply_stream()``
    streams that value as its only item (None: no item).

    Enter it once; it is not reusable.
    """

    __slots__ = ("_buffer", "_cell", "_message", "_reply", "_timeout")

    _buffer: int
    _cell: Cell
    _message: Any
    _reply: StreamReply | None
    _timeout: float | None

    def __init__(self) -> None:
        raise TypeError("AskStream has no public constructor; use ref.ask_stream(message)")

    @classmethod
    def _create(cls, cell: Cell, message: Any, timeout: float | None, buffer: int) -> AskStream[Any]:
        check_buffer(buffer)
        cell.system._ask_timeout(timeout)  # bad timeouts fail here, not on entering
        self: AskStream[Any] = object.__new__(cls)
        self._cell = cell
        self._message = message
        self._timeout = timeout
        self._buffer = buffer
        self._reply = None
        return self

    @property
    def reply(self) -> Reply[Any] | None:
        """The ask's promise (its ``correlation_id``, ``done()``), once entered."""
        return self._reply

    async def __aenter__(self) -> AskStream[T]:
        if self._reply is not None:
            raise RuntimeError("an ask_stream() can be entered once; call ref.ask_stream(...) again")
        cell = self._cell
        system = cell.system
        message = self._message
        deadline, seconds, inherited = ask_deadline(system._ask_timeout(self._timeout))
        if cell.mailbox.maxsize is not None and cell.mailbox.full():
            with trio.move_on_at(deadline):
                await cell.wait_for_space()
            if cell.mailbox.full():
                raise AskTimeout(
                    f"the mailbox of actor '{cell.name}' stayed full for {seconds:g} s, so "
                    f"{type(message).__name__} could not even be sent; the actor is overloaded or stuck"
                )
        if cell.closed:
            raise cell._stopped_error(type(message).__name__)
        asker = blocking_cell()
        if asker is not None:
            system._waits.check(asker, cell, type(message).__name__)
        reply = StreamReply._open(system, cell, self._buffer, deadline, seconds, inherited)
        cell.enqueue_ask(message, reply)
        self._reply = reply
        if seconds != float("inf"):
            system._deadlines.add(reply, deadline)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        reply = self._reply
        if reply is not None and not reply.done():
            channel = reply._channel
            channel.reader_gone = True
            reply._abandon()  # the handler serving it is cancelled (deadlines flow)
            channel.wake_writers()

    def __aiter__(self) -> AskStream[T]:
        return self

    async def __anext__(self) -> T:
        reply = self._reply
        if reply is None:
            raise RuntimeError("use 'async with ref.ask_stream(message) as items:' before iterating")
        channel = reply._channel
        if channel.items or reply.done():
            await trio.lowlevel.checkpoint_if_cancelled()
        else:
            await self._wait(channel, reply)
        if channel.items:
            item = channel.items.popleft()
            channel.wake_writers()
            return item  # type: ignore[no-any-return]
        if reply._error is not None:
            raise reply._error
        raise StopAsyncIteration

    async def _wait(self, channel: _Channel, reply: StreamReply) -> None:
        """Park until an item comes or the stream ends."""
        if channel.reader_gone:
            raise RuntimeError("this ask_stream() was left; iterate inside its 'async with' block")
        # An actor reading a stream in its handler waits on the producer: the
        # deadlock guard follows this wait as it follows an ask's.
        asker = blocking_cell()
        target = channel.cell
        waits = target.system._waits
        if asker is not None:
            waits.add(asker, target)
        try:
            while not channel.items and not reply.done():
                task = trio.lowlevel.current_task()
                channel.reader = task
                channel.wake_writers()  # (a buffer=0 producer waits for a waiting reader)

                def abort(_: object) -> trio.lowlevel.Abort:
                    if channel.reader is task:
                        channel.reader = None
                    return trio.lowlevel.Abort.SUCCEEDED

                await trio.lowlevel.wait_task_rescheduled(abort)
        finally:
            if asker is not None:
                waits.remove(asker, target)

    def __repr__(self) -> str:
        state = "new" if self._reply is None else ("ended" if self._reply.done() else "open")
        return f"<AskStream {type(self._message).__name__} to {self._cell.path} ({state})>"
