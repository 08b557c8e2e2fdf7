"""Every program in examples/ runs to completion and prints what its story promises.

Each example runs as its users run it, ``python -m examples.<name>`` from the
repository root, in a fresh interpreter. To add an example, add its name to
EXPECTED with the output fragments that tell its story, in the order they are
printed; an example without an entry fails `test_every_example_has_expected_output`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(path.stem for path in (ROOT / "examples").glob("*.py") if not path.name.startswith("_"))

# Output fragments each example must print, in this order.
EXPECTED: dict[str, tuple[str, ...]] = {
    "analyst": (
        "analyst: Q1 = $1.20M",
        "analyst: no answer for Q3 within 0.3 s (attempt 1 of 2)",
        "analyst: Q3 = $1.10M (on the retry)",
        "analyst: no answer for Q4 within 0.3 s (attempt 2 of 2)",
        "analyst: giving up on Q4, using the default $0.00M",
        "reporter:   Q4  $0.00M  (default: the retriever did not answer in time)",
        "analyst: the retriever is down, no report this time (actor 'retriever' has stopped",
        "summary: 3 of 4 quarters fetched, 1 default, 1 report published, 6 dead letters",
    ),
    "broadcast": (
        "newsroom: published to 3 subscribers",
        "summarizer: summarised 'Actors tame concurrency' (headline 1)",
        "translator: translated 'Actors tame concurrency' (headline 1)",
        "archivist: filed 'Actors tame concurrency' (headline 1)",
        "newsroom: translator stopped (is_alive=False)",
        "newsroom: published to 2 subscribers (the stopped translator left the topic)",
        "monitor: dead letter 1: Headline(text='Are you still there?') to 'translator' (actor 'translator' has stopped)",
        "monitor: dead letter 2: Headline(text='Hello?') to 'translator' (actor 'translator' has stopped)",
        "newsroom: 2 dead letters:",
        "newsroom:   Headline(text='Hello?') to 'translator': actor 'translator' has stopped",
    ),
    "content_generator": (
        "main: assigned request #1; not waiting for it",
        "main: assigned request #2; not waiting for it",
        "main: meanwhile, assign research to the planner (articles ready: 0 of 2)",
        "generator: accepted 'The Future of AI' (request #1); answering later",
        "generator: accepted 'Actors in Python' (request #2); answering later",
        "main: other work done, awaiting the articles",
        "generator: 'The Future of AI': edit done (3/3)",
        "main: notified: 'The Future of AI' is ready (reply to request #1, the generator saw request #1: they match)",
        "main: got 'The Future of AI': outline -> draft -> edit",
        "main: notified: 'Actors in Python' is ready (reply to request #2, the generator saw request #2: they match)",
        "main: got 'Actors in Python': outline -> draft -> edit",
        "main: both articles done; 0 dead letters",
    ),
    "dynamic_research": (
        "desk: 4 questions, at most 3 researchers at once",
        'desk: research-1 started for "keeping an agent\'s state private"',
        "desk: research-3 started for 'supervisors for agents that crash'",
        "desk: question 4 waits (supervisor 'researchers' already has 3 children, its max_children)",
        "desk: researchers now: research-1 (transient, running), research-2 (transient, running), "
        "research-3 (transient, running)",
        "research-1: answered question 1 (attempt 1 of this agent, restarts 0):",
        "desk: research-1 has ended; research-4 started for 'tracing one conversation across agents'",
        "research-2: malformed answer (not a sentence: '{{ <unparseable model output> '); resumed, the same "
        "agent asks the model again",
        "research-2: answered question 2 (attempt 2 of this agent, restarts 0):",
        "research-3: the model server reset the connection; restarted as a fresh agent",
        "research-3: answered question 3 (attempt 1 of this agent, restarts 1):",
        "research-4: answered question 4 (attempt 1 of this agent, restarts 0):",
        "desk: researchers now: none",
        "summary: 4 questions answered, 1 malformed answer resumed, 1 lost connection restarted, 2 dead letters",
    ),
    "distributed_team": (  # needs Redis (ACTORS_REDIS_URL, else 127.0.0.1:6379): .ci/run starts one
        "planner: 6 questions on 'keeping a team of LLM agents responsive' to the worker pool ['w1', 'w2']",
        "planner: q1 answered ('notes on time agents spend waiting on tools')",
        "planner: q6 answered ('notes on durable inboxes for agents on several machines')",
        "planner: 6 findings in, from 2 worker nodes",
        "main: Report on keeping a team of LLM agents responsive: 6 findings",
    ),
    "race_condition": (
        "shared counter: expected 100, got ",
        "updates were lost",
        "actor counter: expected 100, got 100 -> no update lost, no lock needed",
    ),
    "research_team": (
        "orchestrator: planner says s1: search 'time agents spend waiting on tools' -> worker-1",
        "orchestrator: planner says s5: search 'tracing one conversation across many agents' -> worker-2",
        "orchestrator: s2 was lost when worker-2 crashed (the search API dropped the connection); sending it again in 0.15 s",
        "supervisor: restarting /team/worker-2 in 0.05 s, same ref, fresh state",
        "orchestrator: s2 -> worker-2 again (attempt 2)",
        "orchestrator: s1 done by worker-1, 1 of 5 steps in",
        "orchestrator: s4 was lost when worker-1 crashed (the search API dropped the connection)",
        "supervisor: restarting /team/worker-1 in 0.05 s, same ref, fresh state",
        "orchestrator: s4 -> worker-1 again (attempt 2)",
        "orchestrator: s4 done by worker-1, 5 of 5 steps in",
        "orchestrator: planner says s6: write the summary -> worker-3",
        "orchestrator: s6 written by worker-3; the report is ready",
        "REPORT: keeping a team of LLM agents responsive",
        "  s5 tracing one conversation across many agents",
        "summary: 6 steps, 2 sent again after a crash, 2 restarts (worker-1 1, worker-2 1, worker-3 0), 2 dead letters",
        "dead letter to worker-2: step s2 (attempt 1): handler of 'worker-2' failed with ConnectionResetError",
        "dead letter to worker-1: step s4 (attempt 1): handler of 'worker-1' failed with ConnectionResetError",
    ),
    "streaming_team": (
        "orchestrator: step 1 streamed in: 'search: deadline propagation in gRPC' -> worker-1",
        "orchestrator: step 1 done by worker-1: ",
        "orchestrator: step 2 streamed in: 'search: cancelling model calls in agent frameworks' -> worker-2",
        "orchestrator: step 3 streamed in: 'search: streaming tokens between agents' -> worker-3",
        "orchestrator: the plan is complete (20 tokens, 3 steps)",
        "orchestrator: step 3 cut off at its 1 s deadline",
        "worker-3 answers at once after being cut off: pong",
        "summary: plan streamed in 20 tokens, 2 steps done, 1 cut off at the deadline",
        "dead letter to worker-3: step 3: actor 'worker-3' stopped handling Step: its deadline passed",
    ),
    "supervised_team": (
        "  started  /team/tools/calculator",
        "review #2  -> worker-2 (hang)",
        "  restart  /team/worker-2 after MessageTimeout (handler ran past 0.2 s) (restart #1, delay 0.05 s)",
        "  error    MessageTimeout (handler ran past 0.2 s)",
        "  restart  /team/worker-3 after ValueError('garbled answer') (restart #1, delay 0.05 s)",
        "  restart  /team/worker-1 after ValueError('garbled answer') (restart #2, delay 0.1 s)",
        "  restart  /team/tools/calculator after RuntimeError('search index corrupt') (restart #1, delay 0 s)",
        "  answer   step skipped, tool failed: search index corrupt",
        "  restart  /team/worker-1 after ValueError('garbled answer') (restart #3, delay 0.2 s)",
        "summary: 20 tasks sent, 14 answered, 3 crashed, 3 timed out",
        "restarts: planner=0, tools=0, search=1, calculator=1, worker-1=3, worker-2=1, worker-3=2",
        "dead letters: 7",
        "all 7 permanent agents alive: True",
    ),
    "live_team": ("12 rounds done; restarts: {'worker-1': 2, 'worker-2': 1, 'worker-3': 1}; 4 dead letters",),
    "tool_agents": (
        "    Oslo: 23°C",
        "    Pune: 18°C",
        "parser 1: 7852033c643b",
        "parser 2: 346f5cca9e75",
        "overlap: yes, the event loop never blocked",
    ),
}


def test_examples_are_discovered() -> None:
    assert "analyst" in EXAMPLES


def test_every_example_has_expected_output() -> None:
    missing = [name for name in EXAMPLES if name not in EXPECTED]
    stale = [name for name in EXPECTED if name not in EXAMPLES]
    assert not missing, f"add the output fragments of {missing} to EXPECTED in {Path(__file__).name}"
    assert not stale, f"EXPECTED names examples that do not exist: {stale}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_has_an_async_main(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # examples/ is not installed: import it from the checkout
    module = importlib.import_module(f"examples.{name}")
    assert inspect.iscoroutinefunction(getattr(module, "main", None)), (
        f"examples/{name}.py should define 'async def main()' and run it with trio.run(main)"
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_prints_its_story(name: str) -> None:
    # The examples run offline on the model stand-in, whatever this machine's settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIO_ACTORS_MODEL_")}
    result = subprocess.run(
        [sys.executable, "-m", f"examples.{name}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"python -m examples.{name} exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    position = 0
    for fragment in EXPECTED.get(name, ()):
        found = result.stdout.find(fragment, position)
        assert found != -1, (
            f"python -m examples.{name} did not print {fragment!r} (after the fragments before it); "
            f"its output was:\n{result.stdout}"
        )
        position = found + len(fragment)
