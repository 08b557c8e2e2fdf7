"""assert_per_sender_order: checking the order of what the user's own actor did."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, open_actor_system
from actors.testing import assert_per_sender_order


def test_interleaved_senders_each_in_order_pass() -> None:
    assert_per_sender_order([("a", 1), ("b", "x"), ("a", 2), ("b", "y")], {"a": [1, 2], "b": ["x", "y"]})


def test_a_sender_that_sent_nothing_may_be_listed_with_no_messages() -> None:
    assert_per_sender_order([("a", 1)], {"a": [1], "b": []})


def test_a_reordered_pair_is_reported_with_its_position() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_per_sender_order([("a", 1), ("b", 0), ("a", 3), ("a", 2)], {"a": [1, 2, 3], "b": [0]})
    assert str(caught.value) == (
        "each sender's messages should be recorded in the order sent, but:\n"
        "  sender 'a': at position 1, expected 2 but recorded 3 (the same messages, reordered); "
        "sent [1, 2, 3], recorded [1, 3, 2]"
    )


def test_lost_and_duplicated_messages_are_named() -> None:
    with pytest.raises(
        AssertionError,
        match=r"sender 'a': recorded only 1 of its 2 messages; the next, 2, "
        r"is missing",
    ):
        assert_per_sender_order([("a", 1)], {"a": [1, 2]})
    with pytest.raises(
        AssertionError,
        match=r"after its 2 messages, 2 was recorded as well \(extra or "
        r"duplicated \[2\]\)",
    ):
        assert_per_sender_order([("a", 1), ("a", 2), ("a", 2)], {"a": [1, 2]})
    with pytest.raises(AssertionError, match=r"missing \[\{'n': 2\}\]; extra or duplicated \[\{'n': 9\}\]"):
        assert_per_sender_order([("a", {"n": 1}), ("a", {"n": 9})], {"a": [{"n": 1}, {"n": 2}]})  # unhashable


def test_every_broken_sender_is_reported_and_an_unknown_one_too() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_per_sender_order([("a", 2), ("a", 1), ("b", 2), ("c", 0)], {"a": [1, 2], "b": [1, 2]})
    lines = str(caught.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "sender 'c' is not in sent, but [0] was recorded from it",
        "sender 'a'",
        "sender 'b'",
    ]


def test_incomplete_allows_left_out_messages_but_not_reordering_or_additions() -> None:
    assert_per_sender_order([("a", 1), ("a", 3)], {"a": [1, 2, 3]}, complete=False)
    with pytest.raises(AssertionError, match=r"recorded 1 at its position 1 again or out of order"):
        assert_per_sender_order([("a", 3), ("a", 1)], {"a": [1, 2, 3]}, complete=False)
    with pytest.raises(AssertionError, match=r"recorded 3 at its position 2 again or out of order"):
        assert_per_sender_order([("a", 1), ("a", 3), ("a", 3)], {"a": [1, 2, 3]}, complete=False)
    with pytest.raises(AssertionError, match=r"recorded 9 at its position 1 though it never sent it"):
        assert_per_sender_order([("a", 1), ("a", 9)], {"a": [1, 2, 3]}, complete=False)


def test_recorded_items_must_be_pairs() -> None:
    with pytest.raises(TypeError, match=r"^recorded must hold \(sender, message\) pairs; item 1 is 'oops'$"):
        assert_per_sender_order([("a", 1), "oops"], {"a": [1]})


# -- the documented example (.handoff/wt-cuts.md): a property of the user's own actor ---


class Batcher(Actor):
    """The actor under test: forwards what it is told to a sink, three at a time."""

    def __init__(self, sink: Any) -> None:
        self.sink, self.batch = sink, []

    async def receive(self, message: Any) -> None:
        if message != "flush":
            self.batch.append(message)
        if len(self.batch) == 3 or (message == "flush" and self.batch):
            self.sink.tell(self.batch)
            self.batch = []


class Sink(Actor):
    """Records every item of every batch it gets, in order."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "seen":
            return self.seen
        self.seen.extend(message)


@settings(max_examples=25, deadline=None)
@given(order=st.lists(st.sampled_from(["alice", "bob"]), max_size=20))
async def test_the_batcher_keeps_each_senders_order(order: list[str]) -> None:
    sent: dict[str, list[Any]] = {"alice": [], "bob": []}
    async with open_actor_system() as system:  # a fresh system per example
        sink = await system.spawn(Sink)
        batcher = await system.spawn(Batcher, sink)
        for sender in order:
            item = (sender, len(sent[sender]))
            sent[sender].append(item)
            batcher.tell(item)
        await batcher.ask("flush")  # its last batch is in the sink's mailbox before this answer
        seen = await sink.ask("seen")
    assert_per_sender_order([(item[0], item) for item in seen], sent)


class LifoBatcher(Batcher):
    """A bug: flushes each batch newest first."""

    async def receive(self, message: Any) -> None:
        if message != "flush":
            self.batch.insert(0, message)
        if len(self.batch) == 3 or (message == "flush" and self.batch):
            self.sink.tell(self.batch)
            self.batch = []


async def test_the_example_property_catches_a_batcher_that_reorders() -> None:
    async with open_actor_system() as system:
        sink = await system.spawn(Sink)
        batcher = await system.spawn(LifoBatcher, sink)
        for item in [("alice", 0), ("bob", 0), ("alice", 1)]:
            batcher.tell(item)
        await batcher.ask("flush")
        seen = await sink.ask("seen")
    with pytest.raises(
        AssertionError,
        match=r"sender 'alice': at position 0, expected \('alice', 0\) but "
        r"recorded \('alice', 1\)",
    ):
        assert_per_sender_order(
            [(item[0], item) for item in seen], {"alice": [("alice", 0), ("alice", 1)], "bob": [("bob", 0)]}
        )
