"""``python -m benchmarks.chaos``: reliability of a supervision tree under faults and load.

The command line (`main`) and the report as text for people (`render`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import trio
import trio.testing

from ._config import QUICK, ChaosReport
from ._run import run_chaos

__all__ = ["main", "render"]


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
    lines.append(
        f"  dead letters         {f['dead_letters_total']:>10,}   records in total "
        f"({f['dead_letters_recovered_after_shutdown']:,} recovered from the ledger's own mailbox)"
    )
    for name, count in f["dead_letter_reasons"].items():
        lines.append(f"      {count:>10,}  {name}")
    lines += [
        "  ask answers          " + ", ".join(f"{k} {v:,}" for k, v in f["ask_answers"].items()),
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
        + (
            ""
            if f["memory_peak_traced_mib"] is None
            else f"; traced peak {f['memory_peak_traced_mib']:g} MiB, final {f['memory_final_traced_mib']:g} MiB "
            f"({f['memory_retained_after_shutdown_mib']:g} MiB kept after shutdown)"
        ),
        f"  shutdown             {_fmt(f['shutdown_seconds'])} s (bound {f['shutdown_bound_seconds']:g} s; "
        f"{f['hangs_in_flight_at_shutdown']} hangs in flight)",
        f"  tasks                {f['tasks_before']} living before the system, {f['tasks_after']} after",
    ]
    if f["soak"]:
        s = f["soak"]
        lines.append(
            f"  soak                 {'flat' if s['flat'] else 'NOT FLAT'}: {s['verdict']} "
            f"({s['measure']}, {s['samples']} samples after {s['warmup_seconds']} s warm-up)"
        )
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
    parser.add_argument(
        "--faults",
        type=float,
        metavar="PER_SECOND",
        dest="faults_per_second",
        help="faults injected per second (default 10; --quick 8)",
    )
    parser.add_argument(
        "--throughput",
        type=int,
        help="the system's throughput (fairness) setting: messages per actor between "
        "checkpoints (default 100, the runtime's default)",
    )
    parser.add_argument("--quick", action="store_true", help="CI-sized: a few seconds, 30 workers")
    parser.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="run the load this long, sampling memory, and check that it stays flat",
    )
    parser.add_argument(
        "--sample-every", type=float, metavar="SECONDS", help="memory sampling interval (default 0.5 s; 5 s in a soak)"
    )
    parser.add_argument(
        "--memory",
        choices=("rss", "tracemalloc", "off"),
        default="rss",
        help="rss (default: RSS and pymalloc's block count) or tracemalloc (exact live "
        "bytes, but it makes the run several times slower)",
    )
    parser.add_argument(
        "--virtual",
        action="store_true",
        help="run in virtual time (trio.testing.MockClock, autojump): a light soak of many "
        "simulated minutes takes one or two real ones; latencies are then virtual",
    )
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
