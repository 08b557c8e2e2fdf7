"""The examples' model: the deterministic stand-in, the choice by environment, the HTTP client.

The HTTP client is tested against a real (tiny) chat-completions server on
127.0.0.1, started here in a thread, not against a mock.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is not installed: import it from the checkout

from actors import Actor, open_actor_system  # noqa: E402
from examples._model import (  # noqa: E402
    DEFAULT_MODEL_NAME,
    ChatCompletionsModel,
    ModelError,
    ModelStandIn,
    get_model,
)

PROMPTS = [
    "Using these sources:\n- a\n- b\nAnswer briefly: mailbox backpressure",
    "Answer briefly: supervision trees",
    "Write a two-sentence summary of: agents and their tools",
]
FAST = {"min_latency": 0.0, "max_latency": 0.0}


# -- the stand-in ------------------------------------------------------------


def test_stand_in_gives_the_same_answers_for_the_same_seed_and_prompts() -> None:
    first = [ModelStandIn(3, **FAST).complete(prompt) for prompt in PROMPTS]
    again = [ModelStandIn(3, **FAST).complete(prompt) for prompt in PROMPTS]
    assert first == again


def test_stand_in_answers_do_not_depend_on_call_order() -> None:
    model = ModelStandIn(3, **FAST)
    forwards = {prompt: model.complete(prompt) for prompt in PROMPTS}
    backwards = {prompt: model.complete(prompt) for prompt in reversed(PROMPTS)}
    assert forwards == backwards


def test_stand_in_answers_change_with_the_seed() -> None:
    answers = {tuple(ModelStandIn(seed, **FAST).complete(p) for p in PROMPTS) for seed in range(5)}
    assert len(answers) > 1


def test_stand_in_answers_about_the_subject_on_the_last_line() -> None:
    answer = ModelStandIn(0, **FAST).complete("Context first.\n\nAnswer briefly: mailbox backpressure?")
    assert "mailbox backpressure " in answer
    assert answer.endswith(".")
    assert "?" not in answer


def test_stand_in_latency_is_deterministic_and_within_its_range() -> None:
    model = ModelStandIn(1, min_latency=0.02, max_latency=0.08)
    delays = [model.latency(prompt) for prompt in PROMPTS]
    assert delays == [ModelStandIn(1, min_latency=0.02, max_latency=0.08).latency(p) for p in PROMPTS]
    assert all(0.02 <= delay <= 0.08 for delay in delays)
    started = time.perf_counter()
    model.complete(PROMPTS[0])
    assert time.perf_counter() - started >= delays[0] * 0.9  # it really blocks, like a network call


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_latency": -1.0}, r"^min_latency must be >= 0 seconds, got -1\.0$"),
        ({"min_latency": 0.5, "max_latency": 0.1}, r"^max_latency \(0\.1\) must be >= min_latency \(0\.5\)$"),
    ],
)
def test_stand_in_rejects_bad_latencies(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelStandIn(0, **kwargs)


async def test_stand_in_runs_in_a_worker_thread_without_blocking_other_actors() -> None:
    model = ModelStandIn(0, min_latency=0.2, max_latency=0.2)

    class Writer(Actor):
        async def receive(self, prompt):
            return await self.run_in_thread(model.complete, prompt)

    class Echo(Actor):
        async def receive(self, message):
            return message

    async with open_actor_system() as system:
        writer = await system.spawn(Writer)
        echo = await system.spawn(Echo)
        slow = writer.ask_nowait(PROMPTS[0], timeout=5)
        started = time.perf_counter()
        assert await echo.ask("ping", timeout=5) == "ping"
        assert time.perf_counter() - started < 0.15  # answered while the model "thinks"
        assert await slow == ModelStandIn(0, **FAST).complete(PROMPTS[0])


# -- choosing by environment -------------------------------------------------


def test_get_model_is_the_stand_in_without_a_url() -> None:
    model = get_model(seed=9, environ={})
    assert isinstance(model, ModelStandIn)
    assert model.seed == 9
    assert model.name == "offline stand-in (seed 9)"


def test_get_model_treats_an_empty_url_as_unset() -> None:
    assert isinstance(get_model(environ={"TRIO_ACTORS_MODEL_URL": "  "}), ModelStandIn)


def test_get_model_passes_latencies_to_the_stand_in() -> None:
    model = get_model(seed=1, min_latency=0.01, max_latency=0.02, environ={})
    assert isinstance(model, ModelStandIn)
    assert (model.min_latency, model.max_latency) == (0.01, 0.02)


def test_get_model_reads_the_real_endpoint_from_the_environment() -> None:
    model = get_model(environ={
        "TRIO_ACTORS_MODEL_URL": "http://localhost:11434/v1/",
        "TRIO_ACTORS_MODEL_NAME": "llama3.2",
        "TRIO_ACTORS_MODEL_KEY": "sk-test",
    })
    assert isinstance(model, ChatCompletionsModel)
    assert model.endpoint == "http://localhost:11434/v1/chat/completions"
    assert model.model == "llama3.2"
    assert model.api_key == "sk-test"
    assert model.name == "llama3.2 at http://localhost:11434/v1/chat/completions"


def test_get_model_defaults_the_name_and_needs_no_key() -> None:
    model = get_model(environ={"TRIO_ACTORS_MODEL_URL": "https://api.example.com/v1"})
    assert isinstance(model, ChatCompletionsModel)
    assert model.model == DEFAULT_MODEL_NAME
    assert model.api_key is None


def test_get_model_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_ACTORS_MODEL_URL", "http://127.0.0.1:9/v1")
    assert isinstance(get_model(), ChatCompletionsModel)
    monkeypatch.delenv("TRIO_ACTORS_MODEL_URL")
    assert isinstance(get_model(), ModelStandIn)


def test_chat_completions_model_keeps_a_full_endpoint_url() -> None:
    model = ChatCompletionsModel("http://host/v1/chat/completions")
    assert model.endpoint == "http://host/v1/chat/completions"


def test_chat_completions_model_rejects_a_url_without_a_scheme() -> None:
    with pytest.raises(ValueError, match=r"^the model URL must start with http:// or https://, got 'localhost:8000'$"):
        ChatCompletionsModel("localhost:8000")


# -- the HTTP client, against a real local server -----------------------------


class ChatServer(http.server.ThreadingHTTPServer):
    """A tiny chat-completions server: records each request, answers with ``self.answer``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.answer: bytes = json.dumps({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "test-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "  Actors keep agents apart.  "},
                "finish_reason": "stop",
            }],
        }).encode()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class ChatHandler(http.server.BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({
            "path": self.path,
            "headers": {key.lower(): value for key, value in self.headers.items()},
            "json": json.loads(body),
        })
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    # (a short poll interval: shutdown() waits for the loop's next poll, 0.5 s by default)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chat_completions_model_posts_the_standard_body(chat_server: ChatServer) -> None:
    model = get_model(environ={
        "TRIO_ACTORS_MODEL_URL": chat_server.url,
        "TRIO_ACTORS_MODEL_NAME": "test-model",
        "TRIO_ACTORS_MODEL_KEY": "sk-secret",
    })
    assert model.complete("Summarise: actors") == "Actors keep agents apart."
    [request] = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["json"] == {"model": "test-model", "messages": [{"role": "user", "content": "Summarise: actors"}]}
    assert request["headers"]["authorization"] == "Bearer sk-secret"
    assert request["headers"]["content-type"] == "application/json"


def test_chat_completions_model_sends_no_authorization_without_a_key(chat_server: ChatServer) -> None:
    ChatCompletionsModel(chat_server.url).complete("hello")
    [request] = chat_server.requests
    assert "authorization" not in request["headers"]
    assert request["json"]["model"] == DEFAULT_MODEL_NAME


def test_chat_completions_model_reports_an_http_error(chat_server: ChatServer) -> None:
    chat_server.status = 401
    chat_server.answer = b'{"error": {"message": "invalid api key"}}'
    with pytest.raises(ModelError, match=r"answered HTTP 401: .*invalid api key"):
        ChatCompletionsModel(chat_server.url).complete("hello")


def test_chat_completions_model_reports_a_body_without_content(chat_server: ChatServer) -> None:
    chat_server.answer = b'{"choices": []}'
    with pytest.raises(ModelError, match=r"sent no choices\[0\]\.message\.content"):
        ChatCompletionsModel(chat_server.url).complete("hello")


def test_chat_completions_model_reports_an_unreachable_server() -> None:
    server = ChatServer()  # bound, then closed: nothing listens on its port any more
    url = server.url
    server.server_close()
    with pytest.raises(ModelError, match=r"^cannot reach the model at .*; check TRIO_ACTORS_MODEL_URL"):
        ChatCompletionsModel(url, timeout=5).complete("hello")


async def test_chat_completions_model_runs_in_a_worker_thread(chat_server: ChatServer) -> None:
    model = ChatCompletionsModel(chat_server.url, model="test-model")

    class Writer(Actor):
        async def receive(self, prompt):
            return await self.run_in_thread(model.complete, prompt)

    async with open_actor_system() as system:
        writer = await system.spawn(Writer)
        assert await writer.ask("Summarise: actors", timeout=10) == "Actors keep agents apart."
