"""A streaming team: the Planner streams its plan token by token, and a slow Worker is cut off.

The Orchestrator asks the Planner for a plan with ``ask_stream`` and reads it
as it is written, token by token, as a model would produce it. Each time a line
of the plan is complete, that step goes to a Worker at once, while the rest of
the plan is still streaming in: the first step is done before the plan is.

Each step is an ask with a deadline. The Workers call the model with
``timeout=self.time_left()``; one of them is slow, and at the step's deadline
the runtime cancels its handler, and with it the model call (a real client
would hang up on the server). That is not a failure: the Worker is free again
at once, and the abandoned step is recorded in the dead letters.

It runs offline on the deterministic model stand-in; set TRIO_ACTORS_MODEL_URL
to use a real OpenAI-compatible model instead (see examples/_model.py).
Run: ``python -m examples.streaming_team``.
"""

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator

import attrs
import trio

from actors import Actor, AskAbandoned, AskTimeout, open_actor_system

from ._model import Model, ModelStandIn, get_model

TOPIC = "deadlines that flow through a team of agents"
PLAN = (  # the plan the offline Planner writes, one step per line
    "search: deadline propagation in gRPC",
    "search: cancelling model calls in agent frameworks",
    "search: streaming tokens between agents",
)
TOKEN_PAUSE = 0.1  # seconds between the offline Planner's tokens, like a model's token rate
STEP_TIMEOUT = 1.0  # seconds the Orchestrator gives each step
FAST, SLOW = 0.3, 5.0  # seconds the stand-in model takes for the fast workers and the slow one
PLAN_TIMEOUT = 30.0  # seconds for the whole plan to stream in
SEED = 3


@attrs.frozen
class Plan:
    topic: str


@attrs.frozen
class Step:
    number: int
    text: str


@attrs.frozen
class Research:
    topic: str


@attrs.frozen
class Outcome:
    done: int
    cut_off: int
    tokens: int


class Planner(Actor):
    """Writes the plan and streams it, a token at a time, to whoever asked."""

    def __init__(self, model: Model) -> None:
        self.model = model

    async def receive(self, message):
        match message:
            case Plan(topic):
                stream = self.reply_stream()  # this ask came with ask_stream: answer in pieces
                async with self.tokens(topic) as tokens:
                    async for token in tokens:
                        await stream.send(token)  # waits if the reader falls behind
                # returning ends the stream

    def tokens(self, topic: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[str]]:
        if isinstance(self.model, ModelStandIn):
            return scripted_plan()
        prompt = f"Write a research plan about {topic}: three lines, each 'search: <query>'."
        return self.model.stream(prompt, timeout=self.time_left())


@contextlib.asynccontextmanager
async def scripted_plan() -> AsyncIterator[AsyncIterator[str]]:
    """The offline Planner's 'model': the plan, word by word, at a steady token rate."""

    async def tokens() -> AsyncGenerator[str, None]:
        for line in PLAN:
            first, *rest = line.split(" ")
            for token in [first, *(f" {word}" for word in rest), "\n"]:
                await trio.sleep(TOKEN_PAUSE)
                yield token

    iterator = tokens()
    try:
        yield iterator
    finally:
        await iterator.aclose()


class Worker(Actor):
    """Does one step: asks the model, within what is left of the step's deadline."""

    def __init__(self, model: Model) -> None:
        self.model = model

    async def receive(self, message):
        match message:
            case Step(number, text):
                started = trio.current_time()
                try:
                    # self.time_left(): the seconds left of the Orchestrator's deadline.
                    answer = await self.model.complete(f"Answer briefly: {text}", timeout=self.time_left())
                except trio.Cancelled:
                    # The deadline passed: the runtime cancels this handler (and the model
                    # call). Say so, and let the cancellation go on: it is not a failure.
                    print(
                        f"{self.ref.name}: cut off on step {number} after "
                        f"{trio.current_time() - started:.1f} s; the model call was cancelled"
                    )
                    raise
                return " ".join(answer.split()[:6]) + " ..."
            case "ping":
                return "pong"


class Orchestrator(Actor):
    """Reads the plan as it streams in and hands each step out as soon as its line is complete."""

    def __init__(self, planner, workers) -> None:
        self.planner, self.workers = planner, workers

    async def receive(self, message):
        match message:
            case Research(topic):
                self.started = trio.current_time()
                self.done = self.cut_off = 0
                steps, line, tokens = 0, "", 0
                async with trio.open_nursery() as nursery:  # the steps run while the plan streams
                    async with self.planner.ask_stream(Plan(topic), timeout=PLAN_TIMEOUT, buffer=8) as plan:
                        async for token in plan:
                            tokens += 1
                            line += token
                            if token == "\n":  # a step is complete: send it out now
                                step = Step(steps + 1, line.strip())
                                worker = self.workers[steps % len(self.workers)]
                                print(
                                    f"{self.clock()} orchestrator: step {step.number} streamed in: "
                                    f"'{step.text}' -> {worker.name}"
                                )
                                nursery.start_soon(self.run_step, worker, step)
                                steps, line = steps + 1, ""
                    print(f"{self.clock()} orchestrator: the plan is complete ({tokens} tokens, {steps} steps)")
                return Outcome(self.done, self.cut_off, tokens)

    async def run_step(self, worker, step: Step) -> None:
        try:
            answer = await worker.ask(step, timeout=STEP_TIMEOUT)
        except AskTimeout:
            self.cut_off += 1
            print(f"{self.clock()} orchestrator: step {step.number} cut off at its {STEP_TIMEOUT:g} s deadline")
        else:
            self.done += 1
            print(f"{self.clock()} orchestrator: step {step.number} done by {worker.name}: {answer}")

    def clock(self) -> str:
        return f"[{trio.current_time() - self.started:4.1f} s]"


async def main() -> None:
    model = get_model(seed=SEED, min_latency=FAST, max_latency=FAST)
    # Offline, the third worker's model is slow: it will not make its deadline.
    slow_model = ModelStandIn(SEED, min_latency=SLOW, max_latency=SLOW) if isinstance(model, ModelStandIn) else model
    print(f"streaming team: 3 workers, model: {model.name}")

    async with open_actor_system() as system:
        planner = await system.spawn(Planner, model, name="planner")
        workers = [
            await system.spawn(Worker, model, name="worker-1"),
            await system.spawn(Worker, model, name="worker-2"),
            await system.spawn(Worker, slow_model, name="worker-3"),
        ]
        orchestrator = await system.spawn(Orchestrator, planner, workers, name="orchestrator")

        started = time.perf_counter()
        outcome = await orchestrator.ask(Research(TOPIC), timeout=60)
        wall = time.perf_counter() - started

        # The slow worker was cut off, not crashed: it answers at once.
        with trio.fail_after(0.1):
            pong = await workers[2].ask("ping", timeout=1)
        print(f"worker-3 answers at once after being cut off: {pong}")
        abandoned = [d for d in system.dead_letters if isinstance(d.error, AskAbandoned)]
        print(
            f"summary: plan streamed in {outcome.tokens} tokens, {outcome.done} steps done, "
            f"{outcome.cut_off} cut off at the deadline, in {wall:.1f} s"
        )
        for letter in abandoned:
            to = letter.recipient.name if letter.recipient else "-"
            print(f"  dead letter to {to}: step {letter.message.number}: {letter.reason}")


if __name__ == "__main__":
    trio.run(main)
