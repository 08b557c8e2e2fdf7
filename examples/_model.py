"""The language model the examples talk to: an offline stand-in, or a real endpoint.

Agents in the examples call ``model.complete(prompt) -> str``. It is a plain
blocking call, as a sync SDK's would be, so an actor runs it in a worker thread
(``await self.run_in_thread(model.complete, prompt)``) and the event loop never
stalls while the model thinks.

`get_model()` picks the model from the environment:

- By default it returns a `ModelStandIn`: offline, free, and deterministic. The
  same seed and prompt always give the same answer after the same delay, so an
  example prints the same story on every run.
- With ``TRIO_ACTORS_MODEL_URL`` set to the base URL of an OpenAI-compatible
  server (OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio, ...), it returns
  a `ChatCompletionsModel` that POSTs to ``{url}/chat/completions``.
  ``TRIO_ACTORS_MODEL_NAME`` names the model (default ``gpt-4o-mini``) and
  ``TRIO_ACTORS_MODEL_KEY``, if set, is sent as a bearer token. It uses only
  the standard library (``urllib.request``), so it adds no dependency::

      TRIO_ACTORS_MODEL_URL=http://localhost:11434/v1 TRIO_ACTORS_MODEL_NAME=llama3.2 \\
          python -m examples.research_team
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Protocol

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ChatCompletionsModel",
    "Model",
    "ModelError",
    "ModelStandIn",
    "get_model",
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
    """What an agent needs from a model: a name to show, and a blocking completion."""

    @property
    def name(self) -> str: ...

    def complete(self, prompt: str) -> str: ...


class ModelError(RuntimeError):
    """Raised by `ChatCompletionsModel.complete` when the endpoint fails or answers nonsense."""


class ModelStandIn:
    """A deterministic fake language model with a realistic, variable delay.

    ``complete(prompt)`` blocks for a delay between ``min_latency`` and
    ``max_latency`` seconds (``time.sleep``, like a network call), then returns
    two short sentences about the prompt's subject: the text after the last
    ``": "`` on the prompt's last line, or that whole line.

    Each answer and delay come from a ``random.Random`` seeded with the seed
    *and the prompt*, not from one shared generator: they depend on nothing
    else, in particular not on the order of calls. So agents calling it from
    several threads at once still get the same answers, after the same delays,
    on every run. Thread-safe: it keeps no mutable state.

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
        """The delay in seconds that ``complete(prompt)`` will take (without sleeping)."""
        return self._rng(prompt).uniform(self.min_latency, self.max_latency)

    def complete(self, prompt: str) -> str:
        """Block for this prompt's delay, then return its answer. Run it in a worker thread."""
        rng = self._rng(prompt)
        delay = rng.uniform(self.min_latency, self.max_latency)  # first draw: the same as latency()
        answer = (
            f"{rng.choice(_OPENERS)} {rng.choice(_CLAIMS).format(subject=_subject(prompt))}. "
            f"{rng.choice(_FOLLOW_UPS)}"
        )
        time.sleep(delay)
        return answer


def _subject(prompt: str) -> str:
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "this question"
    subject = last.rsplit(": ", 1)[-1].strip().rstrip("?.!:;")
    return subject or "this question"


class ChatCompletionsModel:
    """A blocking client for an OpenAI-compatible ``/chat/completions`` endpoint.

    ``complete(prompt)`` sends the prompt as one user message and returns the
    first choice's text. It blocks its thread for the whole request (stdlib
    ``urllib.request``), so call it through ``run_in_thread`` or ``actors.tool``.

    Args:
      url: the API's base URL, e.g. ``https://api.openai.com/v1`` or
        ``http://localhost:11434/v1`` (a URL already ending in
        ``/chat/completions`` is used as it is).
      model: the model name the server expects.
      api_key: sent as ``Authorization: Bearer <key>`` when given.
      timeout: seconds to wait for the server before giving up.

    Raises (from ``complete``):
      ModelError: the server is unreachable, answers with an HTTP error, or
        sends a body without ``choices[0].message.content``.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str = DEFAULT_MODEL_NAME,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the model URL must start with http:// or https://, got {url!r}")
        url = url.rstrip("/")
        self.endpoint = url if url.endswith("/chat/completions") else f"{url}/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"{self.model} at {self.endpoint}"

    def __repr__(self) -> str:
        return f"ChatCompletionsModel({self.endpoint!r}, model={self.model!r})"

    def complete(self, prompt: str) -> str:
        """POST the prompt and return the answer's text (blocking)."""
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise ModelError(f"{self.endpoint} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(
                f"cannot reach the model at {self.endpoint} ({reason}); check TRIO_ACTORS_MODEL_URL, "
                f"or unset it to use the offline stand-in"
            ) from exc
        try:
            return str(json.loads(raw)["choices"][0]["message"]["content"]).strip()
        except (ValueError, LookupError, TypeError) as exc:
            raise ModelError(
                f"{self.endpoint} sent no choices[0].message.content; the body began {raw[:200]!r}"
            ) from exc


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
    """
    env = os.environ if environ is None else environ
    url = env.get("TRIO_ACTORS_MODEL_URL", "").strip()
    if not url:
        return ModelStandIn(seed, min_latency=min_latency, max_latency=max_latency)
    return ChatCompletionsModel(
        url,
        model=env.get("TRIO_ACTORS_MODEL_NAME", "").strip() or DEFAULT_MODEL_NAME,
        api_key=env.get("TRIO_ACTORS_MODEL_KEY", "").strip() or None,
    )
