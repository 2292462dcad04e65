"""Small real servers on loopback for the check-hosts unit tests: an HTTP server that
answers what a test tells it (and records what it was asked), and a TLS listener
that completes handshakes with a certificate of the test CA (testing/). Each runs on a thread of the
test process and stops with the test; the live check against nginx is
test_hosts.py's."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testing.certificates import LocalCA


@dataclass(frozen=True)
class Answer:
    """What the server answers for one path."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class HttpServer:
    """An HTTP/1.1 server on 127.0.0.1: ``answers`` by path (404 for the others), and
    the ``requests`` it got, as (path, headers)."""

    port: int
    answers: dict[str, Answer] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server_ref: list[HttpServer] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state = server_ref[0]
            state.requests.append((self.path, dict(self.headers.items())))
            answer = state.answers.get(self.path, Answer(404, b"not found"))
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_ref.append(HttpServer(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server_ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The system's resolver knows only backend.test (127.0.0.9, ::9); the names asked."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host != "backend.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.9", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::9", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.9", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """The test CA the clients trust (its ``ca_file``)."""
    return LocalCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def ca_file(ca: LocalCA) -> Path:
    """The CA file the clients trust (``--ca-file``)."""
    return ca.ca_file


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A CA the clients do not trust."""
    return LocalCA(tmp_path_factory.mktemp("other-ca"))


@contextlib.contextmanager
def tls_listener(
    ca: LocalCA, names: Sequence[str], alpn: Sequence[str] = ("h2", "http/1.1")
) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 with a certificate from ``ca`` for ``names``,
    offering ``alpn``: it completes each handshake and closes. Yields its port."""
    certificate = ca.issue("-".join(names), *names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.chain, certificate.key)
    context.set_alpn_protocols(list(alpn))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()
