"""A research team: an Orchestrator, a Planner and three Workers, sync and async together.

The Orchestrator *asks* the Planner for the next step and waits for the answer:
planning is a quick decision, and nothing can happen without it. It *tells*
each step to a Worker and moves on at once: a step means a slow search API and
a language model, so the Orchestrator collects the results as they come back,
matched to their steps by step id, and asks the Planner again.

The Workers run under a supervisor. The search API drops the connection now
and then (here on scripted steps, so every run tells the same story); the
Worker crashes, its supervisor restarts it behind the same ref, and the step
that was in hand comes back to the Orchestrator as a dead letter, which it
sends out again after a short pause. Nothing is lost, and the caller simply
awaits the finished report: one ask that the Orchestrator answers much later.

It runs offline on a deterministic model stand-in; set TRIO_ACTORS_MODEL_URL
to use a real OpenAI-compatible model instead (see examples/_model.py).
Run: ``python -m examples.research_team``.
"""

import logging
import random
import time

import attrs
import trio

from actors import Actor, ActorRef, DeadLetter, open_actor_system, tool
from supervision import Backoff, ChildRestarted, ChildSpec, OneForOne, SupervisionEvent, Supervisor, restart_count

from ._model import Model, get_model

TOPIC = "keeping a team of LLM agents responsive"
QUESTIONS = (  # the Planner's research plan: one search step per question, then a write-up
    "time agents spend waiting on tools",
    "blocking tool calls inside an event loop",
    "request-reply versus fire-and-forget messaging",
    "supervisors that restart crashed agents",
    "tracing one conversation across many agents",
)
WORKERS = 3
SEARCH_LATENCY = (0.1, 0.5)  # seconds a search takes, least and most
MODEL_LATENCY = (0.05, 0.35)  # seconds the model stand-in takes, least and most
# The stand-in's seed. With this one, no two events of the run fall within
# 0.1 s of each other, so the story prints in the same order on every run,
# even on a loaded machine. Another seed gives other answers and delays.
SEED = 514
PLAN_TIMEOUT = 1.0  # seconds the Orchestrator waits for the Planner's quick decision
RETRY_AFTER = 0.15  # seconds the Orchestrator waits before sending a lost step again
REPORT_TIMEOUT = 120.0  # seconds main waits for the whole report (a real model can be slow)
# The search API drops the connection on these (step, attempt) pairs: scripted,
# so the crashes, and the story, are the same on every run.
DROPPED_CONNECTIONS = {("s2", 1), ("s4", 1)}
SITES = ("trio.readthedocs.io", "erlang.org", "akka.io", "pykka.org", "arxiv.org", "martinfowler.com")


# -- the messages: small frozen values, safe to pass between tasks ---------


@attrs.frozen
class Step:
    id: str  # "s1", "s2", ...: how results are matched to steps
    kind: str  # "search" or "write"
    text: str  # the question to research, or the brief to write to
    needs: tuple[str, ...] = ()  # steps whose results must be in first


@attrs.frozen
class Research:  # main -> Orchestrator (ask; answered with a Report when it is done)
    topic: str


@attrs.frozen
class NextStep:  # Orchestrator -> Planner (ask; answered with a Step, or None: wait)
    topic: str
    finished: tuple[str, ...]


@attrs.frozen
class Dispatch:  # Orchestrator -> Worker (tell)
    step: Step
    attempt: int
    notes: tuple[str, ...] = ()  # the findings so far, for a write step


@attrs.frozen
class StepDone:  # Worker -> Orchestrator (tell), correlated by step id
    step_id: str
    worker: str
    text: str
    tool_seconds: float  # time spent waiting on the search API and the model


@attrs.frozen
class Resend:  # Orchestrator -> itself, scheduled: send a lost step again
    step: Step
    attempt: int


@attrs.frozen
class Report:  # Orchestrator -> main: the answer to Research
    topic: str
    sections: tuple[tuple[Step, str], ...]  # each research step and its finding
    conclusion: str
    steps: int
    retries: int
    tool_seconds: float


# -- the tool: a slow, blocking search API ---------------------------------


@tool(limit=3)  # the API takes 3 requests at a time: a per-tool bound inside the system-wide one
def search_api(query: str, *, drop_connection: bool = False) -> list[str]:
    """A blocking HTTP client, as a sync SDK would be: it holds its thread while it waits.

    The fake's delay and pages depend only on the query, so runs repeat exactly;
    ``drop_connection`` makes it fail the way a flaky network does.
    """
    rng = random.Random(query)
    time.sleep(rng.uniform(*SEARCH_LATENCY))
    if drop_connection:
        raise ConnectionResetError("the search API dropped the connection")
    return [f"{site}: {query}" for site in rng.sample(SITES, 3)]


# -- the agents ------------------------------------------------------------


class Planner(Actor):
    """Decides what to do next. Quick and in-memory: fine to ask and wait for."""

    async def on_start(self) -> None:
        self.plans: dict[str, list[Step]] = {}
        self.handed_out: set[tuple[str, str]] = set()

    async def receive(self, message):
        match message:
            case NextStep(topic, finished):
                plan = self.plans.setdefault(topic, make_plan(topic))
                # The first step not handed out yet whose inputs are all in.
                for step in plan:
                    if (topic, step.id) not in self.handed_out and set(step.needs) <= set(finished):
                        self.handed_out.add((topic, step.id))
                        return step
                return None  # nothing to start now: wait for results


def make_plan(topic: str) -> list[Step]:
    searches = [Step(f"s{n}", "search", question) for n, question in enumerate(QUESTIONS, 1)]
    write = Step(
        f"s{len(searches) + 1}",
        "write",
        f"Write a two-sentence summary of: {topic}",
        needs=tuple(step.id for step in searches),
    )
    return [*searches, write]


class Worker(Actor):
    """Does one step at a time: search, then ask the model; tells the result back."""

    def __init__(self, model: Model) -> None:
        self.model = model

    async def receive(self, message):
        match message:
            case Dispatch(Step(step_id, "search", question), attempt):
                started = time.perf_counter()
                # The search blocks a worker thread, never the event loop; the model
                # call is async. If the search raises, this handler fails: the
                # supervisor restarts us.
                pages = await search_api(question, drop_connection=(step_id, attempt) in DROPPED_CONNECTIONS)
                prompt = "Using these sources:\n" + "\n".join(f"- {page}" for page in pages)
                finding = await self.model.complete(f"{prompt}\nAnswer briefly: {question}")
                took = time.perf_counter() - started
                # self.sender is whoever told us the step: the Orchestrator.
                self.sender.tell(StepDone(step_id, self.ref.name, finding, took))
            case Dispatch(Step(step_id, "write", brief), _, notes):
                started = time.perf_counter()
                prompt = "Notes:\n" + "\n".join(f"- {note}" for note in notes) + f"\n{brief}"
                summary = await self.model.complete(prompt)
                self.sender.tell(StepDone(step_id, self.ref.name, summary, time.perf_counter() - started))


class Orchestrator(Actor):
    """Runs one piece of research: plans with the Planner, farms steps out, assembles the report."""

    def __init__(self, planner, workers) -> None:
        self.planner, self.workers = planner, workers

    async def on_start(self) -> None:
        self.steps: dict[str, Step] = {}  # every step handed out, by id
        self.assigned: dict[str, ActorRef] = {}  # which worker has each step
        self.results: dict[str, StepDone] = {}  # the results in, by step id
        self.retries = 0
        # Watch the team: lost messages come back as dead letters (so a crashed
        # step can be sent again), supervision events say who was restarted.
        self.system.subscribe(self.ref, DeadLetter)
        self.system.subscribe(self.ref, SupervisionEvent)

    async def receive(self, message):
        match message:
            case Research(topic):
                # The answer is the finished report, much later: keep the ask open
                # and answer it from another message (this handler returns now).
                self.topic, self.report = topic, self.defer_reply()
                print(f"orchestrator: researching {topic!r} with {len(self.workers)} workers")
                await self.follow_the_plan()

            case StepDone(step_id, worker, text) if step_id not in self.results:
                self.results[step_id] = message
                if self.steps[step_id].kind == "write":
                    print(f"orchestrator: {step_id} written by {worker}; the report is ready")
                    self.report.reply(self.assemble(text))
                    return
                print(f"orchestrator: {step_id} done by {worker}, {len(self.results)} of {len(self.steps)} steps in")
                await self.follow_the_plan()  # a result may unblock the next step

            case StepDone():
                pass  # a second result for a step sent twice: the first one counts

            case DeadLetter(message=Dispatch(step, attempt), recipient=worker, error=error):
                # The worker crashed on this step; its supervisor restarts it. Send
                # the step again after a pause, to the same ref: it survives restarts.
                print(
                    f"orchestrator: {step.id} was lost when {worker.name} crashed ({error}); "
                    f"sending it again in {RETRY_AFTER} s"
                )
                self.schedule_once(RETRY_AFTER, Resend(step, attempt + 1))

            case Resend(step, attempt):
                self.retries += 1
                worker = self.dispatch(step, attempt)
                print(f"orchestrator: {step.id} -> {worker.name} again (attempt {attempt})")

            case ChildRestarted(child=path, delay=delay):
                print(f"supervisor: restarting {path} in {delay:.2f} s, same ref, fresh state")

            case SupervisionEvent() | DeadLetter():
                pass  # other events and dead letters are not part of this story

    async def follow_the_plan(self) -> None:
        # Ask, and wait: the Planner answers at once (if it cannot within
        # PLAN_TIMEOUT, AskTimeout ends the research). Dispatch each step it
        # gives, until it says to wait for results.
        while True:
            finished = tuple(self.results)
            step = await self.planner.ask(NextStep(self.topic, finished), timeout=PLAN_TIMEOUT)
            if step is None:
                return
            self.steps[step.id] = step
            worker = self.dispatch(step, attempt=1)
            what = f"search {step.text!r}" if step.kind == "search" else "write the summary"
            print(f"orchestrator: planner says {step.id}: {what} -> {worker.name}")

    def dispatch(self, step: Step, attempt: int) -> ActorRef:
        # Steps go round the workers in turn; a step sent again goes to the same
        # worker, whose ref stays valid across its restarts.
        worker = self.assigned.setdefault(step.id, self.workers[len(self.assigned) % len(self.workers)])
        notes = tuple(self.results[need].text for need in step.needs)
        worker.tell(Dispatch(step, attempt, notes))  # fire-and-forget: returns at once
        return worker

    def assemble(self, conclusion: str) -> Report:
        searches = [step for step in self.steps.values() if step.kind == "search"]
        return Report(
            topic=self.topic,
            sections=tuple((step, self.results[step.id].text) for step in searches),
            conclusion=conclusion,
            steps=len(self.steps),
            retries=self.retries,
            tool_seconds=sum(result.tool_seconds for result in self.results.values()),
        )


async def main() -> None:
    model = get_model(seed=SEED, min_latency=MODEL_LATENCY[0], max_latency=MODEL_LATENCY[1])
    print(f"research team: {WORKERS} workers, model: {model.name}")
    # A crash is logged on the "actors" logger with its traceback. This story
    # narrates its crashes itself, so it keeps only critical records.
    logging.getLogger("actors").setLevel(logging.CRITICAL)

    async with open_actor_system() as system:
        # 1. The team: a supervisor restarts any member that crashes (one for one),
        #    after a short backoff; more than 5 crashes in 10 s and it gives up.
        await system.spawn_tree(
            Supervisor(
                name="team",
                strategy=OneForOne(max_restarts=5, within=10.0, backoff=Backoff(initial=0.05, jitter=0)),
                children=[
                    ChildSpec(Planner, name="planner"),
                    # A step still running after a minute counts as a crash, too.
                    *(
                        ChildSpec(Worker, model, name=f"worker-{n}", message_timeout=60.0)
                        for n in range(1, WORKERS + 1)
                    ),
                ],
            )
        )
        workers = [system.lookup(f"worker-{n}") for n in range(1, WORKERS + 1)]
        orchestrator = await system.spawn(Orchestrator, system.lookup("planner"), workers, name="orchestrator")

        # 2. One ask for the whole research. The Orchestrator defers its answer
        #    until the last step is in; meanwhile it keeps handling messages.
        started = time.perf_counter()
        report = await orchestrator.ask(Research(TOPIC), timeout=REPORT_TIMEOUT)
        wall = time.perf_counter() - started

        # 3. The report, in plan order, whatever order the results came in.
        print(f"\nREPORT: {report.topic}")
        for step, finding in report.sections:
            print(f"  {step.id} {step.text}\n     {finding}")
        print(f"  conclusion: {report.conclusion}\n")

        # 4. What it took: restarts, dead letters (the steps lost in crashes),
        #    and the overlap: the tools were busy longer than the run took.
        restarts = {worker.name: restart_count(worker) for worker in workers}
        print(
            f"summary: {report.steps} steps, {report.retries} sent again after a crash, "
            f"{sum(restarts.values())} restarts "
            f"({', '.join(f'{name} {count}' for name, count in restarts.items())}), "
            f"{len(system.dead_letters)} dead letters"
        )
        for letter in system.dead_letters:
            match letter.message:
                case Dispatch(step, attempt):
                    what = f"step {step.id} (attempt {attempt})"
                case other:
                    what = repr(other)
            print(f"  dead letter to {letter.recipient.name}: {what}: {letter.reason}")
        print(
            f"timings: {report.tool_seconds:.2f} s of search and model calls (finished steps) "
            f"in {wall:.2f} s of wall time: the workers overlapped"
        )


if __name__ == "__main__":
    trio.run(main)
