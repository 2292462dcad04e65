"""A local stand-in for a site's origin and its CDN shard hosts.

One ``ThreadingHTTPServer`` on 127.0.0.1, on a free port, answers HTTP/1.1 for the
origin and every shard hostname: the ``Host`` header must name one of them (a
misdirected request gets 421), and all of them serve the same built folder, as a
pull-through CDN mirrors its origin. Every response carries
``Access-Control-Allow-Origin: *``, as a CDN serving fonts must, and
``Timing-Allow-Origin: *``, so Resource Timing shows the details. Each request is
recorded as a :class:`Hit`, so a test can check which host every asset came from.

The browser reaches the names through Chromium's ``--host-resolver-rules`` (see
:func:`resolver_rules`); nothing touches the system's DNS.

``latency`` delays every response and ``connection_latency`` the first response on
each new connection (a stand-in for the TCP and TLS handshakes), for the page-load
benchmark.
"""

from __future__ import annotations

import http.server
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

KEPT = "site.test"
SHARD_DOMAIN = "shard.test"


def shard_hosts(count: int) -> list[str]:
    """``cdn1.shard.test`` ... ``cdnN.shard.test``."""
    return [f"cdn{i}.{SHARD_DOMAIN}" for i in range(1, count + 1)]


def resolver_rules(port: int, hosts: Iterable[str], origin: str = KEPT) -> str:
    """Chromium's ``--host-resolver-rules`` value: ``origin`` and ``hosts`` go to the
    server on ``port`` (so URLs need no port), and every other name fails to resolve,
    so the browser never asks a real DNS server or reaches the network."""
    rules = [f"MAP {name} 127.0.0.1:{port}" for name in (origin, *hosts)]
    return ", ".join([*rules, "MAP * ~NOTFOUND"])


@dataclass(frozen=True)
class Hit:
    """One request the server answered."""

    host: str
    path: str
    status: int

    @property
    def key(self) -> str:
        """The path as a manifest key: decoded, without the leading slash."""
        return self.path.lstrip("/")


class _Server(http.server.ThreadingHTTPServer):
    # socketserver's default backlog of 5 makes a browser opening dozens of
    # connections at once wait for retransmitted SYNs.
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a connection it no longer needs is normal, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in separate writes: with Nagle's algorithm on,
    # the body would wait for the client's delayed ACK (40 ms on Linux), as no CDN's does.
    disable_nagle_algorithm = True
    extensions_map = {  # noqa: RUF012 (the base class declares it a plain dict)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".woff": "font/woff",
        ".woff2": "font/woff2",
    }

    def __init__(self, *args: Any, cdn: CdnServer, **kwargs: Any) -> None:
        self.cdn = cdn
        super().__init__(*args, **kwargs)

    def handle(self) -> None:
        if self.cdn.connection_latency:
            time.sleep(self.cdn.connection_latency)
        super().handle()

    def _host(self) -> str:
        """The Host header's name, lower-case, without a port."""
        headers = getattr(self, "headers", None)  # absent when the request line was bad
        host = (headers.get("Host") or "").lower() if headers else ""
        name, colon, port = host.rpartition(":")
        return name if colon and port.isdigit() else host

    def send_head(self) -> Any:
        if self.cdn.latency:
            time.sleep(self.cdn.latency)
        host = self._host()
        if host not in self.cdn.names:
            self.send_error(421, f"this server does not answer for {host!r}")
            return None
        return super().send_head()

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        path = unquote(urlsplit(self.path).path)
        self.cdn.record(Hit(self._host(), path, int(code)))

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Timing-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CdnServer:
    """Serve ``root`` for ``origin`` and ``hosts`` on 127.0.0.1 while in a ``with`` block."""

    def __init__(
        self,
        root: Path,
        hosts: Sequence[str] = (),
        *,
        origin: str = KEPT,
        latency: float = 0.0,
        connection_latency: float = 0.0,
    ) -> None:
        self.root = root
        self.origin = origin
        self.hosts = tuple(hosts)
        self.names = frozenset(h.lower() for h in (origin, *hosts))
        self.latency = latency
        self.connection_latency = connection_latency
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        handler = partial(_Handler, cdn=self, directory=str(root))
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        """The origin's URL for ``path`` (the resolver rules supply the port)."""
        return f"http://{self.origin}/{path.lstrip('/')}"

    def resolver_rules(self, hosts: Iterable[str] | None = None) -> str:
        """Resolver rules for the origin and ``hosts`` (default: every shard host)."""
        return resolver_rules(self.port, self.hosts if hosts is None else hosts, self.origin)

    def record(self, hit: Hit) -> None:
        """Remember a request (called from the handler threads)."""
        with self._lock:
            self._hits.append(hit)

    def hits(self) -> list[Hit]:
        """The requests answered so far, in order."""
        with self._lock:
            return list(self._hits)

    def clear(self) -> None:
        """Forget the requests answered so far."""
        with self._lock:
            self._hits.clear()

    def __enter__(self) -> CdnServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
