"""The registry of one actor system: actor names (unique in the system) and pub/sub topics.

Nodes are the runtime's cells, seen only through their ``name``, ``path`` and
``closed``; the registry keeps its own tables and never writes a node's fields.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from ._checks import check_name
from ._exceptions import ActorNameTaken

__all__ = ["Registry"]


class _Node(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def closed(self) -> bool: ...


N = TypeVar("N", bound=_Node)


class Registry(Generic[N]):
    """Names and topics of one actor system.

    Invariants: a name maps to None while its actor is being built (reserved)
    and to its node once spawned, until `release`/`forget`; ``_subscriptions[n]``
    holds exactly the topics whose subscriber table holds ``n``.
    """

    __slots__ = ("_auto_names", "_names", "_subscriptions", "_topics")

    def __init__(self) -> None:
        self._names: dict[str, N | None] = {}
        self._auto_names: dict[str, itertools.count[int]] = {}
        self._topics: dict[Hashable, dict[N, None]] = {}  # (a dict keeps subscription order)
        self._subscriptions: dict[N, set[Hashable]] = {}

    # -- names ------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        """True if ``name`` is taken (reserved or in use)."""
        return name in self._names

    def reserve(self, name: str | None, base: str) -> str:
        """Take ``name`` (or, if None, a fresh ``base-N``) until `bind` or `release`.

        Raises:
          ActorNameTaken: a living (or stopping) actor has it.
        """
        if name is None:
            counter = self._auto_names.setdefault(base, itertools.count(1))
            name = f"{base}-{next(counter)}"
            while name in self._names:
                name = f"{base}-{next(counter)}"
        else:
            check_name(name)
            if name in self._names:
                existing = self._names[name]
                where = f" at {existing.path}" if existing is not None else ""
                if existing is not None and existing.closed:
                    raise ActorNameTaken(
                        f"the actor named '{name}'{where} is still stopping; its name is free once it "
                        f"has stopped (await system.stop(ref) returns then), or choose another name"
                    )
                raise ActorNameTaken(
                    f"an actor named '{name}' already exists{where}; choose another name, or "
                    f"stop it first (await system.stop(system.lookup('{name}')))"
                )
        self._names[name] = None
        return name

    def bind(self, name: str, node: N) -> None:
        """The reserved ``name`` now belongs to ``node``."""
        self._names[name] = node

    def release(self, name: str, node: N | None) -> None:
        """Free ``name`` if it still belongs to ``node`` (None: still only reserved)."""
        if name in self._names and self._names[name] is node:
            del self._names[name]

    def find(self, name_or_path: str) -> N | None:
        """The node with this name, or this path (``/team/planner``), or None."""
        node = self._names.get(name_or_path)
        if node is None and name_or_path.startswith("/"):
            path = name_or_path.rstrip("/")
            node = self._names.get(path.rsplit("/", 1)[-1])
            if node is not None and node.path != path:
                node = None
        return node

    def forget(self, node: N) -> None:
        """``node`` has stopped: free its name and drop its subscriptions."""
        self.release(node.name, node)
        topics = self._subscriptions.pop(node, None)
        if topics:
            for topic in topics:
                self._drop(topic, node)

    # -- topics -----------------------------------------------------------

    def subscribe(self, node: N, topic: Hashable) -> None:
        """Add ``node`` to ``topic``'s subscribers (once)."""
        self._topics.setdefault(topic, {})[node] = None
        self._subscriptions.setdefault(node, set()).add(topic)

    def unsubscribe(self, node: N, topic: Hashable) -> None:
        """Remove ``node`` from ``topic``'s subscribers, if it was one."""
        self._drop(topic, node)
        topics = self._subscriptions.get(node)
        if topics is not None:
            topics.discard(topic)
            if not topics:
                del self._subscriptions[node]

    def subscribers(self, topic: Hashable) -> list[N]:
        """The open subscribers of ``topic``, in subscription order (closed ones are dropped)."""
        table = self._topics.get(topic)
        if not table:
            return []
        found = []
        for node in list(table):
            if node.closed:
                self.unsubscribe(node, topic)
            else:
                found.append(node)
        return found

    def count(self, topic: Hashable) -> int:
        """How many subscribe to ``topic`` (closed ones included; a read any thread may make)."""
        table = self._topics.get(topic)
        return 0 if table is None else len(table)

    def has_subscribers(self, topic: Hashable) -> bool:
        """True if anyone subscribes to ``topic`` (cheap: for hot paths)."""
        return bool(self._topics.get(topic))

    def _drop(self, topic: Hashable, node: N) -> None:
        table = self._topics.get(topic)
        if table is not None:
            table.pop(node, None)
            if not table:
                del self._topics[topic]
