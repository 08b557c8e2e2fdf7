"""`python -m actors`: run a tree or a main with a live view, Ctrl-C, traces, argument errors.

Each test runs the command line as users do, a fresh interpreter
(``sys.executable -m actors ...``) whose current directory holds a small
module, `APP`, written for the test. Its output is a pipe, not a terminal, so
the view prints plain snapshots; `test_in_a_terminal_the_view_is_redrawn_in_place`
runs one under a pseudo-terminal to see rich's live table.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from actors import ActorInfo
from actors._inspect import NodeInfo, ServedName
from actors._live import plain_lines, tree_prefixes

APP = """
import trio

from actors import Actor
from supervision import ChildSpec, OneForOne, Supervisor


class Greeter(Actor):
    async def receive(self, message):
        if message == "crash":
            raise ValueError("crashed on purpose")
        return f"hello {message}"

    async def on_stop(self):
        print(f"on_stop called: {self.ref.name}", flush=True)


class Crasher(Actor):
    async def receive(self, message):
        raise RuntimeError("always fails")


tree = Supervisor(name="team", children=[
    ChildSpec(Greeter, name="greeter"),
    Supervisor(name="tools", children=[ChildSpec(Greeter, name="search")]),
])

class Slow(Actor):
    async def on_stop(self):
        print("slow on_stop started", flush=True)
        await trio.sleep(4)  # bounded by shutdown_timeout (5 s); a second Ctrl-C does not wait


slow = Supervisor(name="slow", children=[ChildSpec(Slow, name="sloth")])

fragile = Supervisor(name="fragile", strategy=OneForOne(max_restarts=1, within=10.0),
                     children=[ChildSpec(Crasher, name="crasher")])


async def main(system):
    await system.spawn_tree(tree)
    greeter = system.lookup("greeter")
    assert await greeter.ask("you") == "hello you"
    greeter.tell("crash")  # the supervisor restarts it: the final snapshot shows 1 restart
    await system.lookup("search").ask("again")
    await trio.sleep(0.5)


async def escalate(system):
    await system.spawn_tree(fragile)
    for _ in range(3):
        system.lookup("crasher").tell("x")
        await trio.sleep(0.05)
    await trio.sleep(5)  # cancelled when the failure escalates


async def broken(system):
    raise KeyError("broken on purpose")


async def no_system():
    print("no_system ran")


def sync_main(system):
    pass


def make_nothing():
    return None


number = 42
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def cli(cwd: Path, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actors", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshots(output: str) -> list[list[str]]:
    """The plain view's blocks: each a "--- t=... ---" line and its actor lines."""
    blocks: list[list[str]] = []
    for line in output.splitlines():
        if line.startswith("--- t="):
            blocks.append([line])
        elif blocks and line.startswith(("/", " ")):
            blocks[-1].append(line)
    return blocks


# ----------------------------------------------------------------------
# run


def test_run_main_prints_plain_snapshots_with_paths_states_and_restarts(app_dir: Path) -> None:
    done = cli(app_dir, "run", "app:main", "--refresh", "0.2")
    assert done.returncode == 0, done.stderr
    blocks = snapshots(done.stdout)
    assert len(blocks) >= 2
    final = blocks[-1]
    assert final[0].endswith("(final) ---") and "4 actors" in final[0]
    rows = {line.split()[0]: line for line in final[1:]}
    assert list(rows) == ["/team", "/team/greeter", "/team/tools", "/team/tools/search"]
    assert final[2].startswith("  /team/greeter ")  # indented by depth
    assert final[4].startswith("    /team/tools/search ")
    assert rows["/team"].split()[1:3] == ["Supervisor", "running"]
    assert "restarts 1" in rows["/team/greeter"]
    assert "last error: ValueError('crashed on purpose')" in rows["/team/greeter"]
    assert "on_stop called: greeter" in done.stdout
    assert done.stderr.rstrip().endswith("app:main returned; stopped cleanly")


def test_run_with_trace_writes_json_lines_that_trace_renders(app_dir: Path) -> None:
    done = cli(app_dir, "run", "app:main", "--trace", "run.jsonl", "--plain")
    assert done.returncode == 0, done.stderr
    assert "written to run.jsonl; read it with: python -m actors trace run.jsonl" in done.stderr
    lines = (app_dir / "run.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["kind"] for line in lines)

    shown = cli(app_dir, "trace", "run.jsonl")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("trace ")
    assert "main -> /team/greeter  ask str" in shown.stdout
    assert "/team/greeter  FAILED on str" in shown.stdout

    first = shown.stdout.split(":", 1)[0]  # "trace N"
    one = cli(app_dir, "trace", "run.jsonl", "--trace-id", first.split()[1])
    assert one.returncode == 0
    assert [line for line in one.stdout.splitlines() if line.startswith("trace ")] == [
        next(line for line in shown.stdout.splitlines() if line.startswith(first + ":"))
    ]
    assert "->" in one.stdout


@contextlib.contextmanager
def running(*args: str, **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``python -m actors *args`` in a subprocess, killed at the end if it still runs."""
    proc = subprocess.Popen([sys.executable, "-m", "actors", *args], **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_stops_a_running_tree_cleanly_and_runs_on_stop(app_dir: Path) -> None:
    with running(
        "run", "app:tree", "--refresh", "0.2", cwd=app_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("--- t=0.0s 4 actors")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "on_stop called: search" in out and "on_stop called: greeter" in out
    assert out.index("on_stop called: search") < out.index("on_stop called: greeter")  # reverse start order
    assert "Ctrl-C: stopping the actors" in err
    assert err.rstrip().endswith("stopped cleanly")


def test_a_second_ctrl_c_during_shutdown_exits_at_once_with_130(app_dir: Path) -> None:
    with running(
        "run", "app:slow", "--plain", cwd=app_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout.readline().startswith("--- t=0.0s 2 actors")  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        while "slow on_stop started" not in proc.stdout.readline():  # type: ignore[union-attr]
            pass
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 130
    assert time.monotonic() - started < 2  # did not wait for on_stop's 4 s
    assert "SIGINT again: exiting now; the actors were not stopped cleanly" in err
    assert "stopped cleanly\n" not in err.replace("not stopped cleanly", "")


def test_a_failure_escalating_past_the_root_prints_it_and_exits_1(app_dir: Path) -> None:
    done = cli(app_dir, "run", "app:escalate")
    assert done.returncode == 1
    assert "error: supervisor 'fragile' gave up: child 'crasher' failed" in done.stderr
    assert "RuntimeError: always fails" in done.stderr
    assert "stopped cleanly" not in done.stderr


def test_an_exception_out_of_main_prints_its_traceback_and_exits_1(app_dir: Path) -> None:
    done = cli(app_dir, "run", "app:broken")
    assert done.returncode == 1
    assert "error: app:broken failed:" in done.stderr
    assert "KeyError: 'broken on purpose'" in done.stderr


def test_a_main_without_arguments_just_runs(app_dir: Path) -> None:
    done = cli(app_dir, "run", "app:no_system")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no_system ran\n"  # no view: it opens its own system, if any


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "app"], "expected MODULE:ATTR, like 'examples.supervised_team:TREE' or 'myapp:main', got 'app'"),
        (["run", "nosuch:tree"], "no module named 'nosuch' (looked in the current directory"),
        (["run", "app.py:tree"], "'app.py' is a file path; give a module name instead: 'app:tree'"),
        (
            ["run", "app:nope"],
            "module 'app' has no attribute 'nope'; it has: tree, slow, fragile, main, escalate, broken",
        ),
        (
            ["run", "app:number"],
            "app:number is a int; expected a supervision.Supervisor tree, an 'async def "
            "main(system)' (called with an open actor system) or an 'async def main()'",
        ),
        (["run", "app:sync_main"], "app:sync_main is a plain (sync) function; expected a supervision.Supervisor"),
        (["run", "app:Greeter"], "app:Greeter is the actor class Greeter; run it in a tree"),
        (["run", "app:no_system", "--trace", "t.jsonl"], "--trace needs a tree or an 'async def main(system)'"),
        (["run", "app:main", "--trace", "missing/t.jsonl"], "missing does not exist"),
        (["run", "app:main", "--refresh", "0"], "argument --refresh: must be > 0 seconds, got '0'"),
        (["run", "app:main", "--node", "n1"], "--node and --transport go together: --node NAME --transport"),
        (
            ["run", "app:main", "--node", "n1", "--transport", "app:number"],
            "--transport app:number is a int; expected a transport, like actors.redis.RedisTransport(",
        ),
        (
            ["run", "app:main", "--node", "n1", "--transport", "app:make_nothing"],
            "--transport app:make_nothing is a NoneType; expected a transport",
        ),
        (
            ["run", "app:no_system", "--node", "n1", "--transport", "app:number"],
            "--node needs a tree or an 'async def main(system)'; app:no_system takes no system",
        ),
        (
            ["run", "app:main", "--node", "a/b", "--transport", "app:number"],
            "--node 'a/b': node must be a non-empty name without '{', '}' or '/', got 'a/b'",
        ),
        (["trace", "missing.jsonl"], "python -m actors trace: error: no such file: missing.jsonl"),
        (["trace", "app.py"], "app.py:2 is not a trace event"),
        (["trace", "--trace-id", "x", "t.jsonl"], "argument --trace-id: invalid int value: 'x'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message_saying_what_to_do(app_dir: Path, args: list[str], message: str) -> None:
    done = cli(app_dir, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_trace_of_an_unknown_trace_id_lists_the_ids_there_and_exits_1(tmp_path: Path) -> None:
    event = {"time": 1.0, "kind": "send", "actor": "/a", "message": "str", "correlation_id": 1, "trace_id": 7}
    (tmp_path / "t.jsonl").write_text(json.dumps(event) + "\n")
    done = cli(tmp_path, "trace", "t.jsonl", "--trace-id", "3")
    assert done.returncode == 1
    assert "no conversation with trace id 3 in t.jsonl; its trace ids: 7" in done.stderr


def test_help_lists_the_commands_and_their_options(tmp_path: Path) -> None:
    top = cli(tmp_path, "--help")
    assert top.returncode == 0
    assert "usage: python -m actors" in top.stdout and "run" in top.stdout and "trace" in top.stdout
    run = cli(tmp_path, "run", "--help")
    assert "MODULE:ATTR" in run.stdout and "--refresh SECONDS" in run.stdout and "stopped cleanly" in run.stdout
    trace = cli(tmp_path, "trace", "--help")
    assert "--trace-id N" in trace.stdout
    bare = cli(tmp_path)
    assert bare.returncode == 2 and "usage: python -m actors" in bare.stderr


def test_the_runtime_and_the_plain_view_do_not_import_rich(tmp_path: Path) -> None:
    code = "import sys, actors, actors._cli, actors._live; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    assert done.stdout.strip() == "False", done.stderr


# ----------------------------------------------------------------------
# the terminal view


def test_in_a_terminal_the_view_is_redrawn_in_place(app_dir: Path) -> None:
    pytest.importorskip("rich")
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30"}
    env.pop("NO_COLOR", None)
    output = b""

    def read_until(done: bool | None = None, *, marker: bytes = b"", count: int = 1) -> None:
        nonlocal output
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (done or output.count(marker) < count):
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the other end closed: the process exited
                    return
                if not chunk:
                    return
                output += chunk

    try:
        with running(
            "run",
            "app:tree",
            "--refresh",
            "0.1",
            cwd=app_dir,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
        ) as proc:
            os.close(terminal)
            read_until(marker=b"(Ctrl-C to stop)", count=3)  # drawn, then redrawn twice
            proc.send_signal(signal.SIGINT)
            read_until(True)
            proc.wait(timeout=5)
    finally:
        os.close(master)
    raw = output.decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)  # without colours and cursor moves
    assert proc.returncode == 0, text
    assert "trio-actors app:tree  t=0.0s 4 actors  (Ctrl-C to stop)" in text and "┃ actor" in text
    assert "├── greeter" in text and "└── search" in text
    assert "\x1b[1A" in raw or "\x1b[2K" in raw  # cursor moved up / lines erased: redrawn in place
    assert "(final)" in text and "on_stop called: greeter" in text and "stopped cleanly" in text


# ----------------------------------------------------------------------
# rendering, in process


def info(path: str, depth: int, state: str = "running", *, error: str | None = None) -> ActorInfo:
    return ActorInfo(None, path, depth, "Worker", state, 2, 1 if error else 0, error, 0)  # type: ignore[arg-type]


def test_plain_lines_indent_by_depth_align_columns_and_cut_long_errors() -> None:
    lines = plain_lines(
        [info("/team", 1), info("/team/worker", 2, "handling", error="ValueError('" + "x" * 100 + "')")],
        elapsed=1.04,
        dead_letters=3,
    )
    assert lines[0] == "--- t=1.0s 2 actors, 3 dead letters ---"
    assert lines[1] == "/team           Worker  running   mailbox 2  restarts 0"
    assert lines[2].startswith("  /team/worker  Worker  handling  mailbox 2  restarts 1  last error: ValueError('xxx")
    assert lines[2].endswith("x...") and len(lines[2].split("last error: ")[1]) == 60
    assert plain_lines([], 0.0) == ["--- t=0.0s 0 actors ---"]


def test_on_a_node_the_lines_name_it_list_what_it_serves_and_mark_public_actors() -> None:
    node = NodeInfo("w1", "research", (ServedName("worker", ("w1", "w2")), ServedName("cache", None)))
    lines = plain_lines([attrs.evolve(info("/worker", 1), public=True), info("/helper", 1)], 2.0, node=node)
    assert lines == [
        "--- t=2.0s 2 actors, node 'w1' (namespace 'research') ---",
        "serves: worker [w1, w2], cache [?]",  # [?]: Redis could not be asked
        "/worker  Worker  running  mailbox 2  restarts 0  public",
        "/helper  Worker  running  mailbox 2  restarts 0",
    ]
    assert plain_lines([], 0.0, node=NodeInfo("w1", "research", ()))[1] == "serves: nothing public"


def test_tree_prefixes_draw_the_tree_below_top_level_actors() -> None:
    rows = [info("/a", 1), info("/a/b", 2), info("/a/b/c", 3), info("/a/d", 2), info("/e", 1), info("/e/f", 2)]
    assert tree_prefixes(rows) == ["", "├── ", "│   └── ", "└── ", "", "└── "]


def test_the_live_team_example_named_in_the_docs_shows_crashes_and_restarts() -> None:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "actors", "run", "examples.live_team:main", "--plain", "--refresh", "0.5"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    final = snapshots(done.stdout)[-1]
    rows = {line.split()[0]: line for line in final[1:]}
    assert "restarts 2" in rows["/team/worker-1"]
    assert "last error: ValueError('garbled answer on step" in rows["/team/worker-1"]
    assert "children 5/5 running" in rows["/team"]
