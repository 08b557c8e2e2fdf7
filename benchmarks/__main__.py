"""``python -m benchmarks``: measure every backend in rounds and report medians, or count instructions.

``--remote`` measures remote actors over Redis instead (``benchmarks/remote.py``).

Progress goes to stderr; stdout gets only the table, or with ``--json`` exactly one line of JSON.
See ``benchmarks/README.md`` for the method and every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import attrs

from ._backends import load
from ._callgrind import CallgrindError, count_instructions, render_counts
from ._config import CALLGRIND, FULL, QUICK, Sizes
from ._report import ROWS, render_table, summarise
from ._timing import run_rounds

GROUPS = tuple(dict.fromkeys(row.group for row in ROWS))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(sizes: Sizes, groups: Collection[str] | None = None) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Run the workloads of ``groups`` (None: all) in rounds; return per-round figures and errors.

    The memory figures are measured once, after the rounds (they barely vary).
    """
    workloads, errors, modules = load(groups)
    for label, message in errors.items():
        _progress(f"{label}: {message}")
    rates, failures = run_rounds(workloads, sizes, _progress)
    errors.update(failures)
    actors = modules.get("trio-actors")
    if actors is not None and (groups is None or "memory" in groups):
        try:
            footprints = actors.footprints(sizes.spawn)
        except Exception as exc:
            errors["footprints"] = f"{type(exc).__name__}: {exc}"
        else:
            rates.update({key: [value] for key, value in footprints.items()})
            _progress(", ".join(f"{key}: {value:,.0f}" for key, value in footprints.items()))
    if actors is not None and not actors.HAS_ASK_STREAM and (groups is None or "stream" in groups):
        errors["ask_stream"] = "not measured: this version of actors has no ActorRef.ask_stream yet"
    return rates, errors


def environment() -> dict[str, Any]:
    """Versions and machine, for the report."""

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "trio": version("trio"),
        "pykka": version("pykka"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0, or 2 for a usage error or a failed count)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Throughput and footprint of trio-actors beside raw trio, asyncio and pykka, "
        "as medians of per-round ratios; or (--callgrind) instructions per operation.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller workloads (well under a minute)")
    parser.add_argument("--json", action="store_true", help="print one line of JSON instead of the table")
    parser.add_argument("--repeats", type=int, metavar="N", help="rounds (default 5; --quick 3)")
    parser.add_argument("--only", metavar="GROUP[,GROUP]", help=f"measure only these groups: {', '.join(GROUPS)}")
    parser.add_argument(
        "--remote",
        action="store_true",
        help="measure remote actors over Redis instead, beside the raw redis-py client "
        "(needs the 'redis' extra and a Redis 7: ACTORS_REDIS_URL, else "
        "127.0.0.1:6379; skipped with a message when there is none)",
    )
    parser.add_argument(
        "--callgrind",
        metavar="NAME[,NAME]",
        help="count instructions per operation of these workloads under valgrind "
        "(e.g. tell,trio_floor_tell); ratios divide the first by the others",
    )
    parser.add_argument(
        "--callgrind-out",
        metavar="DIR",
        type=Path,
        help="keep the callgrind dump files in DIR (1-4: small, big, small, big run)",
    )
    parser.add_argument(
        "--callgrind-top",
        metavar="N",
        type=int,
        default=0,
        help="with --callgrind: also list the N C functions with the most instructions of their own per operation",
    )
    args = parser.parse_args(argv)

    if args.remote:
        return _remote(args, parser)
    if args.callgrind is not None:
        return _callgrind(args, parser)
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        sizes = attrs.evolve(sizes, repeats=args.repeats)
    groups = None
    if args.only is not None:
        groups = _names(args.only)
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            parser.error(f"unknown group {unknown[0]!r} in --only; the groups are: {', '.join(GROUPS)}")

    with contextlib.redirect_stdout(sys.stderr):  # nothing measured may write to our stdout
        rates, errors = measure(sizes, groups)
    result = summarise(rates, errors, quick=args.quick, sizes=attrs.asdict(sizes), environment=environment())
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        env = result["environment"]
        rounds = f"{sizes.repeats} round{'s' if sizes.repeats != 1 else ''}"
        print(
            f"trio-actors benchmarks: {'quick' if args.quick else 'full'} run, {rounds}, "
            f"medians (Python {env['python']}, trio {env['trio']}, pykka {env['pykka']}, {env['cpus']} CPUs)\n"
        )
        print(render_table(result))
    return 0


def _remote(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``--remote``: the remote section (``benchmarks.remote``), with --quick, --json, --repeats."""
    if args.callgrind is not None or args.only is not None:
        parser.error(
            "--remote measures its own section: it takes --quick, --json and --repeats, not --only or --callgrind"
        )
    from . import remote

    argv = [*(["--quick"] if args.quick else []), *(["--json"] if args.json else [])]
    if args.repeats is not None:
        argv += ["--repeats", str(args.repeats)]
    return remote.main(argv, prog="python -m benchmarks --remote")


def _callgrind(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    names = _names(args.callgrind)
    if not names:
        parser.error("--callgrind needs at least one workload name, e.g. --callgrind tell")
    try:
        result = count_instructions(
            names, CALLGRIND, keep=args.callgrind_out, top=args.callgrind_top, progress=_progress
        )
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    except CallgrindError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2
    result["environment"] = environment()
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        print(render_counts(result))
        if args.callgrind_out is not None:
            print(f"\ndump files in {args.callgrind_out} (1-4: small, big, small, big run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
