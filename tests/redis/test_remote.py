"""tell, send, ask, ask_nowait and errors between two nodes, through a real Redis.

Both nodes run in this process (two actor systems, two transports): the wire,
the streams and the consumer groups are the real thing; the two-process tests
are in test_processes.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
from nodekit import ERRORS, MESSAGES, Collector, Echo, Fail, Greeting, Hello, Item, Overdrawn, Slow, Worker

from actors import (
    ActorStopped,
    AskTimeout,
    MailboxFull,
    RemoteError,
    UnhandledMessage,
    gather,
    open_actor_system,
)
from actors.redis import RedisTransport, TransportError


def transport_for(make_transport: Any, **options: Any) -> RedisTransport:
    return make_transport(messages=MESSAGES, errors=ERRORS, **options)  # type: ignore[no-any-return]


async def test_ask_tell_send_and_ask_nowait_reach_a_public_actor_on_another_node(make_transport: Any) -> None:
    seen: list[Any] = []
    got = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Worker, "a", seen, got, 5, name="worker", public=True)
        worker = b.remote("worker")
        assert await worker.ask(Echo("hi"), timeout=10) == "a:HI"
        assert await worker.ask({"k": [1, 2.5, None, True, b"x"]}, timeout=10) == [
            "plain",
            {"k": [1, 2.5, None, True, b"x"]},
        ]
        reply = worker.ask_nowait(Echo("later"), timeout=10)
        assert await reply == "a:LATER" and reply.done()
        worker.tell(Item("b", 1))
        await worker.send(Item("b", 2))
        with trio.fail_after(10):
            await got.wait()
        assert seen[-2:] == [Item("b", 1), Item("b", 2)]
        assert await a.serving("worker") == ["a"]
        assert worker is b.remote("worker") and worker.name == "worker" and worker.is_alive


async def test_gather_over_remote_asks_keeps_argument_order(make_transport: Any) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)
        worker = b.remote("worker")
        results = await gather(*(worker.ask(Echo(str(i)), timeout=10) for i in range(20)), timeout=10)
        assert results == [f"a:{i}" for i in range(20)]


async def test_a_listed_error_arrives_as_itself_and_an_unlisted_one_as_remote_error(make_transport: Any) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        from supervision import ChildSpec, OneForOne, Supervisor

        await a.spawn_tree(
            Supervisor(
                name="sup",
                strategy=OneForOne(max_restarts=10, within=60),
                children=[ChildSpec(Worker, "a", name="worker")],
            )
        )
        await a._remote.publish(a.lookup("worker")._cell)  # a supervised child made public
        worker = b.remote("worker")
        with pytest.raises(Overdrawn, match=r"^balance is 0$"):
            await worker.ask(Fail("listed"), timeout=10)
        with pytest.raises(RemoteError, match=r"^KeyError: 'missing'$") as info:
            await worker.ask(Fail("unlisted"), timeout=10)
        assert info.value.type_name == "KeyError" and info.value.text == "'missing'"
        with pytest.raises(UnhandledMessage, match="does not handle Fail"):
            await worker.ask(Fail("other"), timeout=10)
        assert await worker.ask(Echo("still here"), timeout=10) == "a:STILL HERE"


async def test_an_ask_to_a_stopped_public_actor_fails_with_actor_stopped(make_transport: Any) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        ref = await a.spawn(Worker, "a", name="worker", public=True)
        worker = b.remote("worker")
        assert await worker.ask(Echo("x"), timeout=10) == "a:X"
        with pytest.raises(RemoteError, match="KeyError"):
            await worker.ask(Fail("unlisted"), timeout=10)  # a top-level actor that fails stops
        assert not ref.is_alive
        with pytest.raises((ActorStopped, AskTimeout)):
            await worker.ask(Echo("y"), timeout=2)


async def test_an_ask_nobody_serves_times_out_and_the_message_waits_in_the_inbox(make_transport: Any) -> None:
    seen: list[Any] = []
    got = trio.Event()
    async with open_actor_system(node="b", transport=transport_for(make_transport)) as b:
        with pytest.raises(AskTimeout, match="did not answer Echo within 0.2 s"):
            await b.remote("late").ask(Echo("anyone?"), timeout=0.2)
        for i in range(3):
            b.remote("late").tell(Item("b", i))
        await b.remote("late").send(Item("b", 3))  # Redis holds all four now
    # Nobody served 'late' while they were sent: a node that comes later gets them.
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        await a.spawn(Collector, seen, got, 4, name="late", public=True)
        with trio.fail_after(10):
            await got.wait()
    assert seen == [Item("b", 0), Item("b", 1), Item("b", 2), Item("b", 3)]  # the expired ask was dropped


async def test_a_public_sender_can_be_answered_and_refs_cross_as_remote_refs(make_transport: Any) -> None:
    seen: list[Any] = []
    got = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)
        inbox = await b.spawn(Collector, seen, got, 1, name="inbox", public=True)
        assert await b.remote("worker").ask(Hello(inbox, "b"), timeout=10) == "sent"
        with trio.fail_after(10):
            await got.wait()
        assert seen == [Greeting("hello b from a")]
        # the greeting came from a's worker, which is public: its sender is a remote ref
        collector = b.lookup("inbox")
        assert collector is inbox


async def test_a_ref_of_an_actor_that_is_not_public_cannot_cross(make_transport: Any) -> None:
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        private = await a.spawn(Collector, [], name="private")
        with pytest.raises(TypeError, match=r"actor 'private' cannot cross the wire: it is not public"):
            a.remote("anyone").tell(Hello(private, "x"))


async def test_bad_input_raises_at_once_on_the_sender(make_transport: Any) -> None:
    class Unlisted:
        pass

    async with open_actor_system(node="a", transport=transport_for(make_transport, max_message_bytes=1000)) as a:
        ref = a.remote("worker")
        with pytest.raises(TypeError, match=r"^Unlisted is not a message type of this transport; list it in"):
            ref.tell(Unlisted())
        with pytest.raises(ValueError, match=r"^Echo is \d+ bytes on the wire, more than max_message_bytes=1000"):
            ref.tell(Echo("x" * 2000))
        with pytest.raises(TypeError, match="cannot cross the wire"):
            ref.ask_nowait([object()])
        with pytest.raises(ValueError, match="without '{', '}' or '/'"):
            a.remote("a{b}").tell(Echo("x"))


async def test_the_system_api_without_a_transport_says_what_to_do() -> None:
    async with open_actor_system() as system:
        with pytest.raises(TypeError, match=r"^remote\(\) needs a transport: open the system with"):
            system.remote("x")
        with pytest.raises(TypeError, match=r"^spawn\(\.\.\., public=True\) needs a transport"):
            await system.spawn(Worker, public=True)
    with pytest.raises(TypeError, match="takes node= and transport= together"):
        open_actor_system(node="a")


async def test_a_remote_ref_refuses_local_only_operations_clearly(make_transport: Any) -> None:
    async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
        with pytest.raises(TypeError, match="names a remote actor"):
            await a.stop(a.remote("x"))


async def test_an_unreachable_redis_is_one_clear_error_out_of_the_block(make_transport: Any) -> None:
    from conftest import free_port

    transport = transport_for(make_transport, url=f"redis://127.0.0.1:{free_port()}", socket_timeout=2.0)
    with pytest.raises(TransportError, match=r"^cannot reach Redis at redis://127.0.0.1:\d+ .*is it running"):
        async with open_actor_system(node="a", transport=transport):
            pass


async def test_a_transport_belongs_to_one_system(make_transport: Any) -> None:
    transport = transport_for(make_transport)
    async with open_actor_system(node="a", transport=transport):
        with pytest.raises(RuntimeError, match="already belongs to an actor system"):
            open_actor_system(node="b", transport=transport)


async def test_two_hundred_ask_timeouts_leave_no_slot_and_no_stuck_connection(make_transport: Any) -> None:
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)
        worker = b.remote("worker")
        nobody = b.remote("nobody")
        outcomes = await gather(
            *(nobody.ask(Echo(str(i)), timeout=0.05) for i in range(200)), return_exceptions=True, timeout=30
        )
        assert all(isinstance(o, AskTimeout) for o in outcomes)
        # and 200 cancelled asks (the asker's scope, not a timeout)
        for i in range(200):
            with trio.move_on_after(0.001):
                await worker.ask(Slow(0.001), timeout=math.inf)
        transport = b._remote.transport
        assert len(transport._replies) == 0  # every slot forgotten
        with trio.fail_after(10):  # the client is still fine
            assert await worker.ask(Echo("after"), timeout=10) == "a:AFTER"
            assert await b.serving("worker") == ["a"]


async def test_a_full_inbox_refuses_tells_as_dead_letters_and_send_waits(make_transport: Any) -> None:
    async with open_actor_system(node="b", transport=transport_for(make_transport, inbox_size=3)) as b:
        ref = b.remote("busy")
        for i in range(3):
            await ref.send(Item("b", i))
        ref.tell(Item("b", 3))
        with pytest.raises(MailboxFull, match=r"inbox of 'busy' holds 3 unacknowledged messages"):
            await ref.ask(Echo("x"), timeout=5)
        with trio.fail_after(10):
            while not b.dead_letters:
                await trio.sleep(0.01)
        letter = b.dead_letters[0]
        assert letter.message == Item("b", 3) and "inbox_size" in letter.reason
        with trio.move_on_after(0.3) as scope:
            await ref.send(Item("b", 4))  # waits for room that never comes
        assert scope.cancelled_caught


async def test_namespaces_keep_applications_apart(make_transport: Any, namespace: str) -> None:
    seen_one: list[Any] = []
    seen_two: list[Any] = []
    got = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as one,
        open_actor_system(node="a", transport=transport_for(make_transport, namespace=namespace + "-2")) as two,
    ):
        await one.spawn(Collector, seen_one, got, 1, name="inbox", public=True)
        await two.spawn(Collector, seen_two, None, 1, name="inbox", public=True)
        one.remote("inbox").tell(Echo("for one"))
        with trio.fail_after(10):
            await got.wait()
        assert await two.remote("inbox").ask(Echo("for two"), timeout=10) is None
        assert seen_one == [Echo("for one")] and seen_two == [Echo("for two")]


async def test_worker_pool_spreads_tells_over_its_nodes(make_transport: Any) -> None:
    seen: dict[str, list[Any]] = {"a": [], "c": []}
    done = trio.Event()
    total = 60

    class Counting(Worker):
        async def receive(self, message: Any) -> Any:
            await trio.sleep(0.002)  # take a moment, so both consumers get work
            result = await super().receive(message)
            if sum(map(len, seen.values())) >= total:
                done.set()
            return result

    async with (
        open_actor_system(node="a", transport=transport_for(make_transport, prefetch=4)) as a,
        open_actor_system(node="c", transport=transport_for(make_transport, prefetch=4)) as c,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Counting, "a", seen["a"], name="pool", public=True)
        await c.spawn(Counting, "c", seen["c"], name="pool", public=True)
        assert await b.serving("pool") == ["a", "c"]
        for i in range(total):
            b.remote("pool").tell(Item("b", i))
        with trio.fail_after(20):
            await done.wait()
        assert seen["a"] and seen["c"], {k: len(v) for k, v in seen.items()}
        handled = sorted(m.seq for m in seen["a"] + seen["c"])
        assert handled == list(range(total))
        for node in seen.values():  # order per consumer
            seqs = [m.seq for m in node]
            assert seqs == sorted(seqs)


async def test_self_sender_of_a_remote_message_answers_a_public_sender_within_one_trace(make_transport: Any) -> None:
    from actors import Actor

    class Ponger(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Echo) and self.sender is not None:
                self.sender.tell(Greeting(f"pong to {self.sender.name}"))

    class Pinger(Actor):
        def __init__(self, seen: list[Any], got: trio.Event) -> None:
            self.seen, self.got = seen, got

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Echo):
                self.seen.append(("ping", self.envelope.trace_id))
                self.system.remote("ponger").tell(message)  # sent from a public actor
            else:
                self.seen.append((message, self.envelope.trace_id))
                self.got.set()

    seen: list[Any] = []
    got = trio.Event()
    async with (
        open_actor_system(node="a", transport=transport_for(make_transport)) as a,
        open_actor_system(node="b", transport=transport_for(make_transport)) as b,
    ):
        await a.spawn(Ponger, name="ponger", public=True)
        pinger = await b.spawn(Pinger, seen, got, name="pinger", public=True)
        pinger.tell(Echo("ping"))
        with trio.fail_after(10):
            await got.wait()
        assert seen[1][0] == Greeting("pong to pinger")
        assert seen[1][1] == seen[0][1]  # the trace id crossed the wire both ways


async def test_watching_a_remote_ref_delivers_terminated_when_its_node_is_gone(make_transport: Any) -> None:
    from actors import Actor, Terminated

    class Watcher(Actor):
        def __init__(self, seen: list[Any], got: trio.Event) -> None:
            self.seen, self.got = seen, got

        async def receive(self, message: Any) -> Any:
            if isinstance(message, str):
                self.watch(self.system.remote(message))
                return "watching"
            self.seen.append(message)
            self.got.set()

    seen: list[Any] = []
    got = trio.Event()
    async with open_actor_system(node="b", transport=transport_for(make_transport)) as b:
        watcher = await b.spawn(Watcher, seen, got)
        async with open_actor_system(node="a", transport=transport_for(make_transport)) as a:
            await a.spawn(Worker, "a", name="worker", public=True)
            assert await watcher.ask("worker", timeout=10) == "watching"
            with trio.move_on_after(1.0):  # a lease (1 s) goes by: still served, no Terminated
                await got.wait()
            assert seen == []
        with trio.fail_after(10):  # node 'a' has left
            await got.wait()
        assert len(seen) == 1 and isinstance(seen[0], Terminated) and seen[0].ref is b.remote("worker")
        assert isinstance(seen[0].reason, ActorStopped) and "no node serves 'worker' any more" in str(seen[0].reason)
        with pytest.raises(TypeError, match="stop and subscribe work only on actors of this node"):
            b.subscribe(b.remote("worker"), "topic")
