"""The errors of supervision's own API (all are `actors.ActorError`s)."""

from __future__ import annotations

from actors import ActorError

__all__ = ["ChildRunning", "ChildStartFailed", "TooManyChildren"]


class TooManyChildren(ActorError):
    """`start_child` would take a supervisor past its ``max_children``.

    Nothing was started. Wait for a child to end (or `terminate_child` and
    `delete_child` one), or raise ``max_children``.
    """


class ChildRunning(ActorError):
    """`delete_child` or `restart_child` named a child that is running.

    As in Erlang/OTP, only a terminated child (its spec kept) can be deleted or
    restarted by hand: `terminate_child` it first.
    """


class ChildStartFailed(ActorError):
    """A child's ``__init__``, ``on_start`` (or the start of its subtree) raised.

    Raised by ``system.spawn_tree`` and `start_child`. ``supervisor`` and
    ``child`` name the supervisor and the child (the innermost, in a nested
    tree); ``error`` and ``__cause__`` are what the child raised. The children
    started before it were stopped again (for ``spawn_tree``: the whole tree).
    """

    def __init__(self, message: str, *, supervisor: str, child: str, error: BaseException) -> None:
        super().__init__(message)
        self.supervisor = supervisor
        self.child = child
        self.error = error
