"""The language model the examples talk to: an offline stand-in, or a real endpoint.

Agents in the examples ``await model.complete(prompt) -> str``, or stream the
answer piece by piece::

    async with model.stream(prompt) as pieces:
        async for piece in pieces:
            ...

Both are async and cancellable: when the ask an agent serves times out (or its
asker gives up), the runtime cancels the handler, and with it the model call:
a real client closes its HTTP request at once, so nobody pays for tokens no
one waits for. Pass ``timeout=self.time_left()`` so the client's own retries
stop in time too.

`get_model()` picks the model from the environment:

- By default it returns a `ModelStandIn`: offline, free, and deterministic. The
  same seed and prompt always give the same answer after the same delay, so an
  example prints the same story on every run. Its delays are ``trio.sleep``,
  so under a ``MockClock`` they take no real time.
- With ``TRIO_ACTORS_MODEL_URL`` set to the base URL of an OpenAI-compatible
  server (OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio, ...), it returns
  an `OpenAIModel`: the official async ``openai`` client
  (``pip install 'trio-actors[openai]'``). ``TRIO_ACTORS_MODEL_NAME`` names the
  model (default ``gpt-4o-mini``) and ``TRIO_ACTORS_MODEL_KEY``, if set, is the
  API key::

      TRIO_ACTORS_MODEL_URL=http://localhost:11434/v1 TRIO_ACTORS_MODEL_NAME=llama3.2 \\
          python -m examples.research_team

To test agents that use the real client in virtual time, without a socket,
give `OpenAIModel` the client `offline_openai_client` builds: the ``openai``
SDK runs as it is (requests, retries, server-sent events), but its transport
answers in memory from a `ModelStandIn`, with ``trio.sleep`` delays.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import trio

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Model",
    "ModelError",
    "ModelStandIn",
    "OpenAIModel",
    "get_model",
    "offline_openai_client",
]

DEFAULT_MODEL_NAME = "gpt-4o-mini"

# The stand-in's phrase book: an answer is an opener, a claim about the prompt's
# subject, and a follow-up, each picked by the seeded random generator.
_OPENERS = (
    "Most sources agree that",
    "The evidence suggests that",
    "In short,",
    "Practitioners report that",
    "The clearest finding is that",
    "On balance,",
    "Experience from production says that",
    "Surprisingly often,",
)
_CLAIMS = (  # modal verbs, so any noun phrase fits as the subject
    "{subject} can trade a little latency for a lot of isolation",
    "{subject} will look simple in a demo and break under load unless every wait has a deadline",
    "{subject} can pay off once more than a handful of agents run at once",
    "{subject} should be designed for failure, because crashes are routine",
    "{subject} will matter more than the choice of model",
    "{subject} can hide most of the latency users would otherwise see",
    "{subject} should stay out of the event loop's way",
    "{subject} must be visible in the logs before it can be fixed",
    "{subject} can turn one slow dependency into a stalled system",
    "{subject} should be tested with failures injected on purpose",
    "{subject} will decide how the system behaves on its worst day",
    "{subject} can be made boring, which is the goal",
)
_FOLLOW_UPS = (
    "Measure before tuning.",
    "Timeouts and retries do most of the work.",
    "Keep each agent's state private.",
    "Let a supervisor restart what crashes.",
    "The cost shows up in tail latency, not in averages.",
    "Small immutable messages keep it easy to trace.",
    "Start simple and add concurrency where the waiting is.",
    "Bound every queue, or memory will do it for you.",
    "Record what was lost, never drop it silently.",
    "Correlation ids make the logs readable.",
)


class Model(Protocol):
    """What an agent needs from a model: a name to show, a completion, a streamed completion."""

    @property
    def name(self) -> str: ...

    async def complete(self, prompt: str, *, timeout: float | None = None) -> str: ...

    def stream(
        self, prompt: str, *, timeout: float | None = None
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[str]]: ...


class ModelError(RuntimeError):
    """Raised when the model endpoint fails or answers nonsense, or cannot be used."""


def _seconds(timeout: float | None) -> float | None:
    """A timeout for a client: None for none (``math.inf`` included)."""
    return None if timeout is None or math.isinf(timeout) else max(0.0, timeout)


class ModelStandIn:
    """A deterministic fake language model with a realistic, variable delay.

    ``await complete(prompt)`` waits a delay between ``min_latency`` and
    ``max_latency`` seconds (``trio.sleep``: cancellable, and virtual under a
    MockClock), then returns two short sentences about the prompt's subject:
    the text after the last ``": "`` on the prompt's last line, or that whole
    line. ``stream(prompt)`` gives the same answer word by word, the same delay
    spread over the words.

    Each answer and delay come from a ``random.Random`` seeded with the seed
    *and the prompt*, not from one shared generator: they depend on nothing
    else, in particular not on the order of calls, so concurrent agents get the
    same answers after the same delays on every run. It keeps no mutable state.

    Args:
      seed: any int; another seed gives other answers and delays.
      min_latency, max_latency: the range of delays in seconds (kept small so
        examples finish in seconds).

    Raises:
      ValueError: a latency is negative, or ``max_latency < min_latency``.
    """

    def __init__(self, seed: int = 0, *, min_latency: float = 0.05, max_latency: float = 0.25) -> None:
        if min_latency < 0:
            raise ValueError(f"min_latency must be >= 0 seconds, got {min_latency!r}")
        if max_latency < min_latency:
            raise ValueError(f"max_latency ({max_latency!r}) must be >= min_latency ({min_latency!r})")
        self.seed = seed
        self.min_latency = min_latency
        self.max_latency = max_latency

    @property
    def name(self) -> str:
        return f"offline stand-in (seed {self.seed})"

    def __repr__(self) -> str:
        return f"ModelStandIn(seed={self.seed!r}, min_latency={self.min_latency!r}, max_latency={self.max_latency!r})"

    def _rng(self, prompt: str) -> random.Random:
        return random.Random(f"{self.seed}\x00{prompt}")  # str seeds hash stably (SHA-512)

    def latency(self, prompt: str) -> float:
        """The delay in seconds that ``complete(prompt)`` will take (without waiting)."""
        return self._rng(prompt).uniform(self.min_latency, self.max_latency)

    def answer(self, prompt: str) -> str:
        """The answer ``complete(prompt)`` will give (at once, without the delay)."""
        rng = self._rng(prompt)
        rng.uniform(self.min_latency, self.max_latency)  # first draw: the delay, as in latency()
        return (
            f"{rng.choice(_OPENERS)} {rng.choice(_CLAIMS).format(subject=_subject(prompt))}. {rng.choice(_FOLLOW_UPS)}"
        )

    def pieces(self, prompt: str) -> list[str]:
        """The answer cut into the pieces ``stream(prompt)`` gives: words with their spaces."""
        words = self.answer(prompt).split(" ")
        return [word + " " for word in words[:-1]] + words[-1:]

    async def complete(self, prompt: str, *, timeout: float | None = None) -> str:
        """Wait for this prompt's delay, then return its answer (``timeout`` is ignored)."""
        await trio.sleep(self.latency(prompt))
        return self.answer(prompt)

    @contextlib.asynccontextmanager
    async def stream(self, prompt: str, *, timeout: float | None = None) -> AsyncIterator[AsyncIterator[str]]:
        """The answer piece by piece, its delay spread evenly over the pieces."""
        pieces = self.pieces(prompt)
        pause = self.latency(prompt) / len(pieces)

        async def each() -> AsyncIterator[str]:
            for piece in pieces:
                await trio.sleep(pause)
                yield piece

        iterator = each()
        try:
            yield iterator
        finally:
            await iterator.aclose()  # type: ignore[attr-defined]


class OpenAIModel:
    """A model behind an OpenAI-compatible API, through the official async ``openai`` client.

    ``complete`` sends the prompt as one user message and returns the first
    choice's text; ``stream`` asks with ``stream=True`` and gives the text as it
    arrives. Both are cancellable: cancelling the call (an ask's deadline
    passing, its asker giving up) closes the HTTP request at once. One client
    may be shared by any number of actors.

    Args:
      client: an ``openai.AsyncOpenAI`` to use (for instance one made by
        `offline_openai_client`); if None, one is made from the rest.
      url: the API's base URL, e.g. ``https://api.openai.com/v1`` or
        ``http://localhost:11434/v1``.
      model: the model name the server expects.
      api_key: the API key (servers that need none get a placeholder).
      max_retries: the client's own retries (429s, 5xx, dropped connections);
        with ``timeout=self.time_left()`` they stop at the ask's deadline.

    Raises:
      ModelError: no client and no ``url``, or the ``openai`` package is missing.
    """

    def __init__(
        self,
        client: AsyncOpenAI | None = None,
        *,
        url: str | None = None,
        model: str = DEFAULT_MODEL_NAME,
        api_key: str | None = None,
        max_retries: int = 2,
    ) -> None:
        if client is None:
            if not url:
                raise ModelError("OpenAIModel needs a client or a url, e.g. url='http://localhost:11434/v1'")
            if not url.startswith(("http://", "https://")):
                raise ModelError(f"the model URL must start with http:// or https://, got {url!r}")
            try:
                from openai import AsyncOpenAI
            except ImportError:
                raise ModelError(
                    "the real model needs the openai package: pip install 'trio-actors[openai]', or unset "
                    "TRIO_ACTORS_MODEL_URL to use the offline stand-in"
                ) from None
            client = AsyncOpenAI(base_url=url.rstrip("/"), api_key=api_key or "not-needed", max_retries=max_retries)
        self.client = client
        self.model = model

    @property
    def name(self) -> str:
        return f"{self.model} at {self.client.base_url}"

    def __repr__(self) -> str:
        return f"OpenAIModel(url={str(self.client.base_url)!r}, model={self.model!r})"

    def _request(self, prompt: str, timeout: float | None) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        if _seconds(timeout) is not None:
            request["timeout"] = _seconds(timeout)
        return request

    async def complete(self, prompt: str, *, timeout: float | None = None) -> str:
        """Ask the model and return its answer's text.

        Raises:
          ModelError: the answer has no text. The client's own errors
            (``openai.APIError`` and its kin) pass through.
        """
        response = await self.client.chat.completions.create(**self._request(prompt, timeout))
        content = response.choices[0].message.content if response.choices else None
        if content is None:
            raise ModelError(f"{self.name} answered without text: {response!r:.200}")
        return content.strip()

    @contextlib.asynccontextmanager
    async def stream(self, prompt: str, *, timeout: float | None = None) -> AsyncIterator[AsyncIterator[str]]:
        """Ask with ``stream=True``; iterate the text pieces inside the ``async with``.

        Leaving the block (or being cancelled) closes the HTTP response at once.
        While the reader does not ask for the next piece, nothing more is read
        from the socket: backpressure reaches the server.
        """
        chunks = await self.client.chat.completions.create(**self._request(prompt, timeout), stream=True)

        async def pieces() -> AsyncIterator[str]:
            async for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

        iterator = pieces()
        try:
            yield iterator
        finally:
            await iterator.aclose()  # type: ignore[attr-defined]
            await chunks.close()


# -- a transport for tests: the real SDK, no socket --------------------------


def offline_openai_client(stand_in: ModelStandIn | None = None, *, max_retries: int = 2) -> AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` whose transport answers in memory, from a `ModelStandIn`.

    Everything above the transport is the real SDK: request building, retries,
    parsing, server-sent events for ``stream=True``. The answers and delays are
    the stand-in's (``trio.sleep``), so agents built on `OpenAIModel` can be
    tested under ``MockClock(autojump_threshold=0)`` (the ``actor_system_autojump``
    fixture): exact, instant, and cancellable like the real thing::

        model = OpenAIModel(offline_openai_client(ModelStandIn(seed=1)))

    A prompt containing ``[429]`` gets one ``429 Too Many Requests`` with
    ``retry-after: 1`` first, to exercise the SDK's retries.
    """
    from openai import AsyncOpenAI

    try:
        import httpx2  # the HTTP client of openai 3.x
    except ImportError:  # pragma: no cover - openai 1.x and 2.x use httpx, whose API this shares
        import httpx as httpx2  # type: ignore[no-redef, import-not-found, unused-ignore]

    model: ModelStandIn = stand_in or ModelStandIn()
    refused: set[str] = set()

    class Pieces(httpx2.AsyncByteStream):
        def __init__(self, prompt: str, model: str) -> None:
            self.prompt, self.model = prompt, model

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pieces = model.pieces(self.prompt)
            pause = model.latency(self.prompt) / len(pieces)
            for piece in pieces:
                await trio.sleep(pause)
                yield _sse(
                    {
                        "id": "offline",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": self.model,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                )
            yield b"data: [DONE]\n\n"

    async def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        if "[429]" in prompt and prompt not in refused:
            refused.add(prompt)
            return httpx2.Response(
                429, headers={"retry-after": "1"}, json={"error": {"message": "slow down", "type": "rate_limit_error"}}
            )
        if body.get("stream"):
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, stream=Pieces(prompt, body["model"])
            )
        return httpx2.Response(200, json=_completion(body["model"], await model.complete(prompt)))

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handle))
    client = AsyncOpenAI(
        base_url="http://offline.invalid/v1", api_key="offline", http_client=http_client, max_retries=max_retries
    )
    # The SDK looks up the platform in a worker thread on its first request; under a
    # MockClock a thread lets virtual time run ahead (a deadline would pass at once),
    # so look it up here, now.
    from openai._base_client import get_platform

    client._platform = get_platform()
    return client


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "offline",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def get_model(
    seed: int = 0,
    *,
    min_latency: float = 0.05,
    max_latency: float = 0.25,
    environ: Mapping[str, str] | None = None,
) -> Model:
    """The model the examples use: a real endpoint if the environment names one, else the stand-in.

    Args:
      seed, min_latency, max_latency: the stand-in's settings (unused for a
        real endpoint).
      environ: where to read ``TRIO_ACTORS_MODEL_URL``, ``TRIO_ACTORS_MODEL_NAME``
        and ``TRIO_ACTORS_MODEL_KEY`` (default ``os.environ``). Empty values
        count as unset.

    Raises:
      ModelError: a URL is set but the ``openai`` package is not installed.
    """
    env = os.environ if environ is None else environ
    url = env.get("TRIO_ACTORS_MODEL_URL", "").strip()
    if not url:
        return ModelStandIn(seed, min_latency=min_latency, max_latency=max_latency)
    return OpenAIModel(
        url=url,
        model=env.get("TRIO_ACTORS_MODEL_NAME", "").strip() or DEFAULT_MODEL_NAME,
        api_key=env.get("TRIO_ACTORS_MODEL_KEY", "").strip() or None,
    )


def _subject(prompt: str) -> str:
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "this question"
    subject = last.rsplit(": ", 1)[-1].strip().rstrip("?.!:;")
    return subject or "this question"
