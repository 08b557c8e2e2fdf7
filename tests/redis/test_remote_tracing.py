"""Trace ids cross the wire: one conversation keeps its trace id over several nodes, and
each node's tracer records its part of it under that id."""

from __future__ import annotations

from typing import Any

import trio
from nodekit import ERRORS, MESSAGES, Echo

from actors import Actor, open_actor_system


def transport_for(make_transport: Any, **options: Any) -> Any:
    return make_transport(messages=MESSAGES, errors=ERRORS, **options)


class Leaf(Actor):
    async def receive(self, message: Any) -> Any:
        return [message.text, self.envelope.trace_id, self.sender.name if self.sender else None]


class Relay(Actor):
    async def receive(self, message: Any) -> Any:
        return [self.envelope.trace_id, *await self.system.remote("leaf").ask(message, timeout=10)]


class Starter(Actor):
    async def receive(self, message: Any) -> Any:
        return [self.envelope.trace_id, *await self.system.remote("relay").ask(message, timeout=10)]


async def test_a_conversation_over_three_nodes_keeps_one_trace_id_in_every_nodes_trace(
    make_transport: Any,
) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport), trace=True) as a,
        open_actor_system(node="b", transport=transport_for(make_transport), trace=True) as b,
        open_actor_system(node="c", transport=transport_for(make_transport), trace=True) as c,
    ):
        await c.spawn(Leaf, name="leaf", public=True)
        await a.spawn(Relay, name="relay", public=True)
        starter = await b.spawn(Starter, name="starter", public=True)
        with trio.fail_after(20):
            at_starter, at_relay, text, at_leaf, leaf_sender = await starter.ask(Echo("hi"), timeout=15)
    assert text == "hi" and leaf_sender == "relay"  # (the relay is public: its ref crossed)
    assert at_starter == at_relay == at_leaf  # b -> a -> c: one trace id
    for system, path in ((b, "/starter"), (a, "/relay"), (c, "/leaf")):
        assert system.tracer is not None
        events = system.tracer.conversation(at_starter)
        assert {"send", "receive", "reply"} <= {e.kind for e in events if e.actor == path}, (path, events)
