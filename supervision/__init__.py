"""supervision: supervisors, restart strategies, child specs, restart intensity, backoff.

Builds on the `actors` runtime (whose cells keep an actor's mailbox and ref
across restarts) through its public seam, `actors.lowlevel`, and adds the policy: which children restart, how often is too
often, how long to wait, what to do about each failure, and children started
and stopped on a running supervisor. Note: the import name ``supervision`` is
also used by an unrelated PyPI package; the two cannot share one environment.
"""

from ._backoff import Backoff as Backoff
from ._children import ChildCounts as ChildCounts
from ._children import ChildInfo as ChildInfo
from ._dynamic import DynamicSupervisor as DynamicSupervisor
from ._dynamic import count_children as count_children
from ._dynamic import delete_child as delete_child
from ._dynamic import restart_child as restart_child
from ._dynamic import start_child as start_child
from ._dynamic import terminate_child as terminate_child
from ._dynamic import which_children as which_children
from ._errors import ChildRunning as ChildRunning
from ._errors import ChildStartFailed as ChildStartFailed
from ._errors import TooManyChildren as TooManyChildren
from ._events import ChildFailed as ChildFailed
from ._events import ChildRestarted as ChildRestarted
from ._events import ChildStarted as ChildStarted
from ._events import ChildStopped as ChildStopped
from ._events import SupervisionEvent as SupervisionEvent
from ._events import SupervisorGaveUp as SupervisorGaveUp
from ._spec import ChildSpec as ChildSpec
from ._strategy import Decision as Decision
from ._strategy import OneForAll as OneForAll
from ._strategy import OneForOne as OneForOne
from ._strategy import RestForOne as RestForOne
from ._strategy import Strategy as Strategy
from ._supervisor import GetChildren as GetChildren
from ._supervisor import Supervisor as Supervisor
from ._supervisor import restart_count as restart_count

__all__ = [
    "Backoff",
    "ChildCounts",
    "ChildFailed",
    "ChildInfo",
    "ChildRestarted",
    "ChildRunning",
    "ChildSpec",
    "ChildStartFailed",
    "ChildStarted",
    "ChildStopped",
    "Decision",
    "DynamicSupervisor",
    "GetChildren",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Strategy",
    "SupervisionEvent",
    "Supervisor",
    "SupervisorGaveUp",
    "TooManyChildren",
    "count_children",
    "delete_child",
    "restart_child",
    "restart_count",
    "start_child",
    "terminate_child",
    "which_children",
]
