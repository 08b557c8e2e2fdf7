"""Per sender-receiver FIFO over the wire, for a single consumer: a hypothesis property.

Several sender tasks on node 'b' interleave tells, sends and asks to one public
actor on node 'a'; whatever the interleaving, the receiver handles each
sender's messages in the order that sender sent them, none lost, none twice.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.lowlevel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nodekit import ERRORS, MESSAGES, Collector, Item

from actors import open_actor_system

step = st.tuples(st.integers(0, 2), st.sampled_from(["tell", "send", "ask", "ask_nowait", "yield"]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(step, min_size=1, max_size=40))
async def test_each_senders_messages_arrive_in_the_order_sent(
    make_transport: Any, schedule: list[tuple[int, str]]
) -> None:
    seen: list[Any] = []
    got = trio.Event()
    expected = {sender: [] for sender in range(3)}  # type: dict[int, list[int]]
    plans: dict[int, list[str]] = {sender: [] for sender in range(3)}
    for sender, kind in schedule:
        plans[sender].append(kind)
        if kind != "yield":
            expected[sender].append(len(expected[sender]))
    total = sum(map(len, expected.values()))
    options = {"messages": MESSAGES, "errors": ERRORS}
    async with (
        open_actor_system(node="a", transport=make_transport(**options)) as a,
        open_actor_system(node="b", transport=make_transport(**options)) as b,
    ):
        name = f"fifo-{id(schedule)}"
        await a.spawn(Collector, seen, got, max(total, 1), name=name, public=True)
        target = b.remote(name)

        async def sender(index: int) -> None:
            seq = 0
            for kind in plans[index]:
                if kind == "yield":
                    await trio.lowlevel.checkpoint()
                    continue
                item = Item(str(index), seq)
                seq += 1
                if kind == "tell":
                    target.tell(item)
                elif kind == "send":
                    await target.send(item)
                elif kind == "ask":
                    await target.ask(item, timeout=10)
                else:
                    target.ask_nowait(item, timeout=10)

        async with trio.open_nursery() as nursery:
            for index in range(3):
                nursery.start_soon(sender, index)
        if total:
            with trio.fail_after(20):
                await got.wait()
    got_by_sender = {index: [m.seq for m in seen if m.sender == str(index)] for index in range(3)}
    assert got_by_sender == expected, f"schedule {schedule}: handled {got_by_sender}"
