"""HTTP/3 for ``check-hosts``: GET requests over one QUIC connection, with aioquic.

:func:`h3_connection` opens the connection to an address (UDP), sending the real
hostname for TLS (SNI) and verifying the certificate for it against the CA file, or
the system's CAs as :func:`ssl.get_default_verify_paths` finds them (which honours
``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, as the HTTP/1.1 and HTTP/2 client does;
aioquic alone would read certifi's). :class:`H3Client.get` sends one request and
reads the whole answer.

aioquic is the ``check`` extra: this module is imported only when HTTP/3 is probed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from aioquic.tls import AlertDescription

# aioquic logs a closed connection as a warning; the report says it once, and without
# a handler of the program's, Python would print it to standard error as well.
for _name in ("quic", "http3"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

#: QUIC's CRYPTO_ERROR range: 0x100 plus the TLS alert (RFC 9001, 4.8).
_CRYPTO_ERROR = range(0x100, 0x200)


class QuicFailed(Exception):
    """No QUIC connection could be made; the message says why."""


@dataclass
class Answer:
    """One HTTP/3 response: the status, the headers (names in lower case) and the body."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class H3Client(QuicConnectionProtocol):
    """A QUIC connection speaking HTTP/3: :meth:`get` requests, answered on their
    streams; the handshake's outcome in :attr:`handshake`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = H3Connection(self._quic)
        self._answers: dict[int, tuple[Answer, asyncio.Future[Answer]]] = {}
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted) and not self.handshake.done():
            self.handshake.set_result(None)
        if isinstance(event, ConnectionTerminated):
            failure = QuicFailed(_closed_because(event))
            if not self.handshake.done():
                self.handshake.set_exception(failure)
            for _, waiter in self._answers.values():
                if not waiter.done():
                    waiter.set_exception(failure)
            self._answers.clear()
        for http_event in self._http.handle_event(event):
            self._received(http_event)

    def _received(self, event: H3Event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        entry = self._answers.get(event.stream_id)
        if entry is None:
            return
        answer, waiter = entry
        if isinstance(event, HeadersReceived):
            for name, value in event.headers:
                if name == b":status":
                    answer.status = int(value)
                elif not name.startswith(b":"):
                    answer.headers[name.decode("latin-1")] = value.decode("latin-1")
        else:
            answer.body += event.data
        if event.stream_ended:
            del self._answers[event.stream_id]
            if not waiter.done():
                waiter.set_result(answer)

    async def get(self, authority: str, path: str) -> Answer:
        """GET ``https://authority/path`` (both as a URL writes them, in ASCII); raises
        :class:`QuicFailed` if the connection closes first."""
        stream = self._quic.get_next_available_stream_id()
        headers = [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", authority.encode("ascii")),
            (b":path", path.encode("ascii")),
            (b"user-agent", b"shard-assets check-hosts"),
        ]
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._answers[stream] = (Answer(), waiter)
        self._http.send_headers(stream, headers, end_stream=True)
        self.transmit()
        return await waiter


def _closed_because(event: ConnectionTerminated) -> str:
    if event.reason_phrase:
        return f"the QUIC connection failed: {event.reason_phrase}"
    if event.error_code in _CRYPTO_ERROR:
        try:
            alert = AlertDescription(event.error_code - 0x100).name
        except ValueError:
            alert = str(event.error_code - 0x100)
        return f"the QUIC handshake failed: the server sent the TLS alert {alert}"
    return f"the QUIC connection was closed (error {event.error_code:#x})"


@asynccontextmanager
async def h3_connection(
    address: str, port: int, server_name: str, ca_file: Path | None, timeout: float
) -> AsyncIterator[H3Client]:
    """An HTTP/3 connection to ``address`` on UDP ``port`` for ``server_name``, open
    for the block; raises :class:`QuicFailed` when the handshake fails or nothing
    answers within ``timeout`` seconds (UDP blocked on the way, or no HTTP/3 server)."""
    # The idle timeout outlasts ``timeout``, so that silence is reported as such.
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, server_name=server_name, idle_timeout=2 * timeout
    )
    if ca_file is not None:
        configuration.load_verify_locations(cafile=str(ca_file))
    else:
        system = ssl.get_default_verify_paths()
        configuration.load_verify_locations(cafile=system.cafile, capath=system.capath)
    async with connect(
        address, port, configuration=configuration, create_protocol=H3Client, wait_connected=False
    ) as protocol:
        assert isinstance(protocol, H3Client)
        protocol.transmit()
        try:
            await asyncio.wait_for(protocol.handshake, timeout)
        except TimeoutError:
            raise QuicFailed(
                f"no QUIC answer from {address} port {port} (UDP) within {timeout:g} s: "
                "UDP blocked on the way, or no HTTP/3 server there"
            ) from None
        yield protocol
