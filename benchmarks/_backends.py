"""Which module measures which rows, and loading their workloads (a missing backend is an error entry)."""

from __future__ import annotations

import importlib
from collections.abc import Collection
from types import ModuleType

from ._report import ROWS, Row
from ._timing import Workload

__all__ = ["BACKENDS", "load", "row_named"]

# backend label -> module; a module that fails to import marks its backend missing.
BACKENDS = {
    "raw trio": "benchmarks._raw_trio",
    "asyncio": "benchmarks._raw_asyncio",
    "pykka": "benchmarks._pykka",
    "trio-actors": "benchmarks._actors",
}


def row_named(name: str) -> Row:
    """The row of a figure key (``tell_per_s``) or of its short name (``tell``).

    Raises:
      KeyError: no such row; the message lists the names there are.
    """
    for row in ROWS:
        if name in (row.key, short_name(row)):
            return row
    names = ", ".join(short_name(row) for row in ROWS if row.group != "memory")
    raise KeyError(f"no workload named {name!r}; the workloads are: {names}")


def short_name(row: Row) -> str:
    """``tell_per_s`` -> ``tell``, ``bytes_per_idle_actor`` stays."""
    return row.key.removesuffix("_per_s")


def load(
    groups: Collection[str] | None = None, backends: Collection[str] | None = None
) -> tuple[dict[str, Workload], dict[str, str], dict[str, ModuleType]]:
    """Import the backends and collect their workloads, in the table's (and run) order.

    Args:
      groups: only rows of these groups ("tell", "ask", ...); None: all.
      backends: only these backends (labels of `BACKENDS`); None: all.

    Returns:
      ``(workloads, errors, modules)``: figure key -> workload; backend label -> why it is
      missing; backend label -> its module (the ones that imported).
    """
    errors: dict[str, str] = {}
    modules: dict[str, ModuleType] = {}
    offered: dict[str, Workload] = {}
    for label, name in BACKENDS.items():
        if backends is not None and label not in backends:
            continue
        try:
            modules[label] = importlib.import_module(name)
        except Exception as exc:
            errors[label] = f"missing: {type(exc).__name__}: {exc}"
            continue
        offered.update(modules[label].workloads())
    workloads = {}
    for row in ROWS:
        if row.key not in offered or (groups is not None and row.group not in groups):
            continue
        if row.needs is not None and row.needs not in offered:
            continue
        workloads[row.key] = offered[row.key]
    return workloads, errors, modules
