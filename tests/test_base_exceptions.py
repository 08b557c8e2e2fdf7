"""A KeyboardInterrupt, SystemExit or other BaseException from an actor's handler, hook or
thread tool: the message in flight is settled at once, every other actor stops with a reason
that says why, and the exception leaves the system's block as itself within the normal
shutdown bound (never after 10 x shutdown_timeout).

Time bounds are checked on trio's clock: under `MockClock(autojump_threshold=0)` (the
``autojump_clock`` fixture) a stall would show as virtual seconds; with real threads, a
`trio.fail_after` turns a stall into a failure.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
import trio
import trio.testing

from actors import Actor, ActorStopped, DeadLetter, Terminated, open_actor_system, tool
from actors._cell import Cell


class Fatal(BaseException):
    """A BaseException of the user's own, which no handler may catch either."""


KINDS = [KeyboardInterrupt, SystemExit, Fatal]
SHUTDOWN = 1.0  # the shutdown_timeout of these tests' systems


class Bomb(Actor):
    """Raises the exception it is sent; answers anything else."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


class Collector(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Busy(Actor):
    """Its handler never ends by itself: the shutdown must cut it (after its grace)."""

    async def receive(self, message: Any) -> Any:
        await trio.sleep_forever()


class Watcher(Actor):
    """Watches the ref it is asked with."""

    async def receive(self, message: Any) -> Any:
        self.watch(message)


def reasons_naming(system: Any, text: str) -> list[DeadLetter]:
    return [d for d in system.dead_letters if text in d.reason]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_from_a_handler_leaves_the_block_as_itself_at_once(
    autojump_clock: Any, kind: type[BaseException]
) -> None:
    raised = kind()
    seen: dict[str, Any] = {}
    start = trio.current_time()
    with pytest.raises(kind) as info:
        async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
            other = await system.spawn(Collector, name="other")
            assert await other.ask("warm", timeout=1) == "warm"
            busy = await system.spawn(Busy, name="busy")
            busy.tell("work")  # its handler holds the shutdown up for its grace
            bomb = await system.spawn(Bomb, name="bomb")
            try:
                await bomb.ask(raised, timeout=60)
            except ActorStopped as exc:
                seen["asker"] = exc
                seen["asked_at"] = trio.current_time()
                # Every actor refuses at once: no ask waits for its timeout.
                seen["other_alive"] = other.is_alive
                with pytest.raises(ActorStopped, match=f"{kind.__name__}") as refused:
                    await other.ask("hi", timeout=60)
                seen["refused"] = refused.value
            await trio.sleep_forever()  # the body is cancelled (the block then raises `raised`)
    elapsed = trio.current_time() - start
    assert info.value is raised
    # Within the normal shutdown bound: only the busy handler's grace, not 10 x shutdown_timeout.
    assert elapsed <= SHUTDOWN
    # The message in flight was answered at once, with an error naming what happened.
    asker = seen["asker"]
    assert seen["asked_at"] == start
    assert f"actor 'bomb' raised {kind.__name__}() while handling {kind.__name__}" in str(asker)
    assert asker.__cause__ is raised
    [letter] = [d for d in system.dead_letters if d.message is raised]
    assert letter.recipient is bomb and kind.__name__ in letter.reason
    # The other actors: stopped, saying why.
    assert seen["other_alive"] is False and not other.is_alive and not busy.is_alive
    because = f"the actor system is shutting down because actor 'bomb' raised {kind.__name__}()"
    assert because in str(seen["refused"])


@pytest.mark.parametrize("kind", KINDS)
async def test_the_other_actors_stop_with_a_reason_that_names_the_base_exception(
    autojump_clock: Any, kind: type[BaseException]
) -> None:
    because = f"the actor system is shutting down because actor 'bomb' raised {kind.__name__}()"
    with pytest.raises(kind):
        async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
            watcher = await system.spawn(Watcher, name="watcher")  # stops after `other` (spawned before)
            other = await system.spawn(Collector, name="other")
            await watcher.ask(other, timeout=1)
            busy = await system.spawn(Busy, name="busy")
            in_flight = busy.ask_nowait("work", timeout=60)
            queued = busy.ask_nowait("more work", timeout=60)
            await trio.testing.wait_all_tasks_blocked()
            bomb = await system.spawn(Bomb, name="bomb")
            bomb.tell(kind())
            await trio.sleep_forever()
    # the ask queued behind the busy handler failed at once; the one in flight after its grace
    for reply, what in ((queued, "stopped before handling str"), (in_flight, "was stopped while handling str")):
        with pytest.raises(ActorStopped, match=what) as stopped:
            await reply
        assert because in str(stopped.value)
    assert [d.message for d in reasons_naming(system, because) if isinstance(d.message, str)] == ["more work", "work"]
    # `other` stopped with that reason: its watcher (stopping too) got Terminated, a dead letter.
    [terminated] = [d.message for d in system.dead_letters if isinstance(d.message, Terminated)]
    assert terminated.ref is other and because in str(terminated.reason)
    assert "cancelled from outside" not in " ".join(d.reason for d in system.dead_letters)


@pytest.mark.parametrize("via", ["run_in_thread", "@tool"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_from_a_thread_tool_leaves_the_block_as_itself(
    kind: type[BaseException], via: str
) -> None:
    raised = kind()

    def interrupted() -> None:
        raise raised

    decorated = tool(interrupted)

    class ToolUser(Actor):
        async def receive(self, message: Any) -> Any:
            if via == "@tool":
                return await decorated()
            return await self.run_in_thread(interrupted)

    with trio.fail_after(5 * SHUTDOWN):  # a stall (10 x shutdown_timeout) fails here
        start = trio.current_time()
        with pytest.raises(kind) as info:
            async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
                other = await system.spawn(Collector, name="other")
                assert await other.ask("warm", timeout=5) == "warm"
                user = await system.spawn(ToolUser, name="user")
                with pytest.raises(ActorStopped, match=f"actor 'user' raised {kind.__name__}"):
                    await user.ask("go", timeout=60)
                await trio.sleep_forever()
        assert trio.current_time() - start < SHUTDOWN
    assert info.value is raised
    assert not other.is_alive
    assert [d.message for d in system.dead_letters] == ["go"]


async def test_a_keyboard_interrupt_in_a_handlers_nursery_leaves_the_block_as_itself(autojump_clock: Any) -> None:
    raised = KeyboardInterrupt()

    class FansOut(Actor):
        async def receive(self, message: Any) -> Any:
            async def interrupted() -> None:
                raise raised

            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                nursery.start_soon(interrupted)

    answers: list[BaseException] = []
    start = trio.current_time()
    with pytest.raises(KeyboardInterrupt) as info:
        async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
            other = await system.spawn(Collector, name="other")
            assert await other.ask("warm", timeout=1) == "warm"
            fans = await system.spawn(FansOut, name="fans")
            try:
                await fans.ask("go", timeout=60)
            except ActorStopped as exc:
                answers.append(exc)
            await trio.sleep_forever()
    assert info.value is raised  # the exception itself, not a group around it
    assert trio.current_time() - start == 0
    assert len(answers) == 1 and "actor 'fans' raised KeyboardInterrupt() while handling str" in str(answers[0])
    assert not other.is_alive


class BadHook(Actor):
    """Raises ``raised`` from the hook named ``hook``."""

    def __init__(self, hook: str, raised: BaseException) -> None:
        self.hook = hook
        self.raised = raised

    async def on_start(self) -> None:
        if self.hook == "on_start":
            raise self.raised

    async def on_stop(self) -> None:
        if self.hook == "on_stop":
            raise self.raised

    async def on_restart(self, exc: BaseException) -> None:
        if self.hook == "on_restart":
            raise self.raised

    async def receive(self, message: Any) -> Any:
        if message == "fail":
            raise ValueError("fails, to be restarted")
        return message


@pytest.mark.parametrize("hook", ["on_start", "on_stop", "on_restart", "on_stop at the block's end"])
async def test_a_base_exception_from_a_hook_leaves_the_block_as_itself_at_once(autojump_clock: Any, hook: str) -> None:
    from supervision import ChildSpec, Supervisor

    raised = SystemExit(3)
    after: list[str] = []
    start = trio.current_time()
    with pytest.raises(SystemExit) as info:
        async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
            other = await system.spawn(Collector, name="other")
            assert await other.ask("warm", timeout=1) == "warm"
            busy = await system.spawn(Busy, name="busy")
            busy.tell("work")
            if hook == "on_start":
                with pytest.raises(ActorStopped, match=r"actor 'bad' raised SystemExit\(3\) while starting"):
                    await system.spawn(BadHook, hook, raised, name="bad")
            elif hook == "on_stop":
                await system.stop(await system.spawn(BadHook, hook, raised, name="bad"))
            elif hook == "on_restart":
                await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(BadHook, hook, raised, name="bad")]))
                with pytest.raises(ValueError):
                    await system.lookup("bad").ask("fail", timeout=1)
                with pytest.raises(ActorStopped, match=r"actor 'bad' raised SystemExit\(3\) while restarting"):
                    await system.lookup("bad").ask("after", timeout=60)
            else:
                await system.spawn(BadHook, "on_stop", raised, name="bad")
                after.append("the body ended normally")
            if hook != "on_stop at the block's end":
                await trio.sleep_forever()
    assert info.value is raised
    assert trio.current_time() - start <= SHUTDOWN  # (the busy handler's grace, at most)
    assert not other.is_alive
    if hook == "on_stop at the block's end":
        assert after == ["the body ended normally"]


async def test_an_error_escaping_a_runtime_task_makes_the_system_stop_within_its_bound(
    autojump_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C can land in the runtime's own code (here: a timer task): the actors it
    cancels make the block's body end, rather than waiting 10 x shutdown_timeout for it."""

    def interrupted(self: Cell, message: Any, trace_id: int | None) -> None:
        raise KeyboardInterrupt

    class Timed(Actor):
        async def on_start(self) -> None:
            self.schedule_once(1, "tick")

    monkeypatch.setattr(Cell, "deliver_from_timer", interrupted)
    start = trio.current_time()
    with pytest.raises(KeyboardInterrupt):
        async with open_actor_system(shutdown_timeout=SHUTDOWN) as system:
            other = await system.spawn(Collector, name="other")
            assert await other.ask("warm", timeout=1) == "warm"
            await system.spawn(Timed, name="timed")
            await trio.sleep_forever()
    assert trio.current_time() - start <= 1 + 2 * SHUTDOWN
    assert not other.is_alive


CTRL_C = textwrap.dedent("""
    import signal, time, trio
    from actors import Actor, ActorStopped, open_actor_system

    class Cruncher(Actor):
        async def receive(self, message):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, while the handler is busy on the CPU
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                pass
            return "never interrupted"

    class Other(Actor):
        async def receive(self, message):
            return message

    async def main():
        try:
            async with open_actor_system(shutdown_timeout=1) as system:
                other = await system.spawn(Other, name="other")
                await other.ask("warm", timeout=5)
                cruncher = await system.spawn(Cruncher, name="cruncher")
                start = trio.current_time()
                try:
                    await cruncher.ask("crunch", timeout=60)
                except ActorStopped as exc:
                    print("asker:", exc)
                await trio.sleep_forever()
        except KeyboardInterrupt:
            elapsed = trio.current_time() - start
            when = "within shutdown_timeout" if elapsed < 1 else f"after {elapsed:.1f} s"
            print(f"KeyboardInterrupt {when}; other alive: {other.is_alive}")

    trio.run(main)
""")


def test_a_real_ctrl_c_during_a_cpu_bound_handler_leaves_the_block_within_its_bound() -> None:
    """A real SIGINT, in a process of its own (trio raises KeyboardInterrupt in the handler)."""
    result = subprocess.run([sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "asker: actor 'cruncher' raised KeyboardInterrupt() while handling str, so the actor system is "
        "shutting down (and raises it out of its 'async with' block)",
        "KeyboardInterrupt within shutdown_timeout; other alive: False",
    ]
