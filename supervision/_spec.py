"""ChildSpec: how a supervisor starts (and restarts) one child."""

from __future__ import annotations

import inspect
from typing import Any, Literal

from actors import Actor
from actors.lowlevel import check_actor_class, check_count, check_name, check_seconds, safe_repr

__all__ = ["ChildSpec", "Restart"]

Restart = Literal["permanent", "transient", "temporary"]
_RESTARTS = ("permanent", "transient", "temporary")
#: Keyword arguments ChildSpec keeps for itself; every other one goes to the actor's __init__.
RESERVED = ("name", "restart", "message_timeout", "shutdown_timeout", "mailbox_size", "public")


class ChildSpec:
    """How to start one child of a `Supervisor`, and when to restart it.

    ``ChildSpec(Worker, "arg", name="worker", restart="transient", x=1)`` starts
    ``Worker("arg", x=1)``; a restart builds a fresh instance from the same
    arguments. Restart types follow Erlang/OTP: ``permanent`` is always
    restarted (even after a normal exit via ``self.stop()``), ``transient`` only
    after a failure, ``temporary`` never.

    The keywords ``name``, ``restart``, ``message_timeout``, ``shutdown_timeout``,
    ``mailbox_size`` and ``public`` are ChildSpec's own: they never reach the actor's
    ``__init__``. An actor whose ``__init__`` needs one of those names is refused
    here, with a message saying so; give that parameter another name.

    Args:
      actor_cls: the `Actor` subclass.
      name: the child's name, unique in the system (generated if None).
      restart: "permanent" (default), "transient" or "temporary".
      message_timeout: seconds a handler may run; past it, it is cancelled and
        counts as a failure (the asker gets `actors.MessageTimeout`). None: no limit.
      shutdown_timeout: seconds the running handler, then ``on_stop``, get when
        the child stops or restarts. None (the default): the system's
        ``shutdown_timeout`` (``open_actor_system(shutdown_timeout=...)``, 5 s
        unless set there).
      mailbox_size: bound the mailbox (None: unbounded).
      public: serve the child's name to other nodes through the system's
        transport (as ``spawn(..., public=True)``); it keeps serving across
        restarts and leaves when the child stops for good. The child needs a
        name, and the system a transport (``open_actor_system(node=, transport=)``).
    """

    __slots__ = (
        "actor_cls",
        "args",
        "kwargs",
        "mailbox_size",
        "message_timeout",
        "name",
        "public",
        "restart",
        "shutdown_timeout",
    )

    def __init__(
        self,
        actor_cls: type[Actor],
        *args: Any,
        name: str | None = None,
        restart: Restart = "permanent",
        message_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        mailbox_size: int | None = None,
        public: bool = False,
        **kwargs: Any,
    ) -> None:
        check_actor_class(actor_cls, "ChildSpec")
        _check_reserved(actor_cls, args, kwargs)
        if restart not in _RESTARTS:
            raise ValueError(f"restart must be one of 'permanent', 'transient', 'temporary', not {safe_repr(restart)}")
        if name is not None:
            check_name(name, wrong_type=ValueError)
        check_count("mailbox_size", mailbox_size, optional=True)
        if public and name is None:
            raise ValueError(
                "a public child needs a name (ChildSpec(..., name='worker', public=True)): "
                "other nodes reach it by that name"
            )
        self.actor_cls = actor_cls
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.restart: Restart = restart
        self.message_timeout = check_seconds("message_timeout", message_timeout, finite=True, optional=True)
        self.shutdown_timeout = check_seconds("shutdown_timeout", shutdown_timeout, finite=True, optional=True)
        self.mailbox_size = mailbox_size
        self.public = bool(public)

    def __repr__(self) -> str:
        return f"ChildSpec({self.actor_cls.__name__}, name={self.name!r}, restart={self.restart!r})"


def _check_reserved(actor_cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse an ``__init__`` that cannot get an argument because ChildSpec keeps its keyword."""
    init = actor_cls.__init__
    if init is object.__init__:
        return
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError):  # (a builtin, or a signature Python cannot show)
        return
    try:
        signature.bind(None, *args, **kwargs)
    except TypeError:
        params = list(signature.parameters.values())[1:]
        bound = {p.name for p in params[: len(args)] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)}
        for param in params:
            if (
                param.name in RESERVED
                and param.name not in kwargs
                and param.name not in bound
                and param.default is param.empty
                and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
            ):
                raise TypeError(
                    f"{actor_cls.__name__}.__init__ takes '{param.name}', but ChildSpec keeps the keyword "
                    f"{param.name}= for itself (the child's {param.name.replace('_', ' ')}), so it cannot reach "
                    f"__init__; rename that parameter (say, to 'actor_{param.name}') and pass it under the "
                    f"new name"
                ) from None
