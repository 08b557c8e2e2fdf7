"""actors.lowlevel, the seam for policies and transports, used as an extender would."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

import actors.lowlevel as lowlevel
from actors import Actor, ActorRef, ActorSystem, Reply
from actors.lowlevel import ChildHandle, Directive, Phase


def test_every_name_in_all_has_a_docstring_and_so_has_every_public_method() -> None:
    missing = []
    for name in lowlevel.__all__:
        obj = getattr(lowlevel, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if not attr.startswith("_") and callable(fn) and not (fn.__doc__ or "").strip():
                    missing.append(f"{name}.{attr}")
    assert missing == []
    assert (lowlevel.__doc__ or "").count("stability") >= 1


class Worker(Actor):
    async def on_start(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        self.count += 1
        return self.count


class RestartTwice(Actor):
    """A parent policy written only with actors.lowlevel: restart a child twice, then stop it."""

    def __init__(self) -> None:
        self.decisions: list[str] = []
        self.stopped: list[str] = []

    async def on_start(self) -> None:
        await lowlevel.spawn_child(self, Worker, name="worker", spec="mine")

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        assert child.spec == "mine"
        assert child.phase is Phase.EXITING
        if child.incarnations <= 2:
            self.decisions.append(f"restart {child.name} after {error!r}")
            return Directive.restart()
        self.decisions.append("later")
        lowlevel.run_soon(self, self._stop_later, child)
        return None

    async def _stop_later(self, child: ChildHandle) -> None:
        child.resolve(Directive.stop())

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """Never restarted in this test."""

    def child_stopped(self, child: ChildHandle) -> None:
        self.stopped.append(child.name)

    async def receive(self, message: Any) -> Any:
        return (self.decisions, self.stopped, [c.name for c in lowlevel.children(self)])


async def test_a_parent_policy_built_on_lowlevel_restarts_and_stops_its_child(actor_system: ActorSystem) -> None:
    parent = await actor_system.spawn(RestartTwice, name="parent")
    worker = actor_system.lookup("worker")
    assert await worker.ask("x") == 1
    for expected in (2, 3):
        with pytest.raises(RuntimeError):
            await worker.ask("crash")
        assert await worker.ask("x") == 1  # a fresh instance behind the same ref
        assert lowlevel.handle(worker).incarnations == expected
    with pytest.raises(RuntimeError):
        await worker.ask("crash")
    await lowlevel.handle(worker).stop()  # (returns at once if it has stopped)
    decisions, stopped, living = await parent.ask("?")
    assert decisions[:2] == ["restart worker after RuntimeError('crash')"] * 2
    assert decisions[2:] == ["later"]
    assert stopped == ["worker"]
    assert living == []
    assert lowlevel.handle(worker).stopped
    assert not worker.is_alive


async def test_a_plain_actor_is_no_policy_and_its_failing_child_stops(actor_system: ActorSystem) -> None:
    class Plain(Actor):
        async def on_start(self) -> None:
            await self.spawn(Worker, name="plain-worker")

    await actor_system.spawn(Plain, name="plain")
    worker = actor_system.lookup("plain-worker")
    with pytest.raises(RuntimeError):
        await worker.ask("crash")
    await lowlevel.handle(worker).stop()
    assert lowlevel.handle(worker).phase is Phase.STOPPED


class Recorder:
    """A made-up address, as a transport would write one: it keeps what it is sent."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.name = "recorder"
        self.path = "//elsewhere/recorder"
        self.is_alive = True
        self.told: list[Any] = []

    def tell(self, message: Any) -> None:
        self.told.append(message)

    def tell_or_record(self, message: Any) -> None:
        self.told.append(message)

    async def send(self, message: Any) -> None:
        self.told.append(message)

    async def ask(self, message: Any, timeout: float | None) -> Any:
        return ("answer", message)

    def ask_nowait(self, message: Any, timeout: float | None) -> Reply[Any]:
        raise NotImplementedError


async def test_a_ref_talks_to_any_address(actor_system: ActorSystem) -> None:
    address = Recorder(actor_system)
    ref = lowlevel.make_ref(address)
    assert isinstance(ref, ActorRef)
    ref.tell(1)
    await ref.send(2)
    assert await ref.ask(3) == ("answer", 3)
    assert address.told == [1, 2]
    assert (ref.name, ref.path, ref.is_alive) == ("recorder", "//elsewhere/recorder", True)
    with pytest.raises(TypeError, match=r"^make_ref\(\) takes an Address, not int$"):
        lowlevel.make_ref(1)  # type: ignore[arg-type]


async def test_a_local_cell_is_an_address_and_a_child_handle(actor_system: ActorSystem) -> None:
    ref = await actor_system.spawn(Worker, name="w")
    assert isinstance(ref._cell, lowlevel.Address)
    handle = lowlevel.handle(ref)
    assert (handle.name, handle.path, handle.ref, handle.spec) == ("w", "/w", ref, None)
    with pytest.raises(TypeError, match=r"^handle\(\) takes an ActorRef or an Actor, not str$"):
        lowlevel.handle("w")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^children\(\) takes an Actor \(pass self\), not ActorRef$"):
        lowlevel.children(ref)  # type: ignore[arg-type]


def test_pykka_is_an_extra_named_when_missing() -> None:
    code = (
        "import sys; sys.modules['pykka'] = None; import actors\n"
        "try:\n    actors.PykkaBridge\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "actors.PykkaBridge needs the 'pykka' package: install it with pip install 'trio-actors[pykka]'"
    )


class Cruncher(Actor):
    async def receive(self, message: Any) -> Any:
        return await self.run_in_process(abs, message)


async def test_trio_parallel_is_an_extra_named_when_missing(
    actor_system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trio_parallel", None)
    cruncher = await actor_system.spawn(Cruncher, name="cruncher")
    with pytest.raises(
        ImportError,
        match=r"^run_in_process needs the trio-parallel package: install it with "
        r"pip install 'trio-actors\[process\]'$",
    ):
        await cruncher.ask(-1)
