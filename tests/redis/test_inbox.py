"""The stream inbox: bad input written straight into Redis, NOGROUP recovery,
asks past their deadline, own pending entries first, takeover from a node
that no longer serves a name."""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
import pytest
import trio
from nodekit import ERRORS, MESSAGES, Collector, Echo, Worker

from actors import RemoteError, open_actor_system
from actors.redis._wire import WIRE_VERSION, Frame, Kind


def transport_for(make_transport: Any, **options: Any) -> Any:
    return make_transport(messages=MESSAGES, errors=ERRORS, **options)


def inbox_key(namespace: str, name: str) -> str:
    return f"actors:{{{namespace}/{name}}}:inbox"


def frame(
    kind: Kind,
    type_name: str,
    body: Any,
    *,
    version: int = WIRE_VERSION,
    deadline: float | None = None,
    reply_to: str | None = None,
    cid: int = 1,
) -> bytes:
    raw = msgspec.Raw(msgspec.msgpack.encode(body))
    return msgspec.msgpack.encode(Frame(version, kind, cid, 7, None, reply_to, deadline, type_name, raw))


async def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)  # polling Redis-driven state; bounded by fail_after


async def test_garbage_unknown_types_wrong_fields_and_oversize_input_become_dead_letters(
    make_transport: Any, namespace: str, raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    got = trio.Event()
    key = inbox_key(namespace, "inbox")
    bad = [
        ({b"m": b"\xc1 not msgpack"}, "malformed frame"),
        ({b"other": b"x"}, "without the field 'm'"),
        ({b"m": frame(Kind.TELL, "Echo", {"text": 5})}, "body does not fit Echo: Expected `str`, got `int`"),
        ({b"m": frame(Kind.TELL, "Pickled", {"x": 1})}, "unknown message type 'Pickled'"),
        ({b"m": frame(Kind.TELL, "Echo", {"text": "v9"}, version=9)}, "wire version 9 (this node speaks version 1)"),
        ({b"m": b"\x00" * 5000}, "oversize input: 5000 bytes, more than max_message_bytes=4096"),
        ({b"m": frame(Kind.REPLY, "", 1)}, "a REPLY frame in an inbox"),
        ({b"m": msgspec.msgpack.encode([1, 0, "x"])}, "malformed frame"),
    ]
    for fields, _ in bad:
        raw.xadd(key, fields)
    raw.xadd(key, {b"m": frame(Kind.TELL, "Echo", {"text": "good"})})
    caplog.set_level(logging.WARNING, logger="actors.redis")
    async with open_actor_system(node="a", transport=transport_for(make_transport, max_message_bytes=4096)) as a:
        await a.spawn(Collector, seen, got, 1, name="inbox", public=True)
        with trio.fail_after(10):
            await got.wait()
        assert seen == [Echo("good")]  # the node kept serving
        await wait_for(lambda: len(a.dead_letters) >= len(bad), "dead letters")
        reasons = [letter.reason for letter in a.dead_letters]
        for (_, expected), reason in zip(bad, reasons):
            assert reason.startswith("rejected from the inbox: ") and expected in reason, (expected, reason)
        assert all(letter.recipient is a.remote("inbox") for letter in a.dead_letters)
        await wait_for(lambda: raw.xlen(key) == 0, "acknowledged entries to be deleted")
    assert "dropped an entry of the inbox of 'inbox'" in caplog.text


async def test_a_malformed_ask_is_answered_with_the_reason(make_transport: Any, namespace: str) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=make_transport(messages=[], errors=ERRORS)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)

        # b's transport does not list Echo, but a plain dict shaped wrongly for the
        # receiving side's type is what a mismatched deployment looks like:
        reply_key = b._remote.transport._replies.key
        b_raw = b._remote.transport._client.redis
        cid = b._remote.transport._replies.open_slot(lambda value, error: answers.append((value, error)))
        answers: list[Any] = []
        b_raw.xadd(
            inbox_key(namespace, "worker"), {b"m": frame(Kind.ASK, "Echo", {"text": 1}, reply_to=reply_key, cid=cid)}
        )
        await wait_for(lambda: answers, "an answer")
        value, error = answers[0]
        assert isinstance(error, RemoteError) and error.type_name == "WireError"
        assert "body does not fit Echo" in error.text


async def test_an_ask_already_past_its_deadline_is_dropped_unhandled(
    make_transport: Any, namespace: str, raw: Any
) -> None:
    seen: list[Any] = []
    got = trio.Event()
    key = inbox_key(namespace, "inbox")
    raw.xadd(
        key,
        {
            b"m": frame(
                Kind.ASK,
                "Echo",
                {"text": "stale"},
                deadline=time.time() - 1,
                reply_to=f"actors:{{{namespace}@gone}}:replies:x",
            )
        },
    )
    raw.xadd(key, {b"m": frame(Kind.TELL, "Echo", {"text": "fresh"})})
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        await a.spawn(Collector, seen, got, 1, name="inbox", public=True)
        with trio.fail_after(10):
            await got.wait()
        await wait_for(lambda: a.dead_letters, "the dropped ask's dead letter")
    assert seen == [Echo("fresh")]
    assert "an ask past its deadline" in a.dead_letters[0].reason
    assert a.dead_letters[0].message == Echo("stale")


async def test_nogroup_after_the_stream_is_lost_recreates_the_group_and_logs_it(
    make_transport: Any, namespace: str, raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    got = trio.Event()
    caplog.set_level(logging.ERROR, logger="actors.redis")
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport, read_block=0.2, socket_timeout=5.0)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Collector, seen, got, 2, name="inbox", public=True)
        assert await b.remote("inbox").ask(Echo("before"), timeout=10) is None
        # What a Redis restart without persistence does: the stream, its group and the epoch key go.
        raw.delete(inbox_key(namespace, "inbox"), f"actors:{{{namespace}/inbox}}:epoch")
        await wait_for(lambda: "had no consumer group" in caplog.text, "the NOGROUP log line")
        assert await b.remote("inbox").ask(Echo("after"), timeout=10) is None
    assert seen == [Echo("before"), Echo("after")]
    assert "Redis lost its data (a restart without persistence?)" in caplog.text
    assert "were lost" in caplog.text


async def test_a_consumer_reads_its_own_pending_entries_before_new_ones(
    make_transport: Any, namespace: str, raw: Any
) -> None:
    """Entries delivered to node 'a' but never handled (a read cut short, a crash)
    are handled first when 'a' serves the name again."""
    key = inbox_key(namespace, "inbox")
    raw.xgroup_create(key, "inbox", id="0", mkstream=True)
    for i in range(3):
        raw.xadd(key, {b"m": frame(Kind.TELL, "Item", {"sender": "x", "seq": i})})
    raw.xreadgroup("inbox", "a", {key: ">"}, count=2)  # delivered to 'a', never acknowledged
    raw.xadd(key, {b"m": frame(Kind.TELL, "Item", {"sender": "x", "seq": 3})})
    seen: list[Any] = []
    got = trio.Event()
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        await a.spawn(Collector, seen, got, 4, name="inbox", public=True)
        with trio.fail_after(10):
            await got.wait()
    assert [m.seq for m in seen] == [0, 1, 2, 3]
    assert raw.xpending(key, "inbox")["pending"] == 0


async def test_messages_pending_for_a_node_that_no_longer_serves_the_name_are_taken_over(
    make_transport: Any, namespace: str, raw: Any
) -> None:
    key = inbox_key(namespace, "inbox")
    raw.xgroup_create(key, "inbox", id="0", mkstream=True)
    for i in range(5):
        raw.xadd(key, {b"m": frame(Kind.TELL, "Item", {"sender": "x", "seq": i})})
    raw.xreadgroup("inbox", "dead-node", {key: ">"}, count=5)  # a node that died holding them
    seen: list[Any] = []
    got = trio.Event()
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        await a.spawn(Collector, seen, got, 5, name="inbox", public=True)
        with trio.fail_after(10):  # within a heartbeat or two (lease=1 s)
            await got.wait()
    assert sorted(m.seq for m in seen) == [0, 1, 2, 3, 4]
    consumers = {c["name"].decode() for c in raw.xinfo_consumers(key, "inbox")}
    assert "dead-node" not in consumers or raw.xpending(key, "inbox")["pending"] == 0


async def test_a_node_whose_connections_are_killed_reconnects_and_keeps_serving(
    make_transport: Any, namespace: str, raw: Any
) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)
        worker = b.remote("worker")
        assert await worker.ask(Echo("before"), timeout=10) == "a:BEFORE"
        mine = [c for c in raw.client_list() if c.get("name", "").startswith(f"actors:{namespace}@")]
        assert {c["name"] for c in mine} == {f"actors:{namespace}@a", f"actors:{namespace}@b"}
        for client in mine:  # a network blip: every connection of both nodes drops
            raw.client_kill_filter(_id=client["id"])
        with trio.fail_after(20):
            assert await worker.ask(Echo("after"), timeout=15) == "a:AFTER"


async def test_a_heartbeat_due_while_the_node_leaves_does_not_bring_it_back(
    make_transport: Any, namespace: str, raw: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from actors.redis._liveness import Liveness

    beats_while_leaving: list[int] = []
    beat, leave = Liveness.beat, Liveness.leave
    beaten = trio.Event()

    async def counted_beat(self: Liveness, names: Any) -> bool:
        beaten.set()
        return await beat(self, names)

    async def slow_leave(self: Liveness, names: Any) -> None:
        nonlocal beaten
        beaten = trio.Event()
        with trio.move_on_after(0.5):  # ten heartbeat periods: one would come if it still ran
            await beaten.wait()
        beats_while_leaving.append(int(beaten.is_set()))
        await leave(self, names)

    monkeypatch.setattr(Liveness, "beat", counted_beat)
    monkeypatch.setattr(Liveness, "leave", slow_leave)
    async with open_actor_system(node="a", transport=transport_for(make_transport, lease=0.15)) as a:
        await a.spawn(Worker, "a", name="worker", public=True)
        with trio.fail_after(10):
            await beaten.wait()  # the heartbeat runs
    assert beats_while_leaving == [0]
    assert "reply stream" not in caplog.text
    assert list(raw.scan_iter(match=f"actors:{{{namespace}@a}}*")) == []  # no lease, no reply stream
    assert raw.smembers(f"actors:{{{namespace}/worker}}:nodes") == set()
