"""``python -m benchmarks.chaos``: reliability of a supervision tree under faults and load.

A tree of supervisors and workers (root -> teams with OneForOne, OneForAll and
RestForOne strategies and ``Backoff(initial=0.01, maximum=0.2)`` -> workers with
a ``message_timeout``) takes a steady load of tells and asks from sender tasks
(``await ref.ask``) and sender actors (``ask_nowait`` on a timer), while a
seeded fault injector (``random.Random(seed)``) sends messages flagged to crash
their handler or hang it past ``message_timeout``, stops workers for good with
``system.stop`` (messages to them then become dead letters or ``ActorStopped``),
sends crash storms to a team so that it gives up and the root restarts the whole
subtree, and now and then blocks the event loop from inside a handler (a sync
call in async code). A tenth of the asks have a tight deadline, so some time out
and are answered late.

A ledger (``_chaos_ledger``) accounts for every message: each ends handled,
errored (an ask whose asker got an error) or dead-lettered (a tell), counted
once by that final fate, and ``sent == handled + errored + dead_lettered``; it
also checks that nothing is handled twice, that each error matches a dead
letter, that late answers are recorded, and per-sender order. Dead letters come
from a subscription to ``actors.DeadLetter`` (the bounded record would drop
them), and the subscriber's own backlog at shutdown is recovered from the
record.

The run exits non-zero when the ledger does not balance or breaks a rule, when a
task outlives the system block, when shutdown takes longer than its bound (see
``shutdown_bound`` in `_run`), when an actor is restarted without a failure,
when a failure escalates past the root, or (``--soak``) when live memory grows.

Usage::

    python -m benchmarks.chaos [--seed N] [--seconds S] [--actors N] [--rate R] [--quick]
                               [--soak MINUTES] [--virtual] [--throughput N] [--json]

In-process (CI, see ``tests/test_chaos.py``)::

    report = await run_chaos(seed=1, seconds=3, actors=30)
    assert report.ok, report.failures

It runs in virtual time too (``trio.testing.MockClock(autojump_threshold=0)``):
handlers and senders only wait with ``trio.sleep``, and a blocked loop is a jump
of the clock.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import logging
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import attrs
import trio
import trio.testing

from actors import ActorRef, ActorStopped, DeadLetter, EscalatedFailure, open_actor_system
from supervision import (
    Backoff,
    ChildSpec,
    OneForAll,
    OneForOne,
    RestForOne,
    SupervisionEvent,
    Supervisor,
    restart_count,
)

from ._chaos_actors import LedgerActor, Pump, Worker, absorb
from ._chaos_ledger import ASK, BLOCK, CRASH, HANG, OK, TELL, Ledger, Reservoir

__all__ = ["ChaosConfig", "ChaosReport", "main", "run_chaos"]

STRATEGIES = (OneForOne, OneForAll, RestForOne)
#: Fault kinds and their weights ("block" gets ChaosConfig.block_share of the faults on top).
FAULTS = {"crash": 0.45, "hang": 0.25, "stop": 0.15, "storm": 0.15}


@attrs.frozen(kw_only=True)
class ChaosConfig:
    """Every knob of a run. The defaults are the full run; `QUICK` is CI-sized."""

    seed: int = 1
    seconds: float = 10.0  # duration of the load
    actors: int = 100  # workers, split into teams of about `team_size`
    team_size: int = 20
    senders: int = 32  # sender tasks (tell, and await ask)
    pumps: int = 4  # sender actors (tell, and ask_nowait on a timer)
    pump_interval: float = 0.01
    rate: float = 5000.0  # load messages per second, all senders together
    pump_share: float = 0.25  # of the rate, sent by the sender actors
    ask_fraction: float = 0.25
    max_cost: float = 0.002  # a handler sleeps up to this long (half of them do not sleep)
    faults_per_second: float = 10.0
    max_dead_fraction: float = 0.1  # the injector stops workers while fewer than this are stopped
    message_timeout: float = 0.1
    hang_factor: float = 10.0  # a hang sleeps message_timeout * this
    block_seconds: float = 0.15  # a "block" fault holds the whole event loop this long
    block_share: float = 0.02  # of the faults
    throughput: int = 100  # the system's fairness setting (messages per actor between checkpoints)
    ask_timeout: float = 0.25
    tight_ask_fraction: float = 0.1  # asks with a tight deadline: some time out, and are handled late
    tight_ask_timeout: float = 0.02
    shutdown_timeout: float = 1.0
    team_max_restarts: int = 10
    team_within: float = 1.0
    storm_spacing: float = 0.02  # seconds between the crashes of a storm
    root_max_restarts: int = 100
    root_within: float = 10.0
    dead_letters_size: int = 10_000
    inspect_every: float = 0.05  # sample system.inspect() (mailbox depths)
    memory_every: float = 0.5  # sample memory
    memory: str = "rss"  # "rss" (and pymalloc's block count), "tracemalloc" (exact, slower) or "off"
    final_burst: int = 5  # tells per worker right before shutdown (some flagged), so it has work to cut
    soak: bool = False
    flat_tolerance: float = 0.05  # soak: allowed growth, last third vs first third after warm-up
    warmup_fraction: float = 0.2  # soak: at least this much of the run is warm-up
    reservoir: int = 100_000  # latency samples kept (exact below this)
    quiet: bool = True  # silence the runtime's failure logs (thousands of tracebacks)
    ledger_delay: float = 0.0  # tests: the ledger actor sleeps this long per record, to lag behind

    def __attrs_post_init__(self) -> None:
        if self.seconds <= 0 or self.actors < 3 or self.senders < 1 or self.rate <= 0:
            raise ValueError("need seconds > 0, actors >= 3, senders >= 1 and rate > 0")
        if self.memory not in ("tracemalloc", "rss", "off"):
            raise ValueError("memory must be 'tracemalloc', 'rss' or 'off'")

    @property
    def teams(self) -> int:
        return max(3, round(self.actors / self.team_size))


QUICK = dict(seconds=3.0, actors=30, team_size=10, senders=8, pumps=2, rate=1500.0, faults_per_second=8.0)


@attrs.define
class ChaosReport:
    """What a run measured; ``failures`` is empty when every check passed."""

    config: dict[str, Any]
    figures: dict[str, Any]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": self.failures, "config": self.config, "figures": self.figures}


# ----------------------------------------------------------------------
# The tree


def build_tree(cfg: ChaosConfig, ledger: Ledger) -> tuple[Supervisor, list[list[str]]]:
    """root -> teams (strategies in turn) -> workers; returns the tree and worker names per team."""
    backoff = Backoff(initial=0.01, maximum=0.2)
    teams, names = [], []
    per_team = [cfg.actors // cfg.teams + (1 if t < cfg.actors % cfg.teams else 0) for t in range(cfg.teams)]
    for t, size in enumerate(per_team):
        strategy = STRATEGIES[t % len(STRATEGIES)](
            max_restarts=cfg.team_max_restarts, within=cfg.team_within, backoff=backoff)
        workers = [f"w{t}-{i}" for i in range(size)]
        names.append(workers)
        teams.append(Supervisor(name=f"team{t}", strategy=strategy, children=[
            ChildSpec(Worker, ledger, cfg.message_timeout * cfg.hang_factor, cfg.block_seconds, name=name,
                      message_timeout=cfg.message_timeout, shutdown_timeout=cfg.shutdown_timeout)
            for name in workers
        ]))
    root = Supervisor(name="chaos", children=teams, strategy=OneForOne(
        max_restarts=cfg.root_max_restarts, within=cfg.root_within, backoff=backoff))
    return root, names


# ----------------------------------------------------------------------
# Load, faults and sampling


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
        self.pump_rngs = [random.Random(_subseed(cfg.seed, "pump", i)) for i in range(cfg.pumps)]
        self.pump_credit = [0.0] * cfg.pumps
        self.faults: collections.Counter[str] = collections.Counter()
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
        except Exception as exc:  # noqa: BLE001 - whatever the handler raised, by type
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
            ledger.answered(work.id, None if error is not None else reply.result(), error,
                            trio.current_time() - t0)

        reply.add_done_callback(done)

    def tell(self, ref: ActorRef[Any], mode: str, cost: float, sender: int) -> None:
        ref.tell(self.ledger.issue(TELL, mode, cost, sender))

    # -- senders -----------------------------------------------------------

    async def sender_task(self, index: int) -> None:
        """Tells and asks at ``task_rate`` (Poisson), until the deadline."""
        rng = random.Random(_subseed(self.cfg.seed, "sender", index))
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
                    self.problems.append(f"system.stop({ref.path}) took longer than {bound:g} s "
                                         f"(2 x shutdown_timeout)")
                elif ref.is_alive:
                    self.problems.append(f"system.stop({ref.path}) returned but the actor is alive")
                self.faults["stop seconds"] = max(self.faults["stop seconds"], trio.current_time() - t0)
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
        rng = random.Random(_subseed(self.cfg.seed, "burst", 0))
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
            self.memory_samples.append((now, traced, _rss_bytes(), sys.getallocatedblocks()))
            if self.dead_letters_full_at is None and len(dead_letters) >= dead_letters.maxlen:
                self.dead_letters_full_at = now
            if progress is not None:
                balance = self.ledger.balance()
                progress(f"t={now:7.1f} s  sent {balance['sent']:,}  open {balance['open']:,}  "
                         f"blocks {sys.getallocatedblocks():,}  rss {_rss_bytes() / 2**20:.1f} MiB"
                         + (f"  traced {traced / 2**20:.1f} MiB" if traced else ""))
            await trio.sleep(self.cfg.memory_every)


# ----------------------------------------------------------------------
# The run


async def run_chaos(progress: Callable[[str], None] | None = None, **options: Any) -> ChaosReport:
    """Run the chaos scenario in the current trio run and return its report.

    ``options`` are `ChaosConfig` fields (``seed``, ``seconds``, ``actors``, ...).
    Works under a `trio.testing.MockClock` (virtual time) as well as in real time.
    """
    cfg = ChaosConfig(**options)
    failures: list[str] = []
    saved_levels = _quiet_logs() if cfg.quiet else None
    started_tracing = False
    if cfg.memory == "tracemalloc" and not tracemalloc.is_tracing():
        tracemalloc.start()
        started_tracing = True
    gc_pauses = _GcPauses()
    gc.callbacks.append(gc_pauses)
    try:
        return await _run(cfg, failures, progress, gc_pauses)
    finally:
        gc.callbacks.remove(gc_pauses)
        if started_tracing:
            tracemalloc.stop()
        if saved_levels is not None:
            for name, level in saved_levels.items():
                logging.getLogger(name).setLevel(level)


async def _run(cfg: ChaosConfig, failures: list[str], progress: Callable[[str], None] | None,
               gc_pauses: _GcPauses) -> ChaosReport:
    ledger = Ledger(message_timeout=cfg.message_timeout, reservoir_size=cfg.reservoir, seed=cfg.seed)
    counts: collections.Counter[str] = collections.Counter()
    tree, names = build_tree(cfg, ledger)
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
    baseline_traced = tracemalloc.get_traced_memory()[0] if tracing else 0
    baseline_blocks = sys.getallocatedblocks()
    baseline_tasks = trio.lowlevel.current_statistics().tasks_living
    run_start = trio.current_time()
    # Generous: the load, the last asks, the worst shutdown the bound below allows, plus margin.
    hard_limit = cfg.seconds + cfg.ask_timeout + 4 * cfg.shutdown_timeout + cfg.actors * (
        cfg.max_cost + cfg.message_timeout) + 30.0
    traffic: Traffic | None = None
    system: Any = None
    ledger_ref: ActorRef[Any] | None = None
    shutdown_started = shutdown_ended = None
    open_hangs = 0
    restarts_by_count = 0
    supervisors_alive = 0
    with trio.move_on_after(hard_limit) as watchdog:
        try:
            async with open_actor_system(
                shutdown_timeout=cfg.shutdown_timeout,
                ask_timeout=cfg.ask_timeout,
                dead_letters_size=cfg.dead_letters_size,
                throughput=cfg.throughput,
            ) as system:
                # The ledger's subscriber starts first, so it stops last.
                ledger_ref = await system.spawn(LedgerActor, ledger, counts, cfg.ledger_delay, name="chaos-ledger")
                system.subscribe(ledger_ref, DeadLetter)
                system.subscribe(ledger_ref, SupervisionEvent)
                await system.spawn_tree(tree)
                traffic = Traffic(cfg, ledger, system, names)
                for index in range(cfg.pumps):
                    await system.spawn(Pump, traffic, index, name=f"pump-{index}")
                async with trio.open_nursery() as samplers:
                    samplers.start_soon(traffic.inspector)
                    samplers.start_soon(traffic.lag_sampler)
                    if cfg.memory != "off":
                        samplers.start_soon(traffic.memory_sampler, progress if cfg.soak else None)
                    async with trio.open_nursery() as load:
                        for index in range(cfg.senders):
                            load.start_soon(traffic.sender_task, index)
                        load.start_soon(traffic.injector)
                        load.start_soon(traffic.refresher)
                    samplers.cancel_scope.cancel()
                traffic.refresh()
                burst = traffic.final_burst()
                ledger.closed = True  # every message has been sent
                restarts_by_count = traffic.retired_restarts + sum(
                    restart_count(ref) for ref in traffic.refs.values())
                supervisors_alive = _supervisors_alive()
                open_hangs = ledger.open_hangs()
                if progress is not None:
                    progress(f"load over after {trio.current_time() - run_start:.1f} s; shutting down "
                             f"({len(ledger.open):,} messages in flight, {burst:,} of them just told)")
                shutdown_started = trio.current_time()
            shutdown_ended = trio.current_time()
        except EscalatedFailure as exc:
            shutdown_ended = trio.current_time()
            failures.append(f"a failure escalated past the root supervisor: {exc}")
    if watchdog.cancelled_caught:
        failures.append(f"watchdog: the run did not finish within {hard_limit:.0f} s and was cancelled")
    await trio.lowlevel.checkpoint()
    tasks_after = trio.lowlevel.current_statistics().tasks_living
    run_seconds = trio.current_time() - run_start

    wrapped_dead_letters, wrapped_other, dead_letters_total = _recover(system, ledger_ref, ledger, counts)
    # Each original record was seen by the ledger (counts includes the recovered
    # ones); each record drained from the ledger actor's mailbox made one more.
    missed = dead_letters_total - counts["dead_letters_seen"] - wrapped_dead_letters - wrapped_other
    if missed:
        failures.append(f"dead-letter feed incomplete: {dead_letters_total} records made, the ledger saw "
                        f"{counts['dead_letters_seen']} (+{wrapped_dead_letters + wrapped_other} drained from "
                        f"its own mailbox): {missed} unaccounted")

    failures.extend(ledger.finish())
    if traffic is not None:
        failures.extend(traffic.problems)
    if tasks_after != baseline_tasks:
        failures.append(f"task leak: {tasks_after} tasks living after the system block, {baseline_tasks} before")

    shutdown_seconds = None if shutdown_started is None or shutdown_ended is None else (
        shutdown_ended - shutdown_started)
    # The bound. The contract gives one stopping actor at most 2 x shutdown_timeout
    # (its running handler, then on_stop). Actors stop one after another (children
    # before parents, last started first), but ours never need that grace: a worker's
    # handler runs at most max_cost, or hangs until message_timeout cuts it, and
    # on_stop is empty; so the sequential stops of the whole tree add up to at most
    # workers x max_cost + (hang messages in flight) x message_timeout. On top we
    # allow one full actor grace, 2 x shutdown_timeout: a shutdown that needs more
    # means some stop waited out a grace period it should not have needed.
    shutdown_bound = 2 * cfg.shutdown_timeout + cfg.actors * cfg.max_cost + open_hangs * cfg.message_timeout
    if shutdown_seconds is not None and shutdown_seconds > shutdown_bound:
        failures.append(f"shutdown took {shutdown_seconds:.3f} s, over its bound of {shutdown_bound:.3f} s")

    # Old incarnations must not pile up: each supervisor has its spec value and its
    # running instance, and at most one earlier incarnation may be kept by the
    # traceback of its last failure (cell.last_error). More grows with every restart.
    supervisors_bound = 3 * (cfg.teams + 1)
    if supervisors_alive > supervisors_bound:
        failures.append(f"{supervisors_alive} Supervisor instances alive at the end of the load, more than "
                        f"{supervisors_bound} (spec + running + one earlier incarnation, for {cfg.teams + 1} "
                        f"supervisors): old incarnations are kept alive")

    # Memory after the system is gone: what the run kept.
    samples = traffic.memory_samples if traffic is not None else []
    full_at = traffic.dead_letters_full_at if traffic is not None else None
    faults = dict(traffic.faults) if traffic is not None else {}
    lag = (traffic.lag.percentile(99), traffic.max_lag) if traffic is not None else (None, None)
    depth = (traffic.max_depth, traffic.max_depth_path, traffic.max_queued, traffic.inspections) if traffic else (
        0, "", 0, 0)
    replaced = traffic.replaced_refs if traffic is not None else 0
    system = traffic = ledger_ref = None  # the system is gone: what is still held is ours
    final_traced = peak_traced = None
    gc.collect()
    final_blocks = sys.getallocatedblocks()
    if tracemalloc.is_tracing():
        final_traced, peak_traced = tracemalloc.get_traced_memory()
    soak = _flatness(cfg, samples, full_at) if cfg.soak else None
    if soak is not None and not soak["flat"]:
        failures.append(f"memory is not flat over the soak: {soak['verdict']}")

    balance = ledger.balance()
    sent_load = ledger.sent[OK]
    figures: dict[str, Any] = {
        **balance,
        "balanced": balance["open"] == 0
        and balance["sent"] == balance["handled"] + balance["errored"] + balance["dead_lettered"],
        "sent_tells": ledger.sent[TELL],
        "sent_asks": ledger.sent[ASK],
        "sent_faulty": ledger.sent[CRASH] + ledger.sent[HANG] + ledger.sent[BLOCK],
        "load_rate_per_s": round(sent_load / cfg.seconds, 1),
        "outcomes": dict(sorted(ledger.detail.items())),
        "ask_answers": dict(sorted(ledger.answers.items())),
        "dead_letter_reasons": dict(sorted(ledger.dead_letter_reasons.items())),
        "dead_letters_total": dead_letters_total,
        "dead_letters_recovered_after_shutdown": wrapped_dead_letters,
        "late_answers": ledger.late_seen,
        "violations": ledger.violation_count,
        "faults": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in sorted(faults.items())},
        "refs_replaced": replaced,
        "restarts_worker_count": restarts_by_count,
        "restarts_worker_events": counts["worker_restarted_events"],
        "restarts_team_events": counts["team_restarted_events"],
        "give_ups": counts["gave_up_events"],
        "supervisor_instances_alive": supervisors_alive,
        "supervisor_instances_bound": 3 * (cfg.teams + 1),
        "max_mailbox_depth": depth[0],
        "max_mailbox_depth_actor": depth[1],
        "max_messages_queued": depth[2],
        "inspections": depth[3],
        "ask_p50_ms": _ms(ledger.latency_ok.percentile(50)),
        "ask_p99_ms": _ms(ledger.latency_ok.percentile(99)),
        "ask_all_p50_ms": _ms(ledger.latency_all.percentile(50)),
        "ask_all_p99_ms": _ms(ledger.latency_all.percentile(99)),
        "ask_latency_samples": ledger.latency_ok.count,
        "loop_lag_p99_ms": _ms(lag[0]),
        "loop_lag_max_ms": _ms(lag[1]),
        "gc_max_pause_ms": _ms(gc_pauses.max_pause),
        "gc_full_collections": gc_pauses.full,
        "ok_handlers_cut_by_loop_stalls": ledger.stall_cuts,
        "restarts_without_failure": counts["restarts_without_failure"],
        "memory_peak_traced_mib": _mib(peak_traced),
        "memory_final_traced_mib": _mib(final_traced),
        "memory_retained_after_shutdown_mib": None if final_traced is None else _mib(final_traced - baseline_traced),
        "memory_peak_rss_mib": _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        "memory_final_rss_mib": _mib(_rss_bytes()),
        "memory_blocks_before": baseline_blocks,
        "memory_blocks_peak": max((s[3] for s in samples), default=None),
        "memory_blocks_after": final_blocks,
        "shutdown_seconds": None if shutdown_seconds is None else round(shutdown_seconds, 4),
        "shutdown_bound_seconds": round(shutdown_bound, 4),
        "hangs_in_flight_at_shutdown": open_hangs,
        "tasks_before": baseline_tasks,
        "tasks_after": tasks_after,
        "run_seconds": round(run_seconds, 3),
        "soak": soak,
    }
    return ChaosReport(attrs.asdict(cfg), figures, failures)


def _flatness(cfg: ChaosConfig, samples: list[tuple[float, int, int, int]], full_at: float | None
              ) -> dict[str, Any]:
    """Soak verdict: after warm-up, the mean of the last third against the first third.

    Warm-up lasts ``warmup_fraction`` of the run, and at least until the bounded
    dead-letter record first filled up (it is meant to grow until then). The
    verdict uses live Python memory: tracemalloc's bytes when tracing, else
    pymalloc's count of allocated blocks (``sys.getallocatedblocks``: cheap, and
    unlike RSS it goes down when objects are freed). RSS is reported beside it.
    """
    column, measure = (1, "tracemalloc bytes") if any(s[1] for s in samples) else (3, "allocated blocks")
    warmup = max(cfg.warmup_fraction * cfg.seconds, full_at or 0.0)
    kept = [s for s in samples if s[0] >= warmup]
    result: dict[str, Any] = {"measure": measure, "warmup_seconds": round(warmup, 1),
                              "samples": len(kept), "dead_letters_full_at": full_at}
    if len(kept) < 6:
        result.update(flat=False, verdict=f"only {len(kept)} samples after {warmup:.0f} s of warm-up; run longer "
                                          f"or sample more often")
        return result
    third = len(kept) // 3

    def growth(col: int) -> tuple[float, float, float]:
        first = sum(s[col] for s in kept[:third]) / third
        last = sum(s[col] for s in kept[-third:]) / third
        return first, last, (last - first) / first if first else 0.0

    first, last, grew = growth(column)
    rss_first, rss_last, rss_grew = growth(2)
    result.update(first_third=round(first), last_third=round(last), growth=round(grew, 4),
                  rss_first_third_mib=_mib(rss_first), rss_last_third_mib=_mib(rss_last),
                  rss_growth=round(rss_grew, 4), flat=grew <= cfg.flat_tolerance,
                  verdict=f"{measure} {first:,.0f} -> {last:,.0f} ({grew:+.1%}; tolerance "
                          f"{cfg.flat_tolerance:.0%}); RSS {_mib(rss_first)} -> {_mib(rss_last)} MiB "
                          f"({rss_grew:+.1%})")
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _mib(n: float | None) -> float | None:
    return None if n is None else round(n / 2**20, 2)


def _supervisors_alive() -> int:
    """Supervisor objects in memory (specs and incarnations), after a full collection."""
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Supervisor))


def _recover(system: Any, ledger_ref: ActorRef[Any] | None, ledger: Ledger, counts: collections.Counter[str]
             ) -> tuple[int, int, int]:
    """Account what the ledger actor had not read when it stopped; return the counts.

    Its queued messages were drained into ``system.dead_letters`` as records
    addressed to it whose message is the original record (or event). Returns
    (drained dead letters, other drained messages, records made in total).
    """
    if system is None or ledger_ref is None:
        return 0, 0, 0
    wrapped_dead_letters = wrapped_other = 0
    for record in system.dead_letters:
        if record.recipient is ledger_ref:
            if isinstance(record.message, DeadLetter):
                wrapped_dead_letters += 1
            else:
                wrapped_other += 1
            absorb(ledger, counts, record.message)
    return wrapped_dead_letters, wrapped_other, system.dead_letters.total


class _GcPauses:
    """A `gc.callbacks` hook: the longest collection (real seconds) and the number of full ones."""

    def __init__(self) -> None:
        self.max_pause = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.max_pause = max(self.max_pause, time.perf_counter() - self._started)
            if info.get("generation") == 2:
                self.full += 1


def _subseed(seed: int, what: str, index: int) -> int:
    return random.Random(f"{seed}/{what}/{index}").getrandbits(64)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _quiet_logs() -> dict[str, int]:
    saved = {}
    for name in ("actors", "supervision"):
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.CRITICAL + 1)
    return saved


# ----------------------------------------------------------------------
# Command line


def render(report: ChaosReport) -> str:
    """The report as text, for people."""
    c, f = report.config, report.figures
    teams = max(3, round(c["actors"] / c["team_size"]))
    faults = ", ".join(f"{k} {v:g}" for k, v in f["faults"].items() if k != "stop seconds")
    lines = [
        f"trio-actors chaos: seed {c['seed']}, {c['seconds']:g} s of load at {c['rate']:g} msg/s, "
        f"{c['actors']} workers in {teams} teams (OneForOne/OneForAll/RestForOne), "
        f"{c['senders']} sender tasks + {c['pumps']} sender actors",
        f"  faults injected      {faults}",
        "",
        f"  messages sent        {f['sent']:>10,}   ({f['sent_tells']:,} tells, {f['sent_asks']:,} asks, "
        f"{f['sent_faulty']:,} flagged to crash, hang or block)",
        f"    handled            {f['handled']:>10,}",
        f"    errored            {f['errored']:>10,}   (asks answered with an error, never handled)",
        f"    dead-lettered      {f['dead_lettered']:>10,}   (tells never handled)",
        f"    still open         {f['open']:>10,}",
        f"    ledger             {'balances' if f['balanced'] else 'DOES NOT BALANCE'}: sent == handled + "
        f"errored + dead-lettered; {f['violations']} rule violations; {f['late_answers']:,} late answers recorded",
    ]
    for name, count in f["outcomes"].items():
        lines.append(f"      {count:>10,}  {name}")
    lines.append(f"  dead letters         {f['dead_letters_total']:>10,}   records in total "
                 f"({f['dead_letters_recovered_after_shutdown']:,} recovered from the ledger's own mailbox)")
    for name, count in f["dead_letter_reasons"].items():
        lines.append(f"      {count:>10,}  {name}")
    lines += [
        f"  ask answers          " + ", ".join(f"{k} {v:,}" for k, v in f["ask_answers"].items()),
        f"  restarts             {f['restarts_worker_count']:>10,}   worker restarts (restart_count); "
        f"{f['restarts_worker_events']:,} ChildRestarted events for workers, "
        f"{f['restarts_team_events']:,} for teams; {f['restarts_without_failure']} without a failure",
        f"  give-ups             {f['give_ups']:>10,}   (SupervisorGaveUp); {f['supervisor_instances_alive']} "
        f"Supervisor objects alive at the end (bound {f['supervisor_instances_bound']})",
        f"  max mailbox depth    {f['max_mailbox_depth']:>10,}   ({f['max_mailbox_depth_actor']}; at most "
        f"{f['max_messages_queued']:,} queued in all, {f['inspections']:,} inspections)",
        f"  ask latency          p50 {_fmt(f['ask_p50_ms'])} ms, p99 {_fmt(f['ask_p99_ms'])} ms (answered asks); "
        f"all asks p50 {_fmt(f['ask_all_p50_ms'])} ms, p99 {_fmt(f['ask_all_p99_ms'])} ms",
        f"  event loop           lag of a 10 ms sleep p99 {_fmt(f['loop_lag_p99_ms'])} ms, max "
        f"{_fmt(f['loop_lag_max_ms'])} ms; longest GC pause {_fmt(f['gc_max_pause_ms'])} ms "
        f"({f['gc_full_collections']} full collections); {f['ok_handlers_cut_by_loop_stalls']} quick handlers "
        f"cut by message_timeout after a stall",
        f"  memory               RSS peak {_fmt(f['memory_peak_rss_mib'])} MiB, final "
        f"{_fmt(f['memory_final_rss_mib'])} MiB; Python blocks {f['memory_blocks_before']:,} before, "
        f"{_fmt(f['memory_blocks_peak'])} peak, {f['memory_blocks_after']:,} after shutdown (ledger kept)"
        + ("" if f["memory_peak_traced_mib"] is None else
           f"; traced peak {f['memory_peak_traced_mib']:g} MiB, final {f['memory_final_traced_mib']:g} MiB "
           f"({f['memory_retained_after_shutdown_mib']:g} MiB kept after shutdown)"),
        f"  shutdown             {_fmt(f['shutdown_seconds'])} s (bound {f['shutdown_bound_seconds']:g} s; "
        f"{f['hangs_in_flight_at_shutdown']} hangs in flight)",
        f"  tasks                {f['tasks_before']} living before the system, {f['tasks_after']} after",
    ]
    if f["soak"]:
        s = f["soak"]
        lines.append(f"  soak                 {'flat' if s['flat'] else 'NOT FLAT'}: {s['verdict']} "
                     f"({s['measure']}, {s['samples']} samples after {s['warmup_seconds']} s warm-up)")
    lines.append("")
    if report.ok:
        lines.append("OK: every check passed")
    else:
        lines.append("FAILED:")
        lines += [f"  - {failure}" for failure in report.failures]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault injector and the load (default 1)")
    parser.add_argument("--seconds", type=float, help="seconds of load (default 10; --quick 3)")
    parser.add_argument("--actors", type=int, help="workers (default 100; --quick 30)")
    parser.add_argument("--rate", type=float, help="load messages per second (default 5000; --quick 1500)")
    parser.add_argument("--faults", type=float, metavar="PER_SECOND", dest="faults_per_second",
                        help="faults injected per second (default 10; --quick 8)")
    parser.add_argument("--throughput", type=int,
                        help="the system's throughput (fairness) setting: messages per actor between "
                             "checkpoints (default 100, the runtime's default)")
    parser.add_argument("--quick", action="store_true", help="CI-sized: a few seconds, 30 workers")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="run the load this long, sampling memory, and check that it stays flat")
    parser.add_argument("--sample-every", type=float, metavar="SECONDS",
                        help="memory sampling interval (default 0.5 s; 5 s in a soak)")
    parser.add_argument("--memory", choices=("rss", "tracemalloc", "off"), default="rss",
                        help="rss (default: RSS and pymalloc's block count) or tracemalloc (exact live "
                             "bytes, but it makes the run several times slower)")
    parser.add_argument("--virtual", action="store_true",
                        help="run in virtual time (trio.testing.MockClock, autojump): a light soak of many "
                             "simulated minutes takes one or two real ones; latencies are then virtual")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--log", action="store_true", help="keep the runtime's failure logs (very verbose)")
    args = parser.parse_args(argv)

    options: dict[str, Any] = dict(QUICK) if args.quick else {}
    options.update(seed=args.seed, memory=args.memory, quiet=not args.log)
    if args.soak is not None:
        options.update(seconds=args.soak * 60, soak=True, memory_every=5.0)
    for name in ("seconds", "actors", "rate", "throughput", "faults_per_second"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.sample_every is not None:
        options["memory_every"] = args.sample_every

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    clock = trio.testing.MockClock(autojump_threshold=0) if args.virtual else None
    report = trio.run(lambda: run_chaos(progress, **options), clock=clock)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
