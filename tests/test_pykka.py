"""pykka interop: PykkaBridge fronts a pykka actor, PykkaChild owns one under a supervisor.

pykka actors run in real threads, so these tests use real time: short sleeps,
and a `trio.fail_after` around every wait so a bug fails fast instead of
hanging. Every pykka actor is stopped after each test, and its thread joined.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
import trio

from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    DeferredReply,
    PykkaBridge,
    PykkaChild,
    open_actor_system,
)
from supervision import ChildRestarted, ChildSpec, OneForOne, SupervisionEvent, Supervisor, restart_count


class Boom(Exception):
    """What the pykka Counter raises on "boom"."""


class Counter(pykka.ThreadingActor):
    """A pykka actor with state; answers tuples and strings."""

    def __init__(self, start: int = 0) -> None:
        super().__init__()
        self.total = start

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("add", int(amount)):
                self.total += amount
                return self.total
            case "get":
                return self.total
            case ("wait", threading.Event() as gate):  # blocks pykka's thread until the test opens it
                gate.wait(10)
                return "woke"
            case ("raise", BaseException() as error):
                raise error
            case "boom":
                raise Boom("boom")
        raise ValueError(f"Counter does not understand {message!r}")


PYKKA_THREAD_PREFIXES = (f"{Counter.__name__}-",)


@pytest.fixture(autouse=True)
def stop_pykka_actors() -> Iterator[None]:
    """Stop every pykka actor after the test and join its thread: no thread leaks."""
    yield
    pykka.ActorRegistry.stop_all(timeout=5)
    leaked = []
    for thread in threading.enumerate():
        if thread.name.startswith(PYKKA_THREAD_PREFIXES):
            thread.join(timeout=5)
            if thread.is_alive():
                leaked.append(thread.name)
    assert leaked == [], f"pykka actor threads still running: {leaked}"


class Pinger(Actor):
    """A trio actor that answers at once: proves the event loop is not blocked."""

    async def receive(self, message: Any) -> Any:
        return message


class EventLog(Actor):
    """Collects ChildRestarted events; asked "first-restart", answers with the first one."""

    def __init__(self) -> None:
        self.events: list[ChildRestarted] = []
        self.waiting: list[DeferredReply[Any]] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ChildRestarted):
            self.events.append(message)
            for handle in self.waiting:
                handle.reply(message)
            self.waiting.clear()
        elif message == "first-restart":
            if self.events:
                return self.events[0]
            self.waiting.append(self.defer_reply())


# -- PykkaBridge -------------------------------------------------------------


async def test_told_message_is_forwarded_to_the_pykka_actor(actor_system: ActorSystem) -> None:
    legacy = Counter.start()
    bridge = await actor_system.spawn(PykkaBridge, legacy, name="legacy", ask_timeout=5.0)
    bridge.tell(("add", 2))
    bridge.tell(("add", 3))
    with trio.fail_after(5):
        assert await bridge.ask("get") == 5


async def test_ask_returns_the_pykka_handlers_answer(actor_system: ActorSystem) -> None:
    bridge = await actor_system.spawn(PykkaBridge, Counter.start(10), name="legacy", ask_timeout=5.0)
    with trio.fail_after(5):
        assert await bridge.ask(("add", 1)) == 11
        assert await bridge.ask("get") == 11


async def test_ask_past_the_bridges_ask_timeout_raises_ask_timeout_while_the_loop_keeps_running(
    actor_system: ActorSystem,
) -> None:
    legacy = Counter.start()
    bridge = await actor_system.spawn(PykkaBridge, legacy, name="legacy", ask_timeout=0.3)
    pinger = await actor_system.spawn(Pinger, name="pinger")
    pings = 0
    error: BaseException | None = None
    gate = threading.Event()

    async def ask_the_sleeper(cancel_scope: trio.CancelScope) -> None:
        nonlocal error
        try:
            await bridge.ask(("wait", gate), timeout=5)
        except AskTimeout as exc:
            error = exc
        cancel_scope.cancel()

    started = trio.current_time()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_the_sleeper, nursery.cancel_scope)
            while True:  # the pykka actor sleeps in a thread; trio actors keep answering
                assert await pinger.ask(pings, timeout=1) == pings
                pings += 1
                await trio.sleep(0.01)
    elapsed = trio.current_time() - started

    assert isinstance(error, AskTimeout)
    assert isinstance(error, TimeoutError)
    assert str(error).startswith("pykka actor Counter (urn:uuid:")
    assert "behind 'legacy' did not answer tuple within 0.3 s" in str(error)
    assert 0.25 <= elapsed < 0.9, elapsed
    assert pings >= 10, f"only {pings} pings answered while the bridge waited: the loop was blocked"
    # An ask timeout is not a failure: the bridge and the pykka actor carry on
    # (once the pykka actor has woken up, since it handles one message at a time).
    gate.set()
    with trio.fail_after(5):
        assert await bridge.ask(("add", 1)) == 1
    assert bridge.is_alive and legacy.is_alive()


async def test_asker_timeout_frees_the_bridge_and_records_the_late_answer(actor_system: ActorSystem) -> None:
    bridge = await actor_system.spawn(PykkaBridge, Counter.start(), name="legacy", ask_timeout=math.inf)
    gate = threading.Event()
    with trio.fail_after(5):
        with pytest.raises(AskTimeout, match=r"^actor 'legacy' did not answer tuple within 0.2 s"):
            await bridge.ask(("wait", gate), timeout=0.2)
        gate.set()
        # The bridge stopped waiting when the asker gave up; this ask queues in pykka behind the sleep.
        assert await bridge.ask("get") == 0
        while not any(letter.message == "woke" for letter in actor_system.dead_letters):
            await trio.sleep(0.02)
    [late] = [letter for letter in actor_system.dead_letters if letter.message == "woke"]
    assert "late result of _wait_for_pykka_reply()" in late.reason
    [abandoned] = [letter for letter in actor_system.dead_letters if letter.message == ("wait", gate)]
    assert isinstance(abandoned.error, AskTimeout)
    assert bridge.is_alive  # the asker giving up is not a failure of the bridge


async def test_error_raised_by_the_pykka_handler_reaches_the_asker_as_the_same_type(
    actor_system: ActorSystem,
) -> None:
    legacy = Counter.start()
    bridge = await actor_system.spawn(PykkaBridge, legacy, name="legacy", ask_timeout=5.0)
    with trio.fail_after(5):
        with pytest.raises(Boom, match=r"^boom$"):
            await bridge.ask("boom")
        # pykka's own Timeout raised by the handler stays a pykka.Timeout (not our AskTimeout)
        with pytest.raises(pykka.Timeout, match=r"^inner$"):
            await bridge.ask(("raise", pykka.Timeout("inner")))
        # pykka keeps an actor alive after an error returned to an asker; so does the bridge.
        assert await bridge.ask(("add", 4)) == 4
    assert bridge.is_alive and legacy.is_alive()


async def test_bridge_to_a_dead_pykka_actor_fails_with_actor_stopped() -> None:
    legacy = Counter.start()
    legacy.stop()
    async with open_actor_system() as system:
        bridge = await system.spawn(PykkaBridge, legacy, name="legacy", ask_timeout=5.0)
        with (
            trio.fail_after(5),
            pytest.raises(
                ActorStopped,
                match=r"^pykka actor Counter \(urn:uuid:.*\) behind bridge 'legacy' is dead, so str "
                r"could not be delivered; start a new pykka actor",
            ),
        ):
            await bridge.ask("get")
        # A dead pykka actor is a failure of the bridge: unsupervised, it stops.
        with trio.fail_after(5):
            while bridge.is_alive:
                await trio.sleep(0.01)
        assert isinstance(bridge._cell.stop_reason, ActorStopped)


@pytest.mark.allow_actor_failures(types=ActorStopped)
async def test_bridge_with_check_interval_fails_soon_after_its_pykka_actor_dies(actor_system: ActorSystem) -> None:
    legacy = Counter.start()
    bridge = await actor_system.spawn(PykkaBridge, legacy, name="legacy", check_interval=0.02)
    legacy.tell("boom")  # a told message that raises: pykka stops the actor
    with trio.fail_after(5):
        while bridge.is_alive:
            await trio.sleep(0.01)
    assert "has died" in str(bridge._cell.stop_reason)
    assert not legacy.is_alive()


async def test_bridge_rejects_what_is_not_a_pykka_ref(actor_system: ActorSystem) -> None:
    with pytest.raises(
        TypeError,
        match=r"^PykkaBridge takes a pykka.ActorRef .*; to have the bridge start and "
        r"own the actor, use PykkaChild$",
    ):
        await actor_system.spawn(PykkaBridge, Counter)
    with pytest.raises(ValueError, match=r"^ask_timeout must be > 0 seconds, got 0$"):
        await actor_system.spawn(PykkaBridge, Counter.start(), ask_timeout=0)


# -- PykkaChild --------------------------------------------------------------


async def test_pykka_child_starts_its_pykka_actor_and_stops_it_on_stop(actor_system: ActorSystem) -> None:
    child = await actor_system.spawn(PykkaChild, Counter, 7, name="legacy")
    [legacy] = pykka.ActorRegistry.get_by_class(Counter)
    with trio.fail_after(5):
        assert await child.ask(("add", 1)) == 8
        await actor_system.stop(child)
    assert not legacy.is_alive()


async def test_leaving_the_system_while_a_pykka_handler_runs_is_bounded_by_shutdown_timeout() -> None:
    started = trio.current_time()
    with trio.fail_after(5):
        async with open_actor_system(shutdown_timeout=0.2) as system:
            child = await system.spawn(PykkaChild, Counter, name="legacy", ask_timeout=5.0)
            [legacy] = pykka.ActorRegistry.get_by_class(Counter)
            gate = threading.Event()
            reply = child.ask_nowait(("wait", gate), timeout=5)
            await trio.sleep(0.05)
    # the handler's grace (0.2 s), then on_stop's bounded wait for pykka (0.2 s): not pykka's own time
    assert trio.current_time() - started < 1.2
    gate.set()
    with pytest.raises(ActorStopped):
        reply.result()
    legacy.actor_stopped.wait(timeout=5)  # pykka stops once its handler returns
    assert not legacy.is_alive()


@pytest.mark.allow_actor_failures(types=ActorStopped)
async def test_pykka_child_is_restarted_with_a_fresh_pykka_actor_after_it_dies(actor_system: ActorSystem) -> None:
    events = await actor_system.spawn(EventLog, name="events")
    actor_system.subscribe(events, SupervisionEvent)
    tree = Supervisor(
        name="legacy-team",
        strategy=OneForOne(max_restarts=3, within=10.0),
        children=[ChildSpec(PykkaChild, Counter, name="legacy", check_interval=0.05, ask_timeout=5.0)],
    )
    await actor_system.spawn_tree(tree)
    child = actor_system.lookup("legacy")
    with trio.fail_after(5):
        assert await child.ask(("add", 5)) == 5
    [first] = pykka.ActorRegistry.get_by_class(Counter)

    child.tell("boom")  # the pykka actor raises on a tell, so pykka stops it

    with trio.fail_after(5):
        event = await events.ask("first-restart")
        assert event.child == child.path
        assert isinstance(event.error, ActorStopped)
        assert "has died" in str(event.error)
        assert await child.ask("get") == 0  # a fresh pykka actor: state reset
    assert restart_count(child) >= 1
    assert actor_system.lookup("legacy") is child
    assert not first.is_alive()
    [second] = pykka.ActorRegistry.get_by_class(Counter)
    assert second is not first and second.is_alive()


async def test_forwarding_to_a_dead_owned_pykka_actor_fails_and_the_restart_brings_it_back(
    actor_system: ActorSystem,
) -> None:
    tree = Supervisor(
        name="legacy-team",
        children=[ChildSpec(PykkaChild, Counter, 3, name="legacy", check_interval=60.0, ask_timeout=5.0)],
    )
    await actor_system.spawn_tree(tree)
    child = actor_system.lookup("legacy")
    with trio.fail_after(5):
        assert await child.ask(("add", 1)) == 4
        child.tell("boom")
        # pykka handles "boom" first and dies; the queued ask is answered with ActorDeadError.
        with pytest.raises(
            ActorStopped,
            match=r"^pykka actor Counter .* owned by 'legacy' is dead, so str "
            r"could not be delivered; under a supervisor",
        ):
            await child.ask("get")
        while restart_count(child) < 1:
            await trio.sleep(0.01)
        assert await child.ask("get") == 3


async def test_pykka_child_rejects_what_is_not_a_pykka_actor_class(actor_system: ActorSystem) -> None:
    with pytest.raises(
        TypeError,
        match=r"^PykkaChild takes a pykka.Actor subclass .*; to front a pykka actor "
        r"that is already running, use PykkaBridge$",
    ):
        await actor_system.spawn(PykkaChild, Counter.start())
    with pytest.raises(ValueError, match=r"^check_interval must be a finite number > 0, got inf$"):
        await actor_system.spawn(PykkaChild, Counter, check_interval=math.inf)
