"""The live tree view of ``python -m actors run``: one row per actor, refreshed in place.

Two renderings of the same snapshot (`ActorSystem.inspect`):

- `PlainView` prints a block of text lines per refresh, for pipes, logs, CI and
  ``--plain``::

      --- t=1.0s 7 actors ---
      /team                 Supervisor  running   mailbox 0  restarts 0  children 2/3 running (terminated: scout)
        /team/planner       Planner     idle      mailbox 0  restarts 0
        /team/worker-2      Worker      handling  mailbox 3  restarts 1  last error: ValueError('garbled answer')

  On a node (a system with a transport), the header names the node, a line
  lists the public names it serves with the nodes serving each (a worker pool
  has several), and public actors are marked::

      --- t=1.0s 2 actors, node 'w1' (namespace 'research') ---
      serves: worker [w1, w2]
      /worker  Worker  running  mailbox 0  restarts 0  public
      /cache   Cache   idle     mailbox 0  restarts 0

- `RichView` redraws a table in place in a terminal, with ``rich``
  (``pip install 'trio-actors[live]'``). rich is imported only here, only when
  a terminal view is asked for: the runtime never depends on it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

import trio

from ._inspect import ActorInfo, NodeInfo, node_info

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["PlainView", "RichView", "View", "open_view", "plain_lines", "served_summary", "supervised_summary", "watch"]

ERROR_WIDTH = 60  # characters of the last error shown; the rest is cut with "..."

STATE_STYLES = {
    "idle": "dim",
    "running": "green",
    "handling": "bold yellow",
    "restarting": "bold magenta",
    "suspended": "red",
    "exiting": "bold red",
    "stopped": "dim",
}


def truncate(text: str, width: int = ERROR_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters (ending in "...") if longer."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def header(elapsed: float, infos: Sequence[ActorInfo], dead_letters: int, node: NodeInfo | None = None) -> str:
    """The summary line of a snapshot: "t=1.0s 7 actors" (plus dead letters, if any, and
    the node's name and namespace on a node)."""
    text = f"t={elapsed:.1f}s {len(infos)} actor{'s' * (len(infos) != 1)}"
    if dead_letters:
        text += f", {dead_letters} dead letter{'s' * (dead_letters != 1)}"
    if node is not None:
        text += f", node {node.node!r} (namespace {node.namespace!r})"
    return text


def served_summary(node: NodeInfo) -> str:
    """The names a node serves and who serves each: "worker [w1, w2], planner [planner]".

    "[?]" when the transport could not say (Redis away); "nothing public" when the
    node serves no name.
    """
    if not node.serving:
        return "nothing public"
    return ", ".join(
        f"{served.name} [{'?' if served.servers is None else ', '.join(served.servers)}]" for served in node.serving
    )


def plain_lines(
    infos: Sequence[ActorInfo],
    elapsed: float,
    dead_letters: int = 0,
    node: NodeInfo | None = None,
) -> list[str]:
    """One snapshot as text: a "--- t=... ---" line, then one aligned line per actor.

    Each actor's path is indented two spaces per level below the top, so the
    tree shows, and stays greppable by path. On a node, a "serves: ..." line
    follows the header (see `served_summary`) and public actors end in "public".
    """
    lines = [f"--- {header(elapsed, infos, dead_letters, node)} ---"]
    if node is not None:
        lines.append(f"serves: {served_summary(node)}")
    if not infos:
        return lines
    names = ["  " * (info.depth - 1) + info.path for info in infos]
    name_width = max(map(len, names))
    type_width = max(len(info.actor_type) for info in infos)
    state_width = max(len(info.state) for info in infos)
    for name, info in zip(names, infos):
        line = (
            f"{name:<{name_width}}  {info.actor_type:<{type_width}}  {info.state:<{state_width}}  "
            f"mailbox {info.mailbox}  restarts {info.restarts}"
        )
        if info.child_counts is not None:
            line += f"  children {supervised_summary(info)}"
        if info.public:
            line += "  public"
        if info.last_error is not None:
            line += f"  last error: {truncate(info.last_error)}"
        lines.append(line)
    return lines


def supervised_summary(info: ActorInfo) -> str:
    """A supervisor's children in a few words: "2/3 running (terminated: scout)".

    Counts come from ``count_children``; the names of children that are not
    running (their spec kept) from ``which_children``, as they have no row.
    """
    counts = info.child_counts
    text = f"{counts.active}/{counts.specs} running"
    terminated = [child.name for child in info.supervised or () if child.phase == "terminated"]
    if terminated:
        text += f" (terminated: {truncate(', '.join(terminated), 40)})"
    return text


def tree_prefixes(infos: Sequence[ActorInfo]) -> list[str]:
    """Box-drawing prefixes ("├── ", "│   └── ") that draw the rows as a tree.

    Top-level actors get no prefix. ``infos`` is in `ActorSystem.inspect` order: parents first, children in
    start order, each subtree contiguous.
    """
    prefixes = []
    for index, info in enumerate(infos):
        # Top-level actors (depth 1) sit at the left edge; below them, for each
        # level up to this row's: is there a later sibling at that level?
        parts = []
        for level in range(2, info.depth + 1):
            later = False
            for following in infos[index + 1 :]:
                if following.depth < level:
                    break
                if following.depth == level:
                    later = True
                    break
            if level == info.depth:
                parts.append("├── " if later else "└── ")
            else:
                parts.append("│   " if later else "    ")
        prefixes.append("".join(parts))
    return prefixes


class View(Protocol):
    """Something that shows snapshots: `PlainView` or `RichView`."""

    def show(
        self,
        infos: Sequence[ActorInfo],
        elapsed: float,
        dead_letters: int,
        *,
        final: bool = False,
        node: NodeInfo | None = None,
    ) -> None:
        """Show one snapshot (``final`` for the last one, taken when the run ends; ``node``
        on a node: what it serves)."""

    def close(self) -> None:
        """Stop showing; leave the last snapshot on screen."""


class PlainView:
    """Prints a block of lines per snapshot to ``file`` (stdout by default), flushed at once."""

    def __init__(self, file: IO[str] | None = None) -> None:
        self.file = file

    def show(
        self,
        infos: Sequence[ActorInfo],
        elapsed: float,
        dead_letters: int,
        *,
        final: bool = False,
        node: NodeInfo | None = None,
    ) -> None:
        file = self.file if self.file is not None else sys.stdout
        lines = plain_lines(infos, elapsed, dead_letters, node)
        if final:
            lines[0] = lines[0][:-4] + " (final) ---"
        print("\n".join(lines), file=file, flush=True)

    def close(self) -> None:
        pass


class RichView:
    """Redraws a table of the actors in place in a terminal, with rich's ``Live``.

    rich's own refresh thread is off: the trio task in `watch` redraws, so the
    table is never built from another thread while actors change. What the
    program prints meanwhile appears above the table (stderr too, when it goes
    to the terminal; redirected elsewhere, it is left alone).

    While the view is up, log records of the ``actors`` and ``supervision``
    loggers (an actor failed, a supervisor gave up) are printed one line each,
    without tracebacks, so they do not push the table off the screen; the
    table's "last error" column shows each actor's latest failure. A program
    that configured logging itself (the root logger has handlers) keeps its own.
    """

    def __init__(self, title: str = "trio-actors", console: Any = None) -> None:
        from rich.live import Live  # only here: the runtime does not depend on rich

        self.title = title
        self.live = Live(
            console=console,
            auto_refresh=False,
            transient=False,
            vertical_overflow="ellipsis",
            redirect_stderr=_is_terminal(sys.stderr),
        )
        self._log_handler = _install_compact_logging()
        self.live.start()

    def render(
        self,
        infos: Sequence[ActorInfo],
        elapsed: float,
        dead_letters: int,
        *,
        final: bool = False,
        node: NodeInfo | None = None,
    ) -> Any:
        """The rich Table for one snapshot (on a node, its caption says what it serves)."""
        from rich.table import Table
        from rich.text import Text

        hint = "final" if final else "Ctrl-C to stop"
        table = Table(
            title=f"{self.title}  {header(elapsed, infos, dead_letters, node)}  ({hint})",
            title_justify="left",
            expand=False,
            header_style="bold",
            caption=None if node is None else f"serves: {served_summary(node)}",
            caption_justify="left",
        )
        table.add_column("actor", no_wrap=True)
        table.add_column("type", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("mailbox", justify="right", no_wrap=True)
        table.add_column("restarts", justify="right", no_wrap=True)
        table.add_column("children", no_wrap=True)
        table.add_column("last error", no_wrap=True, overflow="ellipsis", style="red")
        for prefix, info in zip(tree_prefixes(infos), infos):
            name = Text(prefix, style="dim") + Text(info.path.rsplit("/", 1)[-1] or info.path, style="bold")
            if info.public:
                name += Text(" public", style="cyan")
            restarts = Text(str(info.restarts), style="magenta" if info.restarts else "")
            table.add_row(
                name,
                info.actor_type,
                Text(info.state, style=STATE_STYLES.get(info.state, "")),
                Text(str(info.mailbox), style="yellow" if info.mailbox else ""),
                restarts,
                supervised_summary(info) if info.child_counts is not None else "",
                truncate(info.last_error) if info.last_error else "",
            )
        return table

    def show(
        self,
        infos: Sequence[ActorInfo],
        elapsed: float,
        dead_letters: int,
        *,
        final: bool = False,
        node: NodeInfo | None = None,
    ) -> None:
        self.live.update(self.render(infos, elapsed, dead_letters, final=final, node=node), refresh=True)

    def close(self) -> None:
        try:
            self.live.stop()
        finally:
            _remove_compact_logging(self._log_handler)


class _OneLineFormatter(logging.Formatter):
    """ "LEVEL logger: message", never with a traceback."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(self.formatMessage(_without_traceback(record)).split("\n")[:1])


def _without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    record = logging.makeLogRecord(record.__dict__)
    record.message = record.getMessage()
    record.exc_info = record.exc_text = record.stack_info = None
    return record


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record comes (rich's Live swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _install_compact_logging() -> logging.Handler | None:
    if logging.getLogger().handlers:
        return None  # the program configured logging: leave it be
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLineFormatter())
    for name in ("actors", "supervision"):
        logging.getLogger(name).addHandler(handler)
    return handler


def _remove_compact_logging(handler: logging.Handler | None) -> None:
    if handler is not None:
        for name in ("actors", "supervision"):
            logging.getLogger(name).removeHandler(handler)


def open_view(*, plain: bool = False, file: IO[str] | None = None, title: str = "trio-actors") -> View:
    """A `RichView` when stdout is a terminal and rich is installed, else a `PlainView`.

    ``plain=True`` always gives a `PlainView`. In a terminal without rich, a
    one-line hint on stderr says how to get the live view.
    """
    out = file if file is not None else sys.stdout
    if plain or not _is_terminal(out):
        return PlainView(file)
    try:
        import rich.live  # noqa: F401
    except ImportError:
        print(
            "(install rich for a live view redrawn in place: pip install 'trio-actors[live]'; showing plain snapshots)",
            file=sys.stderr,
            flush=True,
        )
        return PlainView(file)
    return RichView(title)


def _is_terminal(file: IO[str]) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


async def watch(system: ActorSystem, view: View, interval: float) -> None:
    """Show a snapshot of ``system`` every ``interval`` seconds until cancelled.

    On cancellation a last snapshot is shown (marked final), so a short run
    still shows its actors, then the view is closed. On a node, each snapshot
    also asks the transport who serves the node's public names (the final one
    shows the last answers: it cannot wait).
    """
    start = trio.current_time()
    node = None
    try:
        while True:
            node = await node_info(system)
            view.show(system.inspect(), trio.current_time() - start, system.dead_letters.total, node=node)
            await trio.sleep(interval)
    finally:
        try:
            view.show(system.inspect(), trio.current_time() - start, system.dead_letters.total, final=True, node=node)
        finally:
            view.close()
