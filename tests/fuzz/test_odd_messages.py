"""Odd messages: unusual, unprintable or hostile messages and errors never break the runtime.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

import gc
import inspect
import logging
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from fuzz_helpers import (
    ODD_MESSAGES,
    SEND_KINDS,
    BadRepr,
    Echo,
    Lifecycle,
    Picky,
    ReprRaisingError,
    assert_system_works,
    contains,
    dispose,
    odd_message,
    run_virtual,
)
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    UnhandledMessage,
    open_actor_system,
)
from supervision import ChildSpec, Supervisor


@settings(max_examples=40, deadline=None)
@given(
    sends=st.lists(
        st.tuples(
            st.sampled_from(sorted(ODD_MESSAGES)), st.sampled_from(SEND_KINDS), st.sampled_from(["Echo", "Picky"])
        ),
        min_size=1,
        max_size=6,
    ),
    trace=st.booleans(),
)
def test_odd_messages_are_answered_or_dead_lettered_and_nothing_is_lost(
    sends: list[tuple[str, str, str]], trace: bool
) -> None:
    """Echo answers every odd message with the object itself; Picky declares it unhandled:
    the asker gets UnhandledMessage naming the type, a told message becomes a dead letter
    whose ``.message`` is that very object. Both actors stay alive."""
    made: list[Any] = []

    async def main() -> None:
        async with open_actor_system(trace=trace) as system:
            echo_seen: list[Any] = []
            echo = await system.spawn(Echo, echo_seen, name="echo")
            picky = await system.spawn(Picky, name="picky")
            system.subscribe(echo, "to-echo")
            system.subscribe(picky, "to-picky")
            told_to_picky: list[Any] = []
            for kind, how, target in sends:
                message = odd_message(kind)
                made.append(message)
                ref = echo if target == "Echo" else picky
                note(f"{how} {kind} to {target}")
                if how == "tell":
                    ref.tell(message)
                elif how == "send":
                    await ref.send(message)
                elif how == "publish":
                    assert system.publish("to-echo" if target == "Echo" else "to-picky", message) == 1
                else:
                    reply = ref.ask(message, timeout=5) if how == "ask" else ref.ask_nowait(message, timeout=5)
                    if target == "Echo":
                        assert (await reply) is message
                    else:
                        with pytest.raises(
                            UnhandledMessage, match=rf"does not handle {type(message).__name__} messages"
                        ):
                            await reply
                    continue
                if target == "Picky":
                    told_to_picky.append(message)
            # FIFO per sender: once these are answered, everything told before is handled.
            assert await echo.ask(7, timeout=5) == 7
            assert await picky.ask(7, timeout=5) == 7
            echoed = [m for m, (_, how, target) in zip(made, sends) if target == "Echo"]
            for message in echoed:
                assert contains(echo_seen, message) == contains(echoed, message), "Echo lost or duplicated a message"
            letters = [d for d in system.dead_letters if d.recipient is picky]
            for message in told_to_picky:
                mine = [d for d in letters if d.message is message]
                assert len(mine) == contains(told_to_picky, message), "a told message was lost or duplicated"
                for letter in mine:
                    assert letter.reason == "unhandled by 'picky' (Picky)"
                    assert isinstance(letter.error, UnhandledMessage)
            assert len(letters) == len(told_to_picky), "an answered ask must not be a dead letter"
            assert echo.is_alive and picky.is_alive
            if trace:
                assert system.tracer is not None and system.tracer.timeline()
            await assert_system_works(system)

    try:
        run_virtual(main)
    finally:
        for message in made:
            dispose(message)


async def test_a_coroutine_message_is_never_awaited_or_closed_by_the_runtime(actor_system_autojump) -> None:
    """The runtime hands a coroutine over untouched (its owner awaits or closes it), and
    holding it in the dead letters does not make it warn while the system runs."""
    system = actor_system_autojump
    echo = await system.spawn(Echo)
    picky = await system.spawn(Picky)
    coro = odd_message("unawaited coroutine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await echo.ask(coro) is coro
        picky.tell(coro)
        assert await picky.ask(1) == 1
        assert system.dead_letters[-1].message is coro
        gc.collect()
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
    assert await coro == 1  # still usable by its owner


async def test_a_message_whose_repr_raises_is_dead_lettered_even_with_debug_logging(
    actor_system_autojump, caplog: pytest.LogCaptureFixture
) -> None:
    """The runtime logs dead letters at DEBUG with ``%r`` of the message. With DEBUG on (as
    in any pytest run with ``--log-level=DEBUG``, whose handler re-raises formatting
    errors), an unprintable message must still just become a dead letter."""
    system = actor_system_autojump
    picky = await system.spawn(Picky, name="picky")
    message = BadRepr()
    with caplog.at_level(logging.DEBUG, logger="actors"):
        picky.tell(message)
        assert await picky.ask(1, timeout=1) == 1
    assert picky.is_alive
    assert system.dead_letters[-1].message is message
    await assert_system_works(system)


# -- handlers that raise unprintable exceptions --------------------------------------

UNPRINTABLE_ERRORS: dict[str, Callable[[], BaseException]] = {
    "exception whose repr raises": ReprRaisingError,
    "ValueError holding an unprintable object": lambda: ValueError(BadRepr()),
    "ValueError holding a list nested 50000 deep": lambda: ValueError(
        odd_message("list nested 50000 deep (repr raises RecursionError)")
    ),
}


class Raiser(Actor):
    """Raises the exception it is sent; answers anything else."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(UNPRINTABLE_ERRORS)), supervised=st.booleans(), trace=st.booleans())
def test_a_handler_raising_an_unprintable_exception_fails_only_that_actor(
    kind: str, supervised: bool, trace: bool, quiet_actors_logger: None
) -> None:
    """The asker gets that very exception; the message is a dead letter; the actor stops
    (or its supervisor restarts it); no other actor is hurt and the block exits cleanly."""

    async def main() -> None:
        async with open_actor_system(trace=trace) as system:
            bystander = await system.spawn(Echo, name="bystander")
            if supervised:
                await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Raiser, name="raiser")]))
                raiser = system.lookup("raiser")
            else:
                raiser = await system.spawn(Raiser, name="raiser")
            error = UNPRINTABLE_ERRORS[kind]()
            with pytest.raises(type(error)) as info:
                await raiser.ask(error, timeout=5)
            assert info.value is error
            assert any(d.error is error and d.recipient is raiser for d in system.dead_letters)
            if supervised:
                assert await raiser.ask("back", timeout=5) == "back"
            else:
                with trio.fail_after(1):
                    while raiser.is_alive:
                        await trio.sleep(0.01)
            assert await bystander.ask("fine", timeout=5) == "fine"
            system.inspect()  # the last error is on show; showing it must not raise
            await assert_system_works(system)

    run_virtual(main)


async def test_a_handler_raising_an_unprintable_exception_is_logged_without_breaking_the_logging(
    actor_system_autojump, caplog: pytest.LogCaptureFixture
) -> None:
    """Failures are logged at ERROR with ``%r`` of the exception; under pytest's handler (which
    re-raises formatting errors) an unprintable one must not take the runtime down."""
    system = actor_system_autojump
    raiser = await system.spawn(Raiser, name="raiser")
    error = ReprRaisingError()
    with caplog.at_level(logging.ERROR, logger="actors"):
        with pytest.raises(ReprRaisingError):
            await raiser.ask(error, timeout=5)
    assert "raiser" in caplog.text
    await assert_system_works(system)


class NotAnException(BaseException):
    """A BaseException of the user's own (not an Exception): such things exist in the wild."""


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), NotAnException()], ids=repr)
def test_a_handler_raising_a_base_exception_reaches_the_user_as_itself(error: BaseException) -> None:
    """``sys.exit()`` inside a handler (or any BaseException that is not trio's Cancelled)
    must come out of the system block as that exception, never wrapped in a
    (Base)ExceptionGroup, and every other actor still gets its on_stop."""
    life = Lifecycle()

    class Tracked(Echo):
        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    async def main() -> None:
        async with open_actor_system() as system:
            await system.spawn(Tracked)
            raiser = await system.spawn(Raiser)
            await raiser.ask(error, timeout=5)

    raised: BaseException | None = None
    try:
        run_virtual(main)
    except BaseException as exc:
        raised = exc
    assert raised is error, f"the system block raised {raised!r}, not the bare {error!r}"
    assert life.problems() == []
