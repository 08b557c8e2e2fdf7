"""The load, the faults and the samplers of a chaos run: one `Traffic` shared by them all.

Sender tasks (``await ref.ask``) and sender actors (`Pump`, ``ask_nowait`` on a timer) send
seeded work; the injector sends faults (crash, hang, block, stop, storms); the samplers watch
mailbox depths, event-loop lag and memory. Everything it sends goes through the `Ledger`.
"""

from __future__ import annotations

import collections
import os
import random
import resource
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import trio

from actors import ActorRef, ActorStopped
from supervision import restart_count

from ._config import FAULTS, ChaosConfig
from ._ledger import ASK, BLOCK, CRASH, HANG, OK, TELL, Ledger, Reservoir

__all__ = ["Traffic", "rss_bytes", "subseed"]


class Traffic:
    """The load and the faults: shared by the sender tasks, the sender actors and the injector."""

    def __init__(self, cfg: ChaosConfig, ledger: Ledger, system: Any, names: list[list[str]]) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.system = system
        self.team_names = names
        self.names = [name for team in names for name in team]
        self.refs: dict[str, ActorRef[Any]] = {name: system.lookup(name) for name in self.names}
        self.start = trio.current_time()
        self.deadline = self.start + cfg.seconds
        self.pump_interval = cfg.pump_interval
        self.task_rate = cfg.rate * (1 - cfg.pump_share) / cfg.senders
        self.pump_rate = cfg.rate * cfg.pump_share / cfg.pumps if cfg.pumps else 0.0
        self.pump_rngs = [random.Random(subseed(cfg.seed, "pump", i)) for i in range(cfg.pumps)]
        self.pump_credit = [0.0] * cfg.pumps
        self.faults: collections.Counter[str] = collections.Counter()  # and "stop seconds": the longest stop
        self.replaced_refs = 0
        self.retired_restarts = 0  # restarts of worker cells stopped and replaced since
        self.problems: list[str] = []
        self.max_depth = 0
        self.max_depth_path = ""
        self.max_queued = 0
        self.inspections = 0
        self.memory_samples: list[tuple[float, int, int, int]] = []  # (t, traced bytes, rss bytes, blocks)
        self.dead_letters_full_at: float | None = None
        self.lag = Reservoir(100_000, cfg.seed)
        self.max_lag = 0.0

    # -- helpers -----------------------------------------------------------

    def pick(self, rng: random.Random) -> ActorRef[Any]:
        return self.refs[self.names[rng.randrange(len(self.names))]]

    def cost(self, rng: random.Random) -> float:
        return 0.0 if rng.random() < 0.5 else rng.uniform(0.0, self.cfg.max_cost)

    def over(self) -> bool:
        return trio.current_time() >= self.deadline

    def timeout(self, rng: random.Random) -> float:
        cfg = self.cfg
        return cfg.tight_ask_timeout if rng.random() < cfg.tight_ask_fraction else cfg.ask_timeout

    async def ask(self, ref: ActorRef[Any], mode: str, cost: float, sender: int, timeout: float) -> None:
        """An ``await ref.ask`` from a task, with every outcome recorded."""
        ledger = self.ledger
        work = ledger.issue(ASK, mode, cost, sender)
        alive = ref.is_alive  # an ask to a stopped actor raises at once, before enqueuing
        t0 = trio.current_time()
        try:
            value = await ref.ask(work, timeout=timeout)
        except ActorStopped as exc:
            if not alive:
                ledger.rejected(work.id, exc)
            else:
                ledger.answered(work.id, None, exc, trio.current_time() - t0)
        except Exception as exc:
            ledger.answered(work.id, None, exc, trio.current_time() - t0)
        else:
            ledger.answered(work.id, value, None, trio.current_time() - t0)

    def ask_nowait(self, ref: ActorRef[Any], mode: str, cost: float, sender: int, timeout: float) -> None:
        """A ``ref.ask_nowait`` whose outcome a done-callback records."""
        ledger = self.ledger
        work = ledger.issue(ASK, mode, cost, sender)
        alive = ref.is_alive
        reply = ref.ask_nowait(work, timeout=timeout)
        if not alive:  # to a stopped actor: the reply comes back already failed, nothing enqueued
            error = reply.exception()
            assert isinstance(error, ActorStopped), error
            ledger.rejected(work.id, error)
            return
        t0 = trio.current_time()

        def done(reply: Any) -> None:
            error = reply.exception()
            ledger.answered(work.id, None if error is not None else reply.result(), error, trio.current_time() - t0)

        reply.add_done_callback(done)

    def tell(self, ref: ActorRef[Any], mode: str, cost: float, sender: int) -> None:
        ref.tell(self.ledger.issue(TELL, mode, cost, sender))

    # -- senders -----------------------------------------------------------

    async def sender_task(self, index: int) -> None:
        """Tells and asks at ``task_rate`` (Poisson), until the deadline."""
        rng = random.Random(subseed(self.cfg.seed, "sender", index))
        ask_fraction = self.cfg.ask_fraction
        next_at = trio.current_time()
        burst = 0
        while True:
            now = trio.current_time()
            if now >= self.deadline:
                return
            if next_at > now:
                await trio.sleep_until(min(next_at, self.deadline))
                burst = 0
                continue
            next_at = max(next_at, now - 0.1) + rng.expovariate(self.task_rate)  # catch up 0.1 s at most
            ref = self.pick(rng)
            cost = self.cost(rng)
            if rng.random() < ask_fraction:
                await self.ask(ref, OK, cost, index, self.timeout(rng))
            else:
                self.tell(ref, OK, cost, index)
                burst += 1
                if burst >= 50:  # behind schedule: still let others run
                    burst = 0
                    await trio.lowlevel.checkpoint()

    def pump_tick(self, index: int) -> bool:
        """One tick of sender actor ``index``: send its share; False once the load is over."""
        if self.over():
            return False
        rng = self.pump_rngs[index]
        sender = self.cfg.senders + index
        self.pump_credit[index] += self.pump_rate * self.pump_interval
        count = int(self.pump_credit[index])
        self.pump_credit[index] -= count
        for _ in range(count):
            ref = self.pick(rng)
            cost = self.cost(rng)
            if rng.random() < self.cfg.ask_fraction:
                self.ask_nowait(ref, OK, cost, sender, self.timeout(rng))
            else:
                self.tell(ref, OK, cost, sender)
        return True

    # -- faults ------------------------------------------------------------

    async def injector(self) -> None:
        """Seeded faults at ``faults_per_second`` (Poisson), until the deadline."""
        cfg = self.cfg
        rng = random.Random(cfg.seed)
        async with trio.open_nursery() as storms:
            await self._inject(rng, storms)

    async def _inject(self, rng: random.Random, storms: trio.Nursery) -> None:
        cfg = self.cfg
        kinds = [*FAULTS, "block"]
        weights = [w * (1 - cfg.block_share) for w in FAULTS.values()] + [cfg.block_share]
        sender = -1  # the injector's messages are checked for order like any sender's
        while True:
            wait = rng.expovariate(cfg.faults_per_second)
            if trio.current_time() + wait >= self.deadline:
                return
            await trio.sleep(wait)
            kind = rng.choices(kinds, weights)[0]
            if kind == "block":
                ref = self.pick(rng)
                self.tell(ref, BLOCK, 0.0, sender)
                self.tell(ref, OK, 0.0, sender)  # queued behind it: the actor goes on without parking
                self.faults["block"] += 1
            elif kind in ("crash", "hang"):
                ref = self.pick(rng)
                mode = CRASH if kind == "crash" else HANG
                if rng.random() < 0.5:
                    self.tell(ref, mode, 0.0, sender)
                    self.faults[f"{kind} (tell)"] += 1
                else:
                    self.ask_nowait(ref, mode, 0.0, sender, self.timeout(rng))
                    self.faults[f"{kind} (ask)"] += 1
            elif kind == "stop":
                dead = sum(1 for ref in self.refs.values() if not ref.is_alive)
                alive = [name for name in self.names if self.refs[name].is_alive]
                if not alive or dead + 1 > cfg.max_dead_fraction * len(self.names):
                    self.faults["stop skipped (enough are stopped)"] += 1
                    continue
                ref = self.refs[alive[rng.randrange(len(alive))]]
                bound = 2 * cfg.shutdown_timeout
                t0 = trio.current_time()
                with trio.move_on_after(bound) as scope:
                    await self.system.stop(ref)
                self.faults["stop"] += 1
                if scope.cancelled_caught:
                    self.problems.append(f"system.stop({ref.path}) took longer than {bound:g} s (2 x shutdown_timeout)")
                elif ref.is_alive:
                    self.problems.append(f"system.stop({ref.path}) returned but the actor is alive")
                longest = max(self.faults["stop seconds"], trio.current_time() - t0)
                self.faults["stop seconds"] = longest  # type: ignore[assignment]  # a float among counts
            else:  # storm: more crashes than the team tolerates: it gives up, the root restarts it
                team = self.team_names[rng.randrange(len(self.team_names))]
                alive = [name for name in team if self.refs[name].is_alive]
                rng.shuffle(alive)
                if alive:
                    storms.start_soon(self.storm, alive, sender)
                    self.faults["storm"] += 1

    async def storm(self, names: list[str], sender: int) -> None:
        """``team_max_restarts + 2`` crashes, one every ``storm_spacing`` seconds, round robin over a team.

        Spaced, so that each is a failure of its own (a OneForAll restart folds
        siblings that fail at the same moment into one restart), and quick, so
        that all of them fall within the team's ``within`` window.
        """
        for i in range(self.cfg.team_max_restarts + 2):
            self.tell(self.refs[names[i % len(names)]], CRASH, 0.0, sender)
            await trio.sleep(self.cfg.storm_spacing)

    async def refresher(self) -> None:
        """Replace refs of stopped workers once a team restart has started them again."""
        while not self.over():
            await trio.sleep(0.05)
            self.refresh()

    def final_burst(self) -> int:
        """Tell every worker ``final_burst`` messages (2% flagged crash, 2% hang) just before shutdown.

        So the shutdown has queued messages to dead-letter and handlers to cut off.
        """
        rng = random.Random(subseed(self.cfg.seed, "burst", 0))
        sender = self.cfg.senders + self.cfg.pumps
        sent = 0
        for _ in range(self.cfg.final_burst):
            for name in self.names:
                roll = rng.random()
                mode = CRASH if roll < 0.02 else HANG if roll < 0.04 else OK
                self.tell(self.refs[name], mode, self.cost(rng), sender)
                sent += 1
        return sent

    def refresh(self) -> None:
        for name, ref in self.refs.items():
            if ref.is_alive:
                continue
            try:
                fresh = self.system.lookup(name)
            except LookupError:
                continue
            if fresh is not ref and fresh.is_alive:
                self.retired_restarts += restart_count(ref)
                self.refs[name] = fresh
                self.replaced_refs += 1

    # -- sampling ----------------------------------------------------------

    async def inspector(self) -> None:
        """Sample ``system.inspect()`` for mailbox depths (cancelled at the end of the load)."""
        while True:
            infos = self.system.inspect()
            self.inspections += 1
            queued = 0
            for info in infos:
                queued += info.mailbox
                if info.mailbox > self.max_depth:
                    self.max_depth, self.max_depth_path = info.mailbox, info.path
            self.max_queued = max(self.max_queued, queued)
            await trio.sleep(self.cfg.inspect_every)

    async def lag_sampler(self) -> None:
        """How late the event loop wakes a 10 ms sleep (cancelled at the end of the load).

        A handler's message_timeout counts wall time, so a loop stall longer than
        message_timeout - max_cost cuts even a quick handler (see the ledger's stall check).
        """
        while True:
            before = trio.current_time()
            await trio.sleep(0.01)
            lag = trio.current_time() - before - 0.01
            self.lag.add(lag)
            self.max_lag = max(self.max_lag, lag)

    async def memory_sampler(self, progress: Callable[[str], None] | None) -> None:
        """Sample memory (cancelled at the end of the load); in a soak, report each sample."""
        dead_letters = self.system.dead_letters
        while True:
            now = trio.current_time() - self.start
            traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
            self.memory_samples.append((now, traced, rss_bytes(), sys.getallocatedblocks()))
            if self.dead_letters_full_at is None and len(dead_letters) >= dead_letters.maxlen:
                self.dead_letters_full_at = now
            if progress is not None:
                balance = self.ledger.balance()
                progress(
                    f"t={now:7.1f} s  sent {balance['sent']:,}  open {balance['open']:,}  "
                    f"blocks {sys.getallocatedblocks():,}  rss {rss_bytes() / 2**20:.1f} MiB"
                    + (f"  traced {traced / 2**20:.1f} MiB" if traced else "")
                )
            await trio.sleep(self.cfg.memory_every)


def subseed(seed: int, what: str, index: int) -> int:
    return random.Random(f"{seed}/{what}/{index}").getrandbits(64)


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
