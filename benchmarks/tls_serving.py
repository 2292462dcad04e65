"""The serving side of the TLS page-load benchmark: nginx's configuration and a
delaying proxy.

``benchmarks/page_load_tls.py`` drives these, with the certificates and the nginx
process of ``testing/`` (the harness the tests share):

- :func:`nginx_config`: nginx's configuration, on loopback only, TLS 1.3 only; every
  virtual server answers on one port that speaks HTTP/1.1 and another that speaks
  HTTP/2 (nginx 1.22, Debian 12's, spells that ``listen ... ssl http2``; ``http2
  on;`` came in 1.25.1). The access log records nginx's ``$connection`` serial with
  every request (:class:`LogLine`), so a load's connections can be counted.
- :class:`DelayProxy`: an asyncio TCP proxy, one listener per address and port,
  that delays each direction's bytes by half a round trip and holds the client's
  first bytes until a full round trip after it connected (the TCP handshake), so a
  new connection costs what it costs on a real network: one round trip for TCP,
  one for TLS 1.3, then one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from testing.certificates import Certificate
from testing.nginx import ServerBlock
from testing.programs import nginx_conf

# --- nginx -------------------------------------------------------------------------


@dataclass(frozen=True)
class VirtualHost:
    """One group of names on one address, with a certificate that covers them."""

    address: str
    names: tuple[str, ...]
    certificate: Certificate


@dataclass(frozen=True)
class LogLine:
    """One request in nginx's access log."""

    connection: int
    address: str  # $server_addr:$server_port
    host: str
    protocol: str  # $server_protocol: HTTP/1.1, HTTP/2.0
    status: int
    uri: str

    @classmethod
    def parse(cls, line: str) -> LogLine:
        """A line in :data:`_LOG_FORMAT`."""
        connection, address, host, protocol, status, uri = line.split(" ", 5)
        return cls(int(connection), address, host, protocol, int(status), uri)


_LOG_FORMAT = "$connection $server_addr:$server_port $host $server_protocol $status $request_uri"


def nginx_config(
    folder: Path,
    root: Path,
    hosts: Sequence[VirtualHost],
    http1_port: int,
    http2_port: int,
    aware_prefixes: Sequence[str],
) -> str:
    """nginx.conf: every host answers on ``http1_port`` (HTTP/1.1 only) and
    ``http2_port`` (ALPN h2 and http/1.1), serves ``root``, sends the headers a CDN
    serving fonts sends, and under each of ``aware_prefixes`` picks the tree by protocol:
    ``root``/../aware-twin (unsharded) for HTTP/2 visitors, ``aware-sharded`` for the rest.
    """
    locations = "".join(
        f"    location {prefix} {{ root {root.parent}/$aware_tree; }}\n"
        for prefix in aware_prefixes
    )
    blocks = "".join(
        ServerBlock(
            host.names,
            host.certificate,
            host.address,
            port,
            http2=port == http2_port,
            body=locations,
        ).render(port)
        for host in hosts
        for port in (http1_port, http2_port)
    )
    http = f"""    types {{
        text/html html;
        text/css css;
        image/png png;
        font/woff2 woff2;
    }}
    default_type application/octet-stream;
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
{blocks}"""
    return nginx_conf(folder, http, access_log=_LOG_FORMAT, master_process=True)


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
