"""The wire codec on its own (no Redis): what crosses, as what, and what is refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
import msgspec
import pytest
from nodekit import ERRORS, MESSAGES, Echo, Overdrawn

from actors import ActorStopped, AskTimeout, MailboxFull, RemoteError
from actors.redis import RedisTransport
from actors.redis._wire import WIRE_VERSION, Codec, Kind, WireError


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Sample(msgspec.Struct, frozen=True):
    name: str
    points: tuple[Point, ...] = ()
    extra: dict[str, Any] = {}


@pytest.fixture
def codec() -> Codec:
    c = Codec([*MESSAGES, Point, Sample], ERRORS, 10_000)
    refs: dict[str, Any] = {}

    class FakeRef:
        def __init__(self, name: str) -> None:
            self.name = name

    c.ref_for = lambda name: refs.setdefault(name, FakeRef(name))
    c.address_of = lambda ref: ref.name
    return c


@pytest.mark.parametrize(
    "message",
    [
        Echo("hi"),
        Point(1, 2),
        Sample("s", (Point(1, 2),), {"k": [1, "two", None]}),
        "text",
        b"bytes",
        42,
        2.5,
        True,
        None,
        [1, [2, 3]],
        {"a": {"b": 1}},
    ],
)
def test_listed_types_and_plain_data_round_trip(codec: Codec, message: Any) -> None:
    frame = codec.decode(codec.encode(Kind.TELL, message, cid=1, trace=2, sender="x"))
    assert frame.v == WIRE_VERSION and frame.kind is Kind.TELL and frame.sender == "x"
    assert codec.decode_message(frame) == message


def test_a_tuple_of_plain_data_arrives_as_a_list(codec: Codec) -> None:
    assert codec.decode_message(codec.decode(codec.encode(Kind.TELL, (1, "a"), cid=1, trace=1))) == [1, "a"]


def test_an_ask_carries_its_deadline_as_unix_time(codec: Codec) -> None:
    import time

    before = time.time()
    frame = codec.decode(codec.encode(Kind.ASK, Echo("x"), cid=5, trace=6, reply_to="r", timeout=3.0))
    assert frame.cid == 5 and frame.reply_to == "r"
    assert frame.deadline is not None and before + 3.0 <= frame.deadline <= time.time() + 3.0


def test_a_listed_error_round_trips_as_itself_and_an_unlisted_one_as_remote_error(codec: Codec) -> None:
    def cross(error: BaseException) -> BaseException:
        return codec.decode_failure(codec.decode(codec.encode_failure(error, cid=1, trace=1)))

    error = cross(Overdrawn("balance is 0"))
    assert type(error) is Overdrawn and str(error) == "balance is 0"
    for runtime_error in (ActorStopped("gone"), AskTimeout("late"), MailboxFull("full")):
        crossed = cross(runtime_error)
        assert type(crossed) is type(runtime_error) and str(crossed) == str(runtime_error)
    unknown = cross(ZeroDivisionError("division by zero"))
    assert type(unknown) is RemoteError and unknown.type_name == "ZeroDivisionError"
    assert str(unknown) == "ZeroDivisionError: division by zero"
    again = cross(unknown)  # relayed by a second node: still names the original type
    assert type(again) is RemoteError and again.type_name == "ZeroDivisionError" and again.text == "division by zero"


def test_an_error_whose_args_cannot_cross_still_crosses_with_its_text(codec: Codec) -> None:
    error = codec.decode_failure(codec.decode(codec.encode_failure(Overdrawn(object()), cid=1, trace=1)))
    assert type(error) is Overdrawn and "object object" in str(error)


def test_unlisted_and_oversize_messages_are_refused_on_the_sender(codec: Codec) -> None:
    @attrs.frozen
    class Secret:
        x: int

    with pytest.raises(TypeError, match=r"^Secret is not a message type of this transport"):
        codec.encode(Kind.TELL, Secret(1), cid=1, trace=1)
    with pytest.raises(TypeError, match="cannot cross the wire"):
        codec.encode(Kind.TELL, {"k": object()}, cid=1, trace=1)
    with pytest.raises(ValueError, match=r"^Echo is \d+ bytes on the wire, more than max_message_bytes=10000;"):
        codec.encode(Kind.TELL, Echo("x" * 20_000), cid=1, trace=1)


def test_decoding_refuses_garbage_oversize_and_other_versions(codec: Codec) -> None:
    with pytest.raises(WireError, match="^malformed frame"):
        codec.decode(b"\xc1")
    with pytest.raises(WireError, match=r"^oversize input: 20000 bytes"):
        codec.decode(b"\x00" * 20_000)
    good = msgspec.msgpack.decode(codec.encode(Kind.TELL, "x", cid=1, trace=1))
    good[0] = 2
    with pytest.raises(WireError, match=r"^wire version 2 \(this node speaks version 1\)$"):
        codec.decode(msgspec.msgpack.encode(good))


def test_the_transport_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"^namespace must be letters, digits"):
        RedisTransport(namespace="a b")
    with pytest.raises(ValueError, match=r"^url must start with redis://"):
        RedisTransport("http://x", namespace="n")
    with pytest.raises(ValueError, match=r"^two classes in messages=\[\.\.\.\] share the name 'Echo'"):
        RedisTransport(namespace="n", messages=[Echo, attrs.make_class("Echo", ["x"])])
    with pytest.raises(TypeError, match="is an exception: list it in errors"):
        RedisTransport(namespace="n", messages=[Overdrawn])
    with pytest.raises(ValueError, match=r"^prefetch must be > 0, got 0$"):
        RedisTransport(namespace="n", prefetch=0)
    with pytest.raises(ValueError, match=r"socket_timeout \(1.0\) must be longer than read_block \(2.0\)"):
        RedisTransport(namespace="n", socket_timeout=1.0)
