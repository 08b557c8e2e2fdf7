"""``python -m benchmarks.chaos``: reliability of a supervision tree under faults and load.

A tree of supervisors and workers (root -> teams with OneForOne, OneForAll and
RestForOne strategies and ``Backoff(initial=0.01, maximum=0.2)`` -> workers with
a ``message_timeout``) takes a steady load of tells and asks from sender tasks
(``await ref.ask``) and sender actors (``ask_nowait`` on a timer), while a
seeded fault injector (``random.Random(seed)``) sends messages flagged to crash
their handler or hang it past ``message_timeout``, stops workers for good with
``system.stop`` (messages to them then become dead letters or ``ActorStopped``),
sends crash storms to a team so that it gives up and the root restarts the whole
subtree, and now and then blocks the event loop from inside a handler (a sync
call in async code). A tenth of the asks have a tight deadline, so some time out
and are answered late.

A ledger (``_ledger``) accounts for every message: each ends handled,
errored (an ask whose asker got an error) or dead-lettered (a tell), counted
once by that final fate, and ``sent == handled + errored + dead_lettered``; it
also checks that nothing is handled twice, that each error matches a dead
letter, that late answers are recorded, and per-sender order. Dead letters come
from a subscription to ``actors.DeadLetter`` (the bounded record would drop
them), and the subscriber's own backlog at shutdown is recovered from the
record.

The run exits non-zero when the ledger does not balance or breaks a rule, when a
task outlives the system block, when shutdown takes longer than its bound (see
``shutdown_bound`` in `_run`), when an actor is restarted without a failure,
when a failure escalates past the root, or (``--soak``) when live memory grows.

Usage::

    python -m benchmarks.chaos [--seed N] [--seconds S] [--actors N] [--rate R] [--quick]
                               [--soak MINUTES] [--virtual] [--throughput N] [--json]

In-process (CI, see ``tests/test_chaos.py``)::

    report = await run_chaos(seed=1, seconds=3, actors=30)
    assert report.ok, report.failures

It runs in virtual time too (``trio.testing.MockClock(autojump_threshold=0)``):
handlers and senders only wait with ``trio.sleep``, and a blocked loop is a jump
of the clock.
"""

from __future__ import annotations

from ._cli import main as main
from ._cli import render as render
from ._config import QUICK as QUICK
from ._config import ChaosConfig as ChaosConfig
from ._config import ChaosReport as ChaosReport
from ._run import run_chaos as run_chaos

__all__ = ["QUICK", "ChaosConfig", "ChaosReport", "main", "render", "run_chaos"]
