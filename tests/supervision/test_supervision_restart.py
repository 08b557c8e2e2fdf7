"""A restart: fresh state, same ref and mailbox, the failed message accounted for.

Also the restart types (permanent, transient, temporary), message_timeout,
shutdown_timeout from a ChildSpec, and plain (unsupervised) actors.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from supkit import Add, Boom, Crash, Echo, Get, Hang, StopSelf, Worker, handled, lifecycle, restart_reasons, settle

from actors import ActorError, ActorNotFound, ActorStopped, ActorSystem, AskTimeout, MessageTimeout, open_actor_system
from supervision import ChildSpec, GetChildren, OneForOne, Supervisor, restart_count

# These tests crash their actors on purpose: the test kit fails a test for any actor
# failure nobody saw, unless the test allows it.
pytestmark = pytest.mark.allow_actor_failures


async def spawn_one(system: ActorSystem, log: list[Any], **spec: Any) -> Any:
    spec.setdefault("name", "w")
    tree = Supervisor(
        name="sup",
        strategy=OneForOne(max_restarts=100, within=1.0),
        children=[ChildSpec(Worker, log=log, **spec)],
    )
    await system.spawn_tree(tree)
    return system.lookup(spec["name"])


# -- state, identity, order ---------------------------------------------------


async def test_restart_resets_state_to_the_constructor_value(actor_system: ActorSystem) -> None:
    ref = await spawn_one(actor_system, [], start=10)
    assert await ref.ask(Add(5)) == 15
    with pytest.raises(Boom):
        await ref.ask(Crash())
    assert await ref.ask(Get()) == 10
    assert restart_count(ref) == 1


async def test_ref_and_lookup_survive_a_restart(actor_system: ActorSystem) -> None:
    ref = await spawn_one(actor_system, [])
    with pytest.raises(Boom):
        await ref.ask(Crash())
    assert actor_system.lookup("w") is ref
    assert actor_system.lookup("/sup/w") is ref
    assert ref.is_alive
    assert await ref.ask(Echo("still here")) == "still here"
    assert await actor_system.lookup("sup").ask(GetChildren()) == [ref]


async def test_messages_queued_behind_the_crash_are_handled_after_the_restart_in_order(
    actor_system: ActorSystem,
) -> None:
    log: list[Any] = []
    ref = await spawn_one(actor_system, log, start=100)
    # All sent before the actor runs at all: the crash is in the middle of a full mailbox.
    ref.tell(Add(1))
    ref.tell(Add(2))
    ref.tell(Crash("mid"))
    ref.tell(Add(3))
    reply = ref.ask_nowait(Add(4))
    ref.tell(Add(5))
    assert await reply == 100 + 3 + 4  # fresh state after the restart, then 3 and 4
    assert await ref.ask(Get()) == 100 + 3 + 4 + 5
    assert handled(log) == [Add(1), Add(2), Add(3), Add(4), Add(5)]
    assert lifecycle(log) == [("start", "w"), ("stop", "w"), ("restart", "w"), ("start", "w")]


async def test_the_failed_message_goes_to_dead_letters_and_its_asker_gets_the_error(
    actor_system: ActorSystem,
) -> None:
    ref = await spawn_one(actor_system, [])
    actor_system.dead_letters.clear()
    with pytest.raises(Boom, match=r"^w crashed on 'asked'$") as info:
        await ref.ask(Crash("asked"))
    ref.tell(Crash("told"))
    assert await ref.ask(Echo(1)) == 1
    letters = list(actor_system.dead_letters)
    assert [letter.message for letter in letters] == [Crash("asked"), Crash("told")]
    assert all(letter.recipient is ref for letter in letters)
    assert letters[0].error is info.value
    assert isinstance(letters[1].error, Boom)
    assert restart_count(ref) == 2


async def test_on_restart_gets_the_error_and_runs_before_on_start(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    ref = await spawn_one(actor_system, log)
    log.clear()
    with pytest.raises(Boom) as info:
        await ref.ask(Crash())
    await ref.ask(Get())
    assert lifecycle(log) == [("stop", "w"), ("restart", "w"), ("start", "w")]
    assert restart_reasons(log) == [info.value]


async def test_plain_spawned_actor_is_not_restarted_it_stops(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    ref = await actor_system.spawn(Worker, log, name="plain")
    with pytest.raises(Boom):
        await ref.ask(Crash())
    await settle()
    assert not ref.is_alive
    assert restart_count(ref) == 0
    assert lifecycle(log) == [("start", "plain"), ("stop", "plain")]
    with pytest.raises(ActorStopped):
        await ref.ask(Get())
    with pytest.raises(ActorNotFound):
        actor_system.lookup("plain")


# -- restart types --------------------------------------------------------------


async def test_transient_child_is_restarted_after_a_failure(actor_system: ActorSystem) -> None:
    ref = await spawn_one(actor_system, [], restart="transient", start=1)
    await ref.ask(Add(1))
    with pytest.raises(Boom):
        await ref.ask(Crash())
    assert await ref.ask(Get()) == 1
    assert restart_count(ref) == 1


async def test_transient_child_is_not_restarted_after_a_normal_stop(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    ref = await spawn_one(actor_system, log, restart="transient")
    assert await ref.ask(StopSelf()) == "stopping"
    await settle()
    assert not ref.is_alive
    assert restart_count(ref) == 0
    assert lifecycle(log) == [("start", "w"), ("stop", "w")]
    with pytest.raises(ActorNotFound):
        actor_system.lookup("w")
    assert await actor_system.lookup("sup").ask(GetChildren()) == []


async def test_temporary_child_is_never_restarted(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    ref = await spawn_one(actor_system, log, restart="temporary")
    ref.tell(Crash())
    ref.tell(Echo("after"))  # queued behind the crash: the actor is gone, so a dead letter
    await settle()
    assert not ref.is_alive
    assert restart_count(ref) == 0
    assert lifecycle(log) == [("start", "w"), ("stop", "w")]
    assert [letter.message for letter in actor_system.dead_letters] == [Crash(), Echo("after")]
    with pytest.raises(ActorStopped):
        await ref.ask(Get())
    assert await actor_system.lookup("sup").ask(GetChildren()) == []


async def test_temporary_child_is_not_restarted_after_a_normal_stop_either(actor_system: ActorSystem) -> None:
    ref = await spawn_one(actor_system, [], restart="temporary")
    await ref.ask(StopSelf())
    await settle()
    assert not ref.is_alive


async def test_permanent_child_is_restarted_even_after_a_normal_stop(actor_system: ActorSystem) -> None:
    log: list[Any] = []
    ref = await spawn_one(actor_system, log, start=7)  # restart="permanent" is the default
    await ref.ask(Add(1))
    assert await ref.ask(StopSelf()) == "stopping"
    assert await ref.ask(Get()) == 7
    assert ref.is_alive
    assert actor_system.lookup("w") is ref
    assert restart_count(ref) == 1
    assert lifecycle(log) == [("start", "w"), ("stop", "w"), ("restart", "w"), ("start", "w")]
    [reason] = restart_reasons(log)
    assert isinstance(reason, ActorError)
    assert str(reason) == "actor 'w' exited normally and was restarted"


# -- message_timeout ------------------------------------------------------------


async def test_hung_handler_is_cancelled_at_message_timeout_and_the_actor_restarted(
    actor_system_autojump: ActorSystem,
) -> None:
    system = actor_system_autojump
    log: list[Any] = []
    ref = await spawn_one(system, log, message_timeout=2.5)
    start = trio.current_time()
    with pytest.raises(
        MessageTimeout,
        match=r"^actor 'w' took longer than its message_timeout of 2\.5 s to handle Hang; ",
    ) as info:
        await ref.ask(Hang(), timeout=60)
    assert trio.current_time() - start == pytest.approx(2.5)
    assert isinstance(info.value, AskTimeout) and isinstance(info.value, TimeoutError)
    assert await ref.ask(Echo("next")) == "next"
    assert restart_count(ref) == 1
    assert [letter.message for letter in system.dead_letters] == [Hang()]
    assert [entry[0] for entry in log] == ["start", "hang", "stop", "restart", "start", "handled"]
    assert [type(reason) for reason in restart_reasons(log)] == [MessageTimeout]


async def test_message_timeout_limits_each_message_not_the_idle_time(actor_system_autojump: ActorSystem) -> None:
    ref = await spawn_one(actor_system_autojump, [], message_timeout=1.0)
    await trio.sleep(10)  # idle far past the limit: not a failure
    assert await ref.ask(Hang(0.9)) == "woke"
    assert await ref.ask(Hang(0.9)) == "woke"
    assert restart_count(ref) == 0


# -- shutdown_timeout ------------------------------------------------------------


class HangsInOnStop(Worker):
    async def on_stop(self) -> None:
        self.log.append(("stop", self.who, trio.current_time()))
        try:
            await trio.sleep_forever()
        finally:
            self.log.append(("cut off", self.who, trio.current_time()))


async def test_child_whose_on_stop_hangs_is_cut_off_after_its_shutdown_timeout(autojump_clock: Any) -> None:
    log: list[Any] = []
    # The system default (60 s) must not apply: the ChildSpec's 3 s does.
    async with open_actor_system(shutdown_timeout=60) as system:
        tree = Supervisor(
            name="sup",
            children=[
                ChildSpec(Worker, name="before", log=log),
                ChildSpec(HangsInOnStop, name="stuck", log=log, shutdown_timeout=3.0),
                ChildSpec(Worker, name="after", log=log),
            ],
        )
        await system.spawn_tree(tree)
        closing = trio.current_time()
    assert trio.current_time() - closing == pytest.approx(3.0)
    assert [entry[:2] for entry in log if entry[0] != "start"] == [
        ("stop", "after"),
        ("stop", "stuck"),
        ("cut off", "stuck"),
        ("stop", "before"),
    ]
    cut = next(entry for entry in log if entry[0] == "cut off")
    assert cut[2] - closing == pytest.approx(3.0)


async def test_shutdown_timeout_also_bounds_a_running_handler_at_close(autojump_clock: Any) -> None:
    log: list[Any] = []
    async with open_actor_system(shutdown_timeout=60) as system:
        tree = Supervisor(name="sup", children=[ChildSpec(Worker, name="busy", log=log, shutdown_timeout=2.0)])
        await system.spawn_tree(tree)
        reply = system.lookup("busy").ask_nowait(Hang(), timeout=1000)
        await settle()
        closing = trio.current_time()
    assert trio.current_time() - closing == pytest.approx(2.0)
    with pytest.raises(ActorStopped):
        await reply


@pytest.mark.parametrize(
    ("system_timeout", "spec_timeout", "waited"), [(0.5, None, 0.5), (0.5, 2.0, 2.0), (None, None, 5.0)]
)
async def test_a_childs_shutdown_timeout_defaults_to_the_systems(
    autojump_clock: Any, system_timeout: float | None, spec_timeout: float | None, waited: float
) -> None:
    """ChildSpec(shutdown_timeout=None) takes open_actor_system's (5 s unless set there)."""
    config = {} if system_timeout is None else {"shutdown_timeout": system_timeout}
    async with open_actor_system(**config) as system:
        await system.spawn_tree(
            Supervisor(name="sup", children=[ChildSpec(Worker, name="w", log=[], shutdown_timeout=spec_timeout)])
        )
        system.lookup("w").tell(Hang())
        await trio.sleep(1)
        started = trio.current_time()
        await system.stop(system.lookup("w"))
        assert trio.current_time() - started == waited


async def test_a_child_spawned_again_by_a_restarted_parent_takes_over_the_old_ref(autojump_clock: Any) -> None:
    """A ref is an address: the kid a parent's new incarnation spawns under the same name is
    reached by refs handed out before the restart (with fresh state); one not spawned again
    stays stopped."""
    from actors import Actor

    class Parent(Actor):
        async def on_start(self) -> None:
            self.kid = await self.spawn(Worker, log=[], name="kid")
            if not hasattr(type(self), "spawned_once"):
                type(self).spawned_once = True
                self.extra = await self.spawn(Worker, log=[], name="extra")

        async def receive(self, message: Any) -> Any:
            if isinstance(message, Crash):
                raise Boom("parent crashed")
            return self.kid, getattr(self, "extra", None)

    async with open_actor_system() as system:
        await system.spawn_tree(Supervisor(name="sup", children=[ChildSpec(Parent, name="p")]))
        parent = system.lookup("p")
        kid, extra = await parent.ask("refs?")
        kid.tell(Add(5))
        assert await kid.ask(Get()) == 5
        with pytest.raises(Boom):
            await parent.ask(Crash())
        new_kid, _ = await parent.ask("refs?")
        assert new_kid is kid and system.lookup("kid") is kid and kid.is_alive
        assert await kid.ask(Get()) == 0  # a fresh kid, through the old ref
        assert not extra.is_alive
        with pytest.raises(ActorStopped):
            await extra.ask(Get())
