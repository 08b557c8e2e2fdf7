"""Turning the exception group a nursery raises into the one exception a user expects."""

from __future__ import annotations

import trio

from ._text import safe_repr

__all__ = ["fatal_error", "leaves", "one_exception", "precedence"]


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """Every exception in ``group``, nested groups flattened, in order."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def one_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to raise instead of ``group``.

    Only cancellations: the first one (so the cancel scope that caused them, or an
    ``except trio.Cancelled``, sees a plain Cancelled). Otherwise a KeyboardInterrupt,
    then a SystemExit, then the first other exception; the rest are named in a note
    on it, so nothing is dropped without a word.
    """
    found = leaves(group)
    real = [exc for exc in found if not isinstance(exc, trio.Cancelled)]
    if not real:
        return found[0]
    chosen = min(real, key=precedence)  # (the first of the lowest)
    others = [exc for exc in real if exc is not chosen]
    if others:
        chosen.add_note("raised at the same time, in other tasks: " + ", ".join(safe_repr(e) for e in others))
    return chosen


def precedence(error: BaseException) -> int:
    """Rank of the exception a user most expects to see of several: KeyboardInterrupt, SystemExit, others."""
    return 0 if isinstance(error, KeyboardInterrupt) else 1 if isinstance(error, SystemExit) else 2


def fatal_error(error: BaseException) -> BaseException | None:
    """The exception no actor may survive in ``error``, or None.

    That is a BaseException that is neither an `Exception` nor a trio
    cancellation: KeyboardInterrupt, SystemExit, or a class of the user's own.
    In an exception group (a handler's nursery), the one `one_exception` picks.
    """
    if isinstance(error, (Exception, trio.Cancelled)):
        return None
    if isinstance(error, BaseExceptionGroup):
        found = [e for e in leaves(error) if not isinstance(e, (Exception, trio.Cancelled))]
        return one_exception(BaseExceptionGroup("", found)) if found else None
    return error
