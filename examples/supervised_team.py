"""A supervised team of agents that crash and hang at random, and a tree that recovers.

Workers fail on purpose (a raised error, or a handler stuck past its
message_timeout); the tools subtree fails too. The supervisors restart them with
backoff, the driver keeps using the same refs, and a logger actor prints every
supervision event. The random choices are seeded, so every run prints the same
story. Run: ``python -m examples.supervised_team``.
"""

import logging
import random

import attrs
import trio

from actors import Actor, AskTimeout, MessageTimeout, open_actor_system
from supervision import (
    Backoff,
    ChildFailed,
    ChildRestarted,
    ChildSpec,
    ChildStarted,
    OneForAll,
    OneForOne,
    SupervisionEvent,
    Supervisor,
    restart_count,
)

SEED = 67  # change it for another story; the same seed always tells the same one
MESSAGE_TIMEOUT = 0.2  # seconds a worker's handler may run
WORKERS = ("worker-1", "worker-2", "worker-3")
MODES = ["ok"] * 5 + ["crash", "crash", "hang", "tool-crash"]  # weighted: mostly fine


@attrs.frozen
class Plan:
    goal: str
    steps: int


@attrs.frozen
class Task:
    step: str
    mode: str  # "ok", "crash", "hang" or "tool-crash": chosen by the driver's seeded random


@attrs.frozen
class Use:
    step: str
    broken: bool = False


@attrs.frozen
class Ping:
    pass


class Planner(Actor):
    async def receive(self, message):
        match message:
            case Plan(goal, steps):
                return [f"{goal} #{i}" for i in range(1, steps + 1)]


class Tool(Actor):
    async def receive(self, message):
        match message:
            case Use(step, broken=True):
                raise RuntimeError(f"{self.ref.name} index corrupt")
            case Use(step):
                return f"{self.ref.name}({step!r})"
            case Ping():
                return "pong"


class Worker(Actor):
    async def on_start(self) -> None:
        self.done = 0  # private state: a restart builds a fresh instance, so it starts again at 0

    async def receive(self, message):
        match message:
            case Task(step, "crash"):
                await trio.sleep(0.01)
                raise ValueError("garbled answer")  # a failure: the supervisor restarts this worker
            case Task(step, "hang"):
                await trio.sleep(10)  # stuck: cancelled after message_timeout, counts as a failure
            case Task(step, mode):
                # Alternate the tools, found by name (a name, like a ref, outlives restarts).
                tool = self.system.lookup(("search", "calculator")[self.done % 2])
                try:
                    result = await tool.ask(Use(step, broken=mode == "tool-crash"), timeout=1)
                except RuntimeError as exc:
                    return f"step skipped, tool failed: {exc}"  # handled here: the worker stays up
                self.done += 1
                return f"{result} ok ({self.done} done since last start)"
            case Ping():
                return "pong"


def describe(error: BaseException | None) -> str:
    if isinstance(error, MessageTimeout):  # its message is long; a short form fits a log line
        return f"MessageTimeout (handler ran past {MESSAGE_TIMEOUT:g} s)"
    return repr(error)


class Logger(Actor):
    async def receive(self, message):
        match message:
            case ChildStarted(_, child):
                print(f"  started  {child}")
            case ChildFailed(_, child, error):
                print(f"  failed   {child}: {describe(error)}")
            case ChildRestarted(_, child, error, restarts, delay):
                print(f"  restart  {child} after {describe(error)} (restart #{restarts}, delay {delay:g} s)")
            case Ping():
                return "flushed"  # every event told before this Ping has been printed


TREE = Supervisor(
    name="team",
    strategy=OneForOne(max_restarts=20, within=10.0, backoff=Backoff(initial=0.05, maximum=0.5, jitter=0)),
    children=[
        ChildSpec(Planner, name="planner"),
        # Tools start before the workers that use them; one tool failing restarts both.
        Supervisor(
            name="tools",
            strategy=OneForAll(),
            children=[ChildSpec(Tool, name="search"), ChildSpec(Tool, name="calculator")],
        ),
        *[ChildSpec(Worker, name=name, restart="permanent", message_timeout=MESSAGE_TIMEOUT) for name in WORKERS],
    ],
)


async def main() -> None:
    # The logger actor reports failures; quiet the runtime's own error log (with tracebacks).
    logging.getLogger("actors").setLevel(logging.CRITICAL)
    rng = random.Random(SEED)
    async with open_actor_system() as system:
        # 1. Subscribe the logger before the tree starts, so it sees every event.
        logger = await system.spawn(Logger, name="logger")
        system.subscribe(logger, SupervisionEvent)
        print("starting the tree:")
        await system.spawn_tree(TREE)
        await logger.ask(Ping(), timeout=1)
        names = ("planner", "tools", "search", "calculator", *WORKERS)
        refs = {name: system.lookup(name) for name in names}  # held for the whole run

        # 2. The planner splits the goal into steps.
        steps = await refs["planner"].ask(Plan("review", 20), timeout=1)
        counts = {"answered": 0, "crashed": 0, "timed out": 0}
        for step in steps:
            # 3. Seeded choices made here, never by timing: same story every run.
            name, mode = rng.choice(WORKERS), rng.choice(MODES)
            print(f"{step:<10} -> {name} ({mode})")
            try:
                outcome = f"  answer   {await refs[name].ask(Task(step, mode), timeout=2)}"
                counts["answered"] += 1
            except ValueError as exc:
                counts["crashed"] += 1
                outcome = f"  error    {exc!r}"
            except AskTimeout as exc:  # a MessageTimeout (the worker hung) is an AskTimeout too
                counts["timed out"] += 1
                outcome = f"  error    {describe(exc)}"
            # 4. Wait until everyone is back (restarts done), then until the logger has
            #    printed every event so far: output order never depends on scheduling.
            for ref in (refs[name], refs["search"], refs["calculator"]):
                await ref.ask(Ping(), timeout=2)
            await logger.ask(Ping(), timeout=1)
            print(outcome)

        # 5. Summary: the same refs worked throughout; the failed messages are dead letters.
        print(
            f"summary: {len(steps)} tasks sent, {counts['answered']} answered, "
            f"{counts['crashed']} crashed, {counts['timed out']} timed out"
        )
        print("restarts: " + ", ".join(f"{name}={restart_count(ref)}" for name, ref in refs.items()))
        print(f"dead letters: {len(system.dead_letters)}")
        alive = all(ref.is_alive for ref in refs.values())
        print(f"all {len(refs)} permanent agents alive: {alive}")


if __name__ == "__main__":
    trio.run(main)
