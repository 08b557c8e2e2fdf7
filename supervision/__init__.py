"""supervision: supervisors, restart strategies, child specs, restart intensity, backoff.

Builds on the `actors` runtime (whose cells keep an actor's mailbox and ref
across restarts) through its public seam, `actors.lowlevel`, and adds the
policy: which children restart, how often is too often, and how long to wait. Note: the import name ``supervision`` is also used
by an unrelated PyPI package; the two cannot share one environment.
"""

from ._backoff import Backoff as Backoff
from ._events import ChildFailed as ChildFailed
from ._events import ChildRestarted as ChildRestarted
from ._events import ChildStarted as ChildStarted
from ._events import ChildStopped as ChildStopped
from ._events import SupervisionEvent as SupervisionEvent
from ._events import SupervisorGaveUp as SupervisorGaveUp
from ._spec import ChildSpec as ChildSpec
from ._strategy import OneForAll as OneForAll
from ._strategy import OneForOne as OneForOne
from ._strategy import RestForOne as RestForOne
from ._strategy import Strategy as Strategy
from ._supervisor import GetChildren as GetChildren
from ._supervisor import Supervisor as Supervisor
from ._supervisor import restart_count as restart_count

__all__ = [
    "Backoff",
    "ChildFailed",
    "ChildRestarted",
    "ChildSpec",
    "ChildStarted",
    "ChildStopped",
    "GetChildren",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Strategy",
    "SupervisionEvent",
    "Supervisor",
    "SupervisorGaveUp",
    "restart_count",
]
