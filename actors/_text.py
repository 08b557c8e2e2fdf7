"""Text for errors and logs about user objects, which may not print."""

from __future__ import annotations

from typing import Any

__all__ = ["SafeRepr", "qualname", "safe_repr"]


def safe_repr(obj: Any, limit: int = 300) -> str:
    """``repr(obj)``, shortened to ``limit`` characters, or a stand-in if repr raises."""
    try:
        text = repr(obj)
    except Exception:
        return f"<{type(obj).__name__} object (its repr raised)>"
    if not isinstance(text, str):
        return f"<{type(obj).__name__} object (its repr is not a str)>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def qualname(obj: Any) -> str:
    """``obj.__qualname__`` without the enclosing functions (``Greeter.greet``, not ``test.<locals>.Greeter.greet``)."""
    name = getattr(obj, "__qualname__", None)
    if not isinstance(name, str):
        return type(obj).__name__
    return name.rsplit("<locals>.", 1)[-1]


class SafeRepr:
    """Wraps an object for lazy ``%r``/``%s`` in log calls: formatting can never raise."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return safe_repr(self.obj)

    __str__ = __repr__
