"""Message types and actors shared by the remote tests and the node processes they start."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from actors import Actor, ActorRef


@attrs.frozen
class Echo:
    text: str


@attrs.frozen
class Fail:
    kind: str  # "listed" (Overdrawn), "unlisted" (KeyError), "stop" (UnhandledMessage)


@attrs.frozen
class Slow:
    seconds: float


@attrs.frozen
class Item:
    sender: str
    seq: int


@attrs.frozen
class Hello:
    """Carries a ref: the receiver answers it with a tell."""

    reply_to: ActorRef[Any]
    text: str


@attrs.frozen
class Greeting:
    text: str


class Overdrawn(Exception):
    """A listed error type: crosses the wire as itself."""


MESSAGES = [Echo, Fail, Slow, Item, Hello, Greeting]
ERRORS = [Overdrawn]


class Worker(Actor):
    """Answers Echo, fails on Fail, sleeps on Slow, records everything it handled."""

    def __init__(
        self, node: str = "?", seen: list[Any] | None = None, got: trio.Event | None = None, expect: int = 0
    ) -> None:
        self.node = node
        self.seen = seen if seen is not None else []
        self.got = got
        self.expect = expect

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        if self.got is not None and len(self.seen) >= self.expect:
            self.got.set()
        match message:
            case Echo(text):
                return f"{self.node}:{text.upper()}"
            case Fail("listed"):
                raise Overdrawn("balance is 0")
            case Fail("unlisted"):
                raise KeyError("missing")
            case Fail(_):
                self.unhandled(message)
            case Slow(seconds):
                await trio.sleep(seconds)
                return "slept"
            case Hello(reply_to, text):
                reply_to.tell(Greeting(f"hello {text} from {self.node}"))
                return "sent"
            case Item():
                return None
            case _:
                return ("plain", message)


class Collector(Actor):
    """Keeps every message (and its sender) and sets an event at a count."""

    def __init__(self, seen: list[Any], got: trio.Event | None = None, expect: int = 1) -> None:
        self.seen = seen
        self.got = got
        self.expect = expect
        self.senders: list[Any] = []

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        self.senders.append(self.sender)
        if self.got is not None and len(self.seen) >= self.expect:
            self.got.set()
        return None
