"""Real Redis for the remote-actor tests.

``redis_url`` is 127.0.0.1:6379 when something answers there; otherwise a
``redis-server`` started on a free port (no persistence) for the session and
stopped by its PID. Without ``redis-server`` the tests skip with the reason,
except on CI (``CI=true``), where that fails the run. Each test gets its own
namespace, and its keys are deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

redis = pytest.importorskip("redis", reason="the 'redis' extra is not installed: pip install -e '.[test,redis]'")
pytest.importorskip("msgspec", reason="the 'redis' extra is not installed: pip install -e '.[test,redis]'")

from actors.redis import RedisTransport  # noqa: E402

DEFAULT_URL = "redis://127.0.0.1:6379"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, **options: Any) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, **options)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def need_redis_server() -> str:
    """The redis-server binary; skips (fails on CI) when it is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI needs it", pytrace=False)
        pytest.skip(message)
    return binary


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll a condition of an outside process (a server starting) until true."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Server:
    """A redis-server process the tests started; stop() ends it by its PID."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        self.process = subprocess.Popen(
            [need_redis_server(), *args], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(workdir: Path, *extra: str, port: int | None = None) -> tuple[Server, int]:
    port = port or free_port()
    server = Server(["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra], workdir)
    return server, port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("ACTORS_REDIS_URL", DEFAULT_URL)
    if answers(url):
        yield url
        return
    server, port = start_server(tmp_path_factory.mktemp("redis"))
    url = f"redis://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), "redis-server to start")
        yield url
    finally:
        server.stop()


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"actors:{{{name}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[Any]:
    """A plain redis-py client on the test's Redis (to write garbage, inspect streams)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_transport(redis_url: str, namespace: str) -> Callable[..., RedisTransport]:
    """``make_transport(**options)``: a RedisTransport on the test's Redis and namespace,
    with a short lease (1 s) so that takeovers happen within a test."""

    def make(**options: Any) -> RedisTransport:
        options.setdefault("namespace", namespace)
        options.setdefault("lease", 1.0)
        options.setdefault("read_block", 1.0)
        return RedisTransport(options.pop("url", redis_url), **options)

    return make
