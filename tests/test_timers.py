"""Timers: schedule_once and schedule_every, under virtual time (exact)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

from actors import Actor, ActorStopped, Timer


@attrs.frozen
class Once:
    delay: float
    message: object


@attrs.frozen
class Every:
    interval: float
    message: object


@attrs.frozen
class Cancel:
    pass


class Clockwork(Actor):
    """Schedules on request and records (time, message) of every timer message it gets."""

    def __init__(self, ticks: list[tuple[float, object]]) -> None:
        self.ticks = ticks
        self.timer: Timer | None = None

    async def receive(self, message: object) -> object:
        match message:
            case Once(delay, msg):
                self.timer = self.schedule_once(delay, msg)
                return self.timer
            case Every(interval, msg):
                self.timer = self.schedule_every(interval, msg)
                return self.timer
            case Cancel():
                assert self.timer is not None
                self.timer.cancel()
                return None
            case _:
                self.ticks.append((trio.current_time(), message))
                return None


async def test_schedule_once_delivers_after_the_delay_exactly(actor_system_autojump) -> None:
    ticks: list[tuple[float, Any]] = []
    ref = await actor_system_autojump.spawn(Clockwork, ticks, name="clock")
    start = trio.current_time()
    timer = await ref.ask(Once(5, "wake up"))
    assert isinstance(timer, Timer) and timer.active
    await trio.sleep(100)
    assert ticks == [(start + 5, "wake up")]
    assert not timer.active


async def test_schedule_once_with_zero_delay_delivers_soon(actor_system_autojump) -> None:
    ticks: list[tuple[float, Any]] = []
    ref = await actor_system_autojump.spawn(Clockwork, ticks, name="clock")
    start = trio.current_time()
    await ref.ask(Once(0, "now"))
    await trio.sleep(1)
    assert ticks == [(start, "now")]


async def test_schedule_every_delivers_at_each_interval_exactly(actor_system_autojump) -> None:
    ticks: list[tuple[float, Any]] = []
    ref = await actor_system_autojump.spawn(Clockwork, ticks, name="clock")
    start = trio.current_time()
    await ref.ask(Every(2, "tick"))
    await trio.sleep(7)
    assert ticks == [(start + 2, "tick"), (start + 4, "tick"), (start + 6, "tick")]


async def test_cancel_stops_a_repeating_timer(actor_system_autojump) -> None:
    ticks: list[tuple[float, Any]] = []
    ref = await actor_system_autojump.spawn(Clockwork, ticks, name="clock")
    start = trio.current_time()
    timer = await ref.ask(Every(2, "tick"))
    await trio.sleep(5)
    await ref.ask(Cancel())
    assert not timer.active
    await trio.sleep(20)
    assert ticks == [(start + 2, "tick"), (start + 4, "tick")]


async def test_cancel_before_a_one_shot_fires_means_it_never_does(actor_system_autojump) -> None:
    ticks: list[tuple[float, Any]] = []
    ref = await actor_system_autojump.spawn(Clockwork, ticks, name="clock")
    await ref.ask(Once(5, "never"))
    await trio.sleep(1)
    await ref.ask(Cancel())
    await trio.sleep(20)
    assert ticks == []


async def test_timers_stop_when_the_actor_stops(actor_system_autojump) -> None:
    system = actor_system_autojump
    ticks: list[tuple[float, Any]] = []
    ref = await system.spawn(Clockwork, ticks, name="clock")
    start = trio.current_time()
    every = await ref.ask(Every(1, "tick"))
    await trio.sleep(2.5)
    await system.stop(ref)
    assert not every.active
    await trio.sleep(50)
    assert ticks == [(start + 1, "tick"), (start + 2, "tick")]
    assert [d for d in system.dead_letters if d.message == "tick"] == []


async def test_timers_stop_when_the_actor_fails(actor_system_autojump) -> None:
    class Fragile(Clockwork):
        async def receive(self, message: object) -> object:
            if message == "fail":
                raise RuntimeError("broken")
            return await super().receive(message)

    system = actor_system_autojump
    ticks: list[tuple[float, Any]] = []
    ref = await system.spawn(Fragile, ticks, name="clock")
    every = await ref.ask(Every(1, "tick"))
    await trio.sleep(1.5)
    with pytest.raises(RuntimeError):
        await ref.ask("fail")
    await trio.sleep(50)
    assert not ref.is_alive
    assert not every.active
    assert len(ticks) == 1


async def test_a_timer_message_has_no_sender(actor_system_autojump) -> None:
    class SenderOfTimer(Actor):
        seen: object = "not fired"

        async def receive(self, message: object) -> object:
            if message == "start":
                self.schedule_once(1, "fired")
            elif message == "fired":
                self.seen = self.sender
            else:
                return self.seen
            return None

    ref = await actor_system_autojump.spawn(SenderOfTimer, name="t")
    await ref.ask("start")
    await trio.sleep(2)
    assert await ref.ask("who?") is None


@pytest.mark.parametrize(
    ("message", "error", "pattern"),
    [
        (Once(-1, "x"), ValueError, r"^delay must be >= 0 seconds, got -1$"),
        (Every(0, "x"), ValueError, r"^interval must be > 0 seconds, got 0$"),
        (Every("1", "x"), TypeError, r"^interval must be a number of seconds, not str$"),
    ],
)
async def test_bad_timer_arguments_are_rejected(actor_system_autojump, message, error, pattern) -> None:
    ref = await actor_system_autojump.spawn(Clockwork, [], name="clock")
    with pytest.raises(error, match=pattern):
        await ref.ask(message)


async def test_scheduling_while_stopping_raises_actor_stopped(actor_system_autojump) -> None:
    outcome: list[BaseException] = []

    class LateScheduler(Actor):
        async def on_stop(self) -> None:
            try:
                self.schedule_once(1, "too late")
            except ActorStopped as exc:
                outcome.append(exc)

    ref = await actor_system_autojump.spawn(LateScheduler, name="late")
    await actor_system_autojump.stop(ref)
    assert len(outcome) == 1
    assert str(outcome[0]) == (
        "actor 'late' is stopping or restarting and cannot schedule str; set timers in on_start or receive"
    )


async def test_a_timer_set_while_handling_a_message_continues_its_conversation(actor_system_autojump) -> None:
    """Its message carries the trace id of the message being handled when it was set."""

    class Later(Actor):
        def __init__(self) -> None:
            self.traces: dict[str, int] = {}

        async def receive(self, message: object) -> object:
            self.traces[str(message)] = self.envelope.trace_id
            if message == "start":
                self.schedule_once(1, "once")
                self.schedule_every(1, "tick")
            if message == "report":
                return self.traces
            return None

    ref = await actor_system_autojump.spawn(Later)
    reply = ref.ask_nowait("start")
    await reply
    await trio.sleep(1.5)
    traces = await ref.ask("report")
    assert traces["once"] == traces["tick"] == traces["start"] == reply.envelope.trace_id
    assert traces["report"] != traces["start"]


@pytest.mark.parametrize("how", ["self.stop()", "a failure"])
async def test_a_timer_armed_just_before_the_actor_ends_dies_with_it(autojump_clock, how: str) -> None:
    """No checkpoint between arming and the end: the timer is still cancelled (no task left)."""
    from actors import open_actor_system

    class ArmsThenEnds(Actor):
        async def receive(self, message: object) -> None:
            self.schedule_every(1, "tick")
            if how == "self.stop()":
                self.stop()
            else:
                raise RuntimeError("ends right after arming")

    async with open_actor_system() as system:
        refs = [await system.spawn(ArmsThenEnds) for _ in range(5)]
        before = trio.lowlevel.current_statistics().tasks_living  # (no task yet: started by a message)
        for ref in refs:
            ref.tell("go")
        await trio.sleep(10)
        assert not any(ref.is_alive for ref in refs)
        assert trio.lowlevel.current_statistics().tasks_living == before
        assert not [d for d in system.dead_letters if d.message == "tick"]
