"""Tracing: events recorded per message, JSON lines, timelines, OpenTelemetry spans."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import attrs
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    DeferredReply,
    TraceEvent,
    Tracer,
    load_trace,
    open_actor_system,
    render_timeline,
)


class Planner(Actor):
    async def receive(self, message: str) -> str:
        await trio.sleep(0.25)
        if message == "bad":
            raise ValueError("no plan")
        return f"plan for {message}"


class Orchestrator(Actor):
    def __init__(self, planner) -> None:
        self.planner = planner

    async def receive(self, message: str) -> str:
        self.planner.tell("fyi")  # told while handling: same conversation
        return await self.planner.ask(message)


async def converse(system: ActorSystem) -> None:
    planner = await system.spawn(Planner, name="planner")
    orchestrator = await system.spawn(Orchestrator, planner, name="orch")
    assert await orchestrator.ask("go") == "plan for go"
    with pytest.raises(ValueError):
        await orchestrator.ask("bad")


async def test_tracing_is_off_by_default(actor_system: ActorSystem) -> None:
    assert actor_system.tracer is None


async def test_a_conversation_shares_one_trace_id_and_records_each_step(autojump_clock) -> None:
    async with open_actor_system(trace=True) as system:
        await converse(system)
        tracer = system.tracer
    assert tracer is not None
    first = [e for e in tracer if e.kind == "send" and e.sender is None][0]
    conversation = tracer.conversation(first.trace_id)
    steps = [(e.kind, e.actor, e.message) for e in conversation]
    assert steps == [
        ("send", "/orch", "str"),
        ("receive", "/orch", "str"),
        ("send", "/planner", "str"),
        ("send", "/planner", "str"),
        ("receive", "/planner", "str"),
        ("done", "/planner", "str"),
        ("receive", "/planner", "str"),
        ("reply", "/planner", "str"),
        ("reply", "/orch", "str"),
    ]
    reply = conversation[-2]
    assert reply.time - conversation[4].time == pytest.approx(0.5)  # two handlers of 0.25 s
    sends = [e for e in conversation if e.kind == "send" and e.sender == "/orch"]
    assert all(e.parent_id == first.correlation_id for e in sends)


async def test_a_failure_and_its_dead_letter_are_in_the_trace(autojump_clock) -> None:
    async with open_actor_system(trace=True) as system:
        await converse(system)
        events = list(system.tracer)
    kinds = [(e.kind, e.actor) for e in events if e.kind in ("fail", "dead_letter", "stop")]
    assert ("fail", "/planner") in kinds and ("dead_letter", "/planner") in kinds
    assert ("stop", "/planner") in kinds
    failed = next(e for e in events if e.kind == "fail" and e.actor == "/planner")
    assert failed.detail == "ValueError('no plan')"


async def test_trace_file_is_written_as_json_lines_and_reads_back(tmp_path: Path, autojump_clock) -> None:
    path = tmp_path / "trace.jsonl"
    async with open_actor_system(trace=str(path)) as system:
        await converse(system)
    count = len(system.tracer)  # after the block: the stops are recorded too
    lines = path.read_text().splitlines()
    assert len(lines) == count and all(json.loads(line)["kind"] for line in lines)
    events = load_trace(path)
    assert [e.kind for e in events][:2] == ["send", "receive"]


def test_load_trace_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"time": 0, "kind": "send", "actor": "/a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2 is not a trace event"):
        load_trace(path)


async def test_timeline_shows_who_asked_whom_how_long_and_where_it_failed(autojump_clock) -> None:
    async with open_actor_system(trace=True) as system:
        await converse(system)
        text = system.tracer.timeline()
    assert "main -> /orch  ask str" in text
    assert "/orch -> /planner  tell str" in text
    assert "/planner  replied to str" in text and "after 0.250 s" in text
    assert "/planner  FAILED on str" in text and "ValueError('no plan')" in text
    assert render_timeline([]) == "(no events)"


def test_bad_trace_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="trace must be True, a Tracer or a file path, not int"):
        open_actor_system(trace=3)


async def test_a_sink_that_raises_does_not_break_the_system(autojump_clock) -> None:
    seen = []

    def sink(event):
        seen.append(event)
        raise RuntimeError("sink broke")

    async with open_actor_system(trace=Tracer(sink=sink)) as system:
        await converse(system)
    assert len(seen) > 10


async def test_opentelemetry_spans_are_parented_within_a_conversation(autojump_clock) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from actors.otel import OpenTelemetrySink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with open_actor_system(trace=Tracer(sink=OpenTelemetrySink(provider))) as system:
        await converse(system)
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.name == "/orch str"]
    assert len(roots) == 2 and all(s.parent is None for s in roots)
    for root in roots:
        children = [s for s in spans if s.parent is not None and s.parent.span_id == root.context.span_id]
        assert {s.name for s in children} == {"/planner str"} and len(children) == 2
        assert all(s.context.trace_id == root.context.trace_id for s in children)
    failed = [s for s in spans if s.status.status_code == StatusCode.ERROR]
    assert {s.name for s in failed} == {"/planner str", "/orch str"}


# -- deferred replies ------------------------------------------------------------


@attrs.frozen
class Question:
    pass


class Deferrer(Actor):
    """Defers every Question; "answer" replies to them all, "refuse" fails them all."""

    def __init__(self) -> None:
        self.pending: list[DeferredReply[str]] = []

    async def receive(self, message: object) -> object:
        if isinstance(message, Question):
            self.pending.append(self.defer_reply())
            return "ignored: the deferred answer wins"
        if message == "answer":
            return [handle.reply("42") for handle in self.pending]
        if message == "refuse":
            return [handle.fail(ValueError("no answer")) for handle in self.pending]
        return None


class Relay(Actor):
    """Asks the deferrer a Question, so the ask has an actor as its sender."""

    def __init__(self, deferrer) -> None:
        self.deferrer = deferrer

    async def receive(self, message: object) -> object:
        return await self.deferrer.ask(Question())


async def test_a_deferred_reply_is_traced_when_given_with_the_asks_ids(autojump_clock) -> None:
    async with open_actor_system(trace=True) as system:
        deferrer = await system.spawn(Deferrer, name="deferrer")
        relay = await system.spawn(Relay, deferrer, name="relay")
        answer = relay.ask_nowait("go")
        await trio.sleep(1.5)
        assert await deferrer.ask("answer") == [True]
        assert await answer == "42"
        assert await deferrer.ask("answer") == [False]  # answered already: not traced again
        events = [e for e in system.tracer if e.message == "Question"]
    assert [(e.kind, e.actor, e.sender) for e in events] == [
        ("send", "/deferrer", "/relay"),
        ("receive", "/deferrer", "/relay"),
        ("done", "/deferrer", "/relay"),
        ("reply", "/deferrer", "/relay"),
    ]
    assert len({(e.correlation_id, e.trace_id, e.ask) for e in events}) == 1 and events[0].ask
    assert events[-1].time - events[1].time == pytest.approx(1.5)
    cid = events[0].correlation_id
    text = render_timeline(system.tracer, events[0].trace_id)
    assert f"/deferrer  done with Question #{cid} after 0.000 s" in text
    assert f"/deferrer  replied to Question #{cid} after 1.500 s" in text


async def test_a_deferred_failure_is_traced_as_a_fail_event_with_the_error(autojump_clock) -> None:
    async with open_actor_system(trace=True) as system:
        deferrer = await system.spawn(Deferrer, name="deferrer")
        answer = deferrer.ask_nowait(Question())
        await trio.sleep(2)
        assert await deferrer.ask("refuse") == [True]
        with pytest.raises(ValueError, match="no answer"):
            await answer
        events = [e for e in system.tracer if e.message == "Question"]
    assert [e.kind for e in events] == ["send", "receive", "done", "fail"]
    failed = events[-1]
    assert (failed.actor, failed.sender, failed.detail) == ("/deferrer", None, "ValueError('no answer')")
    assert failed.correlation_id == answer.correlation_id and failed.trace_id == events[0].trace_id
    assert (
        f"/deferrer  FAILED on Question #{answer.correlation_id} after 2.000 s: ValueError('no answer')"
    ) in render_timeline(events)


def _otel() -> tuple[Tracer, object]:
    """A tracer feeding OpenTelemetry spans to an in-memory exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from actors.otel import OpenTelemetrySink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracer(sink=OpenTelemetrySink(provider)), exporter


def _spans(exporter, name: str) -> list:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_opentelemetry_span_of_a_deferred_ask_lasts_until_the_reply(autojump_clock) -> None:
    from opentelemetry.trace import StatusCode

    tracer, exporter = _otel()
    async with open_actor_system(trace=tracer) as system:
        deferrer = await system.spawn(Deferrer, name="deferrer")
        answered = deferrer.ask_nowait(Question())
        assert await deferrer.ask("nothing") is None  # the Question was handled before it
        assert _spans(exporter, "/deferrer Question") == []  # handled, yet not answered
        handled_at = time.time_ns()
        assert await deferrer.ask("answer") == [True]
        assert await answered == "42"
        refused = deferrer.ask_nowait(Question())
        assert await deferrer.ask("refuse") == [False, True]
        with pytest.raises(ValueError):
            await refused
        spans = _spans(exporter, "/deferrer Question")
    assert len(spans) == 2 and all(span.end_time >= handled_at for span in spans)
    by_id = {span.attributes["message.correlation_id"]: span for span in spans}
    assert by_id[answered.correlation_id].status.status_code == StatusCode.UNSET
    failed = by_id[refused.correlation_id].status
    assert (failed.status_code, failed.description) == (StatusCode.ERROR, "ValueError('no answer')")


async def test_opentelemetry_span_of_a_deferred_ask_ends_in_error_when_the_actor_stops(autojump_clock) -> None:
    from opentelemetry.trace import StatusCode

    tracer, exporter = _otel()
    async with open_actor_system(trace=tracer) as system:
        deferrer = await system.spawn(Deferrer, name="deferrer")
        answer = deferrer.ask_nowait(Question())
        await deferrer.ask("nothing")
        assert _spans(exporter, "/deferrer Question") == []
        await system.stop(deferrer)
        with pytest.raises(ActorStopped):
            await answer
        [span] = _spans(exporter, "/deferrer Question")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "actor stopped before answering (it had deferred its reply)"


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
_VALID = {
    "time": st.floats(0, 1e6),
    "kind": st.sampled_from(["send", "receive", "reply", "fail", "stop", "odd"]),
    "actor": st.text(max_size=4),
    "sender": st.none() | st.text(max_size=4),
    "message": st.none() | st.text(max_size=4),
    "correlation_id": st.none() | st.integers(0, 5),
    "trace_id": st.none() | st.integers(0, 3),
    "ask": st.booleans(),
    "detail": st.none() | st.text(max_size=4),
    "parent_id": st.none() | st.integers(0, 5),
}
_FIELDS = list(_VALID)
# Mostly well-formed events with now and then one field of any JSON type, or missing, or extra.
_EVENTS = st.fixed_dictionaries(
    {name: st.one_of(valid, valid, valid, _JSON_VALUES) for name, valid in list(_VALID.items())[:3]},
    optional={name: st.one_of(valid, valid, valid, _JSON_VALUES) for name, valid in list(_VALID.items())[3:]}
    | {"extra": _JSON_VALUES},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.one_of(
            _EVENTS.map(json.dumps),
            st.dictionaries(st.sampled_from(_FIELDS), _JSON_VALUES, max_size=10).map(json.dumps),
            _JSON_VALUES.map(json.dumps),
            st.text(max_size=20),
        ),
        max_size=6,
    )
)
def test_load_trace_either_names_the_bad_line_or_returns_events_that_render(tmp_path: Path, lines: list[str]) -> None:
    """A hand-edited or corrupt trace file gives a ValueError naming file and line, never a
    TypeError later in render_timeline."""
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        events = load_trace(path)
    except ValueError as exc:
        assert re.match(rf"{re.escape(str(path))}:\d+ is not a trace event \(.+\)$", str(exc)), str(exc)
        return
    assert all(isinstance(event, TraceEvent) for event in events)
    text = render_timeline(events)
    assert text == "(no events)" if not events else text.count(" event") >= 1


def test_load_trace_of_a_binary_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ValueError, match=r"image.png is not a text file \(invalid start byte at byte 0\)"):
        load_trace(path)


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ('{"time": "soon", "kind": "send", "actor": "/a"}', "field 'time' is 'soon', expected int or float"),
        ('{"time": true, "kind": "send", "actor": "/a"}', "field 'time' is True, expected int or float"),
        ('{"time": NaN, "kind": "send", "actor": "/a"}', "field 'time' is nan, expected a finite number"),
        (
            '{"time": 0, "kind": "send", "actor": "/a", "trace_id": "7"}',
            "field 'trace_id' is '7', expected int or null",
        ),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"time": 0, "kind": "send", "actor": "/a", "a\\nb": 1}', "unknown field 'a\\nb'"),
    ],
)
def test_load_trace_names_the_field_with_the_wrong_type(tmp_path: Path, line: str, complaint: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=re.escape(f"t.jsonl:1 is not a trace event ({complaint})")):
        load_trace(path)
