"""The benchmark's own arithmetic: medians of per-round ratios, rounds, the JSON line, callgrind counts.

The figures themselves are not tested (they depend on the machine); what is reported from
them is: a ratio is the median of the per-round ratios, not a ratio of medians.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import benchmarks.__main__ as cli
from benchmarks import remote
from benchmarks._backends import row_named
from benchmarks._callgrind import CallgrindError, per_op, read_dump_total, self_costs
from benchmarks._config import Sizes
from benchmarks._report import render_table, spread, summarise
from benchmarks._timing import Workload, run_rounds

TINY = Sizes(tell=300, ask=30, stream=30, thread=5, spawn=30, repeats=2)


def test_spread_is_the_median_with_min_and_max() -> None:
    assert spread([3.0, 1.0, 2.0], 1) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": [3.0, 1.0, 2.0]}
    assert spread([1.0, 2.0, 4.0, 10.0], 1)["median"] == 3.0
    assert spread([], 1) is None


def test_a_ratio_is_the_median_of_the_per_round_ratios_not_a_ratio_of_medians() -> None:
    # Round 2 caught trio-actors in a quiet spell and asyncio in a noisy one: only a per-round
    # ratio keeps the two figures of one round together.
    rates = {"tell_per_s": [100.0, 200.0, 300.0], "asyncio_tell_per_s": [100.0, 400.0, 100.0]}
    result = summarise(rates, {})
    assert result["ratios"]["tell_vs_asyncio"] == {"median": 1.0, "min": 0.5, "max": 3.0, "runs": [1.0, 0.5, 3.0]}
    assert result["figures"]["tell_per_s"]["median"] / result["figures"]["asyncio_tell_per_s"]["median"] == 2.0
    assert result["targets"]["tell_vs_asyncio_1x"] == {
        "of": "tell_vs_asyncio",
        "op": ">=",
        "limit": 1.0,
        "source": "issue 12",
        "value": 1.0,
        "met": True,
    }


def test_a_cost_ratio_divides_the_baseline_rate_by_ours() -> None:
    rates = {"run_in_thread_per_s": [10.0, 20.0], "to_thread_per_s": [11.0, 40.0]}
    ratio = summarise(rates, {})["ratios"]["run_in_thread_cost_vs_to_thread"]
    assert ratio == {"median": 1.55, "min": 1.1, "max": 2.0, "runs": [1.1, 2.0]}


def test_unmeasured_figures_are_null_and_their_targets_unmet() -> None:
    result = summarise({"tell_per_s": [5.0]}, {"pykka": "missing: ImportError: no pykka"})
    assert result["figures"]["pykka_tell_per_s"] is None and result["ratios"]["tell_vs_pykka"] is None
    assert result["targets"]["tell_vs_pykka_default_5x"]["value"] is None
    assert result["targets"]["tell_vs_pykka_default_5x"]["met"] is False
    assert result["targets_met"] == {"issue 12": [0, 5], "design": [0, 5]}
    table = render_table(result)
    assert "not measured" in table and "error: pykka: missing: ImportError: no pykka" in table


def test_targets_on_figures_compare_their_median() -> None:
    result = summarise({"bytes_per_idle_actor": [1_650.0], "spawn_per_s": [19_000.0, 25_000.0, 30_000.0]}, {})
    assert result["targets"]["bytes_per_idle_actor_1800"]["met"] is True
    assert result["targets"]["spawn_20000_per_s"] == {
        "of": "spawn_per_s",
        "op": ">=",
        "limit": 20_000,
        "source": "design",
        "value": 25_000.0,
        "met": True,
    }


def test_rounds_alternate_their_order_and_drop_a_failing_workload() -> None:
    order: list[str] = []

    def timed(name: str, seconds: float) -> Workload:
        return Workload("tell", lambda n: order.append(name) or seconds)

    def broken(n: int) -> float:
        order.append("broken")
        raise RuntimeError("backend gone")

    workloads = {"a": timed("a", 1.0), "broken": Workload("ask", broken), "b": timed("b", 0.5)}
    rates, errors = run_rounds(workloads, attrs.evolve(TINY, repeats=3))
    assert order == ["a", "broken", "b", "b", "a", "a", "b"]
    assert rates == {"a": [300.0, 300.0, 300.0], "b": [600.0, 600.0, 600.0]}
    assert errors == {"broken": "RuntimeError: backend gone"}


def test_json_prints_one_line_with_every_round(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real run, at tiny sizes: the report is one line of JSON on stdout."""
    monkeypatch.setattr(cli, "QUICK", TINY)
    assert cli.main(["--quick", "--json", "--only", "tell,ask"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    result = json.loads(out)
    assert len(result["figures"]["tell_per_s"]["runs"]) == 2
    assert len(result["ratios"]["ask_vs_trio_floor"]["runs"]) == 2
    assert result["figures"]["spawn_per_s"] is None  # not in --only
    assert result["sizes"]["tell"] == 300 and result["errors"] == {}


def test_unknown_names_are_refused_with_the_names_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--only", "tel"])
    assert exit_info.value.code == 2
    assert "unknown group 'tel' in --only; the groups are: tell, ask, stream" in capsys.readouterr().err
    with pytest.raises(KeyError, match=r"no workload named 'tel'; the workloads are: tell, raw_trio_tell"):
        row_named("tel")
    assert row_named("tell_per_s") is row_named("tell")


def test_remote_is_skipped_with_a_message_when_no_redis_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTORS_REDIS_URL", "redis://127.0.0.1:1")  # nothing listens on port 1
    assert cli.main(["--remote", "--quick", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["skipped"].startswith("no Redis answers at redis://127.0.0.1:1 (")
    assert captured.out.count("\n") == 1
    assert captured.err.startswith("remote benchmark skipped: no Redis answers at redis://127.0.0.1:1")
    assert "start redis-server or set ACTORS_REDIS_URL" in captured.err


def test_remote_takes_only_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--only", "tell"], ["--callgrind", "tell"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["--remote", *extra])
        assert exit_info.value.code == 2
        assert "--remote measures its own section: it takes --quick, --json and --repeats" in capsys.readouterr().err


def test_remote_ratios_are_medians_of_per_round_ratios_against_issue_14s_targets() -> None:
    rates = {
        "raw_roundtrip_per_s": [100.0, 200.0, 100.0],
        "remote_ask_per_s": [90.0, 100.0, 80.0],
        "remote_ask_100_per_s": [900.0, 900.0, 900.0],
        "raw_pipelined_per_s": [1000.0, 1000.0, 1000.0],
        "remote_tell_per_s": [400.0, 700.0, 500.0],
    }
    result = remote.summarise(rates)
    assert result["ratios"]["ask_vs_raw_roundtrip"] == {"median": 0.8, "min": 0.5, "max": 0.9, "runs": [0.9, 0.5, 0.8]}
    assert result["targets"]["ask_vs_raw_roundtrip_0.8x"]["met"] is True
    assert result["targets"]["tell_vs_raw_pipelined_0.5x"] == {
        "of": "tell_vs_raw_pipelined",
        "op": ">=",
        "limit": 0.5,
        "source": "issue 14",
        "value": 0.5,
        "met": True,
    }
    assert result["ratios"]["ask_100_vs_sequential"]["median"] == 10.0
    table = remote.render(result)
    assert "ask_vs_raw_roundtrip" in table and "target >= 0.8x: met" in table


def test_instructions_per_op_subtract_the_small_run_from_the_big_one() -> None:
    # (small, big) pairs: set-up and teardown (here 1,000) cancel out
    counts = [1_000 + 200 * 10, 1_000 + 1_000 * 10, 1_000 + 200 * 12, 1_000 + 1_000 * 12]
    assert per_op(counts, 200, 1_000) == [10.0, 12.0]
    with pytest.raises(CallgrindError, match="expected"):
        per_op(counts[:3], 200, 1_000)


def test_a_dump_total_is_read_from_its_summary_line(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.tell.out.1"
    dump.write_text("# callgrind format\nevents: Ir\nsummary: 12345\n\nfn=main\n0 12345\n\ntotals: 12345\n")
    assert read_dump_total(dump) == 12_345
    (tmp_path / "other").write_text("no counts here\n")
    with pytest.raises(CallgrindError, match="no 'summary:' or 'totals:' line"):
        read_dump_total(tmp_path / "other")


def test_callgrind_refuses_a_memory_figure_and_says_when_valgrind_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--callgrind", "bytes_per_idle_actor"])
    assert "bytes_per_idle_actor is a memory figure, not a code path" in capsys.readouterr().err
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert cli.main(["--callgrind", "tell"]) == 2
    assert "valgrind is not installed (apt-get install valgrind)" in capsys.readouterr().err


def test_self_costs_leave_out_what_a_function_spends_in_its_callees(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.tell.out.2"
    dump.write_text(
        "events: Ir\nsummary: 160\n\nfn=caller\n10 5\n+1 5\ncfn=callee\ncalls=2 20\n11 100\n\nfn=callee\n20 40\n+2 10\n"
    )
    assert self_costs(dump) == {"caller": 10, "callee": 50}
