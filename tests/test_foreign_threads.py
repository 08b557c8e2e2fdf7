"""Sync calls from threads that are not trio's: tell, publish and deferred replies hand over;
every other sync call refuses at once, naming the thread-safe way.

Every test uses real threads (a tool in ``run_in_thread``, or a plain `threading.Thread`) and
waits on events, never on sleeps. Each runs under `bounded`, so that a regression fails instead
of hanging: a `trio.fail_after`, and, since a system's shutdown is shielded from cancellation
(a lost wake-up used to hang it for good), a bound on the thread that runs trio.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from actors import Actor, ActorStopped, ActorSystem, DeadLetter, open_actor_system
from actors.testing import TestProbe

BOUND = 10  # seconds: far above what any of these needs, so only a hang reaches it


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test in a trio run of its own thread, under ``trio.fail_after(BOUND)``.

    A test with a ``system`` parameter gets a fresh ``open_actor_system(shutdown_timeout=1)``.
    If the run has not ended 2 x BOUND seconds later (stuck where no cancel reaches), the test
    fails and the thread, a daemon, is left behind.
    """
    wants_system = "system" in inspect.signature(test).parameters

    async def body(*args: Any, **kwargs: Any) -> None:
        with trio.fail_after(BOUND):
            if not wants_system:
                await test(*args, **kwargs)
                return
            async with open_actor_system(shutdown_timeout=1) as system:
                await test(*args, system=system, **kwargs)

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        outcome: list[BaseException | None] = []

        def in_thread() -> None:
            try:
                trio.run(functools.partial(body, *args, **kwargs))
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        runner = threading.Thread(target=in_thread, name=f"trio for {test.__name__}", daemon=True)
        runner.start()
        runner.join(2 * BOUND)
        if not outcome:
            pytest.fail(f"{test.__name__} hung for {2 * BOUND} s (past its trio.fail_after)")
        if outcome[0] is not None:
            raise outcome[0]

    signature = inspect.signature(test)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "system"]
    )
    del run.__wrapped__  # (pytest would read the wrapped test's signature and ask for a fixture)
    return run


class Collector(Actor):
    """Keeps what it is told; an ask for None returns the list so far."""

    def __init__(self) -> None:
        self.got: list[Any] = []
        self.senders: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message is None:
            return list(self.got)
        if message == "senders":
            return list(self.senders)
        self.got.append(message)
        self.senders.append(self.sender)
        return None


class Streamer(Actor):
    """Runs a blocking "SDK" whose callback tells each chunk to a target, as agents do."""

    async def receive(self, message: Any) -> Any:
        target, chunks = message

        def sdk_stream() -> str:
            for chunk in chunks:
                target.tell(chunk)  # the streaming SDK's on_chunk callback
            return "streamed"

        return await self.run_in_thread(sdk_stream)


def start_thread(fn: Callable[[], object]) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    """Run ``fn`` in a plain thread; the event is set when it has returned (or raised)."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, name="sdk-callback")
    thread.start()
    return thread, done, errors


async def wait_for(done: threading.Event) -> None:
    """Wait (without blocking trio) until a thread sets ``done``."""
    await trio.to_thread.run_sync(done.wait)


# ---------------------------------------------------------------------------------------------
# tell, publish and DeferredReply.reply/fail work from any thread


@bounded
async def test_a_tool_in_run_in_thread_tells_chunks_in_order_with_the_actor_as_sender() -> None:
    async with open_actor_system(shutdown_timeout=1) as system:
        collector = await system.spawn(Collector, name="collector")
        streamer = await system.spawn(Streamer, name="streamer")
        chunks = [f"chunk {n}" for n in range(200)]
        assert await streamer.ask((collector, chunks), timeout=5) == "streamed"
        # The tells were handed over before the tool's result: the ask below comes after them.
        assert await collector.ask(None, timeout=5) == chunks
        assert await collector.ask("probe", timeout=5) is None
        assert await streamer.ask((collector, []), timeout=5) == "streamed"  # still serving
    assert not collector.is_alive and not streamer.is_alive


@bounded
async def test_a_tell_from_a_tool_carries_the_handlers_sender_and_trace() -> None:
    async with open_actor_system() as system:
        probe = await TestProbe.spawn(system)
        streamer = await system.spawn(Streamer, name="streamer")
        reply = streamer.ask_nowait((probe.ref, ["hello"]), timeout=5)
        assert await probe.expect("hello", timeout=5) == "hello"
        assert await reply == "streamed"
        got = probe.received[-1]
        assert got.sender is streamer
        assert reply.envelope is not None and got.envelope.trace_id == reply.envelope.trace_id


@bounded
async def test_plain_threads_tell_without_blocking_and_each_keeps_its_order() -> None:
    async with open_actor_system(shutdown_timeout=1) as system:
        collector = await system.spawn(Collector)
        threads = [
            start_thread(lambda name=name: [collector.tell((name, n)) for n in range(500)]) for name in ("a", "b", "c")
        ]
        for _, done, errors in threads:
            await wait_for(done)
            assert errors == []
        got = await collector.ask(None, timeout=5)
        assert len(got) == 1500
        for name in ("a", "b", "c"):
            assert [n for who, n in got if who == name] == list(range(500))
        assert await collector.ask("senders", timeout=5) == [None] * 1500  # not from an actor
    for thread, _, _ in threads:
        thread.join()


@bounded
async def test_a_full_mailbox_seen_from_a_thread_is_a_dead_letter_not_an_error() -> None:
    gate = trio.Event()

    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            await gate.wait()

    async with open_actor_system() as system:
        slow = await system.spawn(Slow, name="slow", mailbox_size=1)
        slow.tell("first")  # taken by the handler, which waits on the gate
        await trio.testing.wait_all_tasks_blocked()
        slow.tell("second")  # fills the mailbox
        _, done, errors = start_thread(lambda: slow.tell("third"))
        await wait_for(done)
        assert errors == []
        await trio.testing.wait_all_tasks_blocked()  # the hand-over has run
        [letter] = [d for d in system.dead_letters if d.message == "third"]
        assert "mailbox of actor 'slow' is full" in letter.reason
        gate.set()


@bounded
async def test_publish_from_a_plain_thread_reaches_every_subscriber() -> None:
    async with open_actor_system() as system:
        probes = [await TestProbe.spawn(system) for _ in range(3)]
        for probe in probes:
            system.subscribe(probe.ref, "news")
        counts: list[int] = []
        _, done, errors = start_thread(lambda: counts.extend(system.publish("news", n) for n in range(3)))
        await wait_for(done)
        assert errors == [] and counts == [3, 3, 3]
        for probe in probes:
            assert [(await probe.expect(int, timeout=5)) for _ in range(3)] == [0, 1, 2]


class Deferring(Actor):
    """Answers each ask later, from a plain thread, with the thread's result or error."""

    async def receive(self, message: Any) -> Any:
        handle = self.defer_reply()
        kind, value = message

        def answer() -> None:
            if kind == "reply":
                handle.reply(value)
            else:
                handle.fail(value)

        threading.Thread(target=answer, name="answerer").start()


@bounded
async def test_a_deferred_reply_answered_from_a_plain_thread_reaches_the_asker() -> None:
    async with open_actor_system(shutdown_timeout=1) as system:
        deferring = await system.spawn(Deferring)
        assert await deferring.ask(("reply", 42), timeout=1) == 42
        with pytest.raises(KeyError, match="from a thread"):
            await deferring.ask(("fail", KeyError("from a thread")), timeout=1)
        assert await deferring.ask(("reply", "again"), timeout=1) == "again"
    assert list(system.dead_letters) == []


@bounded
async def test_a_deferred_reply_from_a_tool_reports_whether_the_ask_still_waited() -> None:
    results: list[bool] = []

    class Answering(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "sync":
                return "synced"
            handle = self.defer_reply()
            results.append(await self.run_in_thread(handle.reply, "done"))

    async with open_actor_system() as system:
        answering = await system.spawn(Answering)
        assert await answering.ask("go", timeout=5) == "done"
        # One message at a time: this answer comes once the first handler has ended (the
        # asker may get "done" before the thread's own result is back in the handler).
        assert await answering.ask("sync", timeout=5) == "synced"
    assert results == [True]


# ---------------------------------------------------------------------------------------------
# After the system closed, a call from a thread raises ActorStopped


@pytest.mark.parametrize("call", ["tell", "tell_from_thread", "publish", "reply", "ask_from_thread"])
@bounded
async def test_after_the_system_closed_a_call_from_a_thread_raises_actor_stopped(call: str) -> None:
    handles: list[Any] = []

    class Keeper(Actor):
        async def receive(self, message: Any) -> Any:
            handles.append(self.defer_reply())

    async with open_actor_system() as system:
        keeper = await system.spawn(Keeper)
        pending = keeper.ask_nowait("keep", timeout=5)
        await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(ActorStopped):
        await pending
    calls: dict[str, Callable[[], object]] = {
        "tell": lambda: keeper.tell("late"),
        "tell_from_thread": lambda: keeper.tell_from_thread("late"),
        "publish": lambda: system.publish("news", "late"),
        "reply": lambda: handles[0].reply("late"),
        "ask_from_thread": lambda: keeper.ask_from_thread("late", timeout=1),
    }
    _, done, errors = start_thread(calls[call])
    await wait_for(done)
    assert len(errors) == 1 and isinstance(errors[0], ActorStopped), errors
    assert "has finished" in str(errors[0])


# ---------------------------------------------------------------------------------------------
# Every other sync call that needs trio's thread refuses at once, naming the alternative


class CallsFromItsTool(Actor):
    """Makes one of its own sync calls from inside run_in_thread and returns what it raised."""

    async def receive(self, message: Any) -> Any:
        call = message
        other = self.system.lookup("other")
        timer = self.schedule_once(60, "tick")

        def in_thread() -> BaseException | None:
            try:
                {
                    "self.stop()": lambda: self.stop(),
                    "self.watch()": lambda: self.watch(other),
                    "self.unwatch()": lambda: self.unwatch(other),
                    "self.schedule_once()/schedule_every()": lambda: self.schedule_once(1, "tick"),
                    "self.defer_reply()": lambda: self.defer_reply(),
                    "timer.cancel()": timer.cancel,
                }[call]()
            except BaseException as exc:
                return exc
            return None

        return await self.run_in_thread(in_thread)


@pytest.mark.parametrize(
    ("call", "instead"),
    [
        ("self.stop()", "handler calls self.stop()"),
        ("self.watch()", "call it in receive() or on_start()"),
        ("self.unwatch()", "call it in receive() or on_start()"),
        ("self.schedule_once()/schedule_every()", "call it in receive() or on_start()"),
        ("self.defer_reply()", "handle.reply(value), which is thread-safe"),
        ("timer.cancel()", "handler cancels it"),
    ],
)
@bounded
async def test_an_actor_call_from_its_tool_thread_raises_runtime_error_at_once(call: str, instead: str) -> None:
    async with open_actor_system() as system:
        await system.spawn(Collector, name="other")
        caller = await system.spawn(CallsFromItsTool, name="caller")
        error = await caller.ask(call, timeout=5)
        assert isinstance(error, RuntimeError), error
        assert str(error).startswith(f"{call} must be called in the trio thread that runs the actor system")
        assert instead in str(error)
        assert caller.is_alive and await caller.ask("self.watch()", timeout=5) is not None


@pytest.mark.parametrize(
    ("call", "instead"),
    [
        ("ref.ask_nowait()", "use ref.ask_from_thread(message, timeout)"),
        ("system.subscribe()", "trio.from_thread.run_sync(system.subscribe, ref, topic)"),
        ("system.unsubscribe()", "trio.from_thread.run_sync(system.unsubscribe, ref, topic)"),
        ("system.inspect()", "trio.from_thread.run_sync(system.inspect)"),
        ("system.actors()", "trio.from_thread.run_sync(system.actors)"),
        ("reply.add_done_callback()", "ref.ask_from_thread()"),
    ],
)
@bounded
async def test_a_system_call_from_a_plain_thread_raises_runtime_error_at_once(
    system: ActorSystem, call: str, instead: str
) -> None:
    collector = await system.spawn(Collector)
    reply = collector.ask_nowait(None, timeout=5)
    calls: dict[str, Callable[[], object]] = {
        "ref.ask_nowait()": lambda: collector.ask_nowait("x"),
        "system.subscribe()": lambda: system.subscribe(collector, "news"),
        "system.unsubscribe()": lambda: system.unsubscribe(collector, "news"),
        "system.inspect()": system.inspect,
        "system.actors()": system.actors,
        "reply.add_done_callback()": lambda: reply.add_done_callback(print),
    }
    _, done, errors = start_thread(calls[call])
    await wait_for(done)
    assert await reply == []
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    message = str(errors[0])
    assert message.startswith(
        f"{call} must be called in the trio thread that runs the actor system, not in thread 'sdk-callback'"
    )
    assert instead in message


@pytest.mark.parametrize("call", ["ask", "send", "spawn", "stop"])
@bounded
async def test_an_async_call_from_another_trio_run_raises_runtime_error(system: ActorSystem, call: str) -> None:
    """A second event loop in another thread must not drive this system's actors."""
    collector = await system.spawn(Collector)

    async def elsewhere() -> None:
        if call == "ask":
            await collector.ask("x", timeout=1)
        elif call == "send":
            await collector.send("x")
        elif call == "spawn":
            await system.spawn(Collector)
        else:
            await system.stop(collector)

    _, done, errors = start_thread(lambda: trio.run(elsewhere))
    await wait_for(done)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert "must be called in the trio thread that runs the actor system" in str(errors[0])
    assert await collector.ask(None, timeout=5) == []


@bounded
async def test_lookup_works_from_a_thread(system: ActorSystem) -> None:
    collector = await system.spawn(Collector, name="collector")
    found: list[Any] = []
    _, done, errors = start_thread(lambda: found.append(system.lookup("collector")))
    await wait_for(done)
    assert errors == [] and found == [collector]


@bounded
async def test_ask_from_thread_in_trios_own_thread_raises_runtime_error(system: ActorSystem) -> None:
    collector = await system.spawn(Collector)
    with pytest.raises(RuntimeError, match=r"use 'await ref.ask\(message\)'$"):
        collector.ask_from_thread(None)


@bounded
async def test_tell_from_thread_is_still_a_thread_safe_tell(system: ActorSystem) -> None:
    probe = await TestProbe.spawn(system)
    system.subscribe(probe.ref, DeadLetter)
    _, done, errors = start_thread(lambda: [probe.ref.tell_from_thread(n) for n in range(3)])
    await wait_for(done)
    assert errors == []
    assert [(await probe.expect(int, timeout=5)) for _ in range(3)] == [0, 1, 2]
