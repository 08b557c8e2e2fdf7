"""actors.testing: the kit for testing your agents (and the framework's own tests).

- pytest fixtures (registered through the ``pytest11`` entry point, so installing
  ``trio-actors[test]`` is all it takes): ``actor_system`` and
  ``actor_system_autojump`` (under ``MockClock(autojump_threshold=0)``).
- `TestProbe`: an actor a test hands out as a ref, then asserts on.
- hypothesis strategies `interleavings` and `crash_points`, the replayable
  runner `run_schedule`, and the checker `check_delivery` (what the runtime
  delivered).
- `assert_per_sender_order`: what your own actor did with its messages keeps
  each sender's order.
"""

from ._plugin import actor_system as actor_system
from ._plugin import actor_system_autojump as actor_system_autojump
from ._probe import Received as Received
from ._probe import TestProbe as TestProbe
from ._schedules import InjectedCrash as InjectedCrash
from ._schedules import Outcome as Outcome
from ._schedules import Schedule as Schedule
from ._schedules import Step as Step
from ._schedules import assert_per_sender_order as assert_per_sender_order
from ._schedules import check_delivery as check_delivery
from ._schedules import crash_points as crash_points
from ._schedules import interleavings as interleavings
from ._schedules import run_schedule as run_schedule

__all__ = [
    "InjectedCrash",
    "Outcome",
    "Received",
    "Schedule",
    "Step",
    "TestProbe",
    "actor_system",
    "actor_system_autojump",
    "assert_per_sender_order",
    "check_delivery",
    "crash_points",
    "interleavings",
    "run_schedule",
]
