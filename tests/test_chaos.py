"""The chaos benchmark's CI variant: a supervision tree under faults and load keeps its books.

`benchmarks.chaos.run_chaos` runs in virtual time here (``autojump_clock``: handlers
and senders only wait with ``trio.sleep``), so three seeds of a few virtual
seconds each take a few real seconds in all. The ledger's own checks are tested
too: a checker that cannot fail proves nothing.
"""

from __future__ import annotations

import json

import pytest

from actors import ActorStopped, AskTimeout, DeadLetter, MessageTimeout
from benchmarks.chaos import main, run_chaos
from benchmarks.chaos._ledger import ASK, CRASH, HANG, OK, TELL, ChaosCrash, Ledger

# block_share: more "block" faults than the full run has (a handler holding the whole loop
# past every deadline: in virtual time, a jump of the clock without a checkpoint).
SMALL = dict(
    seconds=3.0,
    actors=30,
    team_size=10,
    senders=8,
    pumps=2,
    rate=1000.0,
    faults_per_second=10.0,
    block_share=0.1,
    memory="off",
)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_chaos_run_balances_its_ledger_without_leaks(seed: int, autojump_clock: object) -> None:
    report = await run_chaos(seed=seed, **SMALL)
    f = report.figures
    assert report.ok, "\n".join(report.failures)
    # Every message has exactly one final fate, and none is left open.
    assert f["open"] == 0 and f["violations"] == 0
    assert f["sent"] == f["handled"] + f["errored"] + f["dead_lettered"] > 1000
    # The faults really happened, and the tree recovered from them.
    assert f["sent_faulty"] > 0 and f["faults"].get("stop", 0) > 0 and f["faults"].get("storm", 0) > 0
    assert f["faults"].get("block", 0) > 0 and f["ok_handlers_cut_by_loop_stalls"] > 0
    assert f["restarts_worker_count"] > 0 and f["restarts_worker_events"] > 0
    assert f["give_ups"] > 0 and f["restarts_team_events"] > 0  # storms made teams give up and restart
    assert f["dead_letters_total"] > 0 and f["errored"] > 0 and f["dead_lettered"] > 0
    # Nothing outlives the system block; shutdown stays within its bound.
    assert f["tasks_after"] == f["tasks_before"]
    assert f["shutdown_seconds"] is not None and f["shutdown_seconds"] <= f["shutdown_bound_seconds"]


def test_cli_quick_json_run_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """The real-time command line, cut to one second of load."""
    assert main(["--quick", "--seconds", "1", "--seed", "7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["failures"] == []
    assert result["figures"]["balanced"] is True


# -- the ledger's checks -----------------------------------------------------


class _Env:
    def __init__(self, message: object) -> None:
        self.message = message


def _dead_letter(work: object, *, error: BaseException | None = None, about: object = None) -> DeadLetter:
    """A dead-letter record of ``work`` (or, with ``about``, of an answer to it)."""
    return DeadLetter(work if about is None else about, None, "actor 'w' has stopped", None, error, _Env(work))  # type: ignore[arg-type]


def test_ledger_balances_every_fate() -> None:
    ledger = Ledger(reservoir_size=10)
    told = ledger.issue(TELL, OK, 0.0, sender=1)
    ledger.handled(told, "w")
    lost_tell = ledger.issue(TELL, OK, 0.0, sender=1)
    ledger.dead_letter(_dead_letter(lost_tell))
    asked = ledger.issue(ASK, OK, 0.0, sender=1)
    ledger.handled(asked, "w")
    ledger.answered(asked.id, asked.id, None, 0.001)
    crashed = ledger.issue(ASK, CRASH, 0.0, sender=2)
    error = ChaosCrash("boom")
    ledger.dead_letter(_dead_letter(crashed, error=error))
    ledger.answered(crashed.id, None, error, 0.001)
    rejected = ledger.issue(ASK, OK, 0.0, sender=2)
    ledger.rejected(rejected.id, ActorStopped("gone"))
    late = ledger.issue(ASK, OK, 0.0, sender=2)  # timed out, then handled: a late reply
    ledger.answered(late.id, None, AskTimeout("late"), 0.02)
    ledger.handled(late, "w")
    ledger.dead_letter(_dead_letter(late, about=late.id))
    assert ledger.finish() == []
    assert ledger.balance() == {"sent": 6, "handled": 3, "errored": 2, "dead_lettered": 1, "open": 0}


@pytest.mark.parametrize(
    "breakage",
    [
        "handled twice",
        "handled and dead-lettered",
        "tell lost",
        "ask unanswered",
        "wrong value",
        "crash handled",
        "error without dead letter",
        "late answer missing",
        "out of order",
    ],
)
def test_ledger_catches_each_broken_rule(breakage: str) -> None:
    ledger = Ledger(reservoir_size=10)
    work = ledger.issue(TELL, OK, 0.0, sender=1)
    if breakage == "handled twice":
        ledger.handled(work, "w")
        ledger.handled(work, "w")
    elif breakage == "handled and dead-lettered":
        ledger.handled(work, "w")
        ledger.dead_letter(_dead_letter(work))
    elif breakage == "tell lost":
        pass
    elif breakage == "ask unanswered":
        ledger.handled(work, "w")
        asked = ledger.issue(ASK, OK, 0.0, sender=1)
        ledger.handled(asked, "w")
    elif breakage == "wrong value":
        ledger.handled(work, "w")
        asked = ledger.issue(ASK, OK, 0.0, sender=1)
        ledger.handled(asked, "w")
        ledger.answered(asked.id, "not the id", None, 0.0)
    elif breakage == "crash handled":
        crash = ledger.issue(TELL, CRASH, 0.0, sender=1)
        ledger.handled(work, "w")
        ledger.handled(crash, "w")
    elif breakage == "error without dead letter":
        ledger.handled(work, "w")
        hang = ledger.issue(ASK, HANG, 0.0, sender=1)
        ledger.answered(hang.id, None, MessageTimeout("cut"), 0.1)
    elif breakage == "late answer missing":
        ledger.handled(work, "w")
        asked = ledger.issue(ASK, OK, 0.0, sender=1)
        ledger.answered(asked.id, None, AskTimeout("late"), 0.02)
        ledger.handled(asked, "w")  # handled later, but no late-reply record follows
    elif breakage == "out of order":
        second = ledger.issue(TELL, OK, 0.0, sender=1)
        ledger.handled(second, "w")
        ledger.handled(work, "w")
    assert ledger.finish() != []


async def test_dead_letters_still_queued_for_the_ledger_at_shutdown_are_recovered(autojump_clock: object) -> None:
    """The ledger actor stops last; what it had not read yet is drained into system.dead_letters.

    A ledger actor that lags behind (it sleeps per record) has a backlog when it
    stops: the run must find those records there and still balance.
    """
    report = await run_chaos(seed=4, **{**SMALL, "seconds": 1.0, "ledger_delay": 0.02})
    assert report.ok, "\n".join(report.failures)
    assert report.figures["dead_letters_recovered_after_shutdown"] > 0


async def test_a_blocked_loop_never_restarts_an_actor_that_did_not_fail(autojump_clock: object) -> None:
    """throughput=1: a checkpoint after every message, where a stale deadline would land."""
    report = await run_chaos(seed=3, **{**SMALL, "throughput": 1, "block_share": 0.3})
    assert report.figures["faults"].get("block", 0) > 0
    assert report.figures["restarts_without_failure"] == 0, "\n".join(report.failures)
    assert report.ok, "\n".join(report.failures)


async def test_give_ups_do_not_keep_old_supervisor_incarnations_alive(autojump_clock: object) -> None:
    """Each storm makes a team give up and the root restart it: old instances must be freed."""
    report = await run_chaos(seed=2, **{**SMALL, "seconds": 6.0, "block_share": 0.0})
    f = report.figures
    assert f["give_ups"] >= 5
    assert f["supervisor_instances_alive"] <= f["supervisor_instances_bound"], "\n".join(report.failures)


def test_the_command_runs_in_virtual_time_and_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks.chaos --virtual --quick --json``: exit 0 and a balanced ledger."""
    assert main(["--virtual", "--quick", "--json", "--seed", "5", "--faults", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True, result["failures"]
    figures = result["figures"]
    assert figures["sent"] == figures["handled"] + figures["errored"] + figures["dead_lettered"] > 1000
    assert figures["open"] == 0 and sum(figures["faults"].values()) > 20
