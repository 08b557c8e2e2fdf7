"""system.inspect() snapshots and log records that name the actor and trace."""

from __future__ import annotations

import logging

import pytest
import trio

from actors import Actor, ActorContextFilter, ActorSystem
from supervision import ChildSpec, OneForOne, Supervisor


class Sleepy(Actor):
    async def receive(self, message):
        if message == "boom":
            raise ValueError("boom")
        if message == "nap":
            await trio.sleep(10)
        return message


async def test_inspect_lists_actors_parent_first_with_state_mailbox_and_restarts(
    actor_system_autojump: ActorSystem,
) -> None:
    system = actor_system_autojump
    await system.spawn_tree(Supervisor(name="team", strategy=OneForOne(), children=[ChildSpec(Sleepy, name="w")]))
    idle = await system.spawn(Sleepy, name="idle")
    w = system.lookup("w")
    with pytest.raises(ValueError):
        await w.ask("boom")
    w.tell("nap")
    w.tell("queued")
    await trio.sleep(1)
    infos = {info.path: info for info in system.inspect()}
    assert list(infos) == ["/team", "/team/w", "/idle"]
    assert infos["/team"].children == 1 and infos["/team/w"].depth == 2
    worker = infos["/team/w"]
    assert (worker.state, worker.mailbox, worker.restarts) == ("handling", 1, 1)
    assert worker.last_error == "ValueError('boom')"
    assert infos["/idle"].state == "idle" and infos["/idle"].ref is idle


async def test_log_records_from_inside_an_actor_name_it_and_the_trace(
    actor_system: ActorSystem, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.agent")

    class Talker(Actor):
        async def receive(self, message):
            logger.warning("handling %s", message)
            return self.envelope.trace_id

    caplog.handler.addFilter(ActorContextFilter())
    talker = await actor_system.spawn(Talker, name="talker")
    with caplog.at_level(logging.WARNING, logger="tests.agent"):
        trace_id = await talker.ask("hello")
        logger.warning("outside")
    inside, outside = caplog.records[-2:]
    assert (inside.actor, inside.trace_id) == ("/talker", trace_id)
    assert (outside.actor, outside.trace_id) == ("-", "-")


@pytest.mark.allow_actor_failures(types=ValueError)
async def test_the_runtimes_own_failure_record_names_the_actor_and_the_failed_messages_trace(
    actor_system_autojump: ActorSystem, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged after the handler ended, it still carries both (no filter needed)."""
    sleepy = await actor_system_autojump.spawn(Sleepy, name="sleepy")
    reply = sleepy.ask_nowait("boom")
    with pytest.raises(ValueError):
        await reply
    failure = next(r for r in caplog.records if r.name == "actors" and "failed while handling" in r.getMessage())
    assert (failure.actor, failure.trace_id) == ("/sleepy", reply.envelope.trace_id)
    caplog.handler.addFilter(ActorContextFilter())  # and the filter keeps them
    (await actor_system_autojump.spawn(Sleepy, name="other")).tell("boom")  # (sleepy has stopped)
    await trio.sleep(1)
    told = [r for r in caplog.records if "failed while handling" in r.getMessage()][-1]
    assert told.actor == "/other" and isinstance(told.trace_id, int) and told.trace_id != reply.envelope.trace_id


async def test_supervision_and_dead_letter_records_name_their_actor_without_the_filter(
    actor_system_autojump: ActorSystem, caplog: pytest.LogCaptureFixture
) -> None:
    system = actor_system_autojump
    caplog.set_level(logging.DEBUG, logger="supervision")
    with caplog.at_level(logging.DEBUG, logger="actors"):
        await system.spawn_tree(Supervisor(name="team", strategy=OneForOne(), children=[ChildSpec(Sleepy, name="w")]))
        gone = await system.spawn(Sleepy, name="gone")
        await system.stop(gone)
        reply = system.lookup("w").ask_nowait("hello")
        assert await reply == "hello"
        gone.tell("late")
    started = next(r for r in caplog.records if "ChildStarted" in r.getMessage())
    assert (started.actor, started.trace_id) == ("/team", "-")
    letter = next(r for r in caplog.records if r.getMessage().startswith("dead letter to"))
    assert letter.actor == "/gone" and isinstance(letter.trace_id, int)
