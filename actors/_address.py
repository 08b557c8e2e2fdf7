"""The delivery interface: what an `ActorRef` talks to.

A ref is an address, not a connection and not an incarnation. What stands
behind it implements `Address`: the actor's cell when the actor runs in this
system (`actors._inbox.Inbox` is that local address), or, for a remote actor,
an inbox that a transport (``actors._transport.Transport``, Redis Streams
first) carries messages to. `ActorRef` calls nothing else, so refs to either
kind work the same. Public in `actors.lowlevel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._reply import Reply
    from ._system import ActorSystem

__all__ = ["Address"]


@runtime_checkable
class Address(Protocol):
    """Where a ref's messages go. Every method runs in the event loop's thread.

    Semantics a ref promises its users, which an address keeps: per sender,
    messages arrive in the order sent; ``tell`` never awaits; a message that
    cannot be delivered is answered with an error (asks) or recorded as a dead
    letter (tells), never dropped silently.
    """

    @property
    def name(self) -> str:
        """The actor's name."""

    @property
    def path(self) -> str:
        """Where the actor is: ``/team/planner`` locally."""

    @property
    def is_alive(self) -> bool:
        """False once messages to it can no longer be handled."""

    @property
    def system(self) -> ActorSystem:
        """The local system this address belongs to (its thread hand-offs, dead letters)."""

    def tell(self, message: Any) -> None:
        """Deliver ``message`` now, without waiting; a full bounded inbox raises `MailboxFull`."""

    def tell_or_record(self, message: Any) -> None:
        """`tell`, recording what cannot be delivered as a dead letter instead of raising."""

    async def send(self, message: Any) -> None:
        """Deliver ``message``, waiting for room in a bounded inbox (backpressure)."""

    async def ask(self, message: Any, timeout: float | None) -> Any:
        """Deliver ``message`` as an ask and return the answer (raise the handler's error,
        `AskTimeout` past ``timeout``, None meaning the system's ``ask_timeout``)."""

    def ask_nowait(self, message: Any, timeout: float | None) -> Reply[Any]:
        """Deliver ``message`` as an ask; return the `Reply` promise of its answer."""
