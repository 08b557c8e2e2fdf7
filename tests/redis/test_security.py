"""TLS and ACL users pass through: a TLS-only Redis with an ACL user confined to
one namespace, started by the test on its own port (certificates made with
openssl here), stopped by its PID."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import answers, start_server, wait_until
from nodekit import ERRORS, MESSAGES, Echo, Worker

from actors import open_actor_system
from actors.redis import RedisTransport, TransportError

NAMESPACE = "secure"


def make_certificates(folder: Path) -> dict[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=trio-actors test CA",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    return {name: str(folder / f"{name}") for name in ("ca.crt", "server.crt", "server.key")}


@pytest.fixture(scope="module")
def tls_acl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(``rediss://`` base URL host:port part, CA file) of a TLS + ACL Redis."""
    folder = tmp_path_factory.mktemp("tls")
    certs = make_certificates(folder)
    from conftest import free_port

    tls_port = free_port()
    server, _ = start_server(
        folder,
        "--tls-port",
        str(tls_port),
        "--tls-cert-file",
        certs["server.crt"],
        "--tls-key-file",
        certs["server.key"],
        "--tls-ca-cert-file",
        certs["ca.crt"],
        "--tls-auth-clients",
        "no",
        "--user",
        "app",
        "on",
        ">s3cret",
        f"~actors:{{{NAMESPACE}/*",
        f"~actors:{{{NAMESPACE}@*",
        "+@all",
        port=0,
    )
    base = f"127.0.0.1:{tls_port}"
    try:
        wait_until(
            lambda: answers(f"rediss://app:s3cret@{base}", ssl_ca_certs=certs["ca.crt"]), "the TLS Redis to start"
        )
        yield base, certs["ca.crt"]
    finally:
        server.stop()


def transport(url: str, ca: str, namespace: str = NAMESPACE) -> RedisTransport:
    return RedisTransport(
        url,
        namespace=namespace,
        messages=MESSAGES,
        errors=ERRORS,
        lease=1.0,
        read_block=1.0,
        redis_options={"ssl_ca_certs": ca},
    )


async def test_tls_and_an_acl_user_inside_its_namespace_work(tls_acl_server: tuple[str, str]) -> None:
    base, ca = tls_acl_server
    url = f"rediss://app:s3cret@{base}"
    async with (
        open_actor_system(node="a", transport=transport(url, ca)) as a,
        open_actor_system(node="b", transport=transport(url, ca)) as b,
    ):
        await a.spawn(Worker, "a", name="worker", public=True)
        assert await b.remote("worker").ask(Echo("over tls"), timeout=10) == "a:OVER TLS"
        assert await b.serving("worker") == ["a"]


async def test_an_acl_user_is_refused_outside_its_namespace(tls_acl_server: tuple[str, str]) -> None:
    base, ca = tls_acl_server
    with pytest.raises(TransportError, match=r"^Redis at rediss://app:\*\*\*@127\.0\.0\.1:\d+ denied a command"):
        async with open_actor_system(node="a", transport=transport(f"rediss://app:s3cret@{base}", ca, "other")):
            pass


async def test_a_wrong_password_is_one_clear_error(tls_acl_server: tuple[str, str]) -> None:
    base, ca = tls_acl_server
    with pytest.raises(TransportError, match=r"refused the credentials .*check the user and password"):
        async with open_actor_system(node="a", transport=transport(f"rediss://app:wrong@{base}", ca)):
            pass


async def test_plain_tcp_to_a_tls_port_is_one_clear_error(tls_acl_server: tuple[str, str]) -> None:
    base, ca = tls_acl_server
    with pytest.raises(TransportError, match=r"cannot reach Redis .*rediss:// for TLS"):
        async with open_actor_system(
            node="a",
            transport=RedisTransport(
                f"redis://app:s3cret@{base}", namespace=NAMESPACE, socket_timeout=2.0, read_block=1.0
            ),
        ):
            pass
