"""OpenTelemetry: a message's span is current while its handler runs; GenAI agent attributes."""

from __future__ import annotations

import pytest
import trio

from actors import Actor, AskTimeout, Tracer, open_actor_system

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from actors.otel import OpenTelemetrySink


def traced() -> tuple[Tracer, InMemorySpanExporter, trace.Tracer]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracer(sink=OpenTelemetrySink(provider)), exporter, provider.get_tracer("a model client")


class Agent(Actor):
    """Opens a span of its own inside the handler, as an instrumented model client would."""

    def __init__(self, client_tracer: trace.Tracer) -> None:
        self.client = client_tracer

    async def receive(self, message: object) -> object:
        with self.client.start_as_current_span(f"chat {message}"):
            await trio.sleep(0.1)
        if message == "fan-out":
            async with trio.open_nursery() as nursery:  # tasks the handler starts inherit it
                nursery.start_soon(self._side_call)
        if message == "slow":
            await trio.sleep(10)
        return message

    async def _side_call(self) -> None:
        with self.client.start_as_current_span("side call"):
            await trio.sleep(0.1)


def by_name(exporter: InMemorySpanExporter) -> dict[str, object]:
    return {span.name: span for span in exporter.get_finished_spans()}


async def test_spans_opened_inside_a_handler_are_children_of_the_messages_span(autojump_clock) -> None:
    tracer, exporter, client = traced()
    async with open_actor_system(trace=tracer) as system:
        agent = await system.spawn(Agent, client, name="planner")
        assert await agent.ask("plan", timeout=5) == "plan"
        assert await agent.ask("fan-out", timeout=5) == "fan-out"
    spans = by_name(exporter)
    for inner in ("chat plan", "chat fan-out", "side call"):
        child = spans[inner]
        parents = [s for s in exporter.get_finished_spans() if s.context.span_id == child.parent.span_id]  # type: ignore[union-attr]
        assert len(parents) == 1, f"{inner} has no parent among the finished spans"
        parent = parents[0]
        assert parent.name == "/planner str"
        assert parent.context.trace_id == child.context.trace_id
    # each message's inner span has its own message span as parent (the context was restored)
    plan_parent = spans["chat plan"].parent.span_id  # type: ignore[union-attr]
    fan_parent = spans["chat fan-out"].parent.span_id  # type: ignore[union-attr]
    assert plan_parent != fan_parent
    assert spans["side call"].parent.span_id == fan_parent  # type: ignore[union-attr]


async def test_outside_a_handler_no_message_span_is_current(autojump_clock) -> None:
    tracer, exporter, client = traced()
    async with open_actor_system(trace=tracer) as system:
        agent = await system.spawn(Agent, client, name="planner")
        await agent.ask("plan", timeout=5)
        assert not trace.get_current_span().get_span_context().is_valid  # the caller's own context
    assert len(exporter.get_finished_spans()) == 2


async def test_message_spans_carry_the_genai_agent_attributes(autojump_clock) -> None:
    tracer, exporter, client = traced()
    async with open_actor_system(trace=tracer) as system:
        agent = await system.spawn(Agent, client, name="researcher")
        await agent.ask("find", timeout=5)
    [span] = [s for s in exporter.get_finished_spans() if s.name == "/researcher str"]
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "researcher"
    assert attributes["gen_ai.agent.id"] == "/researcher"
    assert attributes["actor.path"] == "/researcher"  # today's attributes stay


async def test_an_abandoned_ask_ends_its_span_with_an_event_not_an_error(autojump_clock) -> None:
    tracer, exporter, client = traced()
    async with open_actor_system(trace=tracer) as system:
        agent = await system.spawn(Agent, client, name="planner")
        with pytest.raises(AskTimeout):
            await agent.ask("slow", timeout=1)
        await agent.ask("plan", timeout=5)  # and the next message gets its own span
    spans = [s for s in exporter.get_finished_spans() if s.name == "/planner str"]
    assert len(spans) == 2
    slow = spans[0]
    assert slow.status.status_code is not StatusCode.ERROR
    assert [event.name for event in slow.events] == ["abandoned"]
    assert (slow.attributes or {})["actor.abandoned"] is True


async def test_each_streamed_item_is_a_span_event(autojump_clock) -> None:
    class Tokens(Actor):
        async def receive(self, message: object) -> None:
            stream = self.reply_stream()
            for token in ("a", "b", "c"):
                await stream.send(token)

    tracer, exporter, _ = traced()
    async with open_actor_system(trace=tracer) as system:
        ref = await system.spawn(Tokens, name="tokens")
        async with ref.ask_stream("go", timeout=5) as items:
            assert [item async for item in items] == ["a", "b", "c"]
    [span] = exporter.get_finished_spans()
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("stream.item", {"stream.item.index": 1}),
        ("stream.item", {"stream.item.index": 2}),
        ("stream.item", {"stream.item.index": 3}),
    ]
