"""The command line: run a supervision tree with a live view of its actors, read traces.

::

    python -m actors run MODULE:ATTR [--trace FILE] [--refresh SECONDS] [--plain]
                         [--node NAME --transport MODULE:ATTR]
    python -m actors trace FILE [--trace-id N]

``run`` imports MODULE (the current directory first, like ``python -m``) and
takes its attribute ATTR, which is one of:

- a `supervision.Supervisor` tree: started with ``system.spawn_tree(tree)``
  and run until Ctrl-C;
- ``async def main(system)``: called with an open system, run until it returns;
- ``async def main()``: run as is (it opens its own system; no view, no
  ``--trace``).

For the first two, ``--node NAME --transport MODULE:ATTR`` opens the system
as a node (``open_actor_system(node=, transport=)``): ATTR is a transport,
like ``actors.redis.RedisTransport(...)``, or a function that returns one.
The view then names the node, lists the public names it serves with the
nodes that serve each, and marks public actors.

For the first two, a live view shows one row per actor (path, type, state,
mailbox depth, restarts, last error), redrawn in place in a terminal (with
rich: ``pip install 'trio-actors[live]'``), or printed as a block of plain
lines every ``--refresh`` seconds when stdout is not a terminal or with
``--plain``. In the terminal view, failures logged on the ``actors`` and
``supervision`` loggers print one line each above the table, without
tracebacks, unless the program configured logging itself.

Ctrl-C (SIGINT) or SIGTERM stops the run cleanly: the body is cancelled and the
system shuts down as it does at the end of an ``async with`` block (children
before parents, each actor's ``on_stop`` runs, bounded by ``shutdown_timeout``);
then "stopped cleanly" is printed and the exit status is 0, as when main
returns. A second Ctrl-C during that shutdown exits at once with status 130,
skipping the cleanup.

Exit status: 0 finished or stopped cleanly; 1 the program failed (an
`EscalatedFailure` out of the system, an exception out of main or out of the
module's import; ``trace --trace-id N`` with no such conversation in the
file); 2 bad command line (a MODULE:ATTR that cannot be found or is the wrong
kind of object, a file that is not a trace); 130 forced exit by a second Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from ._actor import Actor
from ._exceptions import EscalatedFailure
from ._live import open_view, watch
from ._remote import check_node
from ._system import open_actor_system
from ._tracing import load_trace, render_timeline

__all__ = ["Target", "UsageError", "build_parser", "load_target", "load_transport", "main"]

PROG = "python -m actors"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FORCED = 0, 1, 2, 130
ACCEPTED = (
    "a supervision.Supervisor tree, an 'async def main(system)' (called with an open actor system) "
    "or an 'async def main()' (run as is)"
)


class UsageError(Exception):
    """A command-line argument that cannot be used; the message says why (exit status 2)."""


@attrs.frozen
class Target:
    """What ``run`` runs: ``kind`` is "tree", "main(system)" or "main()"."""

    spec: str
    kind: str
    obj: Any


# ----------------------------------------------------------------------
# Finding the target


def load_target(spec: str) -> Target:
    """Import ``MODULE:ATTR`` (the current directory first) and classify what it names.

    Raises:
      UsageError: the spec is malformed, the module does not exist, the
        attribute is missing, or it is not a kind ``run`` accepts.
      Exception: what importing the module raised (its own bug, not a usage error).
    """
    obj = _load_attribute(spec)
    return Target(spec, _classify(spec, obj), obj)


def load_transport(spec: str) -> Any:
    """The transport ``--transport MODULE:ATTR`` names: ATTR itself, or what calling it returns.

    Raises:
      UsageError: as `load_target`, or ATTR is neither a transport nor a function
        returning one.
      Exception: what importing the module or calling ATTR raised.
    """
    obj = _load_attribute(spec)
    if not _is_transport(obj) and callable(obj) and not isinstance(obj, type):
        obj = obj()
    if not _is_transport(obj):
        raise UsageError(
            f"--transport {spec} is a {type(obj).__name__}; expected a transport, like "
            f"actors.redis.RedisTransport(url, namespace=..., messages=[...]), or a function that returns one"
        )
    return obj


def _is_transport(obj: Any) -> bool:
    methods = ("attach", "run", "serve", "post", "request")
    return not isinstance(obj, type) and all(callable(getattr(obj, method, None)) for method in methods)


def _load_attribute(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (the current directory first) and return what ATTR names."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise UsageError(f"expected MODULE:ATTR, like 'examples.supervised_team:TREE' or 'myapp:main', got {spec!r}")
    if module_name.endswith(".py") or "/" in module_name or os.sep in module_name:
        dotted = module_name.removesuffix(".py").replace(os.sep, ".").replace("/", ".").strip(".")
        raise UsageError(f"{module_name!r} is a file path; give a module name instead: '{dotted}:{attr}'")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise UsageError(
                f"no module named {missing!r} (looked in the current directory {cwd} and on sys.path); "
                f"run from the directory that holds it, or check the name"
            ) from None
        raise  # the module was found but imports something missing: its own error
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            found = _candidates(module)
            has = f"; it has: {', '.join(found)}" if found else f"; it defines none of the accepted kinds ({ACCEPTED})"
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}{has}") from None
    return obj


def _classify(spec: str, obj: Any) -> str:
    """The kind of ``obj`` ("tree", "main(system)", "main()"), or a UsageError saying what it is instead."""
    if isinstance(obj, type):
        if callable(getattr(obj, "_start_tree", None)):
            raise UsageError(
                f"{spec} is the class {obj.__name__}, not a tree; build one: "
                f"tree = {obj.__name__}(name='team', children=[ChildSpec(MyActor, name='worker')])"
            )
        if issubclass(obj, Actor):
            raise UsageError(
                f"{spec} is the actor class {obj.__name__}; run it in a tree: tree = Supervisor(name='app', "
                f"children=[ChildSpec({obj.__name__}, name='{obj.__name__.lower()}')]), or spawn it from an "
                f"'async def main(system)'"
            )
        raise UsageError(f"{spec} is the class {obj.__name__}; expected {ACCEPTED}")
    if callable(getattr(obj, "_start_tree", None)):
        return "tree"
    if inspect.iscoroutine(obj):
        obj.close()  # no "never awaited" warning for the user's mistake
        raise UsageError(f"{spec} is a coroutine object; name the async function itself, without calling it")
    if callable(obj):
        call = getattr(obj, "__call__", None)  # noqa: B004 (an async __call__, not callable())
        if not (inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(call)):
            raise UsageError(f"{spec} is a plain (sync) function; expected {ACCEPTED}")
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            return "main(system)"
        for args, kind in (((None,), "main(system)"), ((), "main()")):
            try:
                signature.bind(*args)
            except TypeError:
                continue
            return kind
        raise UsageError(f"{spec} takes more than one required argument {signature}; expected {ACCEPTED}")
    raise UsageError(f"{spec} is a {type(obj).__name__}; expected {ACCEPTED}")


def _candidates(module: Any) -> list[str]:
    """Names in ``module`` that ``run`` would accept, to suggest when ATTR is wrong."""
    found = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        is_local_function = inspect.iscoroutinefunction(value) and getattr(value, "__module__", None) == module.__name__
        is_tree = not isinstance(value, type) and callable(getattr(value, "_start_tree", None))
        if is_local_function or is_tree:
            found.append(name)
    return found


# ----------------------------------------------------------------------
# run


@attrs.define
class _Stopping:
    signal: int | None = None


async def _on_signals(signals: Any, stop: trio.CancelScope, stopping: _Stopping) -> None:
    async for signum in signals:
        name = signal.Signals(signum).name
        if stopping.signal is None:
            stopping.signal = signum
            how = "Ctrl-C" if signum == signal.SIGINT else name
            print(f"\n{how}: stopping the actors (press Ctrl-C again to exit at once) ...", file=sys.stderr, flush=True)
            stop.cancel()
        else:
            print(f"{name} again: exiting now; the actors were not stopped cleanly", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(EXIT_FORCED)


async def _run(
    target: Target, trace: str | None, refresh: float, plain: bool, node: str | None = None, transport: Any = None
) -> int:
    """Run ``target`` until it returns or a signal stops it; the exit status."""
    stop = trio.CancelScope()
    stopping = _Stopping()
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    with trio.open_signal_receiver(*wanted) as signals:  # while open, SIGINT raises no KeyboardInterrupt
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_on_signals, signals, stop, stopping)
            try:
                return await _serve(target, trace, refresh, plain, stop, stopping, node, transport)
            finally:
                nursery.cancel_scope.cancel()
    raise AssertionError("unreachable")  # pragma: no cover - the nursery body always returns


async def _serve(
    target: Target,
    trace: str | None,
    refresh: float,
    plain: bool,
    stop: trio.CancelScope,
    stopping: _Stopping,
    node: str | None = None,
    transport: Any = None,
) -> int:
    system = None
    try:
        if target.kind == "main()":
            with stop:
                await target.obj()
        else:
            async with open_actor_system(trace=trace, node=node, transport=transport) as system:
                with stop:
                    if target.kind == "tree":
                        await system.spawn_tree(target.obj)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(
                            watch, system, open_view(plain=plain, title=f"trio-actors {target.spec}"), refresh
                        )
                        if target.kind == "tree":
                            await trio.sleep_forever()
                        else:
                            await target.obj(system)
                        nursery.cancel_scope.cancel()
    except EscalatedFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        cause = exc.root_cause
        print("caused by:\n" + "".join(traceback.format_exception(cause)).rstrip(), file=sys.stderr)
        _report_trace(system, trace)
        return EXIT_FAILED
    except Exception:
        what = "the tree" if target.kind == "tree" else target.spec
        print(f"error: {what} failed:\n{traceback.format_exc().rstrip()}", file=sys.stderr)
        _report_trace(system, trace)
        return EXIT_FAILED
    if stopping.signal is not None:
        print("stopped cleanly", file=sys.stderr, flush=True)
    else:
        print(f"{target.spec} returned; stopped cleanly", file=sys.stderr, flush=True)
    _report_trace(system, trace)
    return EXIT_OK


def _report_trace(system: Any, trace: str | None) -> None:
    if system is not None and trace is not None and system.tracer is not None:
        count = len(system.tracer)
        print(
            f"trace: {count} event{'s' * (count != 1)} written to {trace}; read it with: {PROG} trace {trace}",
            file=sys.stderr,
        )


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        target = load_target(args.target)
        if args.trace is not None:
            if target.kind == "main()":
                raise UsageError(
                    f"--trace needs a tree or an 'async def main(system)'; {args.target} takes no system "
                    f"and opens its own: pass open_actor_system(trace={args.trace!r}) there instead"
                )
            folder = os.path.dirname(os.path.abspath(args.trace))
            if not os.path.isdir(folder):
                raise UsageError(f"--trace {args.trace}: the folder {folder} does not exist")
            if os.path.isdir(args.trace):
                raise UsageError(f"--trace {args.trace} is a folder; give a file name, like run.jsonl")
        transport = _node_options(args, target)
    except UsageError as exc:
        return _usage_error("run", exc)
    except Exception:
        print(
            f"error: importing the module of {args.target} failed:\n{traceback.format_exc().rstrip()}", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        return trio.run(_run, target, args.trace, args.refresh, args.plain, args.node, transport)
    except KeyboardInterrupt:  # before the signal receiver opened, or after it closed
        print("interrupted", file=sys.stderr)
        return EXIT_FORCED


def _node_options(args: argparse.Namespace, target: Target) -> Any:
    """Check ``--node`` and ``--transport``; the transport (None without them)."""
    if args.node is None and args.transport is None:
        return None
    if args.node is None or args.transport is None:
        raise UsageError(
            "--node and --transport go together: --node NAME --transport MODULE:ATTR "
            "(a transport such as actors.redis.RedisTransport(...), or a function returning one)"
        )
    if target.kind == "main()":
        raise UsageError(
            f"--node needs a tree or an 'async def main(system)'; {args.target} takes no system and opens "
            f"its own: pass open_actor_system(node=..., transport=...) there instead"
        )
    try:
        check_node(args.node, args.transport)
    except ValueError as exc:
        raise UsageError(f"--node {args.node!r}: {exc}") from None
    return load_transport(args.transport)


# ----------------------------------------------------------------------
# trace


def _cmd_trace(args: argparse.Namespace) -> int:
    path = args.file
    hint = "a trace file holds JSON lines written by open_actor_system(trace='run.jsonl')"
    try:
        events = load_trace(path)
    except FileNotFoundError:
        return _usage_error("trace", f"no such file: {path}")
    except IsADirectoryError:
        return _usage_error("trace", f"{path} is a folder; {hint}")
    except ValueError as exc:
        return _usage_error("trace", f"{exc}; {hint}")
    except OSError as exc:
        return _usage_error("trace", f"cannot read {path}: {exc.strerror or exc}")
    if not events:
        print(f"(no events in {path})")
        return EXIT_OK
    if args.trace_id is not None and not any(event.trace_id == args.trace_id for event in events):
        ids = sorted({event.trace_id for event in events if event.trace_id is not None})
        shown = ", ".join(map(str, ids[:20])) + (", ..." if len(ids) > 20 else "")
        print(
            f"{PROG} trace: no conversation with trace id {args.trace_id} in {path}; its trace ids: {shown or 'none'}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        text = render_timeline(events, args.trace_id)
    except (TypeError, ValueError) as exc:
        return _usage_error("trace", f"{path} holds malformed events ({exc}); {hint}")
    print(text)
    return EXIT_OK


# ----------------------------------------------------------------------
# the parser and main


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m actors`` argument parser, with its ``run`` and ``trace`` commands."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run trio-actors supervision trees with a live view of their actors, and read traces.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"trio-actors {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a supervision tree or an async main with a live view of the actors",
        description=(
            "Import MODULE (the current directory first) and run its attribute ATTR: "
            "a supervision.Supervisor tree (started with system.spawn_tree and run until Ctrl-C), "
            "an 'async def main(system)' (called with an open actor system, run until it returns), "
            "or an 'async def main()' (run as is: it opens its own system, so no view and no --trace). "
            "A live view shows one row per actor: path, type, state, mailbox depth, restarts, last error; "
            "redrawn in place in a terminal (needs rich: pip install 'trio-actors[live]'), printed as "
            "plain lines otherwise."
        ),
        epilog=(
            "Ctrl-C (or SIGTERM) stops the actors cleanly (children before parents, on_stop runs), "
            "prints 'stopped cleanly' and exits 0; a second Ctrl-C exits at once with 130. "
            "Exit 1: the program failed (an EscalatedFailure out of the tree, an exception out of main). "
            "Exit 2: MODULE:ATTR cannot be found or is not a kind listed above."
        ),
    )
    run.add_argument("target", metavar="MODULE:ATTR", help="like examples.supervised_team:TREE or myapp:main")
    run.add_argument(
        "--trace",
        metavar="FILE",
        help="record message events and write them to FILE as JSON lines when the system stops",
    )
    run.add_argument(
        "--refresh",
        metavar="SECONDS",
        type=_seconds,
        default=0.5,
        help="seconds between redraws of the view (default 0.5)",
    )
    run.add_argument(
        "--plain",
        action="store_true",
        help="print plain text snapshots even in a terminal (the default when stdout is not one)",
    )
    run.add_argument(
        "--node",
        metavar="NAME",
        help="open the system as the node NAME (with --transport): the view lists the public "
        "names it serves and who serves each, and marks public actors",
    )
    run.add_argument(
        "--transport",
        metavar="MODULE:ATTR",
        help="the node's transport: an actors.redis.RedisTransport(...) or a function returning one",
    )
    run.set_defaults(handler=_cmd_run)

    trace = commands.add_parser(
        "trace",
        help="show a saved trace as per-conversation timelines",
        description=(
            "Render a JSON-lines trace (written by 'run --trace FILE' or open_actor_system(trace='FILE')) "
            "as one timeline per conversation: who asked whom, how long each step took, where it failed."
        ),
    )
    trace.add_argument("file", metavar="FILE", help="the .jsonl trace file")
    trace.add_argument("--trace-id", metavar="N", type=int, help="show only the conversation with this trace id")
    trace.set_defaults(handler=_cmd_trace)
    return parser


def _usage_error(command: str, message: object) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status
