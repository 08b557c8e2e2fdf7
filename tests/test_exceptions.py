"""Errors: one class per meaning, and messages that name the actor, the message type, and
what to do next."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from actors import (
    Actor,
    ActorError,
    ActorStopped,
    AskTimeout,
    DeadlockError,
    EscalatedFailure,
    MailboxFull,
    MessageTimeout,
    UnhandledMessage,
)


@attrs.frozen
class FetchReport:
    quarter: str


class Retriever(Actor):
    def __init__(self, gate: trio.Event | None = None) -> None:
        self.gate = gate

    async def receive(self, message: object) -> object:
        if message == "block":
            assert self.gate is not None
            await self.gate.wait()
            return None
        if message == "self":
            return await self.ref.ask(FetchReport("Q1"))
        if isinstance(message, FetchReport) and message.quarter == "slow":
            await trio.sleep(10)
        return self.unhandled(message) if isinstance(message, str) else "report"


async def test_actor_stopped_names_the_actor_and_the_message_type_and_the_way_out(actor_system) -> None:
    ref = await actor_system.spawn(Retriever, name="retriever")
    await actor_system.stop(ref)
    with pytest.raises(ActorStopped) as info:
        await ref.ask(FetchReport("Q4"))
    assert str(info.value) == (
        "actor 'retriever' has stopped and cannot receive FetchReport; it has no supervisor to "
        "restart it: spawn it again if you need it (watch an actor to learn when it stops)"
    )


async def test_mailbox_full_names_the_actor_the_message_type_and_send(actor_system) -> None:
    gate = trio.Event()
    ref = await actor_system.spawn(Retriever, gate, name="retriever", mailbox_size=1)
    ref.tell("block")
    await trio.testing.wait_all_tasks_blocked()
    ref.tell(FetchReport("Q1"))
    with pytest.raises(MailboxFull, match=r"actor 'retriever'.*FetchReport.*await ref\.send\(message\)"):
        ref.tell(FetchReport("Q2"))
    gate.set()


async def test_ask_timeout_names_the_actor_and_the_message_type(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Retriever, name="retriever")
    with pytest.raises(
        AskTimeout, match=r"^actor 'retriever' did not answer FetchReport within 1 s; .*raise the timeout"
    ):
        await ref.ask(FetchReport("slow"), timeout=1)


async def test_unhandled_message_names_the_actor_its_class_and_the_message_type(actor_system) -> None:
    ref = await actor_system.spawn(Retriever, name="retriever")
    with pytest.raises(
        UnhandledMessage, match=r"^actor 'retriever' \(Retriever\) does not handle str messages; add a case"
    ):
        await ref.ask("what is this")


async def test_deadlock_error_names_the_actor_the_message_type_and_the_fix(actor_system_autojump) -> None:
    ref = await actor_system_autojump.spawn(Retriever, name="retriever")
    with pytest.raises(DeadlockError, match=r"^actor 'retriever' asked itself FetchReport .*self\.ref\.tell"):
        await ref.ask("self")


@pytest.mark.allow_actor_failures(types=ZeroDivisionError)
async def test_handler_failure_dead_letter_names_the_actor_and_the_error(actor_system) -> None:
    class Failing(Actor):
        async def receive(self, message: object) -> object:
            raise ZeroDivisionError("division by zero")

    ref = await actor_system.spawn(Failing, name="failing")
    ref.tell(FetchReport("Q1"))
    with trio.fail_after(5):
        while ref.is_alive:
            await trio.testing.wait_all_tasks_blocked()
    [letter] = list(actor_system.dead_letters)
    assert letter.message == FetchReport("Q1")
    assert letter.reason == "handler of 'failing' failed with ZeroDivisionError('division by zero')"
    assert isinstance(letter.error, ZeroDivisionError)


def test_message_timeout_is_an_ask_timeout_and_a_timeout_error() -> None:
    assert issubclass(MessageTimeout, AskTimeout)
    assert issubclass(MessageTimeout, TimeoutError)
    assert issubclass(MessageTimeout, ActorError)


def test_escalated_failure_carries_supervisor_child_and_error() -> None:
    original = ValueError("bad input")
    inner = EscalatedFailure("inner gave up", supervisor="tools", child="worker", error=original)
    outer = EscalatedFailure("outer gave up", supervisor="team", child="tools", error=inner)
    assert (outer.supervisor, outer.child, outer.error) == ("team", "tools", inner)
    assert outer.root_cause is original
    assert inner.root_cause is original
    assert str(outer) == "outer gave up"


@pytest.mark.parametrize(
    "cls", [ActorError, ActorStopped, AskTimeout, DeadlockError, MailboxFull, UnhandledMessage, MessageTimeout]
)
def test_every_error_class_documents_when_it_is_raised(cls: type[BaseException]) -> None:
    assert cls.__doc__ and len(cls.__doc__.strip()) > 20
