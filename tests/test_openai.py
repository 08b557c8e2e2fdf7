"""The official async OpenAI client inside actors, against a real server on 127.0.0.1.

These run in real time (real sockets cannot run on a MockClock), with tight
bounds: when an ask's deadline passes or its asker gives up, the server sees
the connection close within 0.1 s. The same agents in virtual time, without a
socket, are in test_openai_offline.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import pytest
import trio

from actors import Actor, AskTimeout, open_actor_system

pytest.importorskip("openai")
from openai import AsyncOpenAI
from openai_server import ChatServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is not installed: import it from the checkout
from examples._model import OpenAIModel  # noqa: E402

HANG_UP_WITHIN = 0.1  # seconds from the asker's deadline to the server seeing the connection close


@attrs.frozen
class Complete:
    model: str
    prompt: str = "hello"


@attrs.frozen
class Stream:
    model: str
    prompt: str = "hello"


class Assistant(Actor):
    """An agent that calls a model through one shared client, under the ask's deadline."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client

    async def receive(self, message: object) -> object:
        match message:
            case Complete(model, prompt):
                return await OpenAIModel(self.client, model=model).complete(prompt, timeout=self.time_left())
            case Stream(model, prompt):
                stream = self.reply_stream()
                async with OpenAIModel(self.client, model=model).stream(prompt, timeout=self.time_left()) as pieces:
                    async for piece in pieces:
                        await stream.send(piece)
            case "ping":
                return "pong"
            case _:
                self.unhandled(message)


async def start(nursery: trio.Nursery, **settings: float) -> tuple[ChatServer, AsyncOpenAI]:
    server: ChatServer = await nursery.start(ChatServer(**settings).serve)  # type: ignore[arg-type]
    client = AsyncOpenAI(base_url=server.url, api_key="test", max_retries=2)
    return server, client


async def assert_free(agent) -> None:
    """The agent answers at once: nothing of the abandoned call holds it."""
    with trio.fail_after(0.2):
        assert await agent.ask("ping", timeout=1) == "pong"


async def test_a_plain_completion_shared_client_many_actors() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery)
        async with open_actor_system() as system:
            agents = [await system.spawn(Assistant, client, name=f"agent-{i}") for i in range(8)]
            results: list[object] = []
            async with trio.open_nursery() as asks:
                for agent in agents:
                    asks.start_soon(lambda a=agent: _append(results, a.ask(Complete("plain"), timeout=10)))
            assert results == ["answer from plain"] * 8
        assert [call.model for call in server.calls] == ["plain"] * 8
        nursery.cancel_scope.cancel()


async def _append(results: list[object], awaitable) -> None:
    results.append(await awaitable)


async def test_the_model_posts_the_standard_chat_completions_request() -> None:
    async with trio.open_nursery() as nursery:
        server, _ = await start(nursery)
        model = OpenAIModel(url=server.url, model="plain", api_key="sk-secret")
        assert await model.complete("Summarise: actors") == "answer from plain"
        [call] = server.calls
        assert call.path == "/v1/chat/completions"
        assert call.body == {"model": "plain", "messages": [{"role": "user", "content": "Summarise: actors"}]}
        assert call.headers["authorization"] == "Bearer sk-secret"
        nursery.cancel_scope.cancel()


async def test_a_streamed_completion_arrives_piece_by_piece_through_ask_stream() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, token_pause=0.002, tokens=30)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="writer")
            async with agent.ask_stream(Stream("stream"), timeout=10) as pieces:
                got = [piece async for piece in pieces]
        assert got == [f"t{i} " for i in range(30)]
        assert server.calls[0].stream and server.calls[0].completed
        nursery.cancel_scope.cancel()


async def test_a_timed_out_ask_hangs_up_on_the_server_at_once() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, slow_seconds=5)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="slowpoke")
            deadline = trio.current_time() + 0.5
            with pytest.raises(AskTimeout):
                await agent.ask(Complete("slow"), timeout=0.5)
            [call] = server.calls
            with trio.fail_after(1):
                closed = await server.hung_up(call)
            assert 0 <= closed - deadline < HANG_UP_WITHIN, closed - deadline
            assert not call.completed
            await assert_free(agent)
        nursery.cancel_scope.cancel()


async def test_a_timed_out_stream_hangs_up_on_the_server_at_once() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, token_pause=0.05, tokens=100)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="streamer")
            got: list[str] = []
            deadline = trio.current_time() + 0.6
            with pytest.raises(AskTimeout):
                async with agent.ask_stream(Stream("stream"), timeout=0.6) as pieces:
                    async for piece in pieces:
                        got.append(piece)
            assert 3 <= len(got) < 100 and got == [f"t{i} " for i in range(len(got))]
            [call] = server.calls
            with trio.fail_after(1):
                closed = await server.hung_up(call)
            assert 0 <= closed - deadline < HANG_UP_WITHIN, closed - deadline
            await assert_free(agent)
        nursery.cancel_scope.cancel()


async def test_leaving_a_stream_early_hangs_up_on_the_server_at_once() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, token_pause=0.05, tokens=100)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="streamer")
            async with agent.ask_stream(Stream("stream"), timeout=30) as pieces:
                async for piece in pieces:
                    if piece == "t2 ":
                        break
            left = trio.current_time()
            [call] = server.calls
            with trio.fail_after(1):
                closed = await server.hung_up(call)
            assert 0 <= closed - left < HANG_UP_WITHIN, closed - left
            await assert_free(agent)
        nursery.cancel_scope.cancel()


async def test_a_429_with_retry_after_is_retried_by_the_client_after_that_delay() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, retry_after=0.3)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="patient")
            assert await agent.ask(Complete("busy"), timeout=10) == "answer from busy"
        first, second = server.calls
        assert (first.status, second.status) == (429, 200)
        assert 0.3 <= second.arrived - first.arrived < 0.3 + HANG_UP_WITHIN
        nursery.cancel_scope.cancel()


async def test_a_retry_after_past_the_deadline_ends_with_the_ask_and_sends_no_retry() -> None:
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, retry_after=30)
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="patient")
            start_time = trio.current_time()
            with pytest.raises(AskTimeout):
                await agent.ask(Complete("busy"), timeout=0.5)
            assert trio.current_time() - start_time < 0.5 + HANG_UP_WITHIN
            await assert_free(agent)
            await trio.sleep(0.2)
        assert [call.status for call in server.calls] == [429]  # the client's wait was cut: no retry
        nursery.cancel_scope.cancel()


async def test_a_slow_reader_holds_the_model_stream_back_down_to_the_socket() -> None:
    """Backpressure: while the asker does not read, the agent does not read the SSE
    stream, the socket's buffers fill, and the server's writes block."""
    async with trio.open_nursery() as nursery:
        server, client = await start(nursery, flood_chunks=20_000)  # about 80 MB if nothing held it back
        async with open_actor_system() as system:
            agent = await system.spawn(Assistant, client, name="flood")
            async with agent.ask_stream(Stream("flood"), timeout=30, buffer=4) as pieces:
                async for _ in pieces:
                    break  # one piece, then hold on without reading
                [call] = server.calls
                await trio.sleep(0.3)
                held = call.bytes_sent
                await trio.sleep(0.2)
                assert call.bytes_sent == held, "the server kept writing although nobody read"
                assert held < 20_000 * 4000 // 4, held  # far from everything
                left = trio.current_time()
            with trio.fail_after(1):
                closed = await server.hung_up(call)
            assert 0 <= closed - left < HANG_UP_WITHIN
        nursery.cancel_scope.cancel()
