"""Agents that call a slow sync "weather API" and a CPU-heavy parser, all at once.

Three WeatherAgents each call a blocking HTTP-like function (it sleeps, like a
sync SDK would) in a worker thread; two ParserAgents crunch text in worker
processes. None of it blocks the event loop, so the calls overlap: the whole
run takes about as long as the slowest call, not the sum of all of them.
Run: ``python -m examples.tool_agents``.
"""

import hashlib
import time

import attrs
import trio

from actors import Actor, gather, open_actor_system, tool

CITIES = ("Oslo", "Lima", "Pune")
API_LATENCY = 0.4  # seconds each weather call blocks its thread


@tool(limit=4)  # at most 4 weather calls in flight, inside the system-wide thread limit
def weather_api(city: str) -> str:
    """A blocking client, as a sync SDK would be: it holds its thread while it waits."""
    time.sleep(API_LATENCY)
    return f"{sum(map(ord, city)) % 30}°C"


def parse_report(seed: str) -> str:
    """CPU-bound work: it would stall every agent if it ran on the event loop."""
    digest = seed.encode()
    for _ in range(300_000):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()[:12]


@attrs.frozen
class Forecast:
    city: str


@attrs.frozen
class Parse:
    document: str


class WeatherAgent(Actor):
    async def receive(self, message):
        match message:
            case Forecast(city):
                started = time.perf_counter()
                answer = await weather_api(city)  # a worker thread
                return answer, time.perf_counter() - started


class ParserAgent(Actor):
    async def receive(self, message):
        match message:
            case Parse(document):
                started = time.perf_counter()
                digest = await self.run_in_process(parse_report, document)  # a worker process
                return digest, time.perf_counter() - started


async def main() -> None:
    async with open_actor_system() as system:
        weather = [await system.spawn(WeatherAgent, name=f"weather-{city}") for city in CITIES]
        parsers = [await system.spawn(ParserAgent, name=f"parser-{n}") for n in (1, 2)]

        # 1. Warm both worker processes up, so the timing below measures the work.
        await gather(*(parser.ask_nowait(Parse("warm-up"), timeout=60) for parser in parsers))

        # 2. Scatter every request at once (ask_nowait), then gather the replies.
        started = time.perf_counter()
        replies = [agent.ask_nowait(Forecast(city), timeout=10) for agent, city in zip(weather, CITIES)]
        replies += [agent.ask_nowait(Parse(f"report {n}"), timeout=60) for n, agent in enumerate(parsers)]
        results = [await reply for reply in replies]
        wall = time.perf_counter() - started

        # 3. Report: each call's own time, and the overlap.
        for (answer, took), name in zip(results, [*CITIES, "parser 1", "parser 2"]):
            print(f"{name:>8}: {answer}  ({took:.2f} s)")
        total = sum(took for _, took in results)
        print(f"calls took {total:.2f} s in all, the run {wall:.2f} s of wall time")
        print(f"overlap: {'yes' if wall < 0.8 * total else 'no'}, the event loop never blocked")


if __name__ == "__main__":
    trio.run(main)
