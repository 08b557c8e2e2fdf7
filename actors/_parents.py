"""The parent policy: how a parent answers its children's ends, and what it may see of them.

The runtime's cell holds the mechanics of restarts (a child's mailbox and ref
survive, an incarnation ends, the child waits for a `Directive`); a parent's
*policy* decides. `ParentPolicy` is that decision, as a protocol: an actor
whose class implements it (`supervision.Supervisor`, the system's guardian)
is asked; any other actor gets `PlainParent`, which stops a child that fails
or exits. A policy sees each child through `ChildHandle`: what a parent may
read and do, nothing of the cell's insides. Both are public in
`actors.lowlevel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._states import Directive, Phase

if TYPE_CHECKING:
    from ._actor import Actor
    from ._ref import ActorRef

__all__ = ["ChildHandle", "ParentPolicy", "PlainParent", "policy_of"]


class ChildHandle(Protocol):
    """A child as its parent's policy sees it: its identity, its state, and four commands.

    A handle stands for the child across all its incarnations (as its
    `ActorRef` does); handles compare equal only to themselves and are
    hashable, so a policy may key its own records by them.
    """

    @property
    def name(self) -> str:
        """The child's name (unique in its system)."""

    @property
    def path(self) -> str:
        """Its place in the tree, like ``/team/planner``."""

    @property
    def ref(self) -> ActorRef[Any]:
        """Its ref (the same across restarts)."""

    @property
    def actor_cls(self) -> type[Actor]:
        """The class each of its incarnations is built from."""

    @property
    def spec(self) -> Any:
        """What it was started from (``spec=`` of `spawn_child`; a supervisor's ChildSpec), or None."""

    @property
    def phase(self) -> Phase:
        """Where it is in its life."""

    @property
    def incarnations(self) -> int:
        """How many instances it has had so far (restarts + 1)."""

    @property
    def started(self) -> bool:
        """True while its current incarnation runs: its ``on_start`` returned (so there is an
        instance worth keeping with `Directive.continue_`), and it has not begun to end."""

    @property
    def closed(self) -> bool:
        """True once it takes no more messages (stopping or stopped)."""

    @property
    def stopped(self) -> bool:
        """True once it has ended for good."""

    @property
    def stop_reason(self) -> BaseException | None:
        """Why it ended (None: a normal stop), once stopped."""

    @property
    def last_error(self) -> BaseException | None:
        """The last failure of its handlers or hooks, or None."""

    def resolve(self, directive: Directive) -> None:
        """Answer the child that waits for a directive (its policy returned None from `child_exited`)."""

    async def stop(self) -> None:
        """Stop it for good (children first) and wait until it has stopped."""

    async def suspend(self, reason: BaseException | None) -> None:
        """End its incarnation (keeping mailbox and ref) and wait until it is suspended."""

    async def resume(self, reason: BaseException | None) -> None:
        """Start a new incarnation of a suspended child (``on_restart(reason)`` if a reason is given)
        and wait until it runs (or its start failed)."""


@runtime_checkable
class ParentPolicy(Protocol):
    """What a parent decides when a child's incarnation ends, and at its own restart.

    An actor class implementing these three methods is its children's policy
    (`supervision.Supervisor` does). All run in the runtime's tasks: they must
    return quickly; slow work goes to ``actors.lowlevel.run_soon`` (it then runs
    in the parent's own task, before its next message).
    """

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        """``child``'s incarnation ended by ``error`` (None: it called ``self.stop()``).

        Return the `Directive` (`Directive.stop`, `Directive.restart`...), or
        None to answer later with ``child.resolve(directive)``; meanwhile the
        child waits in `Phase.EXITING`. Called in the child's task.
        """

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """This parent itself restarts in place: decide for ``children`` (in start order).

        Children it leaves neither stopped nor suspended are stopped afterwards;
        their refs pass to children of the same name that the next incarnation
        spawns (a ref is an address).
        """

    def child_stopped(self, child: ChildHandle) -> None:
        """``child`` ended for good (its ``stop_reason`` says why)."""


class PlainParent:
    """The policy of an actor that is no supervisor: a child that fails or exits stops."""

    __slots__ = ()

    def child_exited(self, child: ChildHandle, error: BaseException | None) -> Directive | None:
        """Stop it (a supervisor would restart it)."""
        return Directive.stop()

    async def before_restart(self, children: Sequence[ChildHandle]) -> None:
        """Nothing: the children stop, and the new incarnation's same-named children take their refs."""

    def child_stopped(self, child: ChildHandle) -> None:
        """Nothing to do."""


_PLAIN = PlainParent()
# by class, for the few classes with a child_exited (isinstance on a protocol costs microseconds)
_is_policy: dict[type, bool] = {}


def policy_of(instance: object) -> ParentPolicy:
    """The policy of an actor instance: itself if its class implements `ParentPolicy`."""
    cls = type(instance)
    if getattr(cls, "child_exited", None) is None:
        return _PLAIN  # (the usual case, decided without the protocol check)
    known = _is_policy.get(cls)
    if known is None:
        known = _is_policy[cls] = isinstance(instance, ParentPolicy)
    return instance if known else _PLAIN  # type: ignore[return-value]
