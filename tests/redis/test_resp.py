"""The native RESP channel: pipelines, timeouts, cancellation, a peer that hangs up.

The fault cases talk to a fake Redis on the other end of a socket pair, so the
test controls what "Redis" says (or does not say) and runs on a mock clock.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis
import trio
import trio.testing

from actors.redis._resp import NativeChannel, _encode, enforce_timeouts


def fake_redis(channel: NativeChannel) -> socket.socket:
    """Connect ``channel`` to a socket pair and return the fake Redis's end."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    channel._socket = ours
    return theirs


def unconnectable_channel(timeout: float = 5.0) -> NativeChannel:
    return NativeChannel("redis://127.0.0.1:1", timeout=timeout, options={})


async def test_a_pipeline_larger_than_the_socket_buffers_is_sent_and_answered_in_order(redis_url: str) -> None:
    channel = NativeChannel(redis_url, timeout=10.0, options={})
    try:
        value = b"x" * 1000
        commands = [("ECHO", value + b"%d" % i) for i in range(5000)]  # ~5 MB: the send must wait
        replies = await channel.execute_many(commands)
        assert replies == [value + b"%d" % i for i in range(5000)]
        assert await channel.execute("PING") == b"PONG"
    finally:
        channel.close()


async def test_a_refused_command_in_a_pipeline_is_its_reply_and_execute_raises_it(redis_url: str) -> None:
    channel = NativeChannel(redis_url, timeout=10.0, options={})
    try:
        replies = await channel.execute_many([("PING",), ("NOSUCHCOMMAND",), ("ECHO", "after")])
        assert replies[0] == b"PONG" and replies[2] == b"after"
        assert isinstance(replies[1], redis.ResponseError)
        with pytest.raises(redis.ResponseError, match="unknown command"):
            await channel.execute("NOSUCHCOMMAND")
        assert await channel.execute("PING") == b"PONG"  # the connection is still good
    finally:
        channel.close()


def test_redis_that_never_answers_is_a_timeout_and_the_connection_is_dropped() -> None:
    async def main() -> None:
        channel = unconnectable_channel(timeout=5.0)
        peer = fake_redis(channel)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(enforce_timeouts, [channel], 0.5)
            start = trio.current_time()
            with pytest.raises(redis.TimeoutError, match=r"^Redis did not answer within 7 s$"):
                await channel.execute("XREAD", "BLOCK", 2000, "STREAMS", "s", "$", block_seconds=2.0)
            waited = trio.current_time() - start
            nursery.cancel_scope.cancel()
        assert 7.0 <= waited <= 7.5  # socket timeout + the BLOCK, found within a watchdog period
        assert not channel.connected
        peer.close()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_without_the_watchdog_a_call_waits_as_long_as_redis_takes() -> None:
    async def main() -> None:
        channel = unconnectable_channel(timeout=5.0)
        peer = fake_redis(channel)
        with trio.move_on_after(60) as scope:
            await channel.execute("PING")
        assert scope.cancelled_caught
        peer.close()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_the_watchdog_leaves_calls_within_their_deadline_alone() -> None:
    channel = unconnectable_channel(timeout=5.0)
    peer = fake_redis(channel)
    peer.sendall(b"+PONG\r\n")
    assert await channel.execute("PING") == b"PONG"
    channel.expire(trio.current_time() + 3600)  # no call is waiting: nothing to expire
    assert channel.connected
    channel.close()
    peer.close()


async def test_a_cancelled_call_drops_its_connection_and_wakes_nothing_later() -> None:
    channel = unconnectable_channel()
    peer = fake_redis(channel)
    with trio.move_on_after(0.01) as scope:
        await channel.execute("PING")
    assert scope.cancelled_caught
    assert not channel.connected  # its answer would have been read by the next call
    peer.close()


async def test_redis_hanging_up_mid_answer_is_a_connection_error() -> None:
    channel = unconnectable_channel()
    peer = fake_redis(channel)
    peer.sendall(b"+PO")  # half an answer, then Redis's side of the connection closes
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(redis.ConnectionError, match=r"^Redis closed the connection$"):
        await channel.execute("PING")
    assert not channel.connected
    peer.close()


async def test_answers_already_there_are_read_without_waiting_and_still_checkpoint() -> None:
    channel = unconnectable_channel()
    peer = fake_redis(channel)
    peer.sendall(b"+PONG\r\n:7\r\n")  # answered before asked: the channel never waits
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await channel.execute_many([("PING",), ("INCR", "k")])
    channel = unconnectable_channel()
    peer = fake_redis(channel)
    peer.sendall(b"+PONG\r\n:7\r\n")
    replies: list[Any] = await channel.execute_many([("PING",), ("INCR", "k")])
    assert replies == [b"PONG", 7]
    channel.close()
    peer.close()


async def test_an_unreachable_redis_is_a_connection_error_naming_the_address() -> None:
    with pytest.raises(redis.ConnectionError, match=r"^Error connecting to 127\.0\.0\.1:1: "):
        await unconnectable_channel().execute("PING")


def test_commands_encode_as_resp_arrays_of_bulk_strings_the_same_every_time() -> None:
    commands = [("SET", "k", 1), ("ECHO", b"x", 2.5, "\u00e9", bytearray(b"yz"))]
    expected = (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n"
        b"*5\r\n$4\r\nECHO\r\n$1\r\nx\r\n$3\r\n2.5\r\n$2\r\n\xc3\xa9\r\n$2\r\nyz\r\n"
    )
    assert _encode(commands) == expected
    assert _encode(commands) == expected  # (now from the cache of recent words)
    with pytest.raises(TypeError, match=r"^cannot send bool to Redis$"):
        _encode([("SET", "k", True)])
    with pytest.raises(TypeError, match=r"^cannot send NoneType to Redis$"):
        _encode([("SET", "k", None)])
