"""Turn measured figures into the result object (ratios, targets) and the printed table."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

__all__ = ["render_table", "summarise"]

# key -> (row label, unit), in the table's order.
FIGURES: dict[str, tuple[str, str]] = {
    "tell_per_s": ("tell   trio-actors", "msg/s"),
    "raw_trio_tell_per_s": ("tell   raw trio (await send)", "msg/s"),
    "asyncio_tell_per_s": ("tell   asyncio.Queue", "msg/s"),
    "pykka_tell_per_s": ("tell   pykka", "msg/s"),
    "pykka_one_cpu_tell_per_s": ("tell   pykka, pinned to 1 CPU", "msg/s"),
    "ask_per_s": ("ask    trio-actors", "ask/s"),
    "raw_trio_ask_per_s": ("ask    raw trio (Event + slot)", "ask/s"),
    "asyncio_ask_per_s": ("ask    asyncio (Future)", "ask/s"),
    "pykka_ask_per_s": ("ask    pykka", "ask/s"),
    "pykka_one_cpu_ask_per_s": ("ask    pykka, pinned to 1 CPU", "ask/s"),
    "spawn_per_s": ("spawn  idle actor", "actors/s"),
    "spawn_with_on_start_per_s": ("spawn  actor with on_start", "actors/s"),
    "bytes_per_idle_actor": ("memory per idle actor", "bytes"),
    "bytes_per_woken_actor": ("memory per woken actor", "bytes"),
}

# ratio key -> (row label, numerator, denominator)
RATIOS: dict[str, tuple[str, str, str]] = {
    "tell_vs_pykka": ("tell   trio-actors / pykka", "tell_per_s", "pykka_tell_per_s"),
    "tell_vs_pykka_one_cpu": ("tell   trio-actors / pykka on 1 CPU", "tell_per_s", "pykka_one_cpu_tell_per_s"),
    "tell_vs_raw_trio": ("tell   trio-actors / raw trio", "tell_per_s", "raw_trio_tell_per_s"),
    "ask_vs_pykka": ("ask    trio-actors / pykka", "ask_per_s", "pykka_ask_per_s"),
    "ask_vs_pykka_one_cpu": ("ask    trio-actors / pykka on 1 CPU", "ask_per_s", "pykka_one_cpu_ask_per_s"),
    "ask_vs_raw_trio": ("ask    trio-actors / raw trio", "ask_per_s", "raw_trio_ask_per_s"),
}

_OPS = {">=": operator.ge, "<=": operator.le}

# name -> (the figure or ratio it tests, comparison, threshold): the design's targets.
TARGETS: dict[str, tuple[str, str, float]] = {
    "tell_vs_pykka_5x": ("tell_vs_pykka", ">=", 5.0),
    "tell_vs_raw_trio_5x": ("tell_vs_raw_trio", ">=", 5.0),
    "ask_vs_pykka_3x": ("ask_vs_pykka", ">=", 3.0),
    "spawn_20000_per_s": ("spawn_per_s", ">=", 20_000),
    "bytes_per_idle_actor_5000": ("bytes_per_idle_actor", "<=", 5_000),
}

# The same thresholds applied to the extra figures (pykka's one-CPU placement, see _pykka.py;
# actors that hold a task, see _actors.py): shown for information, not counted as targets.
ALSO_CHECKED: dict[str, tuple[str, str, float]] = {
    "tell_vs_pykka_one_cpu_5x": ("tell_vs_pykka_one_cpu", ">=", 5.0),
    "ask_vs_pykka_one_cpu_3x": ("ask_vs_pykka_one_cpu", ">=", 3.0),
    "spawn_with_on_start_20000_per_s": ("spawn_with_on_start_per_s", ">=", 20_000),
    "bytes_per_woken_actor_5000": ("bytes_per_woken_actor", "<=", 5_000),
}


def summarise(figures: Mapping[str, float], errors: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """The result object: figures (None if not measured), ratios, targets_met, also_checked, extras."""
    result: dict[str, Any] = {key: _rounded(figures.get(key)) for key in FIGURES}
    for key, (_, top, bottom) in RATIOS.items():
        a, b = figures.get(top), figures.get(bottom)
        result[key] = round(a / b, 2) if a is not None and b else None
    result["targets_met"] = _check(result, TARGETS)
    result["also_checked"] = _check(result, ALSO_CHECKED)
    result["errors"] = dict(errors)
    result.update(extra)
    return result


def render_table(result: Mapping[str, Any]) -> str:
    """One row per figure and per ratio: value, ratio, target and whether it is met.

    Targets in parentheses are the same thresholds applied to the extra figures, for
    information: they do not count towards "targets met".
    """
    checks = {key: (name, "targets_met", op, limit) for name, (key, op, limit) in TARGETS.items()}
    checks |= {key: (name, "also_checked", op, limit) for name, (key, op, limit) in ALSO_CHECKED.items()}
    rows = [("metric", "value", "ratio", "target", "met")]
    for key, (label, unit) in FIGURES.items():
        value = "not measured" if result[key] is None else f"{result[key]:,.0f} {unit}"
        rows.append((label, value, "", *_check_cells(result, key, checks)))
    for key, (label, _, _) in RATIOS.items():
        ratio = "-" if result[key] is None else f"{result[key]:.2f}x"
        rows.append((label, "", ratio, *_check_cells(result, key, checks)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    aligns = "<>><<"
    lines = ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, aligns, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    met = result["targets_met"]
    lines += ["", f"targets met: {sum(met.values())} of {len(met)}"]
    lines += [f"error: {where}: {message}" for where, message in result["errors"].items()]
    return "\n".join(lines)


def _check(result: Mapping[str, Any], checks: Mapping[str, tuple[str, str, float]]) -> dict[str, bool]:
    return {
        name: result[key] is not None and _OPS[op](result[key], limit)
        for name, (key, op, limit) in checks.items()
    }


def _check_cells(result: Mapping[str, Any], key: str, checks: Mapping[str, tuple[str, str, str, float]]) -> tuple[str, str]:
    if key not in checks:
        return "", ""
    name, group, op, limit = checks[key]
    target = f"{op} {limit:,g}{'x' if key in RATIOS else ''}"
    met = "yes" if result[group][name] else "NO"
    return (target, met) if group == "targets_met" else (f"({target})", f"({met})")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
