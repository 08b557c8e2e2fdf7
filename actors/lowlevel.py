"""actors.lowlevel: the door for code that extends the runtime (supervisors, transports).

Like ``trio.lowlevel``, this module is public and documented, but its
stability promise is weaker than ``actors``': a minor release may change it,
and the CHANGELOG says so when it does. Applications rarely need it; policies
and transports do. ``supervision`` is built only on ``actors`` and this module.

What is here:

- **The lifecycle, as values.** A cell (one actor's mailbox and ref across
  its incarnations) is in a `Phase`; when an incarnation ends, the parent
  answers with a `Directive` (`Directive.stop`, `Directive.restart`,
  `Directive.suspend`, `Directive.resume`).
- **The parent/child protocol.** An actor class that implements
  `ParentPolicy` decides for its children: ``child_exited`` (a child's
  incarnation ended: return a directive, or None and answer later with
  ``child.resolve``), ``before_restart`` (it restarts itself: what becomes of
  its children), ``child_stopped``. It sees each child as a `ChildHandle`.
  Any other actor gets `PlainParent` (a child that fails or exits stops).
  `spawn_child`, `children`, `handle` and `run_soon` act on a parent's own
  children and task.
- **The delivery interface.** An `ActorRef` talks to an `Address`: the cell
  of a local actor, or a remote inbox. `make_ref` gives the ref of any
  address. Between nodes, a `Transport` (Redis Streams first:
  ``actors.redis.RedisTransport``) carries messages to public names and
  brings theirs in as `InboundMessage` values, through the system's
  `TransportHooks`; an engine such as NATS JetStream implements `Transport`
  without touching the runtime.
- **Helpers** for extension code that should refuse bad arguments and print
  user objects as the runtime does: the ``check_*`` functions, `safe_repr`,
  `SafeRepr`, `check_actor_class`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ._actor import Actor, check_actor_class
from ._address import Address
from ._cell import Cell
from ._checks import check_callable, check_count, check_instance, check_name, check_seconds
from ._parents import ChildHandle, ParentPolicy, PlainParent
from ._ref import ActorRef
from ._states import Directive, DirectiveKind, Phase
from ._text import SafeRepr, safe_repr
from ._transport import InboundMessage, Transport, TransportHooks

__all__ = [
    "Address",
    "ChildHandle",
    "Directive",
    "DirectiveKind",
    "InboundMessage",
    "ParentPolicy",
    "Phase",
    "PlainParent",
    "SafeRepr",
    "Transport",
    "TransportHooks",
    "check_actor_class",
    "check_callable",
    "check_count",
    "check_instance",
    "check_name",
    "check_seconds",
    "children",
    "handle",
    "make_ref",
    "run_soon",
    "safe_repr",
    "serve",
    "spawn_child",
]


def _own_cell(actor: Actor, verb: str) -> Cell:
    check_instance(actor, Actor, verb, "an Actor (pass self)")
    return actor._actors_own_cell


def handle(target: ActorRef[Any] | Actor) -> ChildHandle:
    """The `ChildHandle` of the actor behind a ref, or of an actor (``handle(self)``).

    Raises:
      TypeError: ``target`` is neither, or a ref to an actor of no local cell.
    """
    if isinstance(target, Actor):
        return target._actors_own_cell
    check_instance(target, ActorRef, "handle", "an ActorRef or an Actor")
    cell = target._cell
    if not isinstance(cell, Cell):
        raise TypeError(f"handle() needs a ref to an actor of this system, not {target!r}")
    return cell


def children(parent: Actor) -> list[ChildHandle]:
    """The children of ``parent`` that have not stopped, in start order."""
    return [child for child in _own_cell(parent, "children").children.values() if not child.stopped]


async def spawn_child(
    parent: Actor,
    actor_cls: type[Actor],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    mailbox_size: int | None = None,
    shutdown_timeout: float | None = None,
    message_timeout: float | None = None,
    spec: Any = None,
) -> ActorRef[Any]:
    """Start a child of ``parent`` with settings `Actor.spawn` does not offer; return its ref
    once its ``on_start`` has run.

    Args:
      parent: the parent actor (``self`` in a policy's own code).
      actor_cls, args, kwargs: what to build: ``actor_cls(*args, **kwargs)``,
        again at each restart.
      name, mailbox_size: as for `Actor.spawn`.
      shutdown_timeout: seconds its handler, then its ``on_stop``, get when it
        stops or restarts (None: the system's).
      message_timeout: seconds a handler may run before it is cancelled and
        counts as a failure (None: no limit).
      spec: any object, handed back as ``ChildHandle.spec`` (a supervisor's
        ``ChildSpec``): how the policy recognises the child.

    Raises:
      ActorStopped: ``parent`` is stopping or restarting.
      Exception: what the child's ``__init__`` or ``on_start`` raised.
    """
    check_actor_class(actor_cls, "spawn_child")
    cell = _own_cell(parent, "spawn_child")
    return await cell.spawn_child(
        actor_cls,
        tuple(args),
        dict(kwargs or {}),
        name=name,
        mailbox_size=mailbox_size,
        shutdown_timeout=shutdown_timeout,
        message_timeout=message_timeout,
        spec=spec,
    )


def run_soon(actor: Actor, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Run ``await fn(*args)`` in ``actor``'s own task before its next message.

    For a policy's slow work (a restart, a backoff wait): it runs one at a time
    with the actor's messages, is cut at once when the actor stops or restarts,
    and an exception it raises is a failure of the actor.
    """
    check_callable(fn, "run_soon needs")
    _own_cell(actor, "run_soon").run_soon(fn, *args)


async def serve(actor: Actor, ref: ActorRef[Any]) -> None:
    """Serve ``ref``'s name to other nodes through ``actor``'s system's transport.

    What ``spawn(..., public=True)`` does after the spawn, for a policy that starts
    public children itself (`supervision.ChildSpec(..., public=True)`): returns once
    the node serves the name; if that fails, stops the actor and raises.

    Raises:
      TypeError: the system has no transport (``open_actor_system(node=, transport=)``).
    """
    await _own_cell(actor, "serve").system._serve(ref)


def make_ref(address: Address) -> ActorRef[Any]:
    """An `ActorRef` that talks to ``address`` (for transports: a remote inbox)."""
    if not isinstance(address, Address):
        raise TypeError(f"make_ref() takes an Address, not {type(address).__name__}")
    return ActorRef._create(address)
