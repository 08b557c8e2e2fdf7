"""Text for errors and logs about user objects, which may not print."""

from __future__ import annotations

from typing import Any

__all__ = ["SafeRepr", "safe_repr"]


def safe_repr(obj: Any, limit: int = 300) -> str:
    """``repr(obj)``, shortened to ``limit`` characters, or a stand-in if repr raises."""
    try:
        text = repr(obj)
    except Exception:
        return f"<{type(obj).__name__} object (its repr raised)>"
    if not isinstance(text, str):
        return f"<{type(obj).__name__} object (its repr is not a str)>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SafeRepr:
    """Wraps an object for lazy ``%r``/``%s`` in log calls: formatting can never raise."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return safe_repr(self.obj)

    __str__ = __repr__
