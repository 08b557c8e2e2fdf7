"""The errors trio-actors raises: one class per meaning, all under `ActorError`.

Each message names the actor and the message type involved, and says what the
caller can do about it.
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "ActorNameTaken",
    "ActorNotFound",
    "ActorStopped",
    "AskAbandoned",
    "AskTimeout",
    "DeadlockError",
    "EscalatedFailure",
    "MailboxFull",
    "MessageTimeout",
    "UnhandledMessage",
    "WorkerProcessError",
]


class ActorError(Exception):
    """Base class of every error raised by trio-actors itself."""


class ActorStopped(ActorError):
    """The actor has stopped (or is stopping) and cannot answer.

    Raised by `ActorRef.ask` / `ActorRef.send` to a stopped actor, and delivered to
    every ask still queued in a mailbox when its actor stops.
    """


class ActorNotFound(ActorError, LookupError):
    """`ActorSystem.lookup` found no living actor under that name or path."""


class ActorNameTaken(ActorError, ValueError):
    """`spawn(..., name=...)` used a name that a living actor already has."""


class AskTimeout(ActorError, TimeoutError):
    """An ask got no reply before its deadline.

    The message is not withdrawn: the actor may still handle it later, and its
    late reply is then recorded in the system's dead letters.
    """


class MessageTimeout(AskTimeout):
    """A handler ran longer than its ``message_timeout`` and was cancelled.

    The asker of that message gets this error (an `AskTimeout`, so also a
    `TimeoutError`); the actor counts it as a failure, so its supervisor
    restarts it (or, without a supervisor, it stops).
    """


class AskAbandoned(AskTimeout):
    """The asker of the message being handled gave up: recorded, not a failure.

    When an ask's deadline passes or its asker stops waiting (a cancel scope,
    a cancelled `gather`, an ask_stream left early), the handler serving it is
    cancelled at its next checkpoint (it sees ``trio.Cancelled``; a shielded
    section finishes) and the runtime records the message in dead letters with
    this error; an ask given up before it was dequeued is dropped the same way.
    It is raised as such inside the handler by a worker-thread or process wait
    that outlived the ask, and by `ReplyStream.send` once the reader has gone.
    Let it propagate: the actor goes on with its next message.
    """


class MailboxFull(ActorError):
    """`tell` found the bounded mailbox full; the message was not enqueued.

    Use ``await ref.send(message)`` to wait for space instead (backpressure).
    """


class UnhandledMessage(ActorError):
    """The actor's `receive` does not handle this message type.

    Raise it from `receive` (or call `Actor.unhandled`) for a message you do not
    understand: the asker gets this error, a told message goes to dead letters,
    and the actor keeps running (it is not a failure).
    """


class DeadlockError(ActorError):
    """An ask would wait forever: an actor asked itself, or asks form a cycle.

    Raised at once instead of hanging until the timeout. Use ``tell`` (and reply
    with another ``tell``) or ``defer_reply()`` to break the cycle.
    """


class EscalatedFailure(ActorError):
    """A failure escalated past the root supervisor.

    Raised out of ``async with open_actor_system()`` as a single exception,
    never a bare ExceptionGroup. ``supervisor`` and ``child`` name the
    supervisor that gave up and the child that kept failing; ``error`` is the
    last error that child raised. ``__cause__`` is the original error at the
    bottom of the escalation chain, the one your own code raised.
    """

    def __init__(
        self,
        message: str,
        *,
        supervisor: str,
        child: str,
        error: BaseException,
    ) -> None:
        super().__init__(message)
        self.supervisor = supervisor
        self.child = child
        self.error = error

    @property
    def root_cause(self) -> BaseException:
        """The first error of the chain: what a user's handler raised."""
        error: BaseException = self.error
        while isinstance(error, EscalatedFailure):
            error = error.error
        return error


class WorkerProcessError(ActorError):
    """A worker process of `Actor.run_in_process` died before returning.

    The usual cause: trio-parallel's workers re-import the main module, so a
    script must guard its entry point with ``if __name__ == "__main__":``, and
    the function must be importable (defined at module level).
    """
