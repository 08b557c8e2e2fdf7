"""OpenTelemetry spans for actor messages (optional: ``pip install trio-actors[otel]``)."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from ._tracing import TraceEvent

if TYPE_CHECKING:
    from opentelemetry.trace import Span, SpanContext, TracerProvider

__all__ = ["OpenTelemetrySink"]


class OpenTelemetrySink:
    """A `Tracer` sink that turns handled messages into OpenTelemetry spans.

    Each handled message is one span, "<actor path> <MessageType>", from
    receive to reply (or failure, marked as an error). A message sent while
    another is handled becomes that message's child span, so a whole
    conversation (one trace id of ours) is one OpenTelemetry trace::

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
            raise ImportError(
                "OpenTelemetrySink needs opentelemetry-api: pip install 'trio-actors[otel]'"
            ) from None
        self._trace = trace
        self._tracer = trace.get_tracer("trio-actors", tracer_provider=tracer_provider)
        self._open: dict[int, Span] = {}
        self._parents: collections.OrderedDict[int, int | None] = collections.OrderedDict()
        self._contexts: collections.OrderedDict[int, SpanContext] = collections.OrderedDict()
        self._remember = remember

    def __call__(self, event: TraceEvent) -> None:
        cid = event.correlation_id
        if cid is None:
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
        elif event.kind in ("reply", "done", "fail"):
            span = self._open.pop(cid, None)
            if span is None:
                return
            if event.kind == "fail":
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, event.detail or "failed"))
            span.end()

    def _trim(self, table: collections.OrderedDict[int, Any]) -> None:
        while len(table) > self._remember:
            table.popitem(last=False)


def _attributes(event: TraceEvent) -> dict[str, Any]:
    return {
        "actor.path": event.actor,
        "actor.sender": event.sender or "",
        "message.type": event.message or "",
        "message.correlation_id": event.correlation_id or 0,
        "message.trace_id": event.trace_id or 0,
        "message.ask": event.ask,
    }
