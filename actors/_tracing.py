"""Tracing: a record of message events, exportable as JSON lines, readable as timelines.

Turn it on with ``open_actor_system(trace=True)`` (or pass a `Tracer`, or a
file path to write JSON lines to when the system closes). Every event carries
the envelope's correlation id and trace id; all messages of one conversation
(an ask, and everything sent while handling it) share a trace id, so
`Tracer.timeline` can show who asked whom, how long each step took and where
it failed. Off by default: then the runtime pays one ``None`` check per event.
"""

from __future__ import annotations

import collections
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs
import trio

from ._checks import check_count

if TYPE_CHECKING:
    from ._envelope import Envelope
    from ._inbox import Inbox

__all__ = ["TraceEvent", "Tracer", "load_trace", "render_timeline"]

KINDS = ("send", "receive", "item", "reply", "done", "fail", "abandoned", "restart", "dead_letter", "stop")


@attrs.frozen
class TraceEvent:
    """One thing that happened to a message or an actor.

    Attributes:
      time: seconds on trio's clock (a MockClock in tests).
      kind: "send", "receive", "item" (one item of a streamed reply), "reply" (an
        ask answered), "done" (a tell handled, or an ask whose reply was
        deferred), "fail", "abandoned" (its asker gave up: the handler was
        cancelled, or the ask dropped unhandled), "restart", "dead_letter" or "stop".
        A deferred reply is recorded as "reply" (or "fail", for ``fail(exc)``)
        when it is given, after the handler's "done".
      actor: path of the actor it happened at (the recipient, for a send).
      sender: path of the sending actor, or None from outside any actor.
      message: the message's type name.
      correlation_id: the message's id (None for "restart" and "stop").
      trace_id: the conversation's id.
      ask: True for an ask, False for a tell.
      detail: the error, the reason, or other words; None if nothing to add.
      parent_id: for a send, the correlation id of the message the sender was
        handling (what caused this one), else None.
    """

    time: float
    kind: str
    actor: str
    sender: str | None = None
    message: str | None = None
    correlation_id: int | None = None
    trace_id: int | None = None
    ask: bool = False
    detail: str | None = None
    parent_id: int | None = None

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(attrs.asdict(self), separators=(",", ":"))


class Tracer:
    """Records `TraceEvent`s, keeping the newest ``maxlen`` (default 100,000).

    Args:
      maxlen: how many events are kept in memory.
      sink: also called with every event as it happens (to stream, log, or
        feed OpenTelemetry); an error it raises is swallowed after the first
        is logged, so tracing never breaks the system.
    """

    def __init__(self, *, maxlen: int = 100_000, sink: Callable[[TraceEvent], object] | None = None) -> None:
        check_count("maxlen", maxlen)
        self.events: collections.deque[TraceEvent] = collections.deque(maxlen=maxlen)
        self.sink = sink
        self._sink_failed = False

    def record(self, event: TraceEvent) -> None:
        """Keep ``event`` and pass it to the sink."""
        self.events.append(event)
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception:
                if not self._sink_failed:
                    self._sink_failed = True
                    import logging

                    logging.getLogger("actors").exception("a trace sink raised; later errors are not logged")

    # -- hooks the runtime calls ------------------------------------------

    def _message(self, kind: str, cell: Inbox, envelope: Envelope, detail: str | None = None) -> None:
        sender = envelope.sender
        parent = None
        if kind == "send" and sender is not None:
            handling = sender._cell.current
            parent = None if handling is None else handling.correlation_id
        self.record(
            TraceEvent(
                trio.current_time(),
                kind,
                cell.path,
                None if sender is None else sender.path,
                type(envelope.message).__name__,
                envelope.correlation_id,
                envelope.trace_id,
                envelope.reply is not None,
                detail,
                parent,
            )
        )

    def _dead_letter(self, path: str, envelope: Envelope | None, message: Any, reason: str) -> None:
        if envelope is None:
            self.record(
                TraceEvent(trio.current_time(), "dead_letter", path, message=type(message).__name__, detail=reason)
            )
            return
        sender = envelope.sender
        self.record(
            TraceEvent(
                trio.current_time(),
                "dead_letter",
                path,
                None if sender is None else sender.path,
                type(envelope.message).__name__,
                envelope.correlation_id,
                envelope.trace_id,
                envelope.reply is not None,
                reason,
            )
        )

    def _actor(self, kind: str, cell: Inbox, detail: str | None = None) -> None:
        self.record(TraceEvent(trio.current_time(), kind, cell.path, detail=detail))

    # -- reading -----------------------------------------------------------

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(list(self.events))

    def __len__(self) -> int:
        return len(self.events)

    def conversation(self, trace_id: int) -> list[TraceEvent]:
        """The events of one conversation, in time order."""
        return [event for event in self.events if event.trace_id == trace_id]

    def export_jsonl(self, target: str | os.PathLike[str] | IO[str]) -> int:
        """Write every kept event as JSON lines to a path or an open text file; return the count."""
        events = list(self.events)
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", encoding="utf-8") as file:
                return self.export_jsonl(file)
        for event in events:
            target.write(event.to_json() + "\n")
        return len(events)

    def timeline(self, trace_id: int | None = None) -> str:
        """Render the conversations (or one) as readable text: see `render_timeline`."""
        return render_timeline(self.events, trace_id)


def load_trace(path: str | os.PathLike[str]) -> list[TraceEvent]:
    """Read events written by `Tracer.export_jsonl`.

    Raises:
      ValueError: the file is not UTF-8 text, or a line is not a trace event
        (its number and the bad field are in the message).
      OSError: the file cannot be read (``FileNotFoundError`` and so on).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text file ({exc.reason} at byte {exc.start})") from None
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            if not isinstance(fields, dict):
                raise TypeError(f"a JSON {type(fields).__name__}, not an object")
            unknown = [name for name in fields if name not in _FIELD_TYPES]
            if unknown:  # (named with repr: a key may hold a newline or worse)
                raise TypeError(f"unknown field {unknown[0]!r}")
            events.append(TraceEvent(**fields))
            _check_types(fields)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValueError(f"{path}:{number} is not a trace event ({exc})") from None
    return events


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "time": (int, float),
    "kind": (str,),
    "actor": (str,),
    "sender": (str, type(None)),
    "message": (str, type(None)),
    "correlation_id": (int, type(None)),
    "trace_id": (int, type(None)),
    "ask": (bool,),
    "detail": (str, type(None)),
    "parent_id": (int, type(None)),
}


def _check_types(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        allowed = _FIELD_TYPES[name]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise TypeError(
                f"field {name!r} is {value!r}, expected "
                f"{' or '.join('null' if t is type(None) else t.__name__ for t in allowed)}"
            )
        if name == "time" and isinstance(value, (int, float)) and not math.isfinite(value):
            raise ValueError(f"field 'time' is {value!r}, expected a finite number")


def render_timeline(events: Iterable[TraceEvent], trace_id: int | None = None) -> str:
    """A per-conversation timeline: who asked whom, how long each step took, where it failed.

    ::

        trace 12: 5 events over 0.310 s
          +0.000 s  main -> /team/planner  ask NextStep #12
          +0.000 s  /team/planner  handles NextStep #12
          +0.300 s  /team/planner  replied to NextStep #12 after 0.300 s
    """
    by_trace: dict[int | None, list[TraceEvent]] = {}
    for event in events:
        if trace_id is None or event.trace_id == trace_id:
            by_trace.setdefault(event.trace_id, []).append(event)
    blocks = []
    for tid, conversation in by_trace.items():
        conversation.sort(key=lambda e: e.time)
        start = conversation[0].time
        span = conversation[-1].time - start
        title = f"trace {tid}" if tid is not None else "actor events"
        lines = [f"{title}: {len(conversation)} event{'s' * (len(conversation) != 1)} over {span:.3f} s"]
        received: dict[int | None, float] = {}
        for event in conversation:
            lines.append(f"  +{event.time - start:.3f} s  {_describe(event, received)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no events)"


def _describe(event: TraceEvent, received: dict[int | None, float]) -> str:
    what = f"{event.message} #{event.correlation_id}" if event.message else ""
    kind = event.kind
    if kind == "send":
        return f"{event.sender or 'main'} -> {event.actor}  {'ask' if event.ask else 'tell'} {what}"
    if kind == "receive":
        received[event.correlation_id] = event.time
        return f"{event.actor}  handles {what}"
    took = ""
    if event.correlation_id in received:
        took = f" after {event.time - received[event.correlation_id]:.3f} s"
    if kind == "reply":
        return f"{event.actor}  replied to {what}{took}"
    if kind == "done":
        return f"{event.actor}  done with {what}{took}"
    if kind == "fail":
        return f"{event.actor}  FAILED on {what}{took}: {event.detail}"
    if kind == "item":
        return f"{event.actor}  streamed {event.detail} of {what}{took}"
    if kind == "abandoned":
        return f"{event.actor}  abandoned {what}{took}: {event.detail}"
    if kind == "dead_letter":
        return f"{event.actor}  dead letter {what}: {event.detail}"
    if kind == "restart":
        return f"{event.actor}  restarted ({event.detail})"
    if kind == "stop":
        return f"{event.actor}  stopped" + (f" ({event.detail})" if event.detail else "")
    return f"{event.actor}  {kind} {what}"
