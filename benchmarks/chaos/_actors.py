"""The actors of the chaos run: workers, the ledger's dead-letter subscriber, sender actors.

They import the `Traffic` they serve; `Traffic` imports none of them, so the modules of
the package form no import circle.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import trio
import trio.testing

from actors import Actor, DeadLetter
from supervision import ChildRestarted, SupervisionEvent, SupervisorGaveUp

from ._ledger import BLOCK, CRASH, HANG, ChaosCrash, Ledger, Work
from ._traffic import Traffic

__all__ = ["LedgerActor", "Pump", "Tick", "Worker", "absorb"]


class Worker(Actor):
    """Handles `Work`: sleeps ``cost``, then crashes, hangs, blocks or records the id it handled."""

    def __init__(self, ledger: Ledger, hang_seconds: float, block_seconds: float) -> None:
        self.ledger = ledger
        self.hang_seconds = hang_seconds
        self.block_seconds = block_seconds

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, Work):
            self.unhandled(message)
        started = trio.current_time()
        try:
            if message.cost:
                await trio.sleep(message.cost)
            if message.mode == CRASH:
                raise ChaosCrash(f"message {message.id} was flagged to crash")
            if message.mode == HANG:
                await trio.sleep(self.hang_seconds)  # past message_timeout: cancelled, a failure
            if message.mode == BLOCK:
                # A sync call in async code: the whole event loop stops. No checkpoint
                # follows, so nothing can cancel it: it completes, past its deadline.
                clock = trio.lowlevel.current_clock()
                if isinstance(clock, trio.testing.MockClock):
                    clock.jump(self.block_seconds)  # virtual time: the same, without the wait
                else:
                    time.sleep(self.block_seconds)
        except trio.Cancelled:
            # Cut off (message_timeout, a stop or a restart): say how long it had run,
            # so the ledger can tell a late wake-up (a loop stall) from an early deadline.
            self.ledger.cut(message, trio.current_time() - started)
            raise
        self.ledger.handled(message, self.ref.name)  # last statement: no await after it
        return message.id


class LedgerActor(Actor):
    """Subscribed to `DeadLetter` and `SupervisionEvent`: feeds the ledger, counts events.

    Spawned first, so it stops last: the records the tree's shutdown makes still
    reach it. What is still queued in its mailbox when it stops is drained into
    ``system.dead_letters`` (as dead letters whose message is the record) and
    recovered from there after the system block (see `_run.run_chaos`).
    """

    def __init__(self, ledger: Ledger, counts: dict[str, int], delay: float = 0.0) -> None:
        self.ledger = ledger
        self.counts = counts
        self.delay = delay  # > 0 only in a test: a backlog at shutdown exercises the recovery

    async def receive(self, message: Any) -> Any:
        if not absorb(self.ledger, self.counts, message):
            self.unhandled(message)
        if self.delay:
            await trio.sleep(self.delay)
        return None


def absorb(ledger: Ledger, counts: dict[str, int], message: Any) -> bool:
    """Account one message of the ledger actor (a dead letter or a supervision event)."""
    if isinstance(message, DeadLetter):
        counts["dead_letters_seen"] += 1
        ledger.dead_letter(message)
    elif isinstance(message, SupervisionEvent):
        counts["events_seen"] += 1
        if isinstance(message, ChildRestarted):
            # paths: /chaos/<team> for a team, /chaos/<team>/<worker> for a worker
            key = "worker_restarted_events" if message.child.count("/") >= 3 else "team_restarted_events"
            counts[key] += 1
            if message.error is None:  # nothing here exits normally: a restart needs a failure
                counts["restarts_without_failure"] += 1
                ledger.note(
                    f"{message.child} was restarted without a failure (its incarnation ended "
                    f"normally, which no chaos actor does)"
                )
        elif isinstance(message, SupervisorGaveUp):
            counts["gave_up_events"] += 1
    else:
        return False
    return True


@attrs.frozen
class Tick:
    """A sender actor's timer message."""


class Pump(Actor):
    """A sender actor: on each tick, tells and asks (``ask_nowait``) a batch of work."""

    def __init__(self, traffic: Traffic, sender_id: int) -> None:
        self.traffic = traffic
        self.sender_id = sender_id  # (Actor.sender is the current message's sender)

    async def on_start(self) -> None:
        self.timer = self.schedule_every(self.traffic.pump_interval, Tick())

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, Tick):
            self.unhandled(message)
        if not self.traffic.pump_tick(self.sender_id):
            self.timer.cancel()  # the load is over
        return None
