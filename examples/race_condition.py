"""The lost-update race: a shared counter loses increments, an actor-owned counter never does.

Each of 100 concurrent tasks adds one to a counter by reading it, reaching a
switch point (``await``), then writing back what it read plus one. With the
counter in shared state, every task reads before any task writes, so their
updates overwrite each other. With the counter owned by an actor, the same
read-await-write runs inside the actor, one message at a time, so each increment
sees the last one's result: no update is lost, and no lock is needed.
Run: ``python -m examples.race_condition``.
"""

import attrs
import trio
import trio.lowlevel

from actors import Actor, open_actor_system

TASKS = 100  # concurrent "agents", each adding one


@attrs.frozen
class Increment:
    pass


@attrs.frozen
class Get:
    pass


async def shared_increment(counter: dict[str, int]) -> None:
    value = counter["n"]  # read
    await trio.lowlevel.checkpoint()  # switch point: every other ready task runs here
    counter["n"] = value + 1  # write back a value that may be stale by now


class Counter(Actor):
    """Owns its count; handles one message at a time, even across an await."""

    async def on_start(self) -> None:
        self.n = 0

    async def receive(self, message):
        match message:
            case Increment():
                value = self.n  # the same read ...
                await trio.lowlevel.checkpoint()  # ... the same switch point ...
                self.n = value + 1  # ... the same write: but no other handler ran meanwhile
                return self.n
            case Get():
                return self.n


async def ask_increment(counter) -> None:
    await counter.ask(Increment(), timeout=5)


async def main() -> None:
    # 1. Shared state: 100 tasks in one nursery update a plain dict.
    counter = {"n": 0}
    async with trio.open_nursery() as nursery:
        for _ in range(TASKS):
            nursery.start_soon(shared_increment, counter)
    # trio starts all 100 tasks in one scheduling batch: each reads 0, then
    # yields at the switch point; only then does each write 0 + 1.
    lost = TASKS - counter["n"]
    assert lost > 0, "the race should lose updates"
    print(f"shared counter: expected {TASKS}, got {counter['n']} -> {lost} updates were lost")

    # 2. The same 100 concurrent tasks, but the count lives in an actor:
    #    they send Increment messages, and the actor handles them in turn.
    async with open_actor_system() as system:
        actor_counter = await system.spawn(Counter, name="counter")
        async with trio.open_nursery() as nursery:
            for _ in range(TASKS):
                nursery.start_soon(ask_increment, actor_counter)
        total = await actor_counter.ask(Get(), timeout=5)
    assert total == TASKS, "the actor serialises every increment"
    print(f"actor counter: expected {TASKS}, got {total} -> no update lost, no lock needed")


if __name__ == "__main__":
    trio.run(main)
