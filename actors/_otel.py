"""OpenTelemetry spans for actor messages (optional: ``pip install trio-actors[otel]``)."""

from __future__ import annotations

import collections
import weakref
from typing import TYPE_CHECKING, Any

import trio

from ._tracing import TraceEvent

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanContext, TracerProvider

__all__ = ["OpenTelemetrySink"]


class OpenTelemetrySink:
    """A `Tracer` sink that turns handled messages into OpenTelemetry spans.

    Each handled message is one span, "<actor path> <MessageType>", from
    receive to reply (or failure, marked as an error). An ask whose reply the
    actor deferred (`Actor.defer_reply`) lasts until the deferred answer, or
    until the actor stops or restarts without one (an error). A message sent while
    another is handled becomes that message's child span, so a whole
    conversation (one trace id of ours) is one OpenTelemetry trace.

    While a handler runs, its message's span is the *current* span (in the
    actor's task, and in tasks its handler starts), so spans that a model
    client, httpx or a database instrumentation opens inside the handler are its
    children, in the same trace. Spans follow the OpenTelemetry GenAI agent
    conventions besides our own attributes: ``gen_ai.operation.name`` is
    ``invoke_agent``, ``gen_ai.agent.name`` the actor's name and
    ``gen_ai.agent.id`` its path. Each item of a streamed reply is a span event
    ``stream.item``; an ask whose asker gave up ends its span with the event
    ``abandoned`` (not an error)::

        from actors import Tracer, open_actor_system
        from actors.otel import OpenTelemetrySink

        async with open_actor_system(trace=Tracer(sink=OpenTelemetrySink())) as system:
            ...

    Args:
      tracer_provider: the provider to use (default: the global one).
      remember: how many finished spans' contexts are kept to parent late
        children (oldest forgotten first).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, *, remember: int = 100_000) -> None:
        try:
            from opentelemetry import trace
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("OpenTelemetrySink needs opentelemetry-api: pip install 'trio-actors[otel]'") from None
        self._trace = trace
        self._tracer = trace.get_tracer("trio-actors", tracer_provider=tracer_provider)
        self._open: dict[int, Span] = {}
        self._deferred: dict[str, set[int]] = {}  # actor path -> asks it answers later
        self._parents: collections.OrderedDict[int, int | None] = collections.OrderedDict()
        self._contexts: collections.OrderedDict[int, SpanContext] = collections.OrderedDict()
        self._remember = remember
        from opentelemetry import context as otel_context

        self._context = otel_context
        # The span made current in an actor's task while its handler runs:
        # task -> (correlation id, token to restore the context before it).
        self._current: weakref.WeakKeyDictionary[trio.lowlevel.Task, tuple[int, Token[Context]]] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, event: TraceEvent) -> None:
        cid = event.correlation_id
        if cid is None:
            if event.kind in ("stop", "restart"):
                self._abandon_deferred(event)
            return
        if event.kind == "send":
            self._parents[cid] = event.parent_id
            self._trim(self._parents)
        elif event.kind == "receive":
            parent_id = self._parents.pop(cid, None)
            parent = self._contexts.get(parent_id) if parent_id is not None else None
            context = None
            if parent is not None:
                context = self._trace.set_span_in_context(self._trace.NonRecordingSpan(parent))
            span = self._tracer.start_span(
                f"{event.actor} {event.message}",
                context=context,
                attributes=_attributes(event),
            )
            self._open[cid] = span
            self._contexts[cid] = span.get_span_context()
            self._trim(self._contexts)
            self._enter(cid, span)
        elif event.kind == "item":
            streaming = self._open.get(cid)
            if streaming is not None:
                streaming.add_event("stream.item", {"stream.item.index": int((event.detail or "0").split()[-1])})
        elif event.kind == "done" and event.ask:
            # The handler returned but deferred its reply: the span ends with the answer.
            self._leave(cid)
            if cid in self._open:
                self._deferred.setdefault(event.actor, set()).add(cid)
        elif event.kind in ("reply", "done", "fail", "abandoned"):
            self._leave(cid)
            deferred = self._deferred.get(event.actor)
            if deferred is not None:
                deferred.discard(cid)
                if not deferred:
                    del self._deferred[event.actor]
            if cid in self._open:
                span = self._open.pop(cid)
                if event.kind == "abandoned":
                    span.set_attribute("actor.abandoned", True)
                    span.add_event("abandoned", {"reason": event.detail or ""})
                self._end(span, (event.detail or "failed") if event.kind == "fail" else None)

    def _enter(self, cid: int, span: Span) -> None:
        """Make ``span`` current in this (the actor's) task until its message is done."""
        task = _task()
        if task is None:
            return
        self._leave(None, task)  # (a message that ended without an event here: unhandled)
        token = self._context.attach(self._trace.set_span_in_context(span))
        self._current[task] = (cid, token)

    def _leave(self, cid: int | None, task: trio.lowlevel.Task | None = None) -> None:
        """Restore the context of this task if it made message ``cid`` (any, if None) current."""
        task = task or _task()
        entry = self._current.get(task) if task is not None else None
        if entry is not None and (cid is None or entry[0] == cid):
            del self._current[task]  # type: ignore[arg-type]
            self._context.detach(entry[1])

    def _abandon_deferred(self, event: TraceEvent) -> None:
        """The actor stopped or restarted: its unanswered deferred asks failed with it."""
        what = "stopped" if event.kind == "stop" else "restarted"
        for cid in self._deferred.pop(event.actor, ()):
            span = self._open.pop(cid, None)
            if span is not None:
                self._end(span, f"actor {what} before answering (it had deferred its reply)")

    def _end(self, span: Span, error: str | None) -> None:
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    def _trim(self, table: collections.OrderedDict[int, Any]) -> None:
        while len(table) > self._remember:
            table.popitem(last=False)


def _task() -> trio.lowlevel.Task | None:
    try:
        return trio.lowlevel.current_task()
    except RuntimeError:  # not in a task (a callback run by trio itself)
        return None


def _attributes(event: TraceEvent) -> dict[str, Any]:
    return {
        # OpenTelemetry GenAI agent conventions: each actor is an agent, each message an invocation
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": event.actor.rsplit("/", 1)[-1] or event.actor,
        "gen_ai.agent.id": event.actor,
        "actor.path": event.actor,
        "actor.sender": event.sender or "",
        "message.type": event.message or "",
        "message.correlation_id": event.correlation_id or 0,
        "message.trace_id": event.trace_id or 0,
        "message.ask": event.ask,
    }
