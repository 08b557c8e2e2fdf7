"""Blocking tools in worker threads, CPU work in processes, and calls back from threads."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    AskAbandoned,
    AskTimeout,
    DeadLetter,
    WorkerProcessError,
    blocking,
    open_actor_system,
    tool,
)
from actors.testing import TestProbe


class Pinger(Actor):
    async def receive(self, message):
        return ("pong", message)


class ToolUser(Actor):
    """Runs whatever blocking function it is sent, in a worker thread."""

    async def receive(self, message):
        fn, *args = message
        return await self.run_in_thread(fn, *args)


async def test_a_blocking_tool_does_not_stall_other_actors(actor_system: ActorSystem) -> None:
    release = threading.Event()
    user = await actor_system.spawn(ToolUser)
    pinger = await actor_system.spawn(Pinger)
    pending = user.ask_nowait((release.wait, 10))
    # The tool holds its thread until we release it; meanwhile the loop is free.
    answers = [await pinger.ask(n, timeout=5) for n in range(20)]
    assert answers == [("pong", n) for n in range(20)]
    assert not pending.done()
    release.set()
    assert await pending is True


async def test_ten_tool_calls_run_at_the_same_time(actor_system: ActorSystem) -> None:
    barrier = threading.Barrier(10, timeout=10)  # passes only if all ten wait at once
    users = [await actor_system.spawn(ToolUser) for _ in range(10)]
    replies = [user.ask_nowait((barrier.wait,)) for user in users]
    results = [await reply for reply in replies]
    assert sorted(results) == list(range(10))


async def test_the_system_limiter_bounds_thread_concurrency() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def work() -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.05)  # the blocking tool under test
        with lock:
            running[0] -= 1

    async with open_actor_system(max_threads=3) as system:
        assert system.thread_limiter.total_tokens == 3
        users = [await system.spawn(ToolUser) for _ in range(10)]
        replies = [user.ask_nowait((work,)) for user in users]
        for reply in replies:
            await reply
    assert running[1] == 3


async def test_an_ask_timeout_stops_the_handler_waiting_and_records_the_late_result(
    actor_system: ActorSystem,
) -> None:
    release = threading.Event()
    probe = await TestProbe.spawn(actor_system)
    actor_system.subscribe(probe.ref, DeadLetter)
    user = await actor_system.spawn(ToolUser, name="user")

    def slow() -> str:
        release.wait(10)
        return "finally"

    with pytest.raises(AskTimeout):
        await user.ask((slow,), timeout=0.2)
    # The handler stopped waiting at once: the actor answers the next message
    # although the thread still runs, and this is not a failure.
    assert await user.ask((len, "abc"), timeout=5) == 3
    abandoned = await probe.expect(DeadLetter, timeout=5)
    assert "stopped handling tuple: its deadline passed" in abandoned.reason
    release.set()
    late = await probe.expect(lambda d: isinstance(d, DeadLetter) and d.message == "finally", timeout=5)
    assert "late result of" in late.reason and late.recipient is user
    assert user.is_alive


class Impatient(Actor):
    """Gives a thread call a moment in its own cancel scope, then answers anyway."""

    async def receive(self, fn):
        with trio.move_on_after(0.05):
            return await self.run_in_thread(fn)
        return "gave up"


@pytest.mark.parametrize("where", ["in a handler", "in the system block", "cut by message_timeout"])
async def test_a_thread_call_cancelled_by_the_user_records_its_late_result(where: str) -> None:
    """Whatever cancels the wait, the thread's result arrives later as a dead letter (and
    the run goes on: this once crashed trio with a TrioInternalError)."""
    from supervision import ChildSpec, Supervisor

    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "finally"

    async with open_actor_system() as system:
        probe = await TestProbe.spawn(system)
        system.subscribe(probe.ref, DeadLetter)
        if where == "in a handler":
            assert await (await system.spawn(Impatient)).ask(slow, timeout=5) == "gave up"
        elif where == "in the system block":
            with trio.move_on_after(0.05):
                await blocking(slow)()
        else:
            await system.spawn_tree(
                Supervisor(name="sup", children=[ChildSpec(ToolUser, name="user", message_timeout=0.05)])
            )
            with pytest.raises(AskTimeout, match="message_timeout"):
                await system.lookup("user").ask((slow,), timeout=5)
            failed = await probe.expect(DeadLetter, timeout=5)  # the message that failed, first
            assert "message_timeout" in failed.reason
        release.set()
        late = await probe.expect(lambda d: isinstance(d, DeadLetter) and d.message == "finally", timeout=5)
        assert "late result of" in late.reason
        assert await (await system.spawn(Pinger)).ask(1, timeout=5) == ("pong", 1)


async def test_stopping_an_actor_does_not_wait_for_its_thread(actor_system: ActorSystem) -> None:
    release = threading.Event()
    user = await actor_system.spawn(ToolUser)
    reply = user.ask_nowait((release.wait, 10))
    await trio.lowlevel.checkpoint()  # let the handler start its thread
    with trio.fail_after(5):
        await actor_system.stop(user)
    assert not user.is_alive
    with pytest.raises(Exception):
        await reply
    release.set()


async def test_tool_decorator_runs_in_a_thread_with_its_own_limit(actor_system: ActorSystem) -> None:
    lock = threading.Lock()
    running = [0, 0]

    @tool(limit=2)
    def fetch_weather(city: str) -> str:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.05)  # the blocking tool under test
        with lock:
            running[0] -= 1
        return f"sunny in {city}"

    class Agent(Actor):
        async def receive(self, city):
            return await fetch_weather(city)

    agents = [await actor_system.spawn(Agent) for _ in range(6)]
    replies = [agent.ask_nowait(f"city{i}") for i, agent in enumerate(agents)]
    assert [await r for r in replies] == [f"sunny in city{i}" for i in range(6)]
    assert running[1] == 2
    assert fetch_weather.__name__ == "fetch_weather"
    # also usable straight from the system block
    assert await fetch_weather("Oslo") == "sunny in Oslo"


async def test_blocking_function_form_and_errors() -> None:
    parse = blocking(int)
    with pytest.raises(RuntimeError, match="needs a running actor system"):
        await parse("1")
    async with open_actor_system():
        assert await parse("42") == 42
        with pytest.raises(ValueError, match="invalid literal"):
            await parse("x")
    with pytest.raises(ValueError, match=r"^limit must be >= 1 \(or None for unbounded\)$"):
        blocking(int, limit=0)


class Cruncher(Actor):
    async def receive(self, message):
        fn, *args = message
        return await self.run_in_process(fn, *args)


async def test_run_in_process_returns_the_result(actor_system: ActorSystem) -> None:
    cruncher = await actor_system.spawn(Cruncher)
    assert await cruncher.ask((math.factorial, 20), timeout=60) == math.factorial(20)


async def test_run_in_process_reraises_the_error_with_its_traceback(actor_system: ActorSystem) -> None:
    cruncher = await actor_system.spawn(Cruncher)
    with pytest.raises(ValueError, match="invalid literal for int") as info:
        await cruncher.ask((int, "not a number"), timeout=60)
    assert "invalid literal" in "".join(__import__("traceback").format_exception(info.value))


def test_an_unguarded_script_gets_a_message_that_says_to_guard_it(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent("""
        import math, trio
        from actors import Actor, open_actor_system

        class Cruncher(Actor):
            async def receive(self, n):
                return await self.run_in_process(math.factorial, n)

        async def main():
            async with open_actor_system() as system:
                c = await system.spawn(Cruncher)
                try:
                    print("GOT:", await c.ask(5, timeout=60))
                except Exception as exc:  # even a script that swallows errors
                    print("GOT:", type(exc).__name__, exc)

        trio.run(main)   # no `if __name__ == "__main__":` guard
    """)
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    got = [line for line in result.stdout.splitlines() if line.startswith("GOT:")]
    # The worker refused to run the program a second time, and the parent says why.
    assert len(got) == 1 and got[0].startswith("GOT: WorkerProcessError"), result.stdout + result.stderr
    assert 'if __name__ == "__main__":' in got[0]
    assert "open_actor_system() was called while a worker process was importing your main module" in result.stderr


async def test_a_thread_can_tell_an_actor(actor_system: ActorSystem) -> None:
    probe = await TestProbe.spawn(actor_system)
    thread = threading.Thread(target=lambda: [probe.ref.tell_from_thread(n) for n in range(5)])
    thread.start()
    assert [await probe.expect(int, timeout=5) for _ in range(5)] == list(range(5))
    thread.join()


async def test_a_thread_can_ask_an_actor_and_block_for_the_reply(actor_system: ActorSystem) -> None:
    pinger = await actor_system.spawn(Pinger)
    answer = await trio.to_thread.run_sync(lambda: pinger.ask_from_thread("from a thread", timeout=5))
    assert answer == ("pong", "from a thread")


async def test_tell_from_thread_after_the_system_closed_raises_actor_stopped() -> None:
    from actors import ActorStopped

    async with open_actor_system() as system:
        pinger = await system.spawn(Pinger)
    with pytest.raises(ActorStopped, match="has finished"):
        await trio.to_thread.run_sync(lambda: pinger.tell_from_thread("late"))


async def test_a_thread_function_that_raises_gives_its_caller_the_error_and_no_dead_letter(
    actor_system: ActorSystem,
) -> None:
    class Careful(Actor):
        async def receive(self, message):
            try:
                await self.run_in_thread(int, "not a number")
            except ValueError as exc:
                return f"caught {type(exc).__name__}"

    careful = await actor_system.spawn(Careful)
    assert await careful.ask("go", timeout=5) == "caught ValueError"
    assert list(actor_system.dead_letters) == []


class FansOutTools(Actor):
    """Calls a tool twice at once from its own nursery (the usual agent fan-out), or pings."""

    def __init__(self, tool_fn) -> None:
        self.tool_fn = tool_fn

    async def receive(self, message):
        if message == "ping":
            return "pong"
        results: list[object] = []
        async with trio.open_nursery() as nursery:
            for query in ("a", "b"):

                async def one(query: str = query) -> None:
                    results.append(await self.tool_fn(query))

                nursery.start_soon(one)
        return results


@pytest.mark.parametrize("fan_out", [True, False])
async def test_waits_in_a_handlers_own_tasks_and_for_a_tool_slot_end_with_the_ask(fan_out: bool) -> None:
    """Tool calls fanned out in the handler's nursery, and a handler queued for a per-tool
    slot, stop waiting when the served ask times out: the actor answers the next message
    at once, and the late results are recorded."""
    release = threading.Event()

    def slow(query: str) -> str:
        release.wait(10)
        return f"found {query}"

    search = blocking(slow, limit=None if fan_out else 1)
    async with open_actor_system() as system:
        probe = await TestProbe.spawn(system)
        system.subscribe(probe.ref, DeadLetter)
        agent = await system.spawn(FansOutTools, search)
        if not fan_out:  # another agent holds the tool's only slot
            holder = await system.spawn(FansOutTools, search)
            held = holder.ask_nowait("go", timeout=math.inf)
            await trio.sleep(0.05)
        with pytest.raises(AskTimeout):
            await agent.ask("go", timeout=0.2)
        with trio.fail_after(1):
            assert await agent.ask("ping", timeout=1) == "pong"
        assert agent.is_alive
        release.set()
        if fan_out:
            late = lambda d: isinstance(d, DeadLetter) and d.reason.startswith("late result")  # noqa: E731
            lates = []
            while len(lates) < 2:
                got = await probe.expect(timeout=5)
                if late(got):
                    lates.append(got)
            assert sorted(d.message for d in lates) == ["found a", "found b"]
        else:
            assert sorted(await held) == ["found a", "found b"]


async def test_stopping_an_actor_does_not_wait_for_threads_its_handler_fanned_out() -> None:
    release = threading.Event()
    search = blocking(lambda query: release.wait(10))
    async with open_actor_system(shutdown_timeout=5) as system:
        agent = await system.spawn(FansOutTools, search)
        reply = agent.ask_nowait("go", timeout=math.inf)
        await trio.sleep(0.05)
        with trio.fail_after(1):  # not the 5 s grace
            await system.stop(agent)
        release.set()
        with pytest.raises(Exception):
            await reply


def _end_the_process() -> None:
    import os

    os._exit(3)


async def test_a_worker_process_that_dies_names_both_likely_causes(actor_system: ActorSystem) -> None:
    class Risky(Actor):
        async def receive(self, message):
            return await self.run_in_process(_end_the_process)

    risky = await actor_system.spawn(Risky)
    with pytest.raises(WorkerProcessError, match=r"died while running _end_the_process\(\).*itself ended the process"):
        await risky.ask("go", timeout=60)


async def test_a_process_call_is_killed_when_the_served_ask_times_out_or_the_actor_stops() -> None:
    class Cruncher(Actor):
        async def receive(self, message):
            if message == "ping":
                return "pong"
            return await self.run_in_process(time.sleep, 30)

    async with open_actor_system(shutdown_timeout=20) as system:
        cruncher = await system.spawn(Cruncher)
        with trio.fail_after(10):
            with pytest.raises(AskTimeout):
                await cruncher.ask("crunch", timeout=0.3)
            assert await cruncher.ask("ping", timeout=5) == "pong"  # not still waiting on the process
        # the whole handler was cancelled at the deadline, and with it the process wait
        abandoned = [d for d in system.dead_letters if isinstance(d.error, AskAbandoned)]
        assert len(abandoned) == 1 and "its deadline passed" in abandoned[0].reason
        reply = cruncher.ask_nowait("crunch", timeout=math.inf)
        await trio.sleep(0.05)  # (real time: the handler is waiting on its worker process)
        with trio.fail_after(10):  # not the 20 s grace
            await system.stop(cruncher)
        with pytest.raises(ActorStopped):
            await reply
