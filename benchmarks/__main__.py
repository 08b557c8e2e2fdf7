"""``python -m benchmarks [--quick] [--json] [--repeats N]``: measure every backend, report.

Progress goes to stderr; stdout gets only the table, or with ``--json`` exactly one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import sys
from typing import Any

import attrs

from ._config import FULL, QUICK, Sizes
from ._report import render_table, summarise
from ._timing import Workload, best_rates

# backend label -> module; a module that fails to import marks its backend missing.
BACKENDS = {
    "raw trio": "benchmarks._raw_trio",
    "asyncio": "benchmarks._raw_asyncio",
    "pykka": "benchmarks._pykka",
    "trio-actors": "benchmarks._actors",
}


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _measure(sizes: Sizes) -> tuple[dict[str, float], dict[str, str]]:
    workloads: dict[str, Workload] = {}
    errors: dict[str, str] = {}
    modules = {}
    for label, name in BACKENDS.items():
        try:
            modules[label] = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - ImportError while `actors` is missing, or a broken build
            errors[label] = f"missing: {type(exc).__name__}: {exc}"
            _progress(f"{label}: {errors[label]}")
            continue
        workloads.update(modules[label].workloads(sizes))
    figures, failures = best_rates(workloads, sizes.repeats, _progress)
    errors.update(failures)
    if "trio-actors" in modules:
        try:
            footprints = modules["trio-actors"].footprints(sizes.spawn)
        except Exception as exc:  # noqa: BLE001
            errors["footprints"] = f"{type(exc).__name__}: {exc}"
        else:
            figures.update(footprints)
            _progress(", ".join(f"{name}: {value:,.0f}" for name, value in footprints.items()))
    return figures, errors


def _environment() -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Throughput and footprint of trio-actors beside raw trio, asyncio and pykka.")
    parser.add_argument("--quick", action="store_true", help="smaller workloads (well under 30 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--repeats", type=int, metavar="N", help="repeats per workload (best counts)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        sizes = attrs.evolve(sizes, repeats=args.repeats)

    with contextlib.redirect_stdout(sys.stderr):  # nothing measured may write to our stdout
        figures, errors = _measure(sizes)
    result = summarise(
        figures, errors, quick=args.quick, sizes=attrs.asdict(sizes), environment=_environment()
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        env = result["environment"]
        print(
            f"trio-actors benchmarks: {'quick' if args.quick else 'full'} run, best of {sizes.repeats} "
            f"(Python {env['python']}, trio {env['trio']}, pykka {env['pykka']}, {env['cpus']} CPUs)\n"
        )
        print(render_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
