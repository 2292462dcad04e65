"""The serving side of the TLS page-load benchmark: certificates, nginx, a delaying proxy.

``benchmarks/page_load_tls.py`` drives these; they are kept apart so that each piece
can be read (and stopped) on its own:

- :class:`Certificates`: a trustme CA, one certificate for the origin and the
  same-site shard names, and one per host for the shard hosts on their own
  addresses. Every chain file holds the CA too, as Chromium's
  ``--ignore-certificate-errors-spki-list`` needs it in the served chain.
- :class:`Nginx`: Debian's ``/usr/sbin/nginx`` as a non-daemon child, its whole
  configuration and state in a temporary folder, on loopback only, TLS 1.3 only;
  one port speaks HTTP/1.1, another HTTP/2 (nginx 1.22, Debian 12's, spells that
  ``listen ... ssl http2``; ``http2 on;`` came in 1.25.1). The access log records
  nginx's ``$connection`` serial with every request, so a load's connections can be
  counted.
- :class:`DelayProxy`: an asyncio TCP proxy, one listener per address and port,
  that delays each direction's bytes by half a round trip and holds the client's
  first bytes until a full round trip after it connected (the TCP handshake), so a
  new connection costs what it costs on a real network: one round trip for TCP,
  one for TLS 1.3, then one per request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NGINX = "/usr/sbin/nginx"


def find_nginx() -> str | None:
    """nginx's path: ``$NGINX``, else Debian's ``/usr/sbin/nginx``, else ``nginx`` on PATH."""
    configured = os.environ.get("NGINX")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (nginx binds it on every loopback address
    it listens on; another program taking it in between makes nginx fail to start,
    with its error log in the message)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- certificates ----------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """PEM files in ``folder``: ``name.pem`` (leaf + CA) and ``name.key`` per certificate."""

    folder: Path
    #: base64 SHA-256 of the CA's SubjectPublicKeyInfo, for Chromium's SPKI list.
    ca_spki: str

    @classmethod
    def create(cls, folder: Path, certificates: dict[str, Sequence[str]]) -> Certificates:
        """One CA, and a certificate per entry (file stem -> the names it covers)."""
        import trustme
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        folder.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(folder / "ca.pem"))
        for stem, names in sorted(certificates.items()):
            leaf = ca.issue_cert(*names)
            chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems) + ca.cert_pem.bytes()
            (folder / f"{stem}.pem").write_bytes(chain)
            leaf.private_key_pem.write_to_path(str(folder / f"{stem}.key"))
        spki = (
            x509.load_pem_x509_certificate(ca.cert_pem.bytes())
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return cls(folder, base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"))


# --- nginx -------------------------------------------------------------------------


@dataclass(frozen=True)
class VirtualServer:
    """One nginx ``server``: ``names`` on ``address``, with certificate ``certificate``."""

    address: str
    names: tuple[str, ...]
    certificate: str


@dataclass(frozen=True)
class LogLine:
    """One request in nginx's access log."""

    connection: int
    address: str  # $server_addr:$server_port
    host: str
    protocol: str  # $server_protocol: HTTP/1.1, HTTP/2.0
    status: int
    uri: str


_LOG_FORMAT = "$connection $server_addr:$server_port $host $server_protocol $status $request_uri"


def nginx_config(
    folder: Path,
    root: Path,
    certificates: Path,
    servers: Sequence[VirtualServer],
    http1_port: int,
    http2_port: int,
    aware_prefixes: Sequence[str],
) -> str:
    """nginx.conf: every server answers on ``http1_port`` (HTTP/1.1 only) and
    ``http2_port`` (ALPN h2 and http/1.1), serves ``root``, sends the headers a CDN
    serving fonts sends, and under each of ``aware_prefixes`` picks the tree by protocol:
    ``root``/../aware-twin (unsharded) for HTTP/2 visitors, ``aware-sharded`` for the rest.
    """
    locations = "".join(
        f"        location {prefix} {{ root {root.parent}/$aware_tree; }}\n"
        for prefix in aware_prefixes
    ).rstrip("\n")
    blocks = []
    for server in servers:
        blocks.append(
            f"""
    server {{
        listen {server.address}:{http1_port} ssl;
        listen {server.address}:{http2_port} ssl http2;
        server_name {" ".join(server.names)};
        ssl_certificate {certificates / (server.certificate + ".pem")};
        ssl_certificate_key {certificates / (server.certificate + ".key")};
{locations}
    }}"""
        )
    return f"""# written by benchmarks/tls_serving.py
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    types {{
        text/html html;
        text/css css;
        image/png png;
        font/woff2 woff2;
    }}
    default_type application/octet-stream;
    client_body_temp_path {folder / "tmp-body"};
    proxy_temp_path {folder / "tmp-proxy"};
    fastcgi_temp_path {folder / "tmp-fastcgi"};
    uwsgi_temp_path {folder / "tmp-uwsgi"};
    scgi_temp_path {folder / "tmp-scgi"};
    log_format bench '{_LOG_FORMAT}';
    access_log {folder / "access.log"} bench;
    sendfile on;
    keepalive_timeout 65s;
    ssl_protocols TLSv1.3;
    root {root};
    add_header Access-Control-Allow-Origin "*" always;
    add_header Timing-Allow-Origin "*" always;
    add_header Cache-Control "public, max-age=31536000";
    # Protocol-aware serving: HTTP/2 (and HTTP/3) visitors get the unsharded twin.
    map $server_protocol $aware_tree {{
        "HTTP/2.0" aware-twin;
        "HTTP/3.0" aware-twin;
        default aware-sharded;
    }}
{"".join(blocks)}
}}
"""


class Nginx(contextlib.AbstractContextManager["Nginx"]):
    """nginx running ``config`` (from :func:`nginx_config`) in ``folder`` until closed."""

    def __init__(self, executable: str, folder: Path, config: str) -> None:
        self.folder = folder
        self.config = folder / "nginx.conf"
        self.log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.config.write_text(config, encoding="utf-8")
        self.log.touch()
        self.process = subprocess.Popen(
            [executable, "-p", str(folder), "-c", str(self.config), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own process group: Ctrl-C reaches this process, which then stops nginx
            # in order (close() below), rather than both racing.
            start_new_session=True,
        )

    def wait_ready(self, addresses: Sequence[tuple[str, int]], timeout: float = 10) -> None:
        """Return once every address accepts connections; raise with nginx's errors if not."""
        deadline = time.monotonic() + timeout
        waiting = list(addresses)
        while waiting:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(waiting[0]) == 0:
                    waiting.pop(0)
                    continue
            time.sleep(0.05)

    def errors(self) -> str:
        """nginx's error log and standard error, so far."""
        text = self.error_log.read_text(encoding="utf-8") if self.error_log.exists() else ""
        if self.process.poll() is not None and self.process.stderr:
            text += self.process.stderr.read().decode("utf-8", "replace")
        return text.strip()

    def log_offset(self) -> int:
        """The access log's size now: :meth:`requests_since` reads what comes after."""
        return self.log.stat().st_size

    def requests_since(self, offset: int) -> list[LogLine]:
        """The requests logged after ``offset``."""
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        lines = []
        for line in text.splitlines():
            connection, address, host, protocol, status, uri = line.split(" ", 5)
            lines.append(LogLine(int(connection), address, host, protocol, int(status), uri))
        return lines

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop nginx: a graceful quit, then SIGKILL after 5 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


# --- the delaying proxy --------------------------------------------------------------


class DelayProxy(contextlib.AbstractContextManager["DelayProxy"]):
    """TCP listeners that forward to nginx with ``rtt`` seconds of round trip.

    Each listener (``add``) forwards to one upstream address. Bytes read from one side
    are written to the other ``rtt / 2`` later, in order; the client's bytes are also
    held until ``rtt`` after it connected, as a TCP handshake would hold them, so a
    new connection costs a round trip before TLS starts. ``accepted`` counts every
    TCP connection the browser opened, used or not.
    """

    def __init__(self, rtt: float) -> None:
        self.rtt = rtt
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def add(self, address: str, upstream: tuple[str, int]) -> int:
        """Listen on ``address`` (a free port); return the port."""

        async def start() -> int:
            server = await asyncio.start_server(
                lambda r, w: self._accept(r, w, upstream), address, 0, backlog=256
            )
            self._servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(start(), self._loop).result()

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int]
    ) -> None:
        self.accepted += 1
        task = self._loop.create_task(self._serve(reader, writer, upstream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        upstream: tuple[str, int],
    ) -> None:
        opened = self._loop.time()
        try:
            server_r, server_w = await asyncio.open_connection(*upstream)
        except OSError:
            client_w.close()
            return
        half = self.rtt / 2
        try:
            await asyncio.gather(
                self._pipe(client_r, server_w, half, opened + self.rtt),
                self._pipe(server_r, client_w, half, opened),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, server_w):
                writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, start: float
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` after it arrived (or after
        ``start``, if later), then pass the end of stream on."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof() and not writer.is_closing():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = self._loop.create_task(deliver())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((max(self._loop.time(), start) + delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()

    @property
    def running(self) -> bool:
        """Whether the proxy's thread (and so any listener) is still alive."""
        return self._thread.is_alive()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every listener and connection, and stop the proxy's thread."""

        async def stop() -> None:
            for server in self._servers:
                server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()
