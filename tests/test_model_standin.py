"""The examples' model: the deterministic stand-in, and the choice by environment.

The stand-in's delays are ``trio.sleep``, so these run in virtual time. The real
client (`OpenAIModel`) is tested against a local server in test_openai.py, and
through the in-memory transport in test_openai_offline.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is not installed: import it from the checkout

from actors import Actor  # noqa: E402
from examples._model import (  # noqa: E402
    DEFAULT_MODEL_NAME,
    ModelError,
    ModelStandIn,
    OpenAIModel,
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
    first = [ModelStandIn(3, **FAST).answer(prompt) for prompt in PROMPTS]
    again = [ModelStandIn(3, **FAST).answer(prompt) for prompt in PROMPTS]
    assert first == again


def test_stand_in_answers_do_not_depend_on_call_order() -> None:
    model = ModelStandIn(3, **FAST)
    forwards = {prompt: model.answer(prompt) for prompt in PROMPTS}
    backwards = {prompt: model.answer(prompt) for prompt in reversed(PROMPTS)}
    assert forwards == backwards


def test_stand_in_answers_change_with_the_seed() -> None:
    answers = {tuple(ModelStandIn(seed, **FAST).answer(p) for p in PROMPTS) for seed in range(5)}
    assert len(answers) > 1


def test_stand_in_answers_about_the_subject_on_the_last_line() -> None:
    answer = ModelStandIn(0, **FAST).answer("Context first.\n\nAnswer briefly: mailbox backpressure?")
    assert "mailbox backpressure " in answer
    assert answer.endswith(".")
    assert "?" not in answer


async def test_stand_in_completes_after_its_deterministic_latency(autojump_clock) -> None:
    model = ModelStandIn(1, min_latency=0.02, max_latency=0.08)
    delays = [model.latency(prompt) for prompt in PROMPTS]
    assert delays == [ModelStandIn(1, min_latency=0.02, max_latency=0.08).latency(p) for p in PROMPTS]
    assert all(0.02 <= delay <= 0.08 for delay in delays)
    started = trio.current_time()
    assert await model.complete(PROMPTS[0]) == model.answer(PROMPTS[0])
    assert trio.current_time() - started == pytest.approx(delays[0])


async def test_stand_in_streams_its_answer_in_pieces_over_the_same_delay(autojump_clock) -> None:
    model = ModelStandIn(2, min_latency=1, max_latency=2)
    started = trio.current_time()
    async with model.stream(PROMPTS[1]) as pieces:
        got = [piece async for piece in pieces]
    assert "".join(got) == model.answer(PROMPTS[1])
    assert got == model.pieces(PROMPTS[1]) and len(got) > 5
    assert trio.current_time() - started == pytest.approx(model.latency(PROMPTS[1]))


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


async def test_stand_in_does_not_block_other_actors(actor_system_autojump) -> None:
    model = ModelStandIn(0, min_latency=2, max_latency=2)

    class Writer(Actor):
        async def receive(self, prompt):
            return await model.complete(prompt)

    class Echo(Actor):
        async def receive(self, message):
            return message

    writer = await actor_system_autojump.spawn(Writer)
    echo = await actor_system_autojump.spawn(Echo)
    slow = writer.ask_nowait(PROMPTS[0], timeout=5)
    started = trio.current_time()
    assert await echo.ask("ping", timeout=5) == "ping"
    assert trio.current_time() == started  # answered while the model "thinks"
    assert await slow == model.answer(PROMPTS[0])


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
    pytest.importorskip("openai")
    model = get_model(
        environ={
            "TRIO_ACTORS_MODEL_URL": "http://localhost:11434/v1/",
            "TRIO_ACTORS_MODEL_NAME": "llama3.2",
            "TRIO_ACTORS_MODEL_KEY": "sk-test",
        }
    )
    assert isinstance(model, OpenAIModel)
    assert str(model.client.base_url) == "http://localhost:11434/v1/"
    assert model.model == "llama3.2"
    assert model.client.api_key == "sk-test"
    assert model.name == "llama3.2 at http://localhost:11434/v1/"


def test_get_model_defaults_the_name_and_needs_no_key() -> None:
    pytest.importorskip("openai")
    model = get_model(environ={"TRIO_ACTORS_MODEL_URL": "https://api.example.com/v1"})
    assert isinstance(model, OpenAIModel)
    assert model.model == DEFAULT_MODEL_NAME
    assert model.client.api_key == "not-needed"


def test_get_model_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openai")
    monkeypatch.setenv("TRIO_ACTORS_MODEL_URL", "http://127.0.0.1:9/v1")
    assert isinstance(get_model(), OpenAIModel)
    monkeypatch.delenv("TRIO_ACTORS_MODEL_URL")
    assert isinstance(get_model(), ModelStandIn)


def test_openai_model_needs_a_client_or_a_url_with_a_scheme() -> None:
    with pytest.raises(ModelError, match=r"^OpenAIModel needs a client or a url"):
        OpenAIModel()
    with pytest.raises(ModelError, match=r"^the model URL must start with http:// or https://, got 'localhost:8000'$"):
        OpenAIModel(url="localhost:8000")


def test_get_model_without_the_openai_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with pytest.raises(ModelError, match=r"pip install 'trio-actors\[openai\]', or unset TRIO_ACTORS_MODEL_URL"):
        get_model(environ={"TRIO_ACTORS_MODEL_URL": "http://localhost:11434/v1"})
