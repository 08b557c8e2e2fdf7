"""The chaos run itself: build the tree, drive the load, shut down, check the books.

`run_chaos` is the entry point (also for tests, in virtual time); it returns a
`ChaosReport` whose ``failures`` list every check that did not hold.
"""

from __future__ import annotations

import collections
import gc
import logging
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import attrs
import trio

from actors import ActorRef, DeadLetter, EscalatedFailure, open_actor_system
from supervision import SupervisionEvent, Supervisor, restart_count

from ._actors import LedgerActor, Pump, absorb
from ._config import ChaosConfig, ChaosReport
from ._ledger import ASK, BLOCK, CRASH, HANG, OK, TELL, Ledger
from ._traffic import Traffic, rss_bytes
from ._tree import build_tree

__all__ = ["run_chaos"]


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


async def _run(
    cfg: ChaosConfig, failures: list[str], progress: Callable[[str], None] | None, gc_pauses: _GcPauses
) -> ChaosReport:
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
    hard_limit = (
        cfg.seconds
        + cfg.ask_timeout
        + 4 * cfg.shutdown_timeout
        + cfg.actors * (cfg.max_cost + cfg.message_timeout)
        + 30.0
    )
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
                restarts_by_count = traffic.retired_restarts + sum(restart_count(ref) for ref in traffic.refs.values())
                supervisors_alive = _supervisors_alive()
                open_hangs = ledger.open_hangs()
                if progress is not None:
                    progress(
                        f"load over after {trio.current_time() - run_start:.1f} s; shutting down "
                        f"({len(ledger.open):,} messages in flight, {burst:,} of them just told)"
                    )
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
        failures.append(
            f"dead-letter feed incomplete: {dead_letters_total} records made, the ledger saw "
            f"{counts['dead_letters_seen']} (+{wrapped_dead_letters + wrapped_other} drained from "
            f"its own mailbox): {missed} unaccounted"
        )

    failures.extend(ledger.finish())
    if traffic is not None:
        failures.extend(traffic.problems)
    if tasks_after != baseline_tasks:
        failures.append(f"task leak: {tasks_after} tasks living after the system block, {baseline_tasks} before")

    shutdown_seconds = (
        None if shutdown_started is None or shutdown_ended is None else (shutdown_ended - shutdown_started)
    )
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
        failures.append(
            f"{supervisors_alive} Supervisor instances alive at the end of the load, more than "
            f"{supervisors_bound} (spec + running + one earlier incarnation, for {cfg.teams + 1} "
            f"supervisors): old incarnations are kept alive"
        )

    # Memory after the system is gone: what the run kept.
    samples = traffic.memory_samples if traffic is not None else []
    full_at = traffic.dead_letters_full_at if traffic is not None else None
    faults = dict(traffic.faults) if traffic is not None else {}
    lag = (traffic.lag.percentile(99), traffic.max_lag) if traffic is not None else (None, None)
    depth = (
        (traffic.max_depth, traffic.max_depth_path, traffic.max_queued, traffic.inspections)
        if traffic
        else (0, "", 0, 0)
    )
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
        "memory_final_rss_mib": _mib(rss_bytes()),
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


def _flatness(cfg: ChaosConfig, samples: list[tuple[float, int, int, int]], full_at: float | None) -> dict[str, Any]:
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
    result: dict[str, Any] = {
        "measure": measure,
        "warmup_seconds": round(warmup, 1),
        "samples": len(kept),
        "dead_letters_full_at": full_at,
    }
    if len(kept) < 6:
        result.update(
            flat=False,
            verdict=f"only {len(kept)} samples after {warmup:.0f} s of warm-up; run longer or sample more often",
        )
        return result
    third = len(kept) // 3

    def growth(col: int) -> tuple[float, float, float]:
        first = sum(s[col] for s in kept[:third]) / third
        last = sum(s[col] for s in kept[-third:]) / third
        return first, last, (last - first) / first if first else 0.0

    first, last, grew = growth(column)
    rss_first, rss_last, rss_grew = growth(2)
    result.update(
        first_third=round(first),
        last_third=round(last),
        growth=round(grew, 4),
        rss_first_third_mib=_mib(rss_first),
        rss_last_third_mib=_mib(rss_last),
        rss_growth=round(rss_grew, 4),
        flat=grew <= cfg.flat_tolerance,
        verdict=f"{measure} {first:,.0f} -> {last:,.0f} ({grew:+.1%}; tolerance "
        f"{cfg.flat_tolerance:.0%}); RSS {_mib(rss_first)} -> {_mib(rss_last)} MiB "
        f"({rss_grew:+.1%})",
    )
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _mib(n: float | None) -> float | None:
    return None if n is None else round(n / 2**20, 2)


def _supervisors_alive() -> int:
    """Supervisor objects in memory (specs and incarnations), after a full collection."""
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Supervisor))


def _recover(
    system: Any, ledger_ref: ActorRef[Any] | None, ledger: Ledger, counts: collections.Counter[str]
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


def _quiet_logs() -> dict[str, int]:
    saved = {}
    for name in ("actors", "supervision"):
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.CRITICAL + 1)
    return saved
