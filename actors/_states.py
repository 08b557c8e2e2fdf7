"""The lifecycle of a cell as values: its phases, control requests, and a parent's directives.

A cell (one actor's mailbox and ref across its incarnations) is always in one
`Phase`; other tasks ask it to stop, suspend or exit through a `Control`
request; its parent answers an ended incarnation with a `Directive`. `LifeState`
holds the three and is the only code that changes them: it refuses a phase
change its transition table does not allow, so a wrong turn in the lifecycle
driver fails loudly instead of leaving a cell half-way between two states.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs
import trio

__all__ = ["Control", "Directive", "DirectiveKind", "LifeState", "Phase"]


class Phase(enum.StrEnum):
    """Where a cell is in its life (a `str`, so ``phase == "running"`` reads naturally).

    See `LifeState` for the transitions between them.
    """

    NEW = "new"
    """Built, its task not started yet (an actor never sent anything has no task)."""
    STARTING = "starting"
    """An incarnation is being built and runs ``on_restart``/``on_start``."""
    RUNNING = "running"
    """Handling messages, or waiting for one."""
    EXITING = "exiting"
    """Its incarnation ended (failed, or ``self.stop()``); waiting for its parent's directive."""
    RESTARTING = "restarting"
    """Its parent restarts it after a delay (backoff); the mailbox keeps filling."""
    SUSPENDED = "suspended"
    """Its incarnation ended on its parent's request; waits to be resumed or stopped."""
    STOPPED = "stopped"
    """Ended for good: the mailbox is closed and drained, its watchers were told."""


class Control(enum.IntEnum):
    """A request from another task to end the current incarnation, weakest first.

    A stronger request replaces a weaker one that is still pending; a weaker one
    never replaces a stronger one.
    """

    EXIT = 1
    """The actor called ``self.stop()``: a normal exit; its parent decides what next."""
    SUSPEND = 2
    """The parent restarts it in place: end the incarnation, keep mailbox and ref, wait."""
    STOP = 3
    """Stopped from outside: close the mailbox and end for good."""


class DirectiveKind(enum.Enum):
    """What a `Directive` tells a child to do."""

    STOP = "stop"
    """End for good."""
    SUSPEND = "suspend"
    """End the incarnation, keep the cell, wait for a resume or a stop."""
    RESTART = "restart"
    """Start a fresh incarnation, after ``delay`` seconds."""
    RESUME = "resume"
    """Start a fresh incarnation of a suspended cell (``on_restart(reason)`` if a reason is given)."""
    CONTINUE = "continue"
    """After a failure, keep the instance (its state and timers) and go on with the next message."""


@attrs.frozen(eq=False)
class Directive:
    """A parent's answer to a child whose incarnation ended. Build one with the class methods."""

    kind: DirectiveKind
    delay: float = 0.0
    """Seconds to wait before a restart."""
    reason: BaseException | None = None
    """For a resume: what the new incarnation's ``on_restart`` is told."""

    @classmethod
    def stop(cls) -> Directive:
        """End the child for good."""
        return _STOP

    @classmethod
    def suspend(cls) -> Directive:
        """End the child's incarnation and keep it waiting for `resume` or `stop`."""
        return _SUSPEND

    @classmethod
    def restart(cls, delay: float = 0.0) -> Directive:
        """Start a fresh incarnation after ``delay`` seconds (messages wait in the mailbox)."""
        return _RESTART_NOW if delay == 0 else cls(DirectiveKind.RESTART, float(delay))

    @classmethod
    def continue_(cls) -> Directive:
        """Keep the failed child's instance, its state and timers, and go on with its next message."""
        return _CONTINUE

    @classmethod
    def resume(cls, reason: BaseException | None) -> Directive:
        """Start a fresh incarnation of a suspended child (``on_restart(reason)`` if given)."""
        return cls(DirectiveKind.RESUME, 0.0, reason)

    def __repr__(self) -> str:
        extra = f", delay={self.delay:g}" if self.delay else ""
        return f"Directive.{self.kind.value}({extra.lstrip(', ')})"


_STOP = Directive(DirectiveKind.STOP)
_SUSPEND = Directive(DirectiveKind.SUSPEND)
_RESTART_NOW = Directive(DirectiveKind.RESTART)
_CONTINUE = Directive(DirectiveKind.CONTINUE)


_P = Phase
#: The transition table of `LifeState` (kept beside its docstring: change both together).
_ALLOWED: dict[Phase, frozenset[Phase]] = {
    _P.NEW: frozenset({_P.STARTING, _P.STOPPED}),
    _P.STARTING: frozenset({_P.RUNNING, _P.EXITING, _P.STOPPED}),
    _P.RUNNING: frozenset({_P.EXITING, _P.SUSPENDED, _P.STOPPED}),
    _P.EXITING: frozenset({_P.RUNNING, _P.STARTING, _P.RESTARTING, _P.SUSPENDED, _P.STOPPED}),
    _P.RESTARTING: frozenset({_P.STARTING, _P.SUSPENDED, _P.STOPPED}),
    _P.SUSPENDED: frozenset({_P.STARTING, _P.STOPPED}),
    _P.STOPPED: frozenset(),
}


class LifeState:
    """A cell's phase, the control request pending for it, and its parent's directive.

    Transitions (anything else raises `RuntimeError`: a bug in the runtime)::

        NEW        -> STARTING     its task runs its first incarnation
                   -> STOPPED      stopped before its task ever ran
        STARTING   -> RUNNING      on_start returned (or was cut short by a stop)
                   -> EXITING      a restart's on_start failed: the parent decides
                   -> STOPPED      its first on_start failed (spawn raises it)
        RUNNING    -> EXITING      its handler failed, or it called self.stop()
                   -> SUSPENDED    its parent suspended it (a sibling's restart)
                   -> STOPPED      stopped from outside
        EXITING    -> RUNNING      the parent keeps its instance (Directive.continue_)
                   -> STARTING     the parent restarts it now
                   -> RESTARTING   the parent restarts it after a delay
                   -> SUSPENDED    the parent suspends it
                   -> STOPPED      the parent stops it (or it was stopped meanwhile)
        RESTARTING -> STARTING     the delay passed
                   -> SUSPENDED    suspended during the delay
                   -> STOPPED      stopped during the delay
        SUSPENDED  -> STARTING     resumed
                   -> STOPPED      stopped while suspended
        STOPPED                    final

    Control requests rank ``EXIT < SUSPEND < STOP``: `request` keeps the
    strongest. The cell's task reads them at its next step and clears them
    (`clear_control`) when it starts a new incarnation. Other tasks wait for a
    phase (`wait_phase`) or for any change of control or directive
    (`wait_until`).
    """

    __slots__ = ("_changed", "control", "directive", "phase", "reason")

    def __init__(self) -> None:
        self.phase = Phase.NEW
        self.control: Control | None = None
        self.reason: BaseException | None = None  # why a SUSPEND was requested
        self.directive: Directive | None = None  # the parent's answer, not yet taken
        # Set (and dropped) on any change: a phase, a request, a directive, a poke. Every
        # waiter re-checks what it waits for, so one event serves them all.
        self._changed: trio.Event | None = None

    def __repr__(self) -> str:
        return f"<LifeState {self.phase.value} control={self.control and self.control.name}>"

    # -- phase -------------------------------------------------------------

    def set_phase(self, phase: Phase) -> None:
        """Move to ``phase`` (a no-op if already there); wake the tasks waiting for a phase.

        Raises:
          RuntimeError: the table does not allow this transition.
        """
        if phase is self.phase:
            return
        if phase not in _ALLOWED[self.phase]:
            raise RuntimeError(f"a cell cannot go from {self.phase.value} to {phase.value}")
        self.phase = phase
        self.poke()

    async def wait_phase(self, *phases: Phase) -> None:
        """Wait until the phase is one of ``phases`` (or STOPPED, which ends every wait)."""
        while self.phase not in phases and self.phase is not Phase.STOPPED:
            await self._next_change()

    # -- control requests and directives -------------------------------------

    def request(self, control: Control, reason: BaseException | None = None) -> bool:
        """Ask for ``control`` unless a request as strong is pending; True if it took effect."""
        if self.control is not None and self.control >= control:
            return False
        self.control = control
        if control is Control.SUSPEND:
            self.reason = reason
        self.poke()
        return True

    def clear_control(self) -> None:
        """A new incarnation starts: no request is pending any more."""
        self.control = None
        self.reason = None

    def resolve(self, directive: Directive) -> None:
        """Give the parent's directive to a cell waiting for it (or about to)."""
        self.directive = directive
        self.poke()

    def take_directive(self) -> Directive | None:
        """The parent's directive, if any, cleared for the next one."""
        directive, self.directive = self.directive, None
        return directive

    def poke(self) -> None:
        """Wake every waiter (something it waits for may have changed)."""
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` is true, checking it after each change (phase, request, directive, poke)."""
        while not done():
            await self._next_change()

    async def _next_change(self) -> None:
        if self._changed is None:
            self._changed = trio.Event()
        await self._changed.wait()
