"""A team to watch live: workers whose model answers are sometimes garbled, and restarts.

Made for the command line's live view of the tree:

    python -m actors run examples.live_team:main

shows every actor with its state, mailbox depth, restarts and last error, redrawn as the
workers crash now and then and their supervisor restarts them. ``main(system)`` sends a few
rounds of work and returns (the view then prints a final snapshot); Ctrl-C stops it earlier.
On its own, ``python -m examples.live_team`` runs the same rounds and prints a summary.
"""

import logging

import attrs
import trio

from actors import Actor, ActorSystem, open_actor_system
from supervision import Backoff, ChildSpec, OneForAll, OneForOne, Supervisor, restart_count

ROUNDS = 12  # rounds of work: about 0.15 s each
WORKERS = ("worker-1", "worker-2", "worker-3")


@attrs.frozen
class Step:
    number: int


class Planner(Actor):
    async def receive(self, message: Step) -> str:
        return f"step {message.number}"


class Tool(Actor):
    async def receive(self, message: str) -> str:
        await trio.sleep(0.02)  # a tool call takes a moment: the view catches it "handling"
        return f"{self.ref.name}: {message}"


class Worker(Actor):
    async def receive(self, message: Step) -> str:
        if message.number % 7 == int(self.ref.name[-1]):  # now and then, a garbled model answer
            raise ValueError(f"garbled answer on step {message.number}")
        tool = self.system.lookup("search" if message.number % 2 else "calculator")
        return await tool.ask(f"step {message.number}", timeout=1)


TREE = Supervisor(
    name="team",
    strategy=OneForOne(max_restarts=50, within=10.0, backoff=Backoff(initial=0.05, maximum=0.2, jitter=0)),
    children=[
        ChildSpec(Planner, name="planner"),
        Supervisor(
            name="tools",
            strategy=OneForAll(),
            children=[ChildSpec(Tool, name="search"), ChildSpec(Tool, name="calculator")],
        ),
        *[ChildSpec(Worker, name=name) for name in WORKERS],
    ],
)


async def main(system: ActorSystem) -> None:
    """Start the team and keep it busy for ``ROUNDS`` rounds (what ``python -m actors run`` calls)."""
    logging.getLogger("actors").setLevel(logging.CRITICAL)  # the view shows the errors
    await system.spawn_tree(TREE)
    workers = [system.lookup(name) for name in WORKERS]
    for number in range(1, ROUNDS * len(WORKERS) + 1):
        workers[number % len(WORKERS)].tell(Step(number))  # told: a crash is the supervisor's business
        if number % len(WORKERS) == 0:
            await trio.sleep(0.15)
    await trio.sleep(0.3)  # let the last restarts happen before the final snapshot


async def run_alone() -> None:
    async with open_actor_system() as system:
        await main(system)
        restarts = {name: restart_count(system.lookup(name)) for name in WORKERS}
        print(f"{ROUNDS} rounds done; restarts: {restarts}; {system.dead_letters.total} dead letters")


if __name__ == "__main__":
    trio.run(run_alone)
