"""Races found by adversarial testing, each kept as a regression test (virtual time).

Every scenario is bounded with ``trio.fail_after`` so that a hang fails fast instead of
holding up the run.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors import Actor, ActorStopped, gather, open_actor_system
from supervision import ChildSpec, GetChildren, OneForAll, OneForOne, Supervisor, restart_count


class Boom(Exception):
    pass


class SlowToStop(Actor):
    """Fails on "crash"; its on_stop takes a while, so stops can land inside it."""

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise Boom("crash")
        return message

    async def on_stop(self) -> None:
        await trio.sleep(0.1)


class QuickToStop(SlowToStop):
    async def on_stop(self) -> None:
        pass


pytestmark = pytest.mark.allow_actor_failures(types=Boom)


@pytest.mark.parametrize("how", ["system.stop", "the block ends"])
async def test_a_stop_during_on_stop_before_an_immediate_restart_is_not_lost(autojump_clock: Any, how: str) -> None:
    with trio.fail_after(30):
        async with open_actor_system(shutdown_timeout=1) as system:
            await system.spawn_tree(
                Supervisor(name="sup", strategy=OneForOne(), children=[ChildSpec(SlowToStop, name="w")])
            )
            worker = system.lookup("w")
            worker.tell("crash")
            await trio.sleep(0.05)  # w is in on_stop, its restart (no backoff) already decided
            if how == "system.stop":
                await system.stop(worker)
                assert not worker.is_alive and worker._cell.phase == "stopped"
    assert trio.current_time() < 2


async def test_a_suspend_during_on_stop_before_an_immediate_restart_is_not_lost(autojump_clock: Any) -> None:
    """root (OneForAll) restarts [sub [x], y] while x is between its failure and its restart."""
    with trio.fail_after(30):
        async with open_actor_system(shutdown_timeout=1) as system:
            await system.spawn_tree(
                Supervisor(
                    name="root",
                    strategy=OneForAll(max_restarts=10),
                    children=[
                        Supervisor(
                            name="sub", strategy=OneForOne(max_restarts=10), children=[ChildSpec(SlowToStop, name="x")]
                        ),
                        ChildSpec(QuickToStop, name="y"),
                    ],
                )
            )
            x, y, sub = system.lookup("x"), system.lookup("y"), system.lookup("sub")
            x.tell("crash")
            await trio.sleep(0.05)
            y.tell("crash")
            await trio.sleep(5)
            assert await y.ask("hi", timeout=1) == "hi"
            assert await sub.ask(GetChildren(), timeout=1) == [x]
            assert await x.ask("and x?", timeout=1) == "and x?"
            assert restart_count(y) == 1


async def test_defer_reply_on_a_tell_does_not_swallow_the_next_asks_answer(autojump_clock: Any) -> None:
    class Defers(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "told":
                self.defer_reply()  # nobody to answer: defers nothing
                return None
            return f"answer to {message}"

    async with open_actor_system() as system:
        ref = await system.spawn(Defers)
        ref.tell("told")
        assert await ref.ask("q1", timeout=2) == "answer to q1"


async def test_children_spawned_in_on_stop_at_a_restart_are_refused(autojump_clock: Any) -> None:
    """They would outlive the incarnation that made them (its children stop before on_stop)."""
    refused: list[BaseException] = []

    class Parent(SlowToStop):
        async def on_stop(self) -> None:
            try:
                await self.spawn(SlowToStop, name="helper")
            except ActorStopped as exc:
                refused.append(exc)

    async with open_actor_system() as system:
        await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Parent, name="p")]))
        for _ in range(2):
            system.lookup("p").tell("crash")
            await trio.sleep(1)
        assert restart_count(system.lookup("p")) == 2
        assert [info.path for info in system.inspect()] == ["/sup", "/sup/p"]
    assert len(refused) == 3 and "is stopping or restarting and cannot spawn SlowToStop" in str(refused[0])


# -- one exception out of the block, never a group -----------------------------------


async def test_two_actors_raising_base_exceptions_at_once_give_one_exception_naming_the_other() -> None:
    go = trio.Event()

    class Raiser(Actor):
        async def receive(self, message: BaseException) -> None:
            await go.wait()  # both handlers run when they raise (the first one closes every mailbox)
            raise message

    with pytest.raises(KeyboardInterrupt) as info:
        async with open_actor_system() as system:
            first, second = await system.spawn(Raiser), await system.spawn(Raiser)
            first.tell(SystemExit(2))
            second.tell(KeyboardInterrupt())
            await trio.testing.wait_all_tasks_blocked()
            go.set()
            await trio.sleep_forever()
    assert any("SystemExit(2)" in note for note in getattr(info.value, "__notes__", []))


async def test_a_block_cancelled_from_outside_raises_a_plain_cancelled(autojump_clock: Any) -> None:
    seen: list[type[BaseException]] = []
    with trio.move_on_after(1) as outer:
        try:
            async with open_actor_system() as system:
                await system.spawn(SlowToStop)
                await gather(trio.sleep_forever(), trio.sleep_forever())  # noqa: ASYNC105 (gather awaits them)
        except trio.Cancelled:
            seen.append(trio.Cancelled)
            raise
        except BaseException as exc:  # pragma: no cover - what the test guards against
            seen.append(type(exc))
            raise
    assert outer.cancelled_caught and seen == [trio.Cancelled]


async def test_an_ask_from_on_stop_times_out_even_when_the_block_was_cancelled_from_outside(
    autojump_clock: Any,
) -> None:
    """The deadline ticker outlives the cancel: the ask ends at its own timeout, not at the
    actor's whole shutdown bound."""
    ended: list[tuple[str, float]] = []

    class Busy(Actor):
        async def on_start(self) -> None:
            pass  # (a task from the start)

    class Flusher(Actor):
        def __init__(self, peer: Any) -> None:
            self.peer = peer

        async def on_stop(self) -> None:
            started = trio.current_time()
            try:
                await self.peer.ask("flush", timeout=0.1)
                ended.append(("answered", trio.current_time() - started))
            except BaseException as exc:
                ended.append((type(exc).__name__, trio.current_time() - started))
                raise

    with trio.move_on_after(1):
        async with open_actor_system(shutdown_timeout=5) as system:
            peer = await system.spawn(Busy)
            (await system.spawn(Flusher, peer)).tell("wake up")
            await trio.sleep_forever()
    assert len(ended) == 1
    assert ended[0][0] == "AskTimeout" and ended[0][1] == pytest.approx(0.1)
