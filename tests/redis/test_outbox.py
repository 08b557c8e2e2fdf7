"""The outbox's writes: bounded posts (one script call per run of posts to one inbox) and
acknowledgements that remove what they acknowledge, run against a real Redis."""

from __future__ import annotations

from typing import Any

from actors.redis._outbox import _ACK, _POST, Ack, Post, Reply, pipeline
from actors.redis._resp import expand


def ignore(accepted: bool, error: BaseException | None) -> None:
    pass


def post(key: str, data: bytes, limit: int = 10) -> Post:
    return Post(key, limit, data, ignore)


def test_a_run_of_posts_to_one_inbox_is_one_call_and_the_order_of_writes_is_kept() -> None:
    batch = [
        post("a", b"1"),
        post("a", b"2"),
        Reply("r", 5, b"answer"),
        post("a", b"3"),
        post("b", b"4"),
        Ack("a", "g", b"1-0"),
        post("b", b"5"),
        post("b", b"6", limit=99),
        Ack("a", "g", b"2-0"),
    ]
    heads: dict[Any, Any] = {}
    encoded, carried = pipeline(batch, heads)
    commands = [expand(command) for command in encoded]
    assert [(c[0], c[3], c[5:]) if c[0] == "EVAL" else (c[0], c[1]) for c in commands] == [
        ("EVAL", "a", (b"1", b"2")),
        ("XADD", "r"),
        ("EVAL", "a", (b"3",)),
        ("EVAL", "b", (b"4", b"5")),
        ("EVAL", "b", (b"6",)),  # another bound: another call
        ("EVAL", "a", (b"1-0", b"2-0")),  # the acknowledgements, last, one call per inbox
    ]
    assert [c[1] == _POST for c in commands] == [True, False, True, True, True, False]
    assert commands[-1][1] == _ACK and commands[-1][4] == "g"
    assert [len(c) if isinstance(c, list) else c for c in carried] == [2, batch[2], 1, 2, 1, None]
    again, _ = pipeline(batch, heads)
    assert all(a[0] is b[0] for a, b in zip(again, encoded, strict=True))  # each command's fixed words, encoded once


def test_posts_past_the_bound_are_refused_from_the_first_that_does_not_fit(raw: Any, namespace: str) -> None:
    key = f"actors:{{{namespace}/x}}:inbox"
    raw.xadd(key, {b"m": b"0"})
    assert raw.eval(_POST, 1, key, 3, b"1", b"2", b"3", b"4") == 2
    assert [fields[b"m"] for _, fields in raw.xrange(key)] == [b"0", b"1", b"2"]
    assert raw.eval(_POST, 1, key, 3, b"5") == 0


def test_acknowledged_entries_leave_the_stream_in_or_out_of_order(raw: Any, namespace: str) -> None:
    key = f"actors:{{{namespace}/x}}:inbox"
    ids = [raw.xadd(key, {b"m": b"%d" % i}) for i in range(6)]
    raw.xgroup_create(key, "g", id="0")
    raw.xreadgroup("g", "c", {key: ">"})  # all six pending
    late = [raw.xadd(key, {b"m": b"late"}) for _ in range(2)]  # not yet delivered

    def left() -> list[bytes]:
        return [entry_id for entry_id, _ in raw.xrange(key)]

    assert raw.eval(_ACK, 1, key, "g", ids[2], ids[4]) == 2  # out of order: deleted one by one
    assert left() == [ids[0], ids[1], ids[3], ids[5], *late]
    assert raw.eval(_ACK, 1, key, "g", ids[0]) == 1  # the oldest: trimmed
    assert left() == [ids[1], ids[3], ids[5], *late]
    assert raw.eval(_ACK, 1, key, "g", ids[5], ids[1], ids[3]) == 3  # nothing pending now
    assert left() == late  # undelivered entries stay: the length is the backlog
    assert raw.xlen(key) == 2
    assert raw.eval(_ACK, 1, key, "g", ids[1]) == 0  # acknowledged twice: nothing more goes
    assert left() == late
