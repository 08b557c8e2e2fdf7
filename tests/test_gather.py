"""gather: scatter-gather over asks, results in argument order (virtual time)."""

from __future__ import annotations

import pytest
import trio

from actors import Actor, AskAbandoned, AskTimeout, gather


class Delayed(Actor):
    """Answers ``(seconds, value)`` after sleeping ``seconds``; raises an exception value."""

    async def receive(self, message: object) -> object:
        seconds, value = message  # type: ignore[misc]
        await trio.sleep(seconds)
        if isinstance(value, BaseException):
            raise value
        return value


async def _actors(system, n: int):
    return [await system.spawn(Delayed, name=f"d{i}") for i in range(n)]


async def test_gather_returns_results_in_argument_order_not_completion_order(actor_system_autojump) -> None:
    a, b, c = await _actors(actor_system_autojump, 3)
    start = trio.current_time()
    results = await gather(a.ask((3, "a")), b.ask((1, "b")), c.ask((2, "c")))
    assert results == ["a", "b", "c"]
    assert trio.current_time() == start + 3  # concurrently, not one after the other


async def test_gather_of_nothing_is_an_empty_list(actor_system_autojump) -> None:
    assert await gather() == []


async def test_gather_accepts_replies_and_coroutines(actor_system_autojump) -> None:
    a, b = await _actors(actor_system_autojump, 2)

    async def plain() -> str:
        await trio.sleep(1)
        return "plain"

    assert await gather(a.ask_nowait((2, 1)), plain(), b.ask((1, 2))) == [1, "plain", 2]


async def test_gather_with_return_exceptions_gives_partial_results(actor_system_autojump) -> None:
    a, b, c = await _actors(actor_system_autojump, 3)
    error = KeyError("missing")
    results = await gather(a.ask((1, "a")), b.ask((2, error)), c.ask((3, "c")), return_exceptions=True)
    assert results[0] == "a"
    assert results[1] is error
    assert results[2] == "c"


async def test_gather_without_return_exceptions_raises_the_first_error_itself(actor_system_autojump) -> None:
    a, b, c = await _actors(actor_system_autojump, 3)
    start = trio.current_time()
    with pytest.raises(ValueError, match=r"^second$") as info:
        await gather(a.ask((5, "a")), b.ask((1, ValueError("second"))), c.ask((2, KeyError("third"))))
    assert type(info.value) is ValueError  # not an ExceptionGroup
    assert trio.current_time() == start + 1  # the rest were cancelled at once


async def test_gather_timeout_raises_ask_timeout_naming_the_unfinished(actor_system_autojump) -> None:
    a, b = await _actors(actor_system_autojump, 2)
    start = trio.current_time()
    with pytest.raises(
        AskTimeout,
        match=r"^gather\(\) timed out after 2 s with 1 of 2 awaitables unfinished \(positions \[1\]\); "
        r"pass return_exceptions=True for partial results$",
    ):
        await gather(a.ask((1, "fast")), b.ask((10, "slow")), timeout=2)
    assert trio.current_time() == start + 2


async def test_gather_timeout_with_return_exceptions_puts_ask_timeout_in_the_late_slots(
    actor_system_autojump,
) -> None:
    a, b, c = await _actors(actor_system_autojump, 3)
    start = trio.current_time()
    results = await gather(
        a.ask((10, "slow")), b.ask((1, "fast")), c.ask((20, "slower")), timeout=2, return_exceptions=True
    )
    assert trio.current_time() == start + 2
    assert results[1] == "fast"
    assert isinstance(results[0], AskTimeout) and isinstance(results[2], AskTimeout)
    assert str(results[0]) == "awaitable 0 did not finish within gather()'s timeout of 2 s"


async def test_an_ask_timeout_inside_gather_is_the_asks_own(actor_system_autojump) -> None:
    a, b = await _actors(actor_system_autojump, 2)
    results = await gather(a.ask((5, "slow"), timeout=1), b.ask((2, "ok")), return_exceptions=True)
    assert isinstance(results[0], AskTimeout)
    assert "actor 'd0' did not answer tuple within 1 s" in str(results[0])
    assert results[1] == "ok"


class Ready:
    """An awaitable that is not a coroutine (so nothing is left un-awaited)."""

    def __await__(self):
        return iter(())


async def test_gather_rejects_what_is_not_awaitable() -> None:
    with pytest.raises(TypeError, match=r"^gather\(\) argument 1 is not awaitable: 42$"):
        await gather(Ready(), 42)  # type: ignore[arg-type]


async def test_gather_rejects_a_negative_timeout() -> None:
    with pytest.raises(ValueError, match=r"^timeout must be >= 0 seconds, got -1$"):
        await gather(timeout=-1)


async def test_asks_cut_short_by_a_gather_timeout_cancel_their_handlers_and_are_recorded(
    actor_system_autojump,
) -> None:
    system = actor_system_autojump
    a, b = await _actors(system, 2)
    with pytest.raises(AskTimeout):
        await gather(a.ask((1, "fast")), b.ask((5, "slow")), timeout=2)
    # b's asker gave up at t=2: its handler was cancelled then (not a failure), so b
    # answers the next ask at once and nothing answers "slow" at t=5.
    start = trio.current_time()
    assert await b.ask((0, "next")) == "next"
    assert trio.current_time() == start
    [abandoned] = [d for d in system.dead_letters if d.message == (5, "slow")]
    assert isinstance(abandoned.error, AskAbandoned)
    assert "its asker stopped waiting" in abandoned.reason
    assert not [d for d in system.dead_letters if d.message == "slow"]
