"""The wait graph: which actor's handler waits on which actor's answer, and the deadlock check.

An actor handles one message at a time, so a handler that awaits an ask blocks
its whole actor until the answer comes. If the actor asked is (through a chain
of such waits) waiting on the asker, nobody can ever answer: a deadlock. The
graph records each such wait while it lasts and refuses, at once, the ask that
would close a cycle, instead of letting it hang until its timeout.

Nodes are the runtime's cells, seen only through their ``name``; the graph
never reads or writes anything else of theirs.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from ._exceptions import DeadlockError

__all__ = ["WaitGraph"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


class WaitGraph(Generic[N]):
    """Who waits on whom, for one actor system.

    Invariant: ``target in _edges[asker]`` exactly as many times as the
    handler of ``asker`` (or a task it waits for) is awaiting an answer from
    ``target`` right now; an asker waiting on nobody has no entry.
    """

    __slots__ = ("_edges",)

    def __init__(self) -> None:
        self._edges: dict[N, list[N]] = {}

    def check(self, asker: N, target: N, what: str) -> None:
        """Raise `DeadlockError` if ``asker`` waiting on ``target`` would never end.

        That is when ``asker`` is ``target`` (an actor asking itself while it
        handles a message), or when ``target`` already waits, through any
        chain, on ``asker``. ``what`` names the message, for the error.
        """
        if asker is target:
            raise DeadlockError(
                f"actor '{target.name}' asked itself {what} while handling a message; it would wait "
                f"for itself forever. Use self.ref.tell(...) or call the method directly"
            )
        edges = self._edges
        if target not in edges:
            return  # the usual case: its handler waits on nobody, so no cycle runs through it
        # Follow every wait of every handler (one may wait on several at once: gather,
        # or its own nursery); reaching the asker closes a cycle.
        came_from: dict[N, N | None] = {target: None}
        stack = [target]
        while stack:
            node = stack.pop()
            for next_node in edges.get(node, ()):
                if next_node is asker:
                    chain = [asker]
                    link: N | None = node
                    while link is not None:
                        chain.insert(1, link)
                        link = came_from[link]
                    chain.append(asker)
                    names = " -> ".join(f"'{c.name}'" for c in chain)
                    raise DeadlockError(
                        f"ask cycle: {names}. Actor '{asker.name}' asked '{target.name}' for {what}, but "
                        f"'{target.name}' is (through that chain) waiting on '{asker.name}'; each handles "
                        f"one message at a time, so both would wait forever. Break the cycle with "
                        f"tell, or answer later with defer_reply()"
                    )
                if next_node not in came_from:
                    came_from[next_node] = node
                    stack.append(next_node)

    def add(self, asker: N, target: N) -> None:
        """``asker``'s handler now waits on ``target`` (pair with `remove`)."""
        waits = self._edges.get(asker)
        if waits is None:
            self._edges[asker] = [target]
        else:
            waits.append(target)

    def remove(self, asker: N, target: N) -> None:
        """One wait of ``asker`` on ``target`` ended."""
        waits = self._edges.get(asker)
        if waits is not None:
            waits.remove(target)
            if not waits:
                del self._edges[asker]

    def waits_of(self, asker: N) -> list[N]:
        """What ``asker``'s handler waits on now (a copy; for inspection and tests)."""
        return list(self._edges.get(asker, ()))
