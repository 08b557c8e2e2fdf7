"""What a newcomer trips on: spawn's reserved keywords, hooks that are not async, a handler
that forgets ``await``, and error messages that give the right advice."""

from __future__ import annotations

import functools
import gc
import logging
import re
import subprocess
import sys
import warnings
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorStopped, DeadLetter, gather, open_actor_system
from actors.testing import TestProbe
from supervision import ChildSpec, OneForOne, Supervisor


@attrs.frozen
class Hello:
    pass


# -- spawn's reserved keywords --------------------------------------------------


class Greeter(Actor):
    def __init__(self, name: str) -> None:
        self.greeting = f"hello, {name}"

    async def receive(self, message: Any) -> str:
        return self.greeting


class Sized(Actor):
    def __init__(self, title: str, mailbox_size: int) -> None:
        self.size = mailbox_size


class KeywordOnly(Actor):
    def __init__(self, *, name: str) -> None:
        self.who = name


class OptionalName(Actor):
    def __init__(self, name: str = "anonymous") -> None:
        self.who = name

    async def receive(self, message: Any) -> str:
        return self.who


async def test_spawn_says_name_is_its_own_keyword_when_init_needs_one(actor_system) -> None:
    with pytest.raises(
        TypeError,
        match=r"^Greeter\.__init__\(\) needs 'name', but spawn\(\) keeps the keywords name= and "
        r"mailbox_size= for itself, so Greeter cannot get name= from it; pass it positionally, "
        r"spawn\(Greeter, <name>, name=\.\.\.\), or rename the parameter \(say, greeter_name\)$",
    ):
        await actor_system.spawn(Greeter, name="bob")
    # Nothing was left behind: the name is free, and passing the value positionally works.
    greeter = await actor_system.spawn(Greeter, "bob", name="bob")
    assert await greeter.ask(Hello()) == "hello, bob"


async def test_spawn_names_the_positional_slot_of_a_reserved_parameter(actor_system) -> None:
    with pytest.raises(TypeError, match=r"spawn\(Sized, <title>, <mailbox_size>, name=\.\.\.\)"):
        await actor_system.spawn(Sized, "t", mailbox_size=4)
    ref = await actor_system.spawn(Sized, "t", 4, mailbox_size=4)
    assert ref.is_alive


async def test_spawn_says_to_rename_a_keyword_only_reserved_parameter(actor_system) -> None:
    with pytest.raises(
        TypeError,
        match=r"^KeywordOnly\.__init__\(\) needs 'name', .* rename the parameter \(say, "
        r"keyword_only_name\): a keyword-only one cannot be passed positionally$",
    ):
        await actor_system.spawn(KeywordOnly, name="k")


async def test_a_child_spawn_checks_reserved_keywords_too(actor_system) -> None:
    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            return await self.spawn(Greeter, name="child")

    parent = await actor_system.spawn(Parent)
    with pytest.raises(TypeError, match=r"^Greeter\.__init__\(\) needs 'name'"):
        await parent.ask(Hello())


async def test_an_optional_reserved_parameter_keeps_its_default(actor_system) -> None:
    # Documented: name= names the actor; an __init__ default for "name" is not overridden.
    ref = await actor_system.spawn(OptionalName, name="opt")
    assert await ref.ask(Hello()) == "anonymous"


def test_the_reserved_keyword_check_serves_child_spec_s_keywords_too() -> None:
    from actors._actor import check_init_arguments

    class Job(Actor):
        def __init__(self, restart: str) -> None:
            self.restart = restart

    keywords = ("name", "restart", "message_timeout", "shutdown_timeout", "mailbox_size")
    with pytest.raises(
        TypeError,
        match=r"^Job\.__init__\(\) needs 'restart', but ChildSpec\(\) keeps the keywords name=, restart=, "
        r"message_timeout=, shutdown_timeout= and mailbox_size= for itself, so Job cannot get restart= "
        r"from it; pass it positionally, ChildSpec\(Job, <restart>, name=\.\.\.\), or rename the "
        r"parameter \(say, job_restart\)$",
    ):
        check_init_arguments(Job, (), "ChildSpec", keywords)
    check_init_arguments(Job, ("always",), "ChildSpec", keywords)


# -- hooks must be async --------------------------------------------------------


class SyncReceive(Actor):
    def receive(self, message: Any) -> Any:  # type: ignore[override]
        return message


class SyncOnStart(Actor):
    def on_start(self) -> None:  # type: ignore[override]
        pass


class SyncOnStop(Actor):
    def on_stop(self) -> None:  # type: ignore[override]
        pass


class SyncOnRestart(Actor):
    def on_restart(self, exc: BaseException) -> None:  # type: ignore[override]
        pass


class GeneratorReceive(Actor):
    async def receive(self, message: Any) -> Any:  # type: ignore[override]
        yield message


@pytest.mark.parametrize(
    ("actor_cls", "hook", "signature"),
    [
        (SyncReceive, "receive", r"receive\(self, message\)"),
        (SyncOnStart, "on_start", r"on_start\(self\)"),
        (SyncOnStop, "on_stop", r"on_stop\(self\)"),
        (SyncOnRestart, "on_restart", r"on_restart\(self, exc\)"),
    ],
)
async def test_spawn_refuses_a_hook_that_is_not_async(actor_system, actor_cls, hook, signature) -> None:
    with pytest.raises(
        TypeError,
        match=rf"^spawn\(\) refused {actor_cls.__name__}: its {hook} is a plain 'def', so the runtime "
        rf"cannot await it; write it as 'async def {signature}:'$",
    ):
        await actor_system.spawn(actor_cls, name="sync")
    assert actor_system.actors() == []


async def test_spawn_refuses_an_async_generator_receive(actor_system) -> None:
    with pytest.raises(TypeError, match=r"its receive is an async generator \(it contains 'yield'\)"):
        await actor_system.spawn(GeneratorReceive)


def test_child_spec_refuses_a_hook_that_is_not_async() -> None:
    with pytest.raises(TypeError, match=r"^ChildSpec\(\) refused SyncReceive: its receive is a plain 'def'"):
        ChildSpec(SyncReceive, name="sync")


def _logged(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)  # returns the coroutine: awaiting it works

    return wrapper


class Decorated(Actor):
    @_logged
    async def receive(self, message: Any) -> Any:
        return "decorated"


async def test_a_decorated_async_hook_is_accepted(actor_system) -> None:
    ref = await actor_system.spawn(Decorated)
    assert await ref.ask(Hello()) == "decorated"


# -- a handler that forgets await -----------------------------------------------


class Forgetful(Actor):
    async def greet(self) -> str:
        return "hello"

    async def receive(self, message: Any) -> Any:
        if message == "fine":
            return "fine"
        return self.greet()  # the bug: no await


def _no_never_awaited_warning() -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [w for w in caught if "never awaited" in str(w.message)]


async def test_an_asker_gets_a_clear_error_when_the_handler_returns_a_coroutine(actor_system) -> None:
    ref = await actor_system.spawn(Forgetful, name="forgetful")
    with pytest.raises(
        TypeError,
        match=r"^the handler of actor 'forgetful' \(Forgetful\) returned a coroutine \(Forgetful\.greet\) "
        r"for Hello instead of a value: an 'await' is missing \(write 'return await \.\.\.'\); the "
        r"coroutine was closed without running$",
    ):
        await ref.ask(Hello())
    assert await ref.ask("fine") == "fine"  # not a failure: the actor keeps its state and runs on
    assert _no_never_awaited_warning() == []
    assert list(actor_system.dead_letters) == []  # an answered ask is not a dead letter


async def test_a_told_message_whose_handler_returns_a_coroutine_is_logged_and_recorded(caplog) -> None:
    failures: list[tuple[str, str, BaseException]] = []
    async with open_actor_system() as system:
        system._failure_listeners.append(lambda *failure: failures.append(failure))
        ref = await system.spawn(Forgetful, name="forgetful")
        with caplog.at_level(logging.WARNING, logger="actors"):
            ref.tell(Hello())
            assert await ref.ask("fine") == "fine"
        (letter,) = system.dead_letters
    assert isinstance(letter, DeadLetter) and letter.message == Hello()
    assert isinstance(letter.error, TypeError)
    assert "an 'await' is missing" in letter.reason
    (record,) = [r for r in caplog.records if r.name == "actors"]
    assert record.levelno == logging.WARNING
    assert "actor 'forgetful' (Forgetful) returned a coroutine (Forgetful.greet) for Hello" in record.getMessage()
    assert [(path, doing) for path, doing, _ in failures] == [("/forgetful", "handling Hello")]
    assert _no_never_awaited_warning() == []


async def test_a_deferred_ask_whose_handler_returns_a_coroutine_still_gets_its_deferred_answer(caplog) -> None:
    class Deferring(Actor):
        async def later(self) -> None:
            pass

        async def receive(self, message: Any) -> Any:
            self.defer_reply().reply("deferred")
            return self.later()

    async with open_actor_system() as system:
        ref = await system.spawn(Deferring, name="deferring")
        with caplog.at_level(logging.WARNING, logger="actors"):
            assert await ref.ask(Hello()) == "deferred"
    assert "returned a coroutine (Deferring.later)" in caplog.text
    assert _no_never_awaited_warning() == []


# -- ActorStopped: advice true to the actor's situation --------------------------


async def test_asking_a_stopped_unsupervised_actor_does_not_mention_a_supervisor(actor_system) -> None:
    ref = await actor_system.spawn(Greeter, "x", name="lonely")
    await actor_system.stop(ref)
    with pytest.raises(ActorStopped) as caught:
        await ref.ask(Hello())
    message = str(caught.value)
    assert "restarts it" not in message
    assert re.fullmatch(
        r"actor 'lonely' has stopped and cannot receive Hello; it has no supervisor to restart it: "
        r"spawn it again if you need it \(watch an actor to learn when it stops\)",
        message,
    ), message


async def test_asks_queued_at_an_unsupervised_actors_stop_do_not_mention_a_supervisor(actor_system_autojump) -> None:
    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            await trio.sleep_forever()

    ref = await actor_system_autojump.spawn(Slow, name="slow")
    ref.tell("block")
    replies = [ref.ask_nowait(Hello(), timeout=10) for _ in range(2)]
    await trio.testing.wait_all_tasks_blocked()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor_system_autojump.stop, ref)
    for reply in replies:
        with pytest.raises(ActorStopped) as caught:
            await reply
        assert "restarts it" not in str(caught.value)
        assert str(caught.value).startswith("actor 'slow' stopped before handling Hello; it has no supervisor")


async def test_asking_a_stopped_supervised_actor_points_at_its_supervisor(actor_system) -> None:
    tree = Supervisor(name="sup", strategy=OneForOne(), children=[ChildSpec(Greeter, "x", name="kept")])
    await actor_system.spawn_tree(tree)
    ref = actor_system.lookup("kept")
    await actor_system.stop(ref)
    with pytest.raises(
        ActorStopped,
        match=r"^actor 'kept' has stopped and cannot receive Hello; look it up "
        r"again after its supervisor restarts it, or check ref.is_alive$",
    ):
        await ref.ask(Hello())


async def test_a_temporary_child_is_not_said_to_be_restarted(actor_system) -> None:
    tree = Supervisor(
        name="sup", strategy=OneForOne(), children=[ChildSpec(Greeter, "x", name="once", restart="temporary")]
    )
    await actor_system.spawn_tree(tree)
    ref = actor_system.lookup("once")
    await actor_system.stop(ref)
    with pytest.raises(ActorStopped) as caught:
        await ref.ask(Hello())
    assert "restarts it" not in str(caught.value)
    assert "its supervisor does not restart it (restart='temporary')" in str(caught.value)


# -- ask(timeout=-0.0) -------------------------------------------------------------


async def test_an_ask_with_negative_zero_timeout_is_a_zero_timeout(actor_system_autojump) -> None:
    probe = await TestProbe.spawn(actor_system_autojump, name="quiet")
    with pytest.raises(TimeoutError) as caught:
        await probe.ref.ask(Hello(), timeout=-0.0)
    assert "within 0 s" in str(caught.value)
    assert "-0" not in str(caught.value)


async def test_negative_zero_is_zero_for_gather_and_the_probe_too(actor_system_autojump) -> None:
    probe = await TestProbe.spawn(actor_system_autojump, name="quiet")
    with pytest.raises(AssertionError, match=r"^probe 'quiet' expected Hello within 0 s, but no message"):
        await probe.expect(Hello, timeout=-0.0)
    await probe.expect_no_message(within=-0.0)
    with pytest.raises(ValueError, match=r"^within must be >= 0 seconds, got -1$"):
        await probe.expect_no_message(within=-1)
    with pytest.raises(TimeoutError, match=r"^gather\(\) timed out after 0 s with 1 of 1 "):
        await gather(probe.ref.ask(Hello(), timeout=10), timeout=-0.0)


# -- the actors logger --------------------------------------------------------------

LOGGING_SCRIPT = """
import logging, sys, trio
from actors import Actor, open_actor_system

class Crasher(Actor):
    async def receive(self, message):
        raise RuntimeError("nobody asked")

async def main():
    async with open_actor_system() as system:
        ref = await system.spawn(Crasher, name="crasher")
        ref.tell("x")
        while ref.is_alive:
            await trio.sleep(0)

if sys.argv[1] == "silenced":
    logging.getLogger("actors").setLevel(logging.CRITICAL)
trio.run(main)
"""


@pytest.mark.parametrize("mode", ["default", "silenced"])
def test_a_failure_nobody_saw_is_printed_unless_the_actors_logger_is_silenced(mode: str) -> None:
    # No NullHandler on purpose: without any logging configuration, Python's last-resort
    # handler prints the failure; one line of configuration silences it.
    assert not any(isinstance(h, logging.NullHandler) for h in logging.getLogger("actors").handlers)
    done = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT, mode], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    if mode == "default":
        assert "actor /crasher failed while handling str: RuntimeError('nobody asked')" in done.stderr
        assert "Traceback" in done.stderr
    else:
        assert done.stderr == ""


# -- hypothesis: a fresh system per example, optionally under virtual time ----------


class Slowpoke(Actor):
    async def receive(self, message: Any) -> Any:
        await trio.sleep(message)
        return message


@settings(max_examples=10, deadline=None)
@given(delay=st.integers(0, 1000))
def test_a_given_test_runs_a_system_per_example_under_virtual_time(delay: int) -> None:
    # pytest-trio runs an async @given test under the real clock (it ignores a marker's run=),
    # so a property that needs virtual time is a sync test running trio per example.
    async def main() -> None:
        async with open_actor_system() as system:
            ref = await system.spawn(Slowpoke, name="slowpoke")
            started = trio.current_time()
            assert await ref.ask(delay, timeout=2000) == delay
            assert trio.current_time() - started == delay  # virtual seconds: instant and exact

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(max_examples=10, deadline=None)
@given(words=st.lists(st.integers(0, 9), max_size=5))
async def test_an_async_given_test_opens_a_fresh_system_in_its_body(words: list[int]) -> None:
    async with open_actor_system() as system:  # one per example: nothing shared between them
        assert system.actors() == []
        ref = await system.spawn(Slowpoke, name="slowpoke")
        assert [await ref.ask(0) for _ in words] == [0] * len(words)
