"""An Analyst asks a DataRetriever for sales figures: ask with a timeout, retry once, fall back.

The retriever's lookup is a blocking call (think of a database driver) run in a
worker thread. When an ask times out, the retriever stops waiting for that
thread at once (the thread's late answer is recorded as a dead letter), so a
retry is served straight away. Run: ``python -m examples.analyst``.
"""

import time

import attrs
import trio

from actors import Actor, ActorStopped, AskTimeout, open_actor_system

ASK_TIMEOUT = 0.3  # seconds the Analyst waits for each answer
DEFAULT = 0.0  # the figure the report shows when no answer comes in time
SALES = {"Q1": 1.20, "Q2": 1.35, "Q3": 1.10, "Q4": 1.60}  # $M, in the "warehouse"
# Seconds each lookup takes, attempt by attempt: Q3 is slow once, Q4 always.
LATENCY = {"Q1": [0.01], "Q2": [0.01], "Q3": [0.45, 0.05], "Q4": [0.5, 0.5]}


@attrs.frozen
class Fetch:
    quarter: str


@attrs.frozen
class Analyse:
    quarters: tuple[str, ...]


@attrs.frozen
class Report:
    lines: tuple[str, ...]


@attrs.frozen
class ReportsPublished:
    pass


def query_warehouse(quarter: str, attempt: int) -> float:
    """The blocking tool: it holds its thread for as long as the warehouse takes."""
    time.sleep(LATENCY[quarter][attempt])
    return SALES[quarter]


class DataRetriever(Actor):
    async def on_start(self) -> None:
        self.cache: dict[str, float] = {}  # private state: no lock, one message at a time
        self.attempts: dict[str, int] = {}

    async def receive(self, message):
        match message:
            case Fetch(quarter) if quarter in self.cache:
                print(f"retriever: {quarter} from the cache")
                return self.cache[quarter]
            case Fetch(quarter):
                print(f"retriever: querying the warehouse for {quarter}")
                attempt = self.attempts[quarter] = self.attempts.get(quarter, -1) + 1
                # The blocking call runs in a worker thread; the event loop stays free.
                # If the Analyst's ask times out first, this await raises AskAbandoned
                # and the runtime moves on to the next message (not a failure).
                self.cache[quarter] = await self.run_in_thread(query_warehouse, quarter, attempt)
                return self.cache[quarter]


class Analyst(Actor):
    def __init__(self, retriever, reporter) -> None:
        self.retriever, self.reporter = retriever, reporter

    async def receive(self, message):
        match message:
            case Analyse(quarters):
                try:
                    lines = [await self.line_for(quarter) for quarter in quarters]
                except ActorStopped as exc:
                    # The retriever is gone: the ask fails at once instead of hanging.
                    print(f"analyst: the retriever is down, no report this time ({exc})")
                    return []
                # Fire-and-forget: the Analyst does not wait for the Reporter.
                self.reporter.tell(Report(tuple(lines)))
                return lines

    async def line_for(self, quarter: str) -> str:
        # Ask at most twice; each ask gives up after ASK_TIMEOUT seconds.
        for attempt in (1, 2):
            try:
                figure = await self.retriever.ask(Fetch(quarter), timeout=ASK_TIMEOUT)
            except AskTimeout:
                print(f"analyst: no answer for {quarter} within {ASK_TIMEOUT} s (attempt {attempt} of 2)")
                continue
            print(f"analyst: {quarter} = ${figure:.2f}M" + (" (on the retry)" if attempt == 2 else ""))
            return f"{quarter}  ${figure:.2f}M"
        # Both asks timed out: use the default, and say so in the report.
        print(f"analyst: giving up on {quarter}, using the default ${DEFAULT:.2f}M")
        return f"{quarter}  ${DEFAULT:.2f}M  (default: the retriever did not answer in time)"


class Reporter(Actor):
    async def on_start(self) -> None:
        self.published = 0

    async def receive(self, message):
        match message:
            case Report(lines):
                print("reporter: quarterly sales report")
                for line in lines:
                    print(f"reporter:   {line}")
                self.published += 1
            case ReportsPublished():
                return self.published


async def main() -> None:
    async with open_actor_system() as system:
        # 1. Start the three actors; the Analyst gets the others' refs.
        reporter = await system.spawn(Reporter, name="reporter")
        retriever = await system.spawn(DataRetriever, name="retriever")
        analyst = await system.spawn(Analyst, retriever, reporter, name="analyst")

        # 2. Q1 and Q2 are quick; Q3 times out once and its retry is quick;
        #    Q4 times out twice and falls back to the default.
        lines = await analyst.ask(Analyse(("Q1", "Q2", "Q3", "Q4")), timeout=10)
        # The Report reached the Reporter's mailbox before this reply reached us,
        # so the Reporter prints it before it answers this ask.
        reports = await reporter.ask(ReportsPublished(), timeout=1)

        # 3. Threads cannot be killed: give the abandoned lookups time to finish,
        #    so their late answers are recorded. Then take the retriever down.
        await trio.sleep(0.6)
        await system.stop(retriever)
        print(f"main: retriever stopped (is_alive={retriever.is_alive})")
        await analyst.ask(Analyse(("Q1",)), timeout=10)

        # 4. Nothing is silently lost: each abandoned lookup and its late answer
        #    are dead letters.
        for letter in system.dead_letters:
            print(f"main: dead letter {letter.message!r}: {letter.reason}")
        defaults = sum("default" in line for line in lines)
        print(
            f"summary: {len(lines) - defaults} of {len(lines)} quarters fetched, {defaults} default, "
            f"{reports} report published, {len(system.dead_letters)} dead letters"
        )


if __name__ == "__main__":
    trio.run(main)
