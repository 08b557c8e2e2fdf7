"""``python -m benchmarks --callgrind NAME[,NAME...]``: instructions per operation, by callgrind.

Wall-clock rates on a shared machine move by 10-30% from one run to the next; the number of
instructions a code path executes barely moves. So to judge a change to the hot path, count
instructions: run this on both versions, at the same sizes, and compare.

How: the workload runs in a child process under ``valgrind --tool=callgrind`` with collection
off, except inside ``sys.call_tracing(workload, (n,))``: the C function ``sys_call_tracing``
is the marker (``--toggle-collect``), and callgrind dumps its count each time the function
returns (``--dump-after``). The child first runs the workload at ``n = size // 5`` and at
``n = size`` twice, uncounted, to warm up (first-run imports and caches, the heap grown, and
CPython's specialising interpreter settled: until it has, a run costs up to 20% more). Then it
runs both sizes under the marker, twice over; the count per operation is
``(count(size) - count(size // 5)) / (size - size // 5)``, so set-up and teardown (opening the
system, spawning, closing) cancel out. Each of the two passes gives one estimate: they agree
to within about 1%, which is the method's own noise.

Python runs with ``PYTHONHASHSEED=0``, trio's scheduler's random generator is seeded, and
``gc.freeze()`` follows the warm-up, so the counts depend on the code path, not on the hash
seed, the scheduler's coin flips or what else the process imported. Only the
thread that called the marker is counted: a worker thread's own instructions (``run_in_thread``,
``to_thread``, pykka's actor thread) are not. Under valgrind the process runs 50-100x slower:
a count takes 10-60 seconds.
"""

from __future__ import annotations

import collections
import gc
import importlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trio

from ._backends import BACKENDS, row_named, short_name
from ._config import Sizes

__all__ = ["CallgrindError", "count_instructions", "per_op", "read_dump_total", "render_counts", "self_costs"]

#: The C function whose calls are counted (``sys.call_tracing`` in CPython's sysmodule.c).
MARKER = "sys_call_tracing"
#: Runs of each workload in the child: this many (small, big) pairs to warm up, uncounted ...
WARM_UPS = 2
#: ... then this many counted (small, big) pairs, one estimate each.
PASSES = 2
_DUMPS = 2 * PASSES


class CallgrindError(RuntimeError):
    """valgrind is missing, or a count could not be made; the message says what to do."""


def read_dump_total(path: Path) -> int:
    """The instruction count (``Ir``) of one callgrind dump file."""
    text = path.read_text()
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if match is None:
        raise CallgrindError(f"{path} has no 'summary:' or 'totals:' line; is it a callgrind output file?")
    return int(match.group(1))


def self_costs(path: Path) -> collections.Counter[str]:
    """Instructions spent in each C function itself (not in its callees), from one dump file.

    Needs a dump written with ``--compress-strings=no``. (``callgrind_annotate`` 3.19 puts all
    of such a dump's self cost on ``__libc_start_main``: it does not expect collection to start
    inside a call.)
    """
    costs: collections.Counter[str] = collections.Counter()
    function = "?"
    after_call = False
    with path.open() as lines:
        for line in lines:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                if len(fields) >= 2 and not after_call:
                    costs[function] += int(fields[1])
                after_call = False  # the line after calls= is the callee's inclusive cost
            elif line.startswith("fn="):
                function = line[3:].strip()
            elif line.startswith("calls="):
                after_call = True
    return costs


def per_op(counts: Sequence[int], small: int, big: int) -> list[float]:
    """Instructions per operation, one estimate per (small, big) pair of counts."""
    if not counts or len(counts) % 2:
        raise CallgrindError(f"expected (small, big) pairs of counts, got {len(counts)} counts")
    return [(counts[i + 1] - counts[i]) / (big - small) for i in range(0, len(counts), 2)]


def count_instructions(
    names: Sequence[str],
    sizes: Sizes,
    keep: Path | None = None,
    top: int = 0,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Count the instructions per operation of each named workload (see the module docstring).

    Args:
      names: workload names, ``tell`` or ``tell_per_s`` alike (see ``row_named``).
      sizes: the sizes (`_config.CALLGRIND` by default on the command line).
      keep: a directory to keep the dump files in (dumps 1-4: small, big, small, big); None: a
        temporary one, removed afterwards.
      top: also list the ``top`` C functions with the most instructions of their own per
        operation (from the first pass: big run minus small run).

    Returns:
      ``{"instructions": {name: {"per_op", "estimates", "sizes", "counts"[, "top"]}},
      "ratios": {...}}``; the ratios divide the first name's count by each other's; ``top`` is
      a list of ``[function, instructions per operation]``.

    Raises:
      KeyError: an unknown name. CallgrindError: valgrind is missing or a child failed.
    """
    rows = [row_named(name) for name in names]
    for row in rows:
        if row.group == "memory":
            raise KeyError(f"{short_name(row)} is a memory figure, not a code path: nothing to count")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise CallgrindError("valgrind is not installed (apt-get install valgrind); --callgrind needs it")
    root = Path(__file__).resolve().parent.parent  # so that `-m benchmarks._callgrind` resolves
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        directory = keep if keep is not None else Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        for row in rows:
            name = short_name(row)
            big = sizes.of(row.group)
            small = big // 5
            base = directory / f"callgrind.{name}.out"
            for old in directory.glob(f"{base.name}*"):
                old.unlink()
            progress(f"counting {name} under callgrind (n = {small} and {big}) ...")
            command = [
                valgrind,
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--toggle-collect={MARKER}",
                f"--dump-after={MARKER}",
                f"--callgrind-out-file={base}",
                "--compress-strings=no",
                sys.executable,
                "-m",
                "benchmarks._callgrind",
                row.key,
                str(small),
                str(big),
            ]
            done = subprocess.run(
                command, cwd=root, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True
            )
            dumps = sorted(directory.glob(f"{base.name}.*"), key=lambda p: int(p.suffix[1:]))
            if done.returncode != 0 or len(dumps) != _DUMPS:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
                raise CallgrindError(
                    f"counting {name} failed (exit {done.returncode}, {len(dumps)} dumps, expected "
                    f"{_DUMPS}); if there are no dumps, this Python may have no symbol {MARKER} "
                    f"(a stripped build): see the recipe in benchmarks/README.md. Output:\n{tail}"
                )
            counts = [read_dump_total(path) for path in dumps]
            estimates = per_op(counts, small, big)
            results[name] = {
                "per_op": round(sum(estimates) / len(estimates), 1),
                "estimates": [round(e, 1) for e in estimates],
                "sizes": [small, big],
                "counts": counts,
            }
            if top:
                small_costs, big_costs = self_costs(dumps[0]), self_costs(dumps[1])
                spent = {fn: (big_costs[fn] - small_costs[fn]) / (big - small) for fn in big_costs}
                ranked = sorted(spent.items(), key=lambda item: item[1], reverse=True)[:top]
                results[name]["top"] = [[fn, round(cost, 1)] for fn, cost in ranked]
            progress(f"{name}: {results[name]['per_op']:,.0f} instructions per operation")
            if keep is None:
                for path in dumps:
                    path.unlink()
    first, *others = results
    ratios = {
        f"{first} / {other}": round(results[first]["per_op"] / results[other]["per_op"], 3)
        for other in others
        if results[other]["per_op"] > 0
    }
    return {"instructions": results, "ratios": ratios}


def render_counts(result: dict[str, Any]) -> str:
    """The counts as text for people."""
    lines = ["instructions per operation (callgrind; PYTHONHASHSEED=0; the difference of two sizes)", ""]
    for name, counted in result["instructions"].items():
        small, big = counted["sizes"]
        estimates = ", ".join(f"{e:,.0f}" for e in counted["estimates"])
        lines.append(f"  {name:<28} {counted['per_op']:>12,.0f}   (estimates {estimates}; n = {small} -> {big})")
        for function, cost in counted.get("top", ()):
            lines.append(f"      {cost:>12,.0f}  {function}")
    if result["ratios"]:
        lines.append("")
        lines += [f"  {label:<28} {ratio:>11.2f}x" for label, ratio in result["ratios"].items()]
    return "\n".join(lines)


def _child(key: str, small: int, big: int) -> None:
    """In the valgrind child: warm up, then run small and big under the marker, PASSES times."""
    row = row_named(key)
    run = importlib.import_module(BACKENDS[row.backend]).workloads()[row.key].run
    _seed_trio_scheduler()
    # Warm-ups: first-run imports and caches, the heap grown to size, and CPython's
    # specialising interpreter settled (until it has, a run costs up to 20% more).
    for _ in range(WARM_UPS):
        for n in (small, big):
            gc.collect()
            run(n)  # not under the marker: not counted
        gc.collect()
        gc.freeze()  # what exists now (modules, caches) is not traversed by the counted collections
    for _ in range(PASSES):
        for n in (small, big):
            gc.collect()
            sys.call_tracing(run, (n,))


def _seed_trio_scheduler() -> None:
    """trio reverses each batch of runnable tasks at random: seed that, for repeatable counts."""
    scheduler_random = getattr(getattr(getattr(trio, "_core", None), "_run", None), "_r", None)
    if isinstance(scheduler_random, random.Random):
        scheduler_random.seed(0)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage (under valgrind, see benchmarks/README.md): python -m benchmarks._callgrind WORKLOAD SMALL BIG")
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
