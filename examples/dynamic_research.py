"""One research agent per question, started on demand under a DynamicSupervisor.

Questions arrive at a front desk (here: ``main``). For each one the desk starts
a fresh research agent with ``start_child``, asks it for an answer, and the
agent ends once it has answered: it leaves nothing behind. The supervisor holds
at most ``MAX_AGENTS`` agents at once; a question that finds it full waits for
an agent to finish.

Agents fail in two ways, and a ``decide`` function on the strategy tells them
apart (Akka's decider):

- the model answers something malformed: the agent itself is fine, so it is
  RESUMEd (same instance, same state); the desk asks again;
- the connection to the model drops: the agent is RESTARTed (a fresh instance,
  which would reconnect); the desk asks again, and the question waits in the
  agent's mailbox across the restart.

The faults are scripted (here: question 2's first answer is malformed, question
3's first call loses its connection), so every run tells the same story. It
runs offline on the deterministic model stand-in; set TRIO_ACTORS_MODEL_URL to
use a real OpenAI-compatible model (see examples/_model.py).
Run: ``python -m examples.dynamic_research``.
"""

import logging

import attrs
import trio

from actors import Actor, open_actor_system
from supervision import (
    Backoff,
    ChildSpec,
    Decision,
    DynamicSupervisor,
    OneForOne,
    TooManyChildren,
    count_children,
    restart_count,
    start_child,
    which_children,
)

from ._model import Model, ModelError, get_model

QUESTIONS = (  # each one a topic to research
    "keeping an agent's state private",
    "slow tools in worker threads",
    "supervisors for agents that crash",
    "tracing one conversation across agents",
)
MAX_AGENTS = 3  # agents alive at once
# (question number, model call number) -> what goes wrong with that call
FAULTS = {(2, 1): "malformed", (3, 1): "connection"}
ASK_TIMEOUT = 30.0  # seconds the desk waits for one answer (a real model can be slow)


class MalformedAnswer(Exception):
    """The model's answer could not be used (here: it was not a sentence)."""


@attrs.frozen
class Research:  # desk -> agent (ask; answered with the agent's answer)
    pass


@attrs.frozen
class GiveUp:  # desk -> agent (ask): give up on this question and end
    pass


class FlakyModel:
    """The model behind a flaky network: fails on the scripted (question, call) pairs.

    Async, like the model it wraps: the agents await it in trio's thread, so its
    call counter needs no lock.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.calls: dict[int, int] = {}

    async def complete(self, number: int, prompt: str) -> str:
        self.calls[number] = call = self.calls.get(number, 0) + 1
        fault = FAULTS.get((number, call))
        if fault == "connection":
            raise ConnectionResetError("the model server reset the connection")
        answer = await self.model.complete(prompt)
        return "{{ <unparseable model output> " if fault == "malformed" else answer


class Researcher(Actor):
    """Answers one question, then ends (``self.stop()``): one agent per question."""

    def __init__(self, number: int, question: str, model: FlakyModel) -> None:
        self.number = number
        self.question = question
        self.model = model
        self.attempts = 0  # private state: kept by a RESUME, reset by a RESTART

    async def receive(self, message):
        match message:
            case Research():
                self.attempts += 1
                prompt = f"Research this and answer in two sentences: {self.question}"
                answer = await self.model.complete(self.number, prompt)
                if not answer.rstrip().endswith("."):
                    raise MalformedAnswer(f"not a sentence: {answer[:30]!r}")
                self.stop()  # done: this agent ends with its task
                return answer, self.attempts
            case GiveUp():
                self.stop()


def decide(error: BaseException) -> Decision:
    """What the researchers' supervisor does about each failure."""
    if isinstance(error, MalformedAnswer):
        return Decision.RESUME  # the agent is fine; only that answer was not
    if isinstance(error, (ConnectionError, ModelError)):
        return Decision.RESTART  # a fresh agent makes a fresh connection (ModelError: a real endpoint's)
    return Decision.ESCALATE  # anything else is a bug: let the tree above decide


RESEARCHERS = DynamicSupervisor(
    name="researchers",
    strategy=OneForOne(max_restarts=5, within=10.0, backoff=Backoff(initial=0.05, jitter=0), decide=decide),
    max_children=MAX_AGENTS,
)


def spec_for(model: FlakyModel, number: int) -> ChildSpec:
    """The agent for question ``number``: restarted after a failure, gone once it has answered."""
    return ChildSpec(Researcher, number, QUESTIONS[number - 1], model, name=f"research-{number}", restart="transient")


async def start_when_there_is_room(pool, spec: ChildSpec):
    """``start_child``, trying again while the supervisor is full (a real desk would queue)."""
    while True:
        try:
            return await start_child(pool, spec)
        except TooManyChildren:
            await trio.sleep(0.05)


async def answer(ref, number: int, counts: dict[str, int], tries: int = 3) -> None:
    """Ask agent ``ref`` until it answers (at most ``tries`` times); say what happened."""
    name = ref.name
    for _ in range(tries):
        try:
            text, attempts = await ref.ask(Research(), timeout=ASK_TIMEOUT)
        except MalformedAnswer as exc:
            counts["resumed"] += 1
            print(f"{name}: malformed answer ({exc}); resumed, the same agent asks the model again")
        except (ConnectionError, ModelError) as exc:
            counts["restarted"] += 1
            print(f"{name}: {exc}; restarted as a fresh agent, the question waits in its mailbox")
        else:
            print(
                f"{name}: answered question {number} (attempt {attempts} of this agent, restarts {restart_count(ref)}):"
            )
            print(f"    {text}")
            return
    print(f"{name}: no usable answer after {tries} tries; giving up on question {number}")
    await ref.ask(GiveUp(), timeout=ASK_TIMEOUT)


async def main() -> None:
    # The desk reports failures itself; quiet the runtime's own error log (with tracebacks).
    logging.getLogger("actors").setLevel(logging.CRITICAL)
    model = FlakyModel(get_model(seed=3))
    counts = {"resumed": 0, "restarted": 0}
    async with open_actor_system() as system:
        # 1. The supervisor starts empty; agents come and go with the questions.
        pool = await system.spawn_tree(RESEARCHERS)
        print(f"desk: {len(QUESTIONS)} questions, at most {MAX_AGENTS} researchers at once")

        # 2. One agent per question, while there is room: the fourth must wait.
        agents = {}
        for number in range(1, len(QUESTIONS) + 1):
            try:
                agents[number] = await start_child(pool, spec_for(model, number))
            except TooManyChildren as exc:
                print(f"desk: question {number} waits ({str(exc).split(';')[0]})")
            else:
                print(f"desk: {agents[number].name} started for {QUESTIONS[number - 1]!r}")
        children = await which_children(pool)
        print("desk: researchers now: " + ", ".join(f"{c.name} ({c.restart}, {c.phase})" for c in children))

        # 3. Answers, in question order; question 4 gets its agent once research-1 has ended.
        await answer(agents[1], 1, counts)
        agents[4] = await start_when_there_is_room(pool, spec_for(model, 4))
        print(f"desk: research-1 has ended; {agents[4].name} started for {QUESTIONS[3]!r}")
        for number in (2, 3, 4):
            await answer(agents[number], number, counts)

        # 4. Each agent ended with its task and left no spec behind.
        while (await count_children(pool)).specs:
            await trio.sleep(0.01)  # (the last one is ending as it answers)
        print(f"desk: researchers now: {', '.join(c.name for c in await which_children(pool)) or 'none'}")
        print(
            f"summary: {len(QUESTIONS)} questions answered, {counts['resumed']} malformed answer resumed, "
            f"{counts['restarted']} lost connection restarted, {len(system.dead_letters)} dead letters"
        )


if __name__ == "__main__":
    trio.run(main)
