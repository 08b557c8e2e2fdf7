"""Agents on the real ``openai`` client, tested in virtual time without a socket.

`offline_openai_client` gives an ``AsyncOpenAI`` whose transport answers in
memory from a `ModelStandIn` with ``trio.sleep`` delays: the SDK's own code
(requests, retries, server-sent events) runs, and the clock is a MockClock.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from actors import Actor, AskAbandoned, AskTimeout

pytest.importorskip("openai")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is not installed: import it from the checkout
from examples._model import ModelStandIn, OpenAIModel, offline_openai_client  # noqa: E402

STAND_IN = ModelStandIn(7, min_latency=2, max_latency=4)
PROMPT = "Answer briefly: deadlines that flow"


class Writer(Actor):
    def __init__(self, model: OpenAIModel) -> None:
        self.model = model

    async def receive(self, message: object) -> object:
        match message:
            case ("complete", prompt):
                return await self.model.complete(prompt, timeout=self.time_left())
            case ("stream", prompt):
                stream = self.reply_stream()
                async with self.model.stream(prompt, timeout=self.time_left()) as pieces:
                    async for piece in pieces:
                        await stream.send(piece)
            case "ping":
                return "pong"
            case _:
                self.unhandled(message)


async def spawn_writer(system) -> object:
    return await system.spawn(Writer, OpenAIModel(offline_openai_client(STAND_IN)), name="writer")


async def test_a_completion_takes_the_stand_ins_virtual_latency(actor_system_autojump) -> None:
    writer = await spawn_writer(actor_system_autojump)
    start = trio.current_time()
    assert await writer.ask(("complete", PROMPT), timeout=30) == STAND_IN.answer(PROMPT)
    assert trio.current_time() - start == pytest.approx(STAND_IN.latency(PROMPT))


async def test_a_streamed_completion_arrives_in_the_stand_ins_pieces(actor_system_autojump) -> None:
    writer = await spawn_writer(actor_system_autojump)
    async with writer.ask_stream(("stream", PROMPT), timeout=30) as pieces:
        got = [piece async for piece in pieces]
    assert got == STAND_IN.pieces(PROMPT)


async def test_the_sdks_retry_after_a_429_runs_in_virtual_time(actor_system_autojump) -> None:
    writer = await spawn_writer(actor_system_autojump)
    prompt = "[429] " + PROMPT
    start = trio.current_time()
    assert await writer.ask(("complete", prompt), timeout=30) == STAND_IN.answer(prompt)
    assert trio.current_time() - start == pytest.approx(1 + STAND_IN.latency(prompt))


async def test_the_asks_deadline_cuts_the_model_call(actor_system_autojump) -> None:
    system = actor_system_autojump
    writer = await spawn_writer(system)
    start = trio.current_time()
    with pytest.raises(AskTimeout):
        await writer.ask(("complete", PROMPT), timeout=0.5)
    assert await writer.ask("ping", timeout=1) == "pong"
    assert trio.current_time() - start == pytest.approx(0.5)
    [record] = [d for d in system.dead_letters if isinstance(d.error, AskAbandoned)]
    assert record.message == ("complete", PROMPT)
