"""A small OpenAI-compatible chat-completions server on 127.0.0.1, for tests with the real client.

It runs in the test's own trio run (``await nursery.start(server.serve)``) and
answers by the request's ``model`` name, so one server plays every scenario:

- ``plain``: a completion at once.
- ``slow``: a completion after ``slow_seconds``.
- ``stream``: ``stream=True`` server-sent events, one token every ``token_pause``.
- ``flood``: a stream of ``flood_chunks`` big events, as fast as the socket takes them.
- ``busy``: ``429`` with ``retry-after: <retry_after>`` on the first request, then ``plain``.

Every connection is recorded as a `Call`, with the moment (``trio.current_time()``)
the client closed it, seen from the server's side, so tests can check that a
timed-out ask really hung up on the server. Each response carries
``Connection: close``: one request per connection, so a connection is a call.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import h11
import trio


@attrs.define
class Call:
    """One request, as the server saw it."""

    model: str = "?"
    stream: bool = False
    arrived: float = math.nan
    status: int = 0
    client_closed: float | None = None  # when the client hung up before the response ended
    completed: bool = False
    bytes_sent: int = 0
    path: str = ""
    headers: dict[str, str] = attrs.Factory(dict)
    body: dict[str, Any] = attrs.Factory(dict)


def _closed(call: Call) -> None:
    if call.client_closed is None and not call.completed:
        call.client_closed = trio.current_time()


class _hang_up_is_the_end:
    """Record a connection the client reset (write or read failed) and end quietly."""

    def __init__(self, call: Call) -> None:
        self.call = call

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, tb: Any) -> bool:
        if kind is not None and issubclass(kind, (trio.BrokenResourceError, trio.ClosedResourceError)):
            _closed(self.call)
            return True
        return False


class ChatServer:
    """See the module docstring. ``calls`` lists every request in arrival order."""

    def __init__(
        self,
        *,
        slow_seconds: float = 5.0,
        token_pause: float = 0.05,
        tokens: int = 40,
        retry_after: float = 0.2,
        flood_chunks: int = 20_000,
    ) -> None:
        self.slow_seconds = slow_seconds
        self.token_pause = token_pause
        self.tokens = tokens
        self.retry_after = retry_after
        self.flood_chunks = flood_chunks
        self.calls: list[Call] = []
        self.port = 0
        self._busy_refused = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def serve(self, task_status: trio.TaskStatus[ChatServer] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, self._connection, listeners)
            task_status.started(self)

    async def hung_up(self, call: Call) -> float:
        """Wait until the client closed ``call``'s connection; return when it did."""
        while call.client_closed is None:
            await trio.sleep(0.005)
        return call.client_closed

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        call = Call()
        body = b""
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    conn.receive_data(data)
                    if not data:
                        return
                elif isinstance(event, h11.Request):
                    call.arrived = trio.current_time()
                    call.path = event.target.decode()
                    call.headers = {name.decode(): value.decode() for name, value in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return
            request = call.body = json.loads(body)
            call.model = request.get("model", "?")
            call.stream = bool(request.get("stream"))
            self.calls.append(call)
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    # The client sends nothing more on this connection: b"" means it hung up.
                    with _hang_up_is_the_end(call):
                        while await stream.receive_some(65536):
                            pass
                    _closed(call)
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                with _hang_up_is_the_end(call):
                    await self._respond(conn, stream, call)
                    call.completed = True
                nursery.cancel_scope.cancel()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            _closed(call)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _send(self, conn: h11.Connection, stream: trio.SocketStream, call: Call, event: Any) -> None:
        data = conn.send(event)
        if data:
            call.bytes_sent += len(data)
            await stream.send_all(data)

    async def _respond(self, conn: h11.Connection, stream: trio.SocketStream, call: Call) -> None:
        model = call.model
        if model == "busy" and not self._busy_refused:
            self._busy_refused = True
            await self._json(
                conn,
                stream,
                call,
                429,
                {"error": {"message": "slow down", "type": "rate_limit_error"}},
                [("retry-after", f"{self.retry_after:g}")],
            )
            return
        if model == "slow":
            await trio.sleep(self.slow_seconds)
        if call.stream:
            await self._events(conn, stream, call)
            return
        await self._json(
            conn,
            stream,
            call,
            200,
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"answer from {model}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
            },
        )

    async def _json(
        self,
        conn: h11.Connection,
        stream: trio.SocketStream,
        call: Call,
        status: int,
        payload: dict[str, Any],
        headers: list[tuple[str, str]] = (),
    ) -> None:  # type: ignore[assignment]
        body = json.dumps(payload).encode()
        call.status = status
        await self._send(
            conn,
            stream,
            call,
            h11.Response(
                status_code=status,
                headers=[
                    ("content-type", "application/json"),
                    ("content-length", str(len(body))),
                    ("connection", "close"),
                    *headers,
                ],
            ),
        )
        await self._send(conn, stream, call, h11.Data(data=body))
        await self._send(conn, stream, call, h11.EndOfMessage())

    async def _events(self, conn: h11.Connection, stream: trio.SocketStream, call: Call) -> None:
        call.status = 200
        await self._send(
            conn,
            stream,
            call,
            h11.Response(status_code=200, headers=[("content-type", "text/event-stream"), ("connection", "close")]),
        )
        flood = call.model == "flood"
        padding = "x" * 4000 if flood else ""
        for i in range(self.flood_chunks if flood else self.tokens):
            if not flood:
                await trio.sleep(self.token_pause)
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": call.model,
                "choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}],
                "padding": padding,
            }
            await self._send(conn, stream, call, h11.Data(data=b"data: " + json.dumps(chunk).encode() + b"\n\n"))
        await self._send(conn, stream, call, h11.Data(data=b"data: [DONE]\n\n"))
        await self._send(conn, stream, call, h11.EndOfMessage())
