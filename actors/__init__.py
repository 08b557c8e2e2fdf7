"""trio-actors: actors for multi-agent systems on trio's structured concurrency.

Every actor has private state and a mailbox and handles one message at a time;
every actor is a trio task in its parent's nursery, so none outlives the
``async with open_actor_system()`` block. The code lives in private modules;
this package re-exports the public names.
"""

import typing as _typing

from ._actor import Actor as Actor
from ._dead_letters import DeadLetter as DeadLetter
from ._dead_letters import DeadLetters as DeadLetters
from ._envelope import Envelope as Envelope
from ._exceptions import ActorError as ActorError
from ._exceptions import ActorNameTaken as ActorNameTaken
from ._exceptions import ActorNotFound as ActorNotFound
from ._exceptions import ActorStopped as ActorStopped
from ._exceptions import AskAbandoned as AskAbandoned
from ._exceptions import AskTimeout as AskTimeout
from ._exceptions import DeadlockError as DeadlockError
from ._exceptions import EscalatedFailure as EscalatedFailure
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import MessageTimeout as MessageTimeout
from ._exceptions import UnhandledMessage as UnhandledMessage
from ._exceptions import WorkerProcessError as WorkerProcessError
from ._gather import gather as gather
from ._inspect import ActorInfo as ActorInfo
from ._logging import ActorContextFilter as ActorContextFilter
from ._messages import Terminated as Terminated
from ._ref import ActorRef as ActorRef
from ._reply import DeferredReply as DeferredReply
from ._reply import Reply as Reply
from ._streams import AskStream as AskStream
from ._streams import ReplyStream as ReplyStream
from ._system import ActorSystem as ActorSystem
from ._system import open_actor_system as open_actor_system
from ._timers import Timer as Timer
from ._tools import blocking as blocking
from ._tools import tool as tool
from ._tracing import TraceEvent as TraceEvent
from ._tracing import Tracer as Tracer
from ._tracing import load_trace as load_trace
from ._tracing import render_timeline as render_timeline
from ._transport import RemoteError as RemoteError

__all__ = [
    "Actor",
    "ActorContextFilter",
    "ActorError",
    "ActorInfo",
    "ActorNameTaken",
    "ActorNotFound",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "AskAbandoned",
    "AskStream",
    "AskTimeout",
    "DeadLetter",
    "DeadLetters",
    "DeadlockError",
    "DeferredReply",
    "Envelope",
    "EscalatedFailure",
    "MailboxFull",
    "MessageTimeout",
    "PykkaBridge",
    "PykkaChild",
    "RemoteError",
    "Reply",
    "ReplyStream",
    "Terminated",
    "Timer",
    "TraceEvent",
    "Tracer",
    "UnhandledMessage",
    "WorkerProcessError",
    "blocking",
    "gather",
    "load_trace",
    "open_actor_system",
    "render_timeline",
    "tool",
]

__version__ = "0.1.0.dev0"

# Imported on first use, so that `import actors` needs neither pykka nor its threads.
_EXTRAS = {"PykkaBridge": ("._pykka", "pykka"), "PykkaChild": ("._pykka", "pykka")}


def __getattr__(name: str) -> object:
    if name not in _EXTRAS:
        raise AttributeError(f"module 'actors' has no attribute {name!r}")
    import importlib

    module, extra = _EXTRAS[name]
    try:
        value = getattr(importlib.import_module(module, __name__), name)
    except ModuleNotFoundError as exc:
        if exc.name != extra:
            raise
        raise ImportError(
            f"actors.{name} needs the {extra!r} package: install it with pip install 'trio-actors[{extra}]'"
        ) from exc
    globals()[name] = value  # (found directly from now on)
    return value


if _typing.TYPE_CHECKING:
    from ._pykka import PykkaBridge as PykkaBridge
    from ._pykka import PykkaChild as PykkaChild
