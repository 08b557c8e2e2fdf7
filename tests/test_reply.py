"""Reply: the promise ask_nowait returns (await, done, result, callbacks, timeout)."""

from __future__ import annotations

import logging
import math

import pytest
import trio
import trio.testing

from actors import Actor, ActorStopped, AskTimeout, Reply


class Worker(Actor):
    """Replies to a number by sleeping that long and returning it doubled; fails on "fail"."""

    async def receive(self, message: object) -> object:
        if message == "fail":
            raise ArithmeticError("no luck")
        if isinstance(message, trio.Event):
            await message.wait()
            return "released"
        await trio.sleep(message)  # type: ignore[arg-type]
        return message * 2  # type: ignore[operator]


async def test_awaiting_a_reply_gives_the_value(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait(0)
    assert isinstance(reply, Reply)
    assert await reply == 0
    assert reply.done()
    assert reply.result() == 0


async def test_done_and_result_follow_completion(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    gate = trio.Event()
    reply = ref.ask_nowait(gate)
    assert not reply.done()
    with pytest.raises(RuntimeError, match=r"^reply is not ready yet; 'await reply' to wait for it$"):
        reply.result()
    with pytest.raises(RuntimeError, match=r"^reply is not ready yet"):
        reply.exception()
    gate.set()
    assert await reply == "released"
    assert reply.done()
    assert reply.result() == "released"
    assert reply.exception() is None


async def test_a_failed_reply_raises_the_handler_error(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait("fail")
    with pytest.raises(ArithmeticError, match="no luck"):
        await reply
    assert reply.done()
    assert isinstance(reply.exception(), ArithmeticError)
    with pytest.raises(ArithmeticError, match="no luck"):
        reply.result()


async def test_several_tasks_may_await_one_reply(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    gate = trio.Event()
    reply = ref.ask_nowait(gate)
    got: list[object] = []

    async def waiter() -> None:
        got.append(await reply)

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        gate.set()
    assert got == ["released"] * 3


async def test_done_callback_is_called_once_with_the_reply(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    gate = trio.Event()
    reply = ref.ask_nowait(gate)
    calls: list[tuple[Reply[object], object]] = []
    reply.add_done_callback(lambda r: calls.append((r, r.result())))
    await trio.testing.wait_all_tasks_blocked()
    assert calls == []
    gate.set()
    await reply
    await ref.ask(0)
    assert calls == [(reply, "released")]


async def test_done_callback_added_after_completion_is_called_at_once(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait(1)
    await reply
    calls: list[Reply[object]] = []
    reply.add_done_callback(calls.append)
    assert calls == [reply]


async def test_done_callbacks_run_in_the_order_added(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait(1)
    order: list[int] = []
    for i in range(4):
        reply.add_done_callback(lambda _, i=i: order.append(i))
    await reply
    assert order == [0, 1, 2, 3]


async def test_a_callback_that_raises_does_not_break_the_others(actor_system_autojump, caplog) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait(1)
    calls: list[str] = []

    def broken(_: Reply[object]) -> None:
        calls.append("broken")
        raise RuntimeError("callback bug")

    reply.add_done_callback(broken)
    reply.add_done_callback(lambda _: calls.append("fine"))
    with caplog.at_level(logging.ERROR, logger="actors"):
        assert await reply == 2
    assert calls == ["broken", "fine"]
    assert "callback bug" in caplog.text
    assert ref.is_alive  # the actor that completed the reply is unharmed
    assert await ref.ask(2) == 4


async def test_a_callback_added_late_that_raises_is_logged_not_raised(actor_system_autojump, caplog) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    reply = ref.ask_nowait(1)
    await reply

    def broken(_: Reply[object]) -> None:
        raise RuntimeError("late callback bug")

    reply.add_done_callback(broken)
    assert "late callback bug" in caplog.text


async def test_ask_nowait_timeout_completes_the_reply_with_ask_timeout(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    start = trio.current_time()
    reply = ref.ask_nowait(10, timeout=2)
    done_at: list[float] = []
    reply.add_done_callback(lambda _: done_at.append(trio.current_time()))
    with pytest.raises(AskTimeout, match=r"^actor 'worker' did not answer int within 2 s"):
        await reply
    assert done_at == [start + 2]
    assert isinstance(reply.exception(), AskTimeout)


async def test_ask_nowait_default_timeout_is_the_systems(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    start = trio.current_time()
    reply = ref.ask_nowait(100)
    with pytest.raises(AskTimeout):
        await reply
    assert trio.current_time() == start + 30


async def test_a_reply_completes_only_once_and_the_late_value_is_a_dead_letter(actor_system_autojump) -> None:
    class FinishingWorker(Worker):
        finish_abandoned_asks = True  # (by default the handler would be cancelled at t=1)

    system = actor_system_autojump
    ref = await system.spawn(FinishingWorker, name="worker")
    reply = ref.ask_nowait(5, timeout=1)
    with pytest.raises(AskTimeout):
        await reply
    assert await ref.ask(0, timeout=math.inf) == 0  # the first message has been handled
    assert isinstance(reply.exception(), AskTimeout)  # still the timeout, not 10
    [late] = list(system.dead_letters)
    assert late.message == 10
    assert "late reply to int" in late.reason


async def test_a_reply_pending_when_the_actor_stops_fails_with_actor_stopped(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    gate = trio.Event()
    ref.tell(gate)
    await trio.testing.wait_all_tasks_blocked()
    reply = ref.ask_nowait(1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor_system_autojump.stop, ref)
        await trio.testing.wait_all_tasks_blocked()
        assert reply.done()
        gate.set()
    with pytest.raises(ActorStopped, match=r"^actor 'worker' stopped before handling int"):
        await reply


async def test_reply_repr_shows_its_state(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Worker, name="worker")
    gate = trio.Event()
    reply = ref.ask_nowait(gate)
    assert repr(reply).startswith("<Reply pending correlation_id=")
    gate.set()
    await reply
    assert repr(reply) == f"<Reply done correlation_id={reply.correlation_id}>"
