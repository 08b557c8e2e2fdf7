"""Who stops a pykka actor: the one trio-actors started (PykkaChild) is stopped when the system
closes, whichever way it closes, so the interpreter can exit; one the user started and handed
to a PykkaBridge is left running, for its owner to stop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
import trio

from actors import PykkaBridge, PykkaChild, open_actor_system

ROOT = Path(__file__).resolve().parent.parent

# pykka's actor threads are not daemon threads: a pykka actor left running keeps the
# interpreter from exiting. Each way of closing the system runs in one child interpreter,
# which must then exit on its own.
SCRIPT = textwrap.dedent("""
    import threading
    import pykka, trio
    from actors import Actor, EscalatedFailure, PykkaChild, open_actor_system
    from supervision import ChildSpec, OneForOne, Supervisor

    class Echo(pykka.ThreadingActor):
        def on_receive(self, message):
            return message

    class Crasher(Actor):
        async def receive(self, message):
            raise RuntimeError("crash")

    async def run(how):
        with trio.CancelScope() as outside:
            async with open_actor_system(shutdown_timeout=2) as system:
                if how == "escalation":
                    await system.spawn_tree(Supervisor(
                        name="team", strategy=OneForOne(max_restarts=1, within=60),
                        children=[ChildSpec(PykkaChild, Echo, name="echo"),
                                  ChildSpec(Crasher, name="crasher")]))
                    echo, crasher = system.lookup("echo"), system.lookup("crasher")
                else:
                    echo = await system.spawn(PykkaChild, Echo, name="echo")
                assert await echo.ask("hi", timeout=10) == "hi"
                assert len(pykka.ActorRegistry.get_all()) == 1
                if how == "raise":
                    raise LookupError("the body failed")
                if how == "interrupt":
                    raise KeyboardInterrupt
                if how == "cancel":
                    outside.cancel()
                    await trio.sleep_forever()
                if how == "escalation":  # the second crash is past the intensity: the team gives up
                    for _ in range(2):
                        try:
                            await crasher.ask("x", timeout=10)
                        except RuntimeError:
                            pass
                    await trio.sleep_forever()

    for how in ("normal", "raise", "interrupt", "cancel", "escalation"):
        try:
            trio.run(run, how)
        except (LookupError, KeyboardInterrupt, EscalatedFailure) as exc:
            outcome = type(exc).__name__
        else:
            outcome = "returned"
        alive = len(pykka.ActorRegistry.get_all())
        threads = sum(t.name.startswith("Echo-") for t in threading.enumerate() if t.is_alive())
        print(how, outcome, alive, threads, flush=True)
""")


def test_a_pykka_child_is_stopped_whichever_way_the_system_closes_and_the_interpreter_exits() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == [
        "normal returned 0 0",
        "raise LookupError 0 0",
        "interrupt KeyboardInterrupt 0 0",
        "cancel returned 0 0",
        "escalation EscalatedFailure 0 0",
        "",
    ], done.stderr


class Counter(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def on_receive(self, message: Any) -> Any:
        self.total += message
        return self.total


async def test_a_pykka_actor_handed_to_a_bridge_outlives_the_system_for_its_owner_to_stop() -> None:
    legacy = Counter.start()
    try:
        async with open_actor_system() as system:
            bridge = await system.spawn(PykkaBridge, legacy, name="legacy", ask_timeout=10.0)
            with trio.fail_after(10):
                assert await bridge.ask(2) == 2
        # The bridge has stopped; the pykka actor it fronted has not, and keeps its state.
        assert legacy.is_alive()
        assert legacy.ask(3, timeout=10) == 5
    finally:
        legacy.stop(timeout=10)
    assert not legacy.is_alive()


@pytest.fixture(autouse=True)
def no_pykka_actor_left() -> Any:
    yield
    leaked = pykka.ActorRegistry.get_all()
    pykka.ActorRegistry.stop_all(timeout=5)
    assert leaked == []


class Gated(pykka.ThreadingActor):
    """A pykka actor whose __init__ waits for the test to open a gate."""

    entered = threading.Event()
    gate = threading.Event()

    def __init__(self) -> None:
        super().__init__()
        Gated.entered.set()
        Gated.gate.wait(10)

    def on_receive(self, message: Any) -> Any:
        return message


async def test_a_pykka_child_abandoned_while_starting_stops_its_pykka_actor_quietly() -> None:
    # The spawner gives up while the pykka actor's __init__ runs: once it returns, the
    # PykkaChild stops it, and nothing counts as a failure.
    Gated.entered.clear()
    Gated.gate.clear()
    failures: list[Any] = []
    async with open_actor_system() as system:
        system._failure_listeners.append(lambda *failure: failures.append(failure))
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(system.spawn, PykkaChild, Gated)
                await trio.to_thread.run_sync(Gated.entered.wait, 10)
                scope.cancel()
        assert system.actors() == []
        Gated.gate.set()
    assert failures == []
    # The PykkaChild asked its pykka actor to stop (the stop may finish just after the
    # block: an abandoned actor's on_stop is not waited for at the system's close).
    for ref in pykka.ActorRegistry.get_all():
        assert await trio.to_thread.run_sync(ref.actor_stopped.wait, 10), f"{ref} was not stopped"
