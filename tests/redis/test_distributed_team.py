"""examples/distributed_team.py run as the README shows: one command per node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_one_command_per_node_runs_the_team_over_redis(redis_url: str, namespace: str) -> None:
    env = {**os.environ, "ACTORS_REDIS_URL": redis_url, "TEAM_NAMESPACE": namespace}
    command = [sys.executable, "-m", "examples.distributed_team"]
    workers = [
        subprocess.Popen(
            [*command, "worker", node], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for node in ("w1", "w2")
    ]
    try:
        planner = subprocess.run([*command, "planner"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        for process in workers:
            process.send_signal(signal.SIGINT)
        outputs = [process.communicate(timeout=30) for process in workers]
    assert planner.returncode == 0, planner.stderr
    assert (
        "planner: 6 questions on 'keeping a team of LLM agents responsive' to the worker pool ['w1', 'w2']"
        in planner.stdout
    )
    assert "planner: 6 findings in, from 2 worker nodes" in planner.stdout
    assert planner.stdout.rstrip().endswith("main: Report on keeping a team of LLM agents responsive: 6 findings")
    for process, (out, err) in zip(workers, outputs):
        assert process.returncode == 0 and "Traceback" not in err, err
    assert outputs[0][0].startswith("w1: serving 'worker'") and outputs[1][0].startswith("w2: serving 'worker'")
