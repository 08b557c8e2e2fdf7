"""``python -m benchmarks --remote`` against the real Redis, at tiny sizes: it runs end to end."""

from __future__ import annotations

import json

import pytest

import benchmarks.__main__ as cli
from benchmarks import remote


def test_a_tiny_remote_run_reports_every_figure_and_ratio(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTORS_REDIS_URL", redis_url)  # (the peer processes inherit it)
    monkeypatch.setattr(remote, "QUICK", remote.RemoteSizes(asks=40, tells=400, repeats=1, slices=2))
    assert cli.main(["--remote", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["figures"]) == {
        "raw_roundtrip_per_s",
        "remote_ask_per_s",
        "client_cpu_us_per_raw_roundtrip",
        "client_cpu_us_per_ask",
        "remote_ask_20_per_s",
        "remote_ask_100_per_s",
        "raw_pipelined_per_s",
        "remote_tell_per_s",
        "raw_ping_per_s",
    }
    assert all(figure["median"] > 0 and len(figure["runs"]) == 1 for figure in result["figures"].values())
    assert set(result["ratios"]) == {"ask_vs_raw_roundtrip", "tell_vs_raw_pipelined", "ask_100_vs_sequential"}
    assert result["url"] == redis_url and result["sizes"]["asks"] == 40
