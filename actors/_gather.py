"""gather: wait on several asks (or any awaitables) at once, results in argument order."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable
from typing import Any

import trio

from ._checks import check_seconds
from ._context import acting_for, blocking_cell
from ._exceptions import AskTimeout
from ._groups import one_exception
from ._text import safe_repr

__all__ = ["gather"]

_MISSING: Any = object()


async def gather(
    *awaitables: Awaitable[Any],
    timeout: float | None = None,
    return_exceptions: bool = False,
) -> list[Any]:
    """Await every argument concurrently; return their results in argument order.

    Scatter-gather over asks: ``await gather(a.ask(x), b.ask(y), timeout=2)``.

    Args:
      timeout: seconds for the whole gather (None: no extra bound; each ask
        still has its own timeout).
      return_exceptions: if True, an awaitable that raised (or did not finish
        in time: `AskTimeout`) gives its exception in its slot, so partial
        results come back; if False, the first error cancels the rest and is
        raised (the error itself, never an ExceptionGroup).

    Raises:
      AskTimeout: ``timeout`` passed (and ``return_exceptions`` is False).
    """
    try:
        for index, item in enumerate(awaitables):
            if not isinstance(item, Awaitable):
                raise TypeError(f"gather() argument {index} is not awaitable: {safe_repr(item)}")
        timeout = check_seconds("timeout", timeout, zero=True, optional=True)
    except (TypeError, ValueError):
        for item in awaitables:  # they will never run: close them, so none warns "never awaited"
            if inspect.iscoroutine(item):
                item.close()
        raise
    results: list[Any] = [_MISSING] * len(awaitables)
    first_error: list[BaseException] = []

    handler = blocking_cell()  # a handler blocked on this gather: its asks are the handler's

    async def run(index: int, item: Awaitable[Any], cancel: trio.CancelScope) -> None:
        if handler is not None:
            acting_for.set(handler)
        try:
            results[index] = await item
        except Exception as exc:
            if return_exceptions:
                results[index] = exc
            elif not first_error:
                first_error.append(exc)
                cancel.cancel()

    deadline = math.inf if timeout is None else trio.current_time() + timeout
    with trio.CancelScope(deadline=deadline) as scope:
        try:
            async with trio.open_nursery() as nursery:
                for index, item in enumerate(awaitables):
                    nursery.start_soon(run, index, item, scope)
        except BaseExceptionGroup as group:  # cancelled from outside, or a KeyboardInterrupt
            raise one_exception(group) from None
    if first_error:
        raise first_error[0]
    if scope.cancelled_caught:
        late = [i for i, r in enumerate(results) if r is _MISSING]
        error = AskTimeout(
            f"gather() timed out after {timeout:g} s with {len(late)} of {len(awaitables)} "
            f"awaitables unfinished (positions {late}); pass return_exceptions=True for partial results"
        )
        if not return_exceptions:
            raise error
        for i in late:
            results[i] = AskTimeout(f"awaitable {i} did not finish within gather()'s timeout of {timeout:g} s")
    return results
