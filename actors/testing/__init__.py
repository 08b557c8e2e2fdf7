"""actors.testing: the test kit (pytest fixtures; probes and hypothesis strategies come later)."""

from ._plugin import actor_system as actor_system
from ._plugin import actor_system_autojump as actor_system_autojump

__all__ = ["actor_system", "actor_system_autojump"]
