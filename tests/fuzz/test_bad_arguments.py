"""Bad arguments to every public entry point raise a clear TypeError/ValueError and change nothing.

Part of the fuzz suite: every example runs in a fresh ``trio.run`` under
``MockClock(autojump_threshold=0)``, so timeouts, grace periods and backoff cost no real time.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from fuzz_helpers import (
    BadRepr,
    Echo,
    Picky,
    assert_system_works,
    run_virtual,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorError,
    ActorNotFound,
    ActorRef,
    ActorStopped,
    Reply,
    gather,
    open_actor_system,
)
from supervision import Backoff, ChildSpec, OneForAll, OneForOne, RestForOne, Supervisor, restart_count

NOT_A_NUMBER = st.one_of(
    st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(), max_size=1), st.just(b"1")
)
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
    ((key, _),) = config.items()
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
    st.integers(),
    st.binary(max_size=3),
    st.just(""),
    st.text(max_size=4).map(lambda t: t + "/x"),
    st.lists(st.text(max_size=2), max_size=1),
    st.just(BadRepr()),
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
            except Exception as exc:
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


async def test_bad_arguments_to_lookup_subscribe_publish_and_stop_raise_clear_errors(
    actor_system_autojump: Any,
) -> None:
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
def test_bad_arguments_to_the_actor_api_raise_clear_errors_inside_the_handler(
    not_a_ref: Any, not_callable: Any
) -> None:
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
                except Exception as exc:
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
                label: repr(error)
                for label, error in errors.items()
                if not (
                    (isinstance(error, TypeError) and str(error).startswith(f"{label}() takes"))
                    or (isinstance(error, TypeError) and re.match(rf"^{label} (needs|takes) a", str(error)))
                )
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
    (
        "ChildSpec shutdown_timeout=inf",
        lambda: ChildSpec(Echo, shutdown_timeout=math.inf),
        r"^shutdown_timeout must be",
    ),
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
    (
        "Supervisor two children named x",
        lambda: Supervisor(name="s", children=[ChildSpec(Echo, name="x"), ChildSpec(Picky, name="x")]),
        r"two children named 'x'",
    ),
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
    ("build", "pattern"), [(b, p) for _, b, p in SUPERVISION_BAD_VALUES], ids=[i for i, _, _ in SUPERVISION_BAD_VALUES]
)
def test_a_bad_supervision_value_fails_at_construction_with_a_clear_message(
    build: Callable[[], Any], pattern: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=pattern):
        build()


async def test_the_system_still_spawns_trees_after_rejecting_bad_supervision_values(actor_system_autojump: Any) -> None:
    system = actor_system_autojump
    for _, build, _ in SUPERVISION_BAD_VALUES:
        with pytest.raises(Exception):
            build()
    tree = await system.spawn_tree(
        Supervisor(
            name="team",
            strategy=OneForOne(max_restarts=1, within=1, backoff=Backoff(initial=0, maximum=0)),
            children=[ChildSpec(Echo, name="x")],
        )
    )
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
