"""The wire: versioned msgspec MessagePack frames, and the types allowed on them.

A frame is a MessagePack array (`Frame`) whose ``body`` holds the message (or
the error) encoded on its own, so a node reads the header before it decodes a
body of a type it may not know. Only these cross: the message and error types
listed on the transport, plain data (str, bytes, int, float, bool, None, and
lists, dicts and tuples of those), and the `ActorRef` of a public actor, which
crosses as its name (MessagePack extension type 1) and arrives as a remote
ref. Nothing is pickled, and nothing is imported by name: a type a node has not
listed is refused (messages) or arrives as `RemoteError` (errors).

The size cap (``max_message_bytes``) is checked before anything is decoded.
"""

from __future__ import annotations

import enum
import time
import typing
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from .. import _exceptions
from .._ref import ActorRef
from .._transport import RemoteError

__all__ = ["WIRE_VERSION", "Codec", "Frame", "Kind", "WireError"]

#: Bumped when a frame's layout changes; a node refuses frames of another version.
WIRE_VERSION = 1

_REF_EXT = 1  # MessagePack extension code of an ActorRef (its public name, UTF-8)
_PLAIN = ""  # the type name of plain data (no registered class)
_PLAIN_TYPES = (str, bytes, int, float, bool, type(None), list, dict, tuple)

#: The runtime's own errors always cross as themselves.
_BUILTIN_ERRORS: tuple[type[BaseException], ...] = (
    *(getattr(_exceptions, name) for name in _exceptions.__all__),
    RemoteError,
)


class Kind(enum.IntEnum):
    """What a frame carries."""

    TELL = 0
    ASK = 1
    REPLY = 2  # an ask's answer: a value
    FAILURE = 3  # an ask's answer: an error
    STREAM = 4  # an ask whose answer comes as ITEM frames, then a REPLY (its end) or a FAILURE
    ITEM = 5  # one item of a streamed answer; reply_to: the serving node's reply stream (for CANCEL)
    CANCEL = 6  # the asker left a stream early (to the serving node's reply stream; cid, reply_to: the ask's)
    CREDIT = 7  # the asker read items: the producer may send that many more (body: the count; routed as CANCEL)


class Frame(msgspec.Struct, array_like=True, frozen=True):
    """One message on the wire (field order is the wire layout, version 1)."""

    v: int
    kind: Kind
    cid: int  # correlation id: an answer carries its ask's
    trace: int  # trace id of the conversation
    sender: str | None  # public name of the sending actor
    reply_to: str | None  # where an ask's answer goes (the asker's reply stream)
    deadline: float | None  # an ask's deadline, Unix time (seconds)
    type: str  # registered type name of the body, "" for plain data
    body: msgspec.Raw


class WireError(Exception):
    """Input that is not a frame this node accepts; ``str()`` is the reason."""


def _type_name(cls: type) -> str:
    return cls.__qualname__


def _index(kind: str, types: Iterable[type], base: type | None) -> dict[str, type]:
    index: dict[str, type] = {}
    for cls in types:
        if not isinstance(cls, type):
            raise TypeError(f"{kind} must list classes, got {cls!r}")
        if base is not None and not issubclass(cls, base):
            raise TypeError(f"{kind} must list exception classes, got {cls.__qualname__}")
        if base is None and issubclass(cls, BaseException):
            raise TypeError(f"{cls.__qualname__} is an exception: list it in errors=[...], not messages=[...]")
        name = _type_name(cls)
        if index.get(name, cls) is not cls:
            raise ValueError(
                f"two classes in {kind}=[...] share the name {name!r} ({index[name].__module__} and "
                f"{cls.__module__}); the wire names types by class name, so rename one"
            )
        index[name] = cls
    return index


class Codec:
    """Encode and decode frames for one transport's registered types.

    ``ref_for(name)`` makes the ref a public name arrives as; ``address_of(ref)``
    gives the public name a ref crosses as (and raises TypeError for a ref that
    may not cross). Both are bound when the transport attaches to a system.
    """

    def __init__(self, messages: Iterable[type], errors: Iterable[type], max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.messages = _index("messages", messages, None)
        self.errors = _index("errors", errors, BaseException)
        for cls in _BUILTIN_ERRORS:
            self.errors.setdefault(_type_name(cls), cls)
        self.ref_for: Callable[[str], ActorRef[Any]] | None = None
        self.address_of: Callable[[ActorRef[Any]], str] | None = None
        self._encoder = msgspec.msgpack.Encoder(enc_hook=self._enc_hook)
        self._frame_decoder = msgspec.msgpack.Decoder(Frame)
        self._plain_decoder = msgspec.msgpack.Decoder(Any, ext_hook=self._ext_hook)
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        self._error_decoder = msgspec.msgpack.Decoder(tuple[str, list[Any]], ext_hook=self._ext_hook)

    # -- hooks -------------------------------------------------------------

    def _enc_hook(self, obj: Any) -> Any:
        if isinstance(obj, ActorRef):
            assert self.address_of is not None, "the codec is bound when the transport attaches"
            return msgspec.msgpack.Ext(_REF_EXT, self.address_of(obj).encode())
        raise NotImplementedError(
            f"{type(obj).__qualname__} cannot cross the wire: list it in RedisTransport(messages=[...]) "
            f"or send plain data"
        )

    def _ext_hook(self, code: int, data: memoryview) -> Any:
        if code != _REF_EXT:
            raise WireError(f"unknown MessagePack extension type {code}")
        assert self.ref_for is not None
        return self.ref_for(bytes(data).decode())

    @staticmethod
    def _dec_hook(cls: type, obj: Any) -> Any:
        origin = typing.get_origin(cls) or cls  # ActorRef[Any] -> ActorRef
        if isinstance(origin, type) and isinstance(obj, origin):  # the ext hook made the ref
            return obj
        raise NotImplementedError(f"cannot decode {cls!r}")

    # -- encoding ----------------------------------------------------------

    def encode(
        self,
        kind: Kind,
        message: Any,
        *,
        cid: int,
        trace: int,
        sender: str | None = None,
        reply_to: str | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """A frame carrying ``message``.

        Raises:
          TypeError: the message's type is not listed (or holds something that
            cannot cross, like the ref of an actor that is not public).
          ValueError: the frame is larger than ``max_message_bytes``.
        """
        cls = type(message)
        if cls in _PLAIN_TYPES:
            type_name = _PLAIN
        else:
            type_name = _type_name(cls)
            if self.messages.get(type_name) is not cls:
                raise TypeError(
                    f"{cls.__name__} is not a message type of this transport; list it in "
                    f"RedisTransport(messages=[...]) on every node that sends or receives it"
                )
        body = self._encode_body(message)
        deadline = None if timeout is None else time.time() + timeout
        return self._frame(Frame(WIRE_VERSION, kind, cid, trace, sender, reply_to, deadline, type_name, body))

    def encode_failure(self, error: BaseException, *, cid: int, trace: int) -> bytes:
        """An ask's failed answer: the error's type name, text and (if plain) args."""
        if isinstance(error, RemoteError):
            type_name, text, args = error.type_name, error.text, [error.type_name, error.text]
        else:
            type_name, text, args = _type_name(type(error)), str(error), list(error.args)
        try:
            body = self._encode_body((text, args))
        except (TypeError, ValueError):
            body = self._encode_body((text, [text]))
        frame = Frame(WIRE_VERSION, Kind.FAILURE, cid, trace, None, None, None, type_name, body)
        try:
            return self._frame(frame)
        except ValueError:  # an error too large to carry: say so, in a small one
            small = self._encode_body((f"{text[:200]}... (error too large for the wire)", []))
            return self._frame(Frame(WIRE_VERSION, Kind.FAILURE, cid, trace, None, None, None, type_name, small))

    def _encode_body(self, value: Any) -> msgspec.Raw:
        try:
            return msgspec.Raw(self._encoder.encode(value))
        except NotImplementedError as exc:  # raised by our hook for an object of unknown type
            raise TypeError(str(exc)) from None

    def _frame(self, frame: Frame) -> bytes:
        data = self._encoder.encode(frame)
        if len(data) > self.max_message_bytes:
            raise ValueError(
                f"{frame.type or 'message'} is {len(data)} bytes on the wire, more than "
                f"max_message_bytes={self.max_message_bytes}; send a reference to the data "
                f"(a key, a path) instead, or raise max_message_bytes on every node"
            )
        return data

    # -- decoding ----------------------------------------------------------

    def decode(self, data: bytes) -> Frame:
        """The frame in ``data``, its header checked (the body is decoded later).

        Raises:
          WireError: oversize, not a frame, or another wire version.
        """
        if len(data) > self.max_message_bytes:
            raise WireError(f"oversize input: {len(data)} bytes, more than max_message_bytes={self.max_message_bytes}")
        try:
            frame = self._frame_decoder.decode(data)
        except msgspec.DecodeError as exc:
            version = _peek_version(data)
            if version is not None and version != WIRE_VERSION:
                raise WireError(f"wire version {version} (this node speaks version {WIRE_VERSION})") from None
            raise WireError(f"malformed frame: {exc}") from None
        if frame.v != WIRE_VERSION:
            raise WireError(f"wire version {frame.v} (this node speaks version {WIRE_VERSION})")
        return frame

    def decode_message(self, frame: Frame) -> Any:
        """The message a TELL, ASK, STREAM, REPLY or ITEM frame carries.

        Raises:
          WireError: an unknown type, or a body that does not fit its type.
        """
        if frame.type == _PLAIN:
            decoder = self._plain_decoder
        else:
            decoder = self._decoders.get(frame.type)  # type: ignore[assignment]
            if decoder is None:
                cls = self.messages.get(frame.type)
                if cls is None:
                    raise WireError(
                        f"unknown message type {frame.type!r}: list it in RedisTransport(messages=[...]) on this node"
                    )
                decoder = msgspec.msgpack.Decoder(cls, ext_hook=self._ext_hook, dec_hook=self._dec_hook)
                self._decoders[frame.type] = decoder
        try:
            return decoder.decode(frame.body)
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise WireError(f"body does not fit {frame.type or 'plain data'}: {exc}") from None

    def decode_failure(self, frame: Frame) -> BaseException:
        """The error a FAILURE frame carries: as itself if listed, else `RemoteError`."""
        try:
            text, args = self._error_decoder.decode(frame.body)
        except (msgspec.DecodeError, WireError) as exc:
            return RemoteError(frame.type, f"(undecodable error text: {exc})")
        cls = self.errors.get(frame.type)
        if cls is RemoteError and len(args) == 2:
            return RemoteError(str(args[0]), str(args[1]))
        if cls is not None:
            try:
                error: BaseException = cls(*args)
            except Exception:  # its __init__ wants other arguments: the text is all we have
                try:
                    error = cls(text)
                except Exception:
                    return RemoteError(frame.type, text)
            return error
        return RemoteError(frame.type, text)


def _peek_version(data: bytes) -> int | None:
    try:
        value = msgspec.msgpack.decode(data)
    except Exception:
        return None
    if isinstance(value, list) and value and isinstance(value[0], int) and not isinstance(value[0], bool):
        return value[0]
    return None
