"""Fuzzing the public entry points: bad or odd input gives a clear error (or a dead letter)
and leaves the system working.

Never a hang (every run is bounded in virtual time), never a crash of an unrelated actor,
never a lost message, never an ExceptionGroup reaching the user. Every example runs in a
fresh ``trio.run`` under ``MockClock(autojump_threshold=0)``, so timeouts, grace periods
and backoff cost no real time and ``trio.current_time()`` says exactly how long something
waited.

Sections: odd messages; bad arguments to every entry point; reentrant asks (deadlocks);
Reply callbacks that raise; lifecycle hooks that raise or hang; cancellation from outside
at any point; shutdown in the middle of load.
"""

from __future__ import annotations

import gc
import inspect
import logging
import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorError,
    ActorNotFound,
    ActorRef,
    ActorStopped,
    AskTimeout,
    DeadlockError,
    EscalatedFailure,
    MailboxFull,
    Reply,
    UnhandledMessage,
    gather,
    open_actor_system,
)
from actors import tool as actors_tool
from fuzz_helpers import (
    ODD_MESSAGES,
    BadRepr,
    Boom,
    Echo,
    Lifecycle,
    Picky,
    ReprRaisingError,
    dispose,
    odd_message,
    run_virtual,
)
from supervision import (Backoff, ChildSpec, ChildStartFailed, OneForAll, OneForOne, RestForOne, Supervisor,
                         restart_count)

SEND_KINDS = ("tell", "send", "ask", "ask_nowait", "publish")


async def assert_system_works(system: Any) -> None:
    """A fresh actor can still be spawned, asked and stopped."""
    fresh = await system.spawn(Echo)
    assert await fresh.ask("still working", timeout=1) == "still working"
    await system.stop(fresh)


def contains(items: list[Any], obj: Any) -> int:
    """How many times ``obj`` itself (by identity, never ``==``) is in ``items``."""
    return sum(1 for item in items if item is obj)


@pytest.fixture
def quiet_actors_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make logging swallow formatting errors, as a production handler does.

    pytest's capture handler re-raises an error in formatting a log record (stdlib handlers
    print it to stderr and go on). Tests about the runtime's own use of ``repr`` (not about
    logging) use this, so that the two causes stay apart; logging has its own tests below.
    """
    monkeypatch.setattr(logging, "raiseExceptions", False)


# =====================================================================================
# Odd messages
# =====================================================================================


@settings(max_examples=40, deadline=None)
@given(
    sends=st.lists(
        st.tuples(st.sampled_from(sorted(ODD_MESSAGES)), st.sampled_from(SEND_KINDS), st.sampled_from(["Echo", "Picky"])),
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
                        with pytest.raises(UnhandledMessage, match=rf"does not handle {type(message).__name__} messages"):
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
    "ValueError holding a list nested 50000 deep": lambda: ValueError(odd_message(
        "list nested 50000 deep (repr raises RecursionError)")),
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
    except BaseException as exc:  # noqa: BLE001 - the point is what comes out
        raised = exc
    assert raised is error, f"the system block raised {raised!r}, not the bare {error!r}"
    assert life.problems() == []


# =====================================================================================
# Bad arguments to every public entry point
# =====================================================================================

NOT_A_NUMBER = st.one_of(st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(), max_size=1), st.just(b"1"))
BAD_SECONDS = st.one_of(
    NOT_A_NUMBER.filter(lambda v: v is not None),
    st.floats(max_value=0.0),  # includes -inf, -0.0 and 0.0
    st.integers(max_value=0),
    st.just(math.nan),
)
BAD_COUNT = st.one_of(
    NOT_A_NUMBER.filter(lambda v: v is not None),
    st.integers(max_value=0),
    st.floats(allow_nan=True),
)


@settings(max_examples=60, deadline=None)
@given(
    setting_and_value=st.one_of(
        st.tuples(st.sampled_from(["shutdown_timeout", "ask_timeout"]), BAD_SECONDS),
        st.tuples(st.just("shutdown_timeout"), st.just(math.inf)),
        st.tuples(st.sampled_from(["max_threads", "throughput", "dead_letters_size"]), BAD_COUNT),
        st.tuples(st.just("trace"), st.one_of(st.integers(), st.floats(), st.lists(st.none(), max_size=1))),
    )
)
def test_a_bad_setting_of_open_actor_system_raises_a_type_or_value_error_naming_it(
    setting_and_value: tuple[str, Any],
) -> None:
    setting, value = setting_and_value
    with pytest.raises((TypeError, ValueError), match=rf"^{setting} must be ") as info:
        open_actor_system(**{setting: value})
    assert not isinstance(info.value, ActorError)


@pytest.mark.parametrize("config", [{"unknown_kw": 1}, {"shutdown_timeout": 0}, {"max_threads": 0}, {"throughput": 0}])
def test_the_configurations_named_in_the_issue_fail_at_construction(config: dict[str, Any]) -> None:
    (key, _), = config.items()
    with pytest.raises((TypeError, ValueError), match=re.escape(key)):
        open_actor_system(**config)

    async def main() -> None:  # a good system still opens afterwards
        async with open_actor_system() as system:
            await assert_system_works(system)

    run_virtual(main)


async def test_entering_a_system_twice_or_without_async_is_a_clear_runtime_error() -> None:
    opener = open_actor_system()
    with pytest.raises(RuntimeError, match=r"^use 'async with open_actor_system\(\.\.\.\)', not 'with"):
        with opener:  # type: ignore[attr-defined]
            pass
    async with opener as system:
        with pytest.raises(RuntimeError, match=r"^this open_actor_system\(\) was already entered"):
            async with opener:
                pass
        await assert_system_works(system)


class NotAnActor:
    pass


def _a_function() -> None:
    return None


BAD_ACTOR_CLASSES: dict[str, Callable[[], Any]] = {
    "an instance": Echo,  # built outside a system: the error message shows it
    "int": lambda: int,
    "None": lambda: None,
    "a class name as str": lambda: "Echo",
    "a plain class": lambda: NotAnActor,
    "a function": lambda: _a_function,
    "a Supervisor value": lambda: Supervisor(name="tree"),
}
BAD_NAMES = st.one_of(
    st.integers(), st.binary(max_size=3), st.just(""), st.text(max_size=4).map(lambda t: t + "/x"),
    st.lists(st.text(max_size=2), max_size=1), st.just(BadRepr()),
)
BAD_MAILBOX_SIZES = st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2), st.booleans(), st.just([1]))


@st.composite
def bad_spawns(draw: st.DrawFn) -> tuple[str, Any, dict[str, Any]]:
    """One bad argument at a time: (what, actor_cls, keyword arguments)."""
    what = draw(st.sampled_from(["actor_cls", "name", "mailbox_size", "init_args"]))
    if what == "actor_cls":
        label = draw(st.sampled_from(sorted(BAD_ACTOR_CLASSES)))
        return f"actor_cls={label}", BAD_ACTOR_CLASSES[label](), {"name": "target"}
    if what == "name":
        return what, Echo, {"name": draw(BAD_NAMES)}
    if what == "mailbox_size":
        return what, Echo, {"name": "target", "mailbox_size": draw(BAD_MAILBOX_SIZES)}
    return what, Echo, {"name": "target", "unexpected": 1}


SPAWN_ERRORS = {
    "actor_cls": r"^spawn\(\) takes an Actor subclass, not ",
    "name": r"^name must be a (str|non-empty string without '/')",
    "mailbox_size": r"^mailbox_size must be ",
    "init_args": r"unexpected|takes",  # what the actor's own __init__ raises
}


@settings(max_examples=60, deadline=None)
@given(bad=bad_spawns(), from_an_actor=st.booleans())
def test_spawn_with_a_bad_argument_raises_a_clear_error_and_reserves_no_name(
    bad: tuple[str, Any, dict[str, Any]], from_an_actor: bool
) -> None:
    what, actor_cls, kwargs = bad

    class Spawner(Actor):
        async def receive(self, message: Any) -> Any:
            try:
                await self.spawn(actor_cls, **kwargs)
            except Exception as exc:  # noqa: BLE001 - handed back to the test
                return exc
            return None

    async def main() -> None:
        async with open_actor_system() as system:
            if from_an_actor:
                spawner = await system.spawn(Spawner, name="spawner")
                error = await spawner.ask("spawn", timeout=5)
                assert spawner.is_alive
            else:
                with pytest.raises(Exception) as info:
                    await system.spawn(actor_cls, **kwargs)
                error = info.value
            assert isinstance(error, (TypeError, ValueError)), f"{what}: {error!r}"
            pattern = SPAWN_ERRORS[what.split("=")[0]]
            assert re.search(pattern, str(error)), f"{what}: unclear message {str(error)!r}"
            assert [r.name for r in system.actors()] == (["spawner"] if from_an_actor else [])
            ref = await system.spawn(Echo, name="target")  # the name was not left reserved
            assert await ref.ask(1, timeout=1) == 1
            await assert_system_works(system)

    run_virtual(main)


TIMEOUT_ERRORS = r"^timeout must be (a number|>= 0)"


@settings(max_examples=50, deadline=None)
@given(
    timeout=st.one_of(
        NOT_A_NUMBER.filter(lambda v: v is not None),
        st.floats(max_value=-1e-9),
        st.integers(max_value=-1),
        st.just(math.nan),
    ),
    entry=st.sampled_from(["ask", "ask_nowait", "gather"]),
)
@example(timeout=math.nan, entry="gather")
@example(timeout="1", entry="gather")
def test_a_bad_timeout_raises_a_clear_error_and_sends_nothing(timeout: Any, entry: str) -> None:
    async def main() -> None:
        async with open_actor_system() as system:
            seen: list[Any] = []
            echo = await system.spawn(Echo, seen)
            with pytest.raises((TypeError, ValueError)) as info:
                if entry == "ask":
                    await echo.ask("bad", timeout=timeout)
                elif entry == "ask_nowait":
                    echo.ask_nowait("bad", timeout=timeout)
                else:
                    await gather(timeout=timeout)
            assert re.search(TIMEOUT_ERRORS, str(info.value)), f"unclear message: {str(info.value)!r}"
            assert await echo.ask("good", timeout=1) == "good"
            assert seen == ["good"], "a refused ask must not be delivered"
            assert len(system.dead_letters) == 0

    run_virtual(main)


@pytest.mark.parametrize("item", [1, None, "ask", lambda: None, Echo], ids=["int", "None", "str", "lambda", "a class"])
async def test_gather_of_a_non_awaitable_raises_a_type_error_naming_its_position(
    actor_system_autojump: Any, item: Any
) -> None:
    echo = await actor_system_autojump.spawn(Echo)
    with pytest.raises(TypeError, match=r"^gather\(\) argument 0 is not awaitable: "):
        await gather(item)
    with pytest.raises(TypeError, match=r"^gather\(\) argument 1 is not awaitable: "):
        await gather(echo.ask_nowait("fine"), item)  # a Reply is awaitable and needs no closing
    await assert_system_works(actor_system_autojump)


async def test_gather_that_rejects_its_arguments_closes_the_coroutines_it_was_given(actor_system_autojump: Any) -> None:
    """``await gather(ref.ask(x), timeout=-1)``: the ask coroutine exists before gather can
    refuse; gather must close it, or it warns 'never awaited' at garbage collection (an
    error under ``-W error``), pointing at the ask instead of at the bad argument."""
    echo = await actor_system_autojump.spawn(Echo)
    left_open = []
    for bad_call in ["timeout=-1", "timeout='1'", "a non-awaitable after it"]:
        ask = echo.ask("x")
        with pytest.raises((TypeError, ValueError)):
            if bad_call == "timeout=-1":
                await gather(ask, timeout=-1)
            elif bad_call == "timeout='1'":
                await gather(ask, timeout="1")  # type: ignore[arg-type]
            else:
                await gather(ask, 1)  # type: ignore[arg-type]
        if inspect.getcoroutinestate(ask) != inspect.CORO_CLOSED:
            left_open.append(bad_call)
            ask.close()  # so that this test itself does not warn
    assert left_open == [], f"gather left the ask coroutine unclosed when refusing: {left_open}"
    await assert_system_works(actor_system_autojump)


async def test_bad_arguments_to_lookup_subscribe_publish_and_stop_raise_clear_errors(actor_system_autojump: Any) -> None:
    system = actor_system_autojump
    echo = await system.spawn(Echo, name="echo")
    with pytest.raises(TypeError, match=r"^lookup\(\) takes a name or path string, not int$"):
        system.lookup(123)  # type: ignore[arg-type]
    assert system.lookup("/echo/") is echo  # a trailing slash is tolerated on a path
    for odd_name in ["", "/", "//", "nope", "/nope/echo", "echo/", "/echo/x"]:
        with pytest.raises(ActorNotFound, match=r"^no living actor is called "):
            system.lookup(odd_name)
    for not_a_ref in [1, None, "echo", echo._cell, Echo]:
        with pytest.raises(TypeError, match=r"^subscribe\(\) takes an ActorRef, not "):
            system.subscribe(not_a_ref, "topic")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^unsubscribe\(\) takes an ActorRef, not "):
            system.unsubscribe(not_a_ref, "topic")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^stop\(\) takes an ActorRef, not "):
            await system.stop(not_a_ref)  # type: ignore[arg-type]
    for unhashable in [[], {}, {1}]:
        with pytest.raises(TypeError, match=r"unhashable type"):
            system.subscribe(echo, unhashable)
        with pytest.raises(TypeError, match=r"unhashable type"):
            system.publish(unhashable, "m")
    with pytest.raises(TypeError, match=r"^spawn_tree\(\) takes a supervision\.Supervisor, not .*use spawn\(\)"):
        await system.spawn_tree(Echo)  # type: ignore[arg-type]
    for cls in (ActorRef, Reply):
        with pytest.raises(TypeError, match=r"has no public constructor"):
            cls()
    assert echo.is_alive and system.publish("topic", "m") == 0
    await assert_system_works(system)


NOT_REFS = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just(Echo), st.just(BadRepr()))


@settings(max_examples=30, deadline=None)
@given(not_a_ref=NOT_REFS, not_callable=st.one_of(st.none(), st.integers(), st.text(max_size=3)))
def test_bad_arguments_to_the_actor_api_raise_clear_errors_inside_the_handler(not_a_ref: Any, not_callable: Any) -> None:
    """watch/unwatch take refs, run_in_thread/run_in_process take callables,
    DeferredReply.fail takes an exception, defer_reply works only in receive; each mistake
    is a TypeError (or ActorError) naming the call, caught by the handler, which goes on."""
    class Careless(Actor):
        async def on_start(self) -> None:
            try:
                self.defer_reply()
            except ActorError as exc:
                self.on_start_error = exc

        async def receive(self, message: Any) -> Any:
            errors: dict[str, BaseException | None] = {}

            async def attempt(label: str, call: Callable[[], Any]) -> None:
                try:
                    result = call()
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:  # noqa: BLE001 - collected for the test
                    errors[label] = exc
                else:
                    errors[label] = None

            await attempt("watch", lambda: self.watch(not_a_ref))
            await attempt("unwatch", lambda: self.unwatch(not_a_ref))
            await attempt("run_in_thread", lambda: self.run_in_thread(not_callable))
            await attempt("run_in_process", lambda: self.run_in_process(not_callable))
            handle = self.defer_reply()
            await attempt("fail", lambda: handle.fail("not an exception"))
            handle.reply((errors, self.on_start_error))
            return None

    async def main() -> None:
        async with open_actor_system() as system:
            ref = await system.spawn(Careless)
            errors, on_start_error = await ref.ask("go", timeout=5)
            assert re.match(r"^defer_reply\(\) must be called from receive\(\)", str(on_start_error))
            unclear = {
                label: repr(error) for label, error in errors.items()
                if not (isinstance(error, TypeError) and str(error).startswith(f"{label}() takes")
                        or isinstance(error, TypeError) and re.match(rf"^{label} (needs|takes) a", str(error)))
            }
            assert unclear == {}, f"unclear or missing errors: {unclear}"
            assert ref.is_alive
            with pytest.raises(TypeError, match=r"^restart_count\(\) takes an ActorRef"):
                restart_count(not_a_ref)
            await assert_system_works(system)

    run_virtual(main)


@settings(max_examples=40, deadline=None)
@given(
    call=st.sampled_from(["schedule_once", "schedule_every"]),
    delay=st.one_of(NOT_A_NUMBER, st.floats(max_value=-1e-9), st.just(math.nan), st.integers(max_value=-1)),
)
@example(call="schedule_every", delay=0)
@example(call="schedule_every", delay=0.0)
def test_a_bad_timer_delay_raises_in_the_handler_and_schedules_nothing(call: str, delay: Any) -> None:
    class Scheduler(Actor):
        def __init__(self) -> None:
            self.got: list[Any] = []

        async def receive(self, message: Any) -> Any:
            if message == "tick":
                self.got.append(message)
                return None
            if message == "got":
                return list(self.got)
            try:
                getattr(self, call)(delay, "tick")
            except (TypeError, ValueError) as exc:
                return exc
            return None

    async def main() -> None:
        async with open_actor_system() as system:
            ref = await system.spawn(Scheduler)
            error = await ref.ask("schedule", timeout=1)
            assert isinstance(error, (TypeError, ValueError))
            assert re.match(r"^(delay|interval) must be ", str(error)), str(error)
            await trio.sleep(1000)
            assert await ref.ask("got", timeout=1) == []
            await assert_system_works(system)

    run_virtual(main)


SUPERVISION_BAD_VALUES: list[tuple[str, Callable[[], Any], str]] = [
    ("ChildSpec(int)", lambda: ChildSpec(int), r"^ChildSpec\(\) takes an Actor subclass"),
    ("ChildSpec(instance)", lambda: ChildSpec(Echo()), r"pass the class, not an instance"),
    ("ChildSpec restart='forever'", lambda: ChildSpec(Echo, restart="forever"), r"^restart must be one of"),
    ("ChildSpec restart=None", lambda: ChildSpec(Echo, restart=None), r"^restart must be one of"),
    ("ChildSpec restart=[]", lambda: ChildSpec(Echo, restart=[]), r"^restart must be one of"),
    ("ChildSpec name=1", lambda: ChildSpec(Echo, name=1), r"^name must be"),
    ("ChildSpec name='a/b'", lambda: ChildSpec(Echo, name="a/b"), r"^name must be"),
    ("ChildSpec name=unprintable", lambda: ChildSpec(Echo, name=BadRepr()), r"^name must be"),
    ("ChildSpec message_timeout=0", lambda: ChildSpec(Echo, message_timeout=0), r"^message_timeout must be"),
    ("ChildSpec message_timeout=nan", lambda: ChildSpec(Echo, message_timeout=math.nan), r"^message_timeout must be"),
    ("ChildSpec message_timeout='1'", lambda: ChildSpec(Echo, message_timeout="1"), r"^message_timeout must be"),
    ("ChildSpec shutdown_timeout=-1", lambda: ChildSpec(Echo, shutdown_timeout=-1), r"^shutdown_timeout must be"),
    ("ChildSpec shutdown_timeout=inf", lambda: ChildSpec(Echo, shutdown_timeout=math.inf), r"^shutdown_timeout must be"),
    ("ChildSpec shutdown_timeout='5'", lambda: ChildSpec(Echo, shutdown_timeout="5"), r"^shutdown_timeout must be"),
    ("ChildSpec mailbox_size=0", lambda: ChildSpec(Echo, mailbox_size=0), r"^mailbox_size must be"),
    ("ChildSpec mailbox_size=True", lambda: ChildSpec(Echo, mailbox_size=True), r"^mailbox_size must be"),
    ("Supervisor name=None", lambda: Supervisor(name=None), r"^Supervisor name must be"),
    ("Supervisor name=''", lambda: Supervisor(name=""), r"^Supervisor name must be"),
    ("Supervisor without name", lambda: Supervisor(), r"name"),
    ("Supervisor strategy=OneForOne", lambda: Supervisor(name="s", strategy=OneForOne), r"^strategy must be"),
    ("Supervisor strategy='one_for_one'", lambda: Supervisor(name="s", strategy="one_for_one"), r"^strategy must be"),
    ("Supervisor children=ChildSpec", lambda: Supervisor(name="s", children=ChildSpec(Echo)), r"^children must be"),
    ("Supervisor children='ab'", lambda: Supervisor(name="s", children="ab"), r"^children must be"),
    ("Supervisor children={spec}", lambda: Supervisor(name="s", children={ChildSpec(Echo)}), r"^children must be"),
    ("Supervisor children=[Echo]", lambda: Supervisor(name="s", children=[Echo]), r"wrap it: ChildSpec"),
    ("Supervisor children=[None]", lambda: Supervisor(name="s", children=[None]), r"must be ChildSpec or Supervisor"),
    ("Supervisor two children named x",
     lambda: Supervisor(name="s", children=[ChildSpec(Echo, name="x"), ChildSpec(Picky, name="x")]),
     r"two children named 'x'"),
    ("OneForOne(max_restarts=-1)", lambda: OneForOne(max_restarts=-1), r"^max_restarts must be"),
    ("OneForAll(max_restarts=1.5)", lambda: OneForAll(max_restarts=1.5), r"^max_restarts must be"),
    ("RestForOne(max_restarts=True)", lambda: RestForOne(max_restarts=True), r"^max_restarts must be"),
    ("OneForOne(within=0)", lambda: OneForOne(within=0), r"^within must be"),
    ("OneForOne(within=nan)", lambda: OneForOne(within=math.nan), r"^within must be"),
    ("OneForOne(within='5')", lambda: OneForOne(within="5"), r"^within must be"),
    ("OneForOne(backoff=0.1)", lambda: OneForOne(backoff=0.1), r"^backoff must be"),
    ("OneForOne(3) positional", lambda: OneForOne(3), r"positional"),
    ("Backoff(initial=-1)", lambda: Backoff(initial=-1), r"^initial must be"),
    ("Backoff(initial=nan)", lambda: Backoff(initial=math.nan), r"^initial must be"),
    ("Backoff(maximum=inf)", lambda: Backoff(maximum=math.inf), r"^maximum must be"),
    ("Backoff(maximum < initial)", lambda: Backoff(initial=2.0, maximum=1.0), r"^maximum \(1\.0\) must be >= initial"),
    ("Backoff(multiplier=0.5)", lambda: Backoff(multiplier=0.5), r"^multiplier must be"),
    ("Backoff(multiplier=nan)", lambda: Backoff(multiplier=math.nan), r"^multiplier must be"),
    ("Backoff(multiplier='2')", lambda: Backoff(multiplier="2"), r"^multiplier must be"),
    ("Backoff(jitter=1)", lambda: Backoff(jitter=1), r"^jitter must be"),
    ("Backoff(jitter=-0.1)", lambda: Backoff(jitter=-0.1), r"^jitter must be"),
    ("Backoff(jitter=nan)", lambda: Backoff(jitter=math.nan), r"^jitter must be"),
]


@pytest.mark.parametrize(
    "build, pattern", [(b, p) for _, b, p in SUPERVISION_BAD_VALUES], ids=[i for i, _, _ in SUPERVISION_BAD_VALUES]
)
def test_a_bad_supervision_value_fails_at_construction_with_a_clear_message(build: Callable[[], Any], pattern: str) -> None:
    with pytest.raises((TypeError, ValueError), match=pattern):
        build()


async def test_the_system_still_spawns_trees_after_rejecting_bad_supervision_values(actor_system_autojump: Any) -> None:
    system = actor_system_autojump
    for _, build, _ in SUPERVISION_BAD_VALUES:
        with pytest.raises(Exception):  # noqa: B017 - which one is the test above's business
            build()
    tree = await system.spawn_tree(Supervisor(
        name="team",
        strategy=OneForOne(max_restarts=1, within=1, backoff=Backoff(initial=0, maximum=0)),
        children=[ChildSpec(Echo, name="x")],
    ))
    assert tree.is_alive and await system.lookup("x").ask(1, timeout=1) == 1
    await assert_system_works(system)


async def test_using_refs_after_the_system_closed_is_a_dead_letter_or_actor_stopped() -> None:
    async with open_actor_system() as system:
        echo = await system.spawn(Echo, name="echo")
    assert not echo.is_alive
    echo.tell("late")
    assert system.dead_letters[-1].message == "late"
    with pytest.raises(ActorStopped, match=r"^actor 'echo' has stopped and cannot receive str"):
        await echo.ask("late")
    with pytest.raises(ActorStopped, match=r"^actor 'echo' has stopped and cannot receive str"):
        await echo.ask_nowait("late")
    with pytest.raises(ActorStopped, match=r"^actor 'echo' has stopped and cannot receive str"):
        await echo.send("late")
    with pytest.raises(ActorStopped):
        await system.spawn(Echo)
    with pytest.raises(ActorNotFound):
        system.lookup("echo")


# =====================================================================================
# Reentrant asks: DeadlockError at once, never a wait until the timeout
# =====================================================================================

ASK_STYLES = ("ask", "ask_nowait then await", "gather(ask)", "gather(ask_nowait)")


class Hop(Actor):
    """On ``("go", hops)``, asks the next actor of the ring ``("go", hops - 1)`` in a drawn style.

    A DeadlockError is caught and handed back up the chain (so no actor fails), with the
    virtual time at which it was raised. ``hops == 0``: answer "leaf".
    """

    def __init__(self, style: str) -> None:
        self.style = style
        self.next: ActorRef[Any] | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.next = message
            return None
        _, hops = message
        if hops == 0:
            return "leaf"
        assert self.next is not None
        request = ("go", hops - 1)
        try:
            if self.style == "ask":
                return await self.next.ask(request, timeout=100)
            if self.style == "ask_nowait then await":
                return await self.next.ask_nowait(request, timeout=100)
            if self.style == "gather(ask)":
                [answer] = await gather(self.next.ask(request, timeout=100))
                return answer
            [answer] = await gather(self.next.ask_nowait(request, timeout=100))
            return answer
        except DeadlockError as exc:
            return ("deadlock", self.ref.name, trio.current_time(), str(exc))


@settings(max_examples=40, deadline=None)
@given(styles=st.lists(st.sampled_from(ASK_STYLES), min_size=1, max_size=4))
def test_an_ask_cycle_raises_deadlock_error_at_once(styles: list[str]) -> None:
    """Actor i asks actor i+1, the last asks actor 0 (one actor: it asks itself): the
    ask that closes the cycle raises DeadlockError without virtual time passing, and the
    chain unwinds with no actor failing. A message an ask_nowait enqueued before the
    refusal is still handled later, and its unwanted answer becomes a dead letter."""
    n = len(styles)

    async def main() -> None:
        async with open_actor_system() as system:
            ring = [await system.spawn(Hop, style, name=f"hop{i}") for i, style in enumerate(styles)]
            for i, ref in enumerate(ring):
                await ref.ask(ring[(i + 1) % n], timeout=1)
            start = trio.current_time()
            answer = await ring[0].ask(("go", n), timeout=100)
            assert isinstance(answer, tuple) and answer[0] == "deadlock", answer
            _, who, when, text = answer
            assert when == start and trio.current_time() == start, "a deadlock must not wait for a timeout"
            if n == 1:
                assert text.startswith("actor 'hop0' asked itself tuple while handling a message"), text
            else:
                # Which ask closes the cycle depends on the order the awaits ran in (an
                # ask_nowait joins the chain only when awaited): any hop may be refused.
                assert re.match(rf"^ask cycle: '{who}' -> ", text), text
                assert all(f"'hop{i}'" in text for i in range(n)), text
            # Everything settles: each actor still answers, nobody failed.
            await trio.sleep(1)
            for ref in ring:
                assert ref.is_alive
                assert await ref.ask(("go", 0), timeout=1) == "leaf"
            letters = list(system.dead_letters)
            assert all(d.reason.startswith("late reply to tuple") for d in letters), letters
            assert len(letters) <= n, "only asks refused after being enqueued may answer late"
            assert trio.current_time() - start == 1

    run_virtual(main)


async def test_asking_yourself_from_on_start_or_a_nested_gather_is_a_deadlock_at_once(autojump_clock: Any) -> None:
    class SelfAsker(Actor):
        async def on_start(self) -> None:
            start = trio.current_time()
            with pytest.raises(DeadlockError, match=r"asked itself str"):
                await self.ref.ask("hello")
            assert trio.current_time() == start
            self.started_ok = True

        async def receive(self, message: Any) -> Any:
            if message == "nested":
                inner = gather(gather(self.ref.ask("x", timeout=50)))
                try:
                    await inner
                except DeadlockError:
                    return "deadlock"
            return self.started_ok

    async with open_actor_system() as system:
        ref = await system.spawn(SelfAsker)
        start = trio.current_time()
        assert await ref.ask("nested", timeout=100) == "deadlock"
        assert trio.current_time() == start
        assert await ref.ask("ok?", timeout=1) is True
        await assert_system_works(system)


# =====================================================================================
# Reply.add_done_callback: a callback that raises never breaks the others or the system
# =====================================================================================


class Servant(Actor):
    """Answers by what it is sent: a value, an error, a long sleep, or unhandled."""

    async def receive(self, message: Any) -> Any:
        if message == "value":
            return 42
        if message == "error":
            raise Boom("handler error")
        if message == "slow":
            await trio.sleep(50)
            return "too late"
        self.unhandled(message)


class UnprintableCallback:
    """A callable whose repr raises (the runtime logs callbacks with %r)."""

    def __init__(self, calls: list[Any], index: int, fail: bool) -> None:
        self.calls, self.index, self.fail = calls, index, fail

    def __call__(self, reply: Reply[Any]) -> None:
        self.calls.append((self.index, reply))
        if self.fail:
            raise Boom(f"callback {self.index} failed")

    def __repr__(self) -> str:
        raise RuntimeError("UnprintableCallback.__repr__ raised")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcome=st.sampled_from(["value", "error", "slow", "unhandled", "stopped"]),
    callbacks=st.lists(
        st.tuples(st.booleans(), st.sampled_from(["before", "after"]), st.sampled_from(["function", "unprintable"])),
        min_size=1,
        max_size=6,
    ),
)
def test_done_callbacks_that_raise_do_not_stop_the_others_or_the_system(
    outcome: str, callbacks: list[tuple[bool, str, str]], quiet_actors_logger: None
) -> None:
    calls: list[tuple[int, Any]] = []

    def make(index: int, fail: bool, kind: str) -> Callable[[Reply[Any]], None]:
        if kind == "unprintable":
            return UnprintableCallback(calls, index, fail)

        def callback(reply: Reply[Any]) -> None:
            calls.append((index, reply))
            if fail:
                raise Boom(f"callback {index} failed")

        return callback

    async def main() -> None:
        async with open_actor_system() as system:
            servant = await system.spawn(Servant, name="servant")
            reply = servant.ask_nowait("slow" if outcome == "stopped" else outcome, timeout=10)
            for index, (fail, when, kind) in enumerate(callbacks):
                if when == "before":
                    reply.add_done_callback(make(index, fail, kind))
            if outcome == "stopped":
                await trio.sleep(1)
                await system.stop(servant)
            with trio.fail_after(20):
                while not reply.done():
                    await trio.sleep(0.5)
            for index, (fail, when, kind) in enumerate(callbacks):
                if when == "after":
                    reply.add_done_callback(make(index, fail, kind))
            before = [i for i, (_, when, _) in enumerate(callbacks) if when == "before"]
            after = [i for i, (_, when, _) in enumerate(callbacks) if when == "after"]
            assert [i for i, _ in calls] == before + after, "every callback runs once, in the order added"
            assert all(r is reply for _, r in calls)
            expected = {"value": type(None), "error": Boom, "slow": AskTimeout, "unhandled": UnhandledMessage,
                        "stopped": ActorStopped}[outcome]
            if outcome == "value":
                assert reply.result() == 42
            else:
                assert isinstance(reply.exception(), expected), reply.exception()
            # The actor (unless it failed or was stopped) and the deadline ticker still work.
            if outcome in ("value", "slow", "unhandled"):
                assert servant.is_alive
            with pytest.raises(AskTimeout):
                await (await system.spawn(Servant)).ask("slow", timeout=1)
            await assert_system_works(system)

    run_virtual(main)


# =====================================================================================
# Lifecycle hooks that raise or hang
# =====================================================================================

HOOK_ERRORS: dict[str, Callable[[], Exception]] = {
    "Boom": lambda: Boom("hook failed"),
    "ActorError": lambda: ActorError("a runtime-looking error from user code"),
    "DeadlockError": lambda: DeadlockError("user code raising a runtime error type"),
    "TimeoutError": lambda: TimeoutError("user timeout"),
    "exception whose repr raises": ReprRaisingError,
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hook=st.sampled_from(["__init__", "on_start"]),
    error_kind=st.sampled_from(sorted(HOOK_ERRORS)),
    where=st.sampled_from(["system.spawn", "self.spawn", "under a supervisor"]),
)
def test_an_actor_failing_to_start_raises_from_spawn_frees_its_name_and_gets_no_on_stop(
    hook: str, error_kind: str, where: str, quiet_actors_logger: None
) -> None:
    life = Lifecycle()
    error = HOOK_ERRORS[error_kind]()

    class Failing(Actor):
        def __init__(self) -> None:
            if hook == "__init__":
                raise error

        async def on_start(self) -> None:
            if hook == "on_start":
                await trio.sleep(1)  # fails after an await, not only at once
                raise error
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            try:
                await self.spawn(Failing, name="failing")
            except Exception as exc:  # noqa: BLE001 - handed back to the test
                return exc
            return None

    async def main() -> None:
        async with open_actor_system() as system:
            bystander = await system.spawn(Echo, name="bystander")
            if where == "system.spawn":
                with pytest.raises(type(error)) as info:
                    await system.spawn(Failing, name="failing")
                raised = info.value
            elif where == "self.spawn":
                parent = await system.spawn(Parent, name="parent")
                raised = await parent.ask("spawn", timeout=5)
                assert parent.is_alive
            else:  # spawn_tree names the child and its supervisor; the hook's error is the cause
                with pytest.raises(ChildStartFailed) as failed:
                    await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Failing, name="failing")]))
                assert (failed.value.supervisor, failed.value.child) == ("sup", "failing")
                raised = failed.value.__cause__
                with pytest.raises(ActorNotFound):
                    system.lookup("sup")
            assert raised is error, f"spawn raised {raised!r}, not the hook's own error"
            with pytest.raises(ActorNotFound):
                system.lookup("failing")
            assert life.started == {} and life.stopped == {}, "a failed start gets no on_stop"
            assert bystander.is_alive and await bystander.ask("ok", timeout=1) == "ok"
            ref = await system.spawn(Echo, name="failing")  # the name is free again
            assert await ref.ask(1, timeout=1) == 1
            await assert_system_works(system)

    run_virtual(main)


@settings(max_examples=30, deadline=None)
@given(
    give_up_after=st.floats(0, 5),
    shutdown_timeout=st.sampled_from([0.5, 2.0, 5.0]),
    leave_at_once=st.booleans(),
)
def test_a_spawn_abandoned_while_on_start_hangs_leaves_no_trace_and_the_hook_is_cancelled_in_time(
    give_up_after: float, shutdown_timeout: float, leave_at_once: bool
) -> None:
    """The spawner's cancel scope wins at once and the half-started actor leaves no trace:
    ``lookup`` raises ActorNotFound and the name can be taken again right away. Its hung
    on_start gets ``shutdown_timeout`` (like a handler being stopped) and is then cancelled;
    it never completed, so there is no on_stop. Leaving the block at once is bounded too."""
    life = Lifecycle()
    on_start_ended: list[float] = []

    class Hung(Actor):
        async def on_start(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                on_start_ended.append(trio.current_time())

        async def on_stop(self) -> None:
            life.stop(self)

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
            await system.spawn(Echo, name="first")  # (a cancelled *first* spawn: see below)
            start = trio.current_time()
            with trio.move_on_after(give_up_after) as scope:
                await system.spawn(Hung, name="hung")
            assert scope.cancelled_caught
            given_up = trio.current_time()
            assert given_up - start == pytest.approx(give_up_after)
            with pytest.raises(ActorNotFound):
                system.lookup("hung")
            assert [r.name for r in system.actors()] == ["first"]
            if not leave_at_once:
                again = await system.spawn(Echo, name="hung")  # at once, while the old one winds down
                assert await again.ask(1, timeout=1) == 1
                await trio.sleep(2 * shutdown_timeout)
                assert system.lookup("hung") is again, "the old actor's end must not unregister the new one"
                await assert_system_works(system)
        # (Given up before on_start even began, at t=0, it never runs at all.)
        assert len(on_start_ended) <= 1
        assert all(ended - given_up <= shutdown_timeout + 1e-9 for ended in on_start_ended)
        assert life.stopped == {}

    run_virtual(main)


@settings(max_examples=20, deadline=None)
@given(
    first_of=st.sampled_from(["the system (top-level)", "an actor (its first child)"]),
    child=st.sampled_from(["Echo (starts lazily)", "an actor with on_start"]),
    cancel=st.sampled_from(["pre-cancelled scope", "move_on_after(0)"]),
)
def test_a_first_spawn_cancelled_at_once_leaves_no_half_registered_actor(
    first_of: str, child: str, cancel: str
) -> None:
    """Cancelling a spawn at its first checkpoint (here: while the parent opens the nursery
    its children run in, which the first spawn of each parent does) must leave nothing
    behind: no name, no ref, and nothing for the shutdown to wait on forever."""
    life = Lifecycle()

    class Starting(Echo):
        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    child_cls = Echo if child.startswith("Echo") else Starting

    escaped: list[BaseException] = []  # what came out of the cancelled spawn

    async def cancelled_spawn(spawn: Callable[..., Any]) -> None:
        with trio.CancelScope() as scope:
            try:
                if cancel == "pre-cancelled scope":
                    scope.cancel()
                    await spawn(child_cls, name="child")
                else:
                    with trio.move_on_after(0):
                        await spawn(child_cls, name="child")
            except BaseException as exc:
                escaped.append(exc)
                raise

    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            await cancelled_spawn(self.spawn)
            return [ref.name for ref in self.system.actors()]

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=1) as system:
            if first_of.startswith("the system"):
                await cancelled_spawn(system.spawn)
                living = [ref.name for ref in system.actors()]
            else:
                parent = await system.spawn(Parent, name="parent")
                living = await parent.ask("spawn", timeout=5)
            try:
                ref = system.lookup("child")
            except ActorNotFound:
                ref = None
            assert ref is None or not ref.is_alive, (
                f"a cancelled spawn left {ref!r} registered (actors: {living})"
            )
            assert all(isinstance(exc, trio.Cancelled) for exc in escaped), (
                f"spawn let {escaped!r} out instead of a bare trio.Cancelled (an "
                f"'except trio.Cancelled:' around spawn would miss it)"
            )
            await trio.sleep(1)  # any grace is over
            with pytest.raises(ActorNotFound):
                system.lookup("child")
            again = await system.spawn(Echo, name="child")
            assert await again.ask(1, timeout=1) == 1
            await assert_system_works(system)

    run_virtual(main, hang=100)
    assert life.problems() == []


STOP_BEHAVIOURS = ("ok", "raise", "hang", "slow", "unprintable error")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    behaviours=st.lists(st.sampled_from(STOP_BEHAVIOURS), min_size=1, max_size=5),
    shutdown_timeout=st.sampled_from([0.5, 1.0, 3.0]),
    how=st.sampled_from(["leave the block", "system.stop each", "cancel the block from outside"]),
)
def test_on_stop_that_raises_or_hangs_is_bounded_and_the_others_still_stop(
    behaviours: list[str], shutdown_timeout: float, how: str, quiet_actors_logger: None
) -> None:
    """Each on_stop runs once; a raising one is logged; a hanging one is cancelled after
    ``shutdown_timeout``. Stops are sequential (reverse start order, as OTP does), so the
    whole exit takes exactly the sum of each actor's on_stop time, capped per actor."""
    life = Lifecycle()
    slow = shutdown_timeout / 2

    class Stopper(Actor):
        def __init__(self, behaviour: str) -> None:
            self.behaviour = behaviour

        async def on_start(self) -> None:
            life.start(self)

        async def receive(self, message: Any) -> Any:
            return message

        async def on_stop(self) -> None:
            life.stop(self)
            if self.behaviour == "raise":
                raise Boom("on_stop failed")
            if self.behaviour == "unprintable error":
                raise ReprRaisingError()
            if self.behaviour == "hang":
                await trio.sleep_forever()
            if self.behaviour == "slow":
                await trio.sleep(slow)

    cost = {"ok": 0.0, "raise": 0.0, "unprintable error": 0.0, "hang": shutdown_timeout, "slow": slow}
    expected = sum(cost[b] for b in behaviours)

    async def main() -> None:
        with trio.CancelScope() as outer:
            async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
                refs = [await system.spawn(Stopper, b) for b in behaviours]
                start = trio.current_time()
                if how == "system.stop each":
                    for ref in refs:
                        await system.stop(ref)
                        assert not ref.is_alive
                    assert trio.current_time() - start == pytest.approx(expected)
                    await assert_system_works(system)
                    start = trio.current_time()
                    expected_exit = 0.0
                else:
                    expected_exit = expected
                    if how == "cancel the block from outside":
                        outer.cancel()
                        await trio.sleep(1)  # cancelled here
                        raise AssertionError("not cancelled")
        assert trio.current_time() - start == pytest.approx(expected_exit)
        assert life.problems() == []
        assert len(life.stopped) == len(behaviours)

    run_virtual(main)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    restart_failures=st.integers(0, 4),
    max_restarts=st.integers(1, 3),
    strategy=st.sampled_from([OneForOne, OneForAll, RestForOne]),
)
def test_on_restart_that_raises_is_a_failure_the_supervisor_counts(
    restart_failures: int, max_restarts: int, strategy: type, quiet_actors_logger: None
) -> None:
    """A fresh instance whose on_restart raises fails like a crash: the supervisor restarts
    again, and past its intensity gives up, raising one EscalatedFailure out of the block
    whose ``__cause__`` is the last on_restart error. Instances that never finished starting
    get no on_stop; every other one gets exactly one."""
    life = Lifecycle()
    failures_left = [restart_failures]

    class Fragile(Actor):
        def __init__(self, fragile: bool) -> None:
            self.fragile = fragile

        async def on_restart(self, exc: BaseException) -> None:
            if self.fragile and failures_left[0] > 0:
                failures_left[0] -= 1
                raise Boom(f"on_restart failed ({failures_left[0]} more to go)")

        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise Boom("crash")
            return message

    recovers = restart_failures + 1 <= max_restarts

    async def main() -> None:
        async with open_actor_system() as system:
            await system.spawn_tree(Supervisor(
                name="sup",
                strategy=strategy(max_restarts=max_restarts, within=100),
                children=[ChildSpec(Fragile, True, name="a"), ChildSpec(Fragile, False, name="b")],
            ))
            a = system.lookup("a")
            with pytest.raises(Boom, match="^crash$"):
                await a.ask("crash", timeout=5)
            await trio.sleep(1)
            assert recovers, "the supervisor should have given up by now"
            assert await a.ask("back", timeout=5) == "back"
            assert await system.lookup("b").ask("fine", timeout=5) == "fine"
            await assert_system_works(system)

    if recovers:
        run_virtual(main)
    else:
        with pytest.raises(EscalatedFailure) as info:
            run_virtual(main)
        assert info.value.supervisor == "sup" and info.value.child == "a"
        assert isinstance(info.value.__cause__, Boom)
        assert str(info.value.__cause__).startswith("on_restart failed")
    assert life.problems() == []


# =====================================================================================
# Cancellation from outside, at any point
# =====================================================================================

WORKERS = ("w1", "w2", "w3", "w4", "plain")


class Op:
    """One message of a workload: handled by `Worker` as ``action`` says. Identity = serial."""

    __slots__ = ("action", "how", "serial", "target")

    def __init__(self, serial: int, target: str, how: str, action: str) -> None:
        self.serial, self.target, self.how, self.action = serial, target, how, action

    def __repr__(self) -> str:
        return f"#{self.serial} {self.how} {self.action} to {self.target}"


@st.composite
def workloads(draw: st.DrawFn) -> list[Op]:
    """Steps: send a worker a message (tell, send, ask, ask_nowait) that it handles at once,
    after a sleep, by crashing, or by asking another worker in turn; or stop a worker."""
    steps = draw(st.lists(
        st.tuples(
            st.sampled_from(WORKERS),
            st.sampled_from(["tell", "send", "ask", "ask_nowait", "tell", "stop it"]),
            st.one_of(
                st.sampled_from(["ok", "ok", "sleep 0.3", "sleep 3", "crash"]),
                st.sampled_from(WORKERS).map(lambda w: f"forward {w}"),
            ),
        ),
        max_size=12,
    ))
    return [Op(i, target, how, action) for i, (target, how, action) in enumerate(steps)]


@settings(max_examples=200, deadline=None)
@given(
    cancel_at=st.one_of(
        st.tuples(st.just("after virtual seconds"), st.floats(0, 5) | st.floats(5, 40)),
        st.tuples(st.just("after checkpoints"), st.integers(0, 400)),
    ),
    workload=workloads(),
    start_delay=st.sampled_from([0.0, 0.5]),
)
@example(cancel_at=("after checkpoints", 0), workload=[], start_delay=0.0)
@example(cancel_at=("after virtual seconds", 0.0), workload=[], start_delay=0.0)
def test_cancelling_the_system_block_at_any_point_stops_everything_once_and_loses_nothing(
    cancel_at: tuple[str, float], workload: list[Op], start_delay: float
) -> None:
    """A cancel scope around ``open_actor_system`` fires at a drawn virtual time, or after a
    drawn number of scheduler checkpoints, while a supervised tree starts, serves tells and
    asks (some handlers sleep, some crash and get restarted) and stops. Whatever the moment:
    the block exits (bounded), no exception escapes the scope, every actor instance whose
    on_start completed gets exactly one on_stop, every ask_nowait reply is settled, and
    every message sent is handled or recorded as a dead letter, exactly once."""
    life = Lifecycle()
    handled: list[Op] = []
    replies: list[tuple[Op, Reply[Any]]] = []
    maybe_unsent: set[int] = set()  # asks refused at once because the actor had stopped
    sent: list[Op] = []
    dead: list[Any] = []

    class Worker(Actor):
        async def on_start(self) -> None:
            if start_delay:
                await trio.sleep(start_delay)
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)
            await trio.sleep(0.1)

        async def receive(self, message: Any) -> Any:
            if not isinstance(message, Op):
                return "inner"  # a forwarded ask (not counted)
            if message.action == "crash":
                raise Boom(f"crash on {message!r}")
            if message.action.startswith("sleep"):
                await trio.sleep(float(message.action.split()[1]))
            if message.action.startswith("forward"):
                # Asking another worker (or, drawn so, itself: DeadlockError, a failure);
                # ActorNotFound/ActorStopped/AskTimeout are failures too.
                other = self.system.lookup(message.action.split()[1])
                await other.ask(("inner", message.serial), timeout=1)
            handled.append(message)
            return f"done {message.serial}"

    class Sup(Supervisor):
        async def on_start(self) -> None:
            await super().on_start()
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    tree = Sup(
        name="team",
        strategy=OneForOne(max_restarts=1000, within=1, backoff=Backoff(initial=0.1, maximum=0.4)),
        children=[
            ChildSpec(Worker, name="w1"),
            ChildSpec(Worker, name="w2", restart="transient", message_timeout=2.0),
            Sup(name="sub", strategy=OneForAll(max_restarts=1000, within=1), children=[
                ChildSpec(Worker, name="w3"),
                ChildSpec(Worker, name="w4", shutdown_timeout=0.5),
            ]),
        ],
    )

    async def body(system: Any) -> None:
        await system.spawn_tree(tree)
        await system.spawn(Worker, name="plain", mailbox_size=2)
        for op in workload:
            try:
                ref = system.lookup(op.target)
            except ActorNotFound:
                continue  # crashed (plain) or stopped earlier, and gone
            if op.how == "stop it":
                await system.stop(ref)
            elif op.how == "tell":
                try:
                    ref.tell(op)
                except MailboxFull:
                    continue
                sent.append(op)
            elif op.how == "ask_nowait":
                try:
                    replies.append((op, ref.ask_nowait(op, timeout=2)))
                except (ActorStopped, MailboxFull):
                    continue
                sent.append(op)
            else:
                sent.append(op)
                try:
                    if op.how == "send":
                        await ref.send(op)
                    else:
                        await ref.ask(op, timeout=2)
                except ActorStopped:
                    maybe_unsent.add(op.serial)
                except trio.Cancelled:
                    # trio's rule: a cancelled operation did not happen. A send (or an
                    # ask) cancelled while it waited for mailbox space sent nothing.
                    maybe_unsent.add(op.serial)
                    raise
                except AskTimeout as exc:
                    if "could not even be sent" in str(exc):
                        maybe_unsent.add(op.serial)  # (it was not)
                except (Boom, ActorError):
                    pass  # the handler's failure (a forwarded ask that failed, say)
        await trio.sleep(10)

    exited_after: list[float] = []
    systems: list[Any] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as victim:
                how, when = cancel_at
                if how == "after virtual seconds":
                    victim.deadline = trio.current_time() + when
                else:

                    async def canceller() -> None:
                        for _ in range(int(when)):
                            await trio.lowlevel.checkpoint()
                        victim.cancel()

                    nursery.start_soon(canceller)
                async with open_actor_system(shutdown_timeout=1.0) as system:
                    systems.append(system)
                    await body(system)
            exited_after.append(trio.current_time())
            nursery.cancel_scope.cancel()
        for system in systems:  # none if cancelled while opening
            dead.extend(system.dead_letters)

    run_virtual(main)
    # The whole run, cancelled or not, ends within a bound (virtual seconds): each step takes
    # at most 6 s (a send waiting on a full mailbox of two 3 s handlers), then a 10 s sleep,
    # then each of the 8 actors' stop (handler grace, then on_stop) takes at most 2 s.
    bound = 6 * len(workload) + 10 + 8 * 2
    assert exited_after and exited_after[0] <= bound, f"the block exited after {exited_after} s"
    assert life.problems() == []
    pending = [op for op, reply in replies if not reply.done()]
    assert pending == [], f"replies never settled: {pending}"
    recorded = handled + [d.message for d in dead if isinstance(d.message, Op)]
    for op in sent:
        times = contains(recorded, op)
        allowed = {0, 1} if op.serial in maybe_unsent else {1}
        assert times in allowed, f"{op!r} was handled or dead-lettered {times} times"


@settings(max_examples=15, deadline=None)
@given(checkpoints=st.integers(0, 12))
def test_a_system_cancelled_while_opening_is_not_left_current(checkpoints: int) -> None:
    """A cancel while ``open_actor_system()`` is still entering must not leave the half-made
    system as the task's current one: a ``@tool`` called outside any system afterwards must
    say so, not run on the dead system's worker threads."""
    double = actors_tool(lambda x: 2 * x)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as scope:

                async def canceller() -> None:
                    for _ in range(checkpoints):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                nursery.start_soon(canceller)
                async with open_actor_system():
                    await trio.sleep_forever()
        with trio.move_on_after(1):
            with pytest.raises(RuntimeError, match=r"^a blocking tool needs a running actor system"):
                await double(1)

    run_virtual(main)


@settings(max_examples=60, deadline=None)
@given(
    stoppers=st.lists(
        st.sampled_from(["system.stop", "self.stop()", "parent stops it", "block ends"]), min_size=1, max_size=5
    ),
    busy=st.booleans(),
    spawn_while_stopping=st.booleans(),
)
def test_racing_stops_of_one_actor_all_return_and_it_stops_once(
    stoppers: list[str], busy: bool, spawn_while_stopping: bool
) -> None:
    """Several tasks stop the same actor at once (system.stop from outside, the actor's own
    self.stop(), its parent stopping, the block ending): every stop returns, on_stop runs
    once, the actor's children stop first, and a spawn attempted from its on_stop either gets
    ActorStopped or makes a child that is stopped with it: nothing is left behind."""
    life = Lifecycle()
    spawn_errors: list[BaseException] = []
    alive_at_on_stop: list[str] = []  # children still alive when Target's on_stop ran

    class Child(Echo):
        async def on_start(self) -> None:
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

    class Target(Actor):
        async def on_start(self) -> None:
            await self.spawn(Child, name="grandchild")
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)
            alive_at_on_stop.extend(r.name for r in self.system.actors() if r.name == "grandchild")
            if spawn_while_stopping:
                try:
                    await self.spawn(Child)
                except ActorStopped as exc:
                    spawn_errors.append(exc)

        async def receive(self, message: Any) -> Any:
            if message == "stop yourself":
                self.stop()
            elif message == "work" and busy:
                await trio.sleep(0.5)
            return message

    class Parent(Actor):
        async def on_start(self) -> None:
            self.target = await self.spawn(Target, name="target")
            life.start(self)

        async def on_stop(self) -> None:
            life.stop(self)

        async def receive(self, message: Any) -> Any:
            await self.system.stop(self.target)
            return "stopped"

    async def main() -> None:
        async with open_actor_system(shutdown_timeout=1) as system:
            parent = await system.spawn(Parent, name="parent")
            target = system.lookup("target")
            target.tell("work")
            async with trio.open_nursery() as nursery:
                for how in stoppers:
                    if how == "system.stop":
                        nursery.start_soon(system.stop, target)
                    elif how == "self.stop()":
                        target.tell("stop yourself")
                    elif how == "parent stops it":
                        nursery.start_soon(parent.ask, "stop it", 5)
                if "block ends" not in stoppers:
                    with trio.fail_after(5):
                        while target.is_alive:
                            await trio.sleep(0.1)
            if "block ends" not in stoppers:
                await system.stop(target)  # once more, after it stopped: returns at once
                assert not target.is_alive
                assert [r.name for r in system.actors()] == ["parent"], "nothing of target's is left"
                await assert_system_works(system)

    run_virtual(main)
    assert life.problems() == []  # (a child spawned from on_stop, if allowed, was stopped too)
    assert alive_at_on_stop == [], "children stop before their parent's on_stop"
    assert all("is stopping or restarting and cannot spawn" in str(exc) for exc in spawn_errors)


# =====================================================================================
# Shutdown in the middle of load
# =====================================================================================


@settings(max_examples=40, deadline=None)
@given(
    actors=st.integers(1, 6),
    asks=st.integers(0, 300),
    handler_seconds=st.sampled_from([0.0, 0.01, 0.5, 2.0, 100.0]),
    ask_timeout=st.sampled_from([0.1, 1.0, 30.0, math.inf]),
    shutdown_timeout=st.sampled_from([0.5, 1.0]),
    mailbox_size=st.sampled_from([None, 1000]),
    leave_after=st.sampled_from([0.0, 0.05, 1.0]),
    how=st.sampled_from(["leave the block", "cancel the block from outside"]),
)
def test_leaving_with_many_outstanding_asks_settles_every_reply_within_the_bound(
    actors: int,
    asks: int,
    handler_seconds: float,
    ask_timeout: float,
    shutdown_timeout: float,
    mailbox_size: int | None,
    leave_after: float,
    how: str,
) -> None:
    """Hundreds of ask_nowait replies are outstanding when the block ends: each one settles
    (a value, AskTimeout or ActorStopped, nothing else), none stays pending, every message
    is either handled or a dead letter, and the exit takes at most each actor's grace."""
    handled: list[int] = []

    class Busy(Actor):
        async def receive(self, message: int) -> str:
            if handler_seconds:
                await trio.sleep(handler_seconds)
            handled.append(message)
            return f"answer {message}"  # not an int: a late answer's dead letter stays apart

    replies: list[Reply[Any]] = []
    timings: dict[str, float] = {}
    systems: list[Any] = []

    async def main() -> None:
        with trio.CancelScope() as outer:
            async with open_actor_system(shutdown_timeout=shutdown_timeout) as system:
                systems.append(system)
                refs = [await system.spawn(Busy, mailbox_size=mailbox_size) for _ in range(actors)]
                for i in range(asks):
                    replies.append(refs[i % actors].ask_nowait(i, timeout=ask_timeout))
                await trio.sleep(leave_after)
                timings["leave"] = trio.current_time()
                if how == "cancel the block from outside":
                    outer.cancel()
                    await trio.sleep(1)  # cancelled here
        timings["exit"] = trio.current_time()

    run_virtual(main)
    pending = [i for i, reply in enumerate(replies) if not reply.done()]
    assert pending == [], f"{len(pending)} replies never settled, first ones: {pending[:5]}"
    for i, reply in enumerate(replies):
        error = reply.exception()
        if error is None:
            assert reply.result() == f"answer {i}"
        else:
            assert isinstance(error, (AskTimeout, ActorStopped)), f"reply {i} failed with {error!r}"
    # Stops are sequential; each actor gets its handler grace, then its on_stop (instant).
    took = timings["exit"] - timings["leave"]
    assert took <= actors * shutdown_timeout + 1e-9, f"exit took {took} virtual seconds"
    letters = systems[0].dead_letters
    dead = [d.message for d in letters if isinstance(d.message, int)]
    if letters.total <= letters.maxlen:  # (else the oldest records were dropped, as documented)
        lost = sorted(set(range(asks)) - set(handled) - set(dead))
        assert lost == [], f"messages neither handled nor dead letters: {lost[:10]}"
        assert sorted(handled + dead) == list(range(asks)), "a message was handled and dead-lettered"
