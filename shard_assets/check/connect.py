"""Reaching live hosts as curl does: ``--resolve``, ``--connect-to``, a CA file.

:class:`Routes` says where a connection for ``host:port`` goes, with curl's two flags:
``--connect-to HOST:PORT:CONNECT_HOST:CONNECT_PORT`` sends it to another name or port,
and ``--resolve HOST:PORT:ADDR[,ADDR...]`` gives a name's addresses without DNS. Only the
TCP connection moves: TLS still sends the real hostname (SNI) and checks the
certificate against it, and HTTP still sends it as ``Host``, so a staging server or a
test server is checked exactly as the public one will be.

:func:`http_client` is an ``httpx.AsyncClient`` (HTTP/1.1 and HTTP/2) whose
connections go through the routes (:mod:`shard_assets.check.transport`).
:func:`probe_tls` is one TLS handshake that verifies the chain but reads the hostnames
itself, so that a certificate for the wrong names is reported with the names it does
cover, not as a bare handshake failure.

httpx and httpcore are imported only when a client is made: they are the ``check``
extra, not a dependency of the build, and the command line imports this module for
every command.
"""

from __future__ import annotations

import importlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..documents.urls import normal_host
from ..errors import ConfigError

if TYPE_CHECKING:
    import httpx

#: What the ``check`` extra installs, named in the error when it is missing.
CHECK_EXTRA = "pip install 'shard-assets[check]'"
#: What the HTTP client needs (httpcore needs h2 for HTTP/2), checked before it is made.
_CLIENT_MODULES = ("anyio", "h2", "httpcore", "httpx")


@dataclass(frozen=True)
class Routes:
    """Where connections go: curl's ``--connect-to`` and ``--resolve`` entries.

    ``connect_to`` maps ``(host, port)`` to ``(connect_host, connect_port)``; an empty
    host or a port of 0 in the key matches any (as curl's empty fields do).
    ``resolve`` maps ``(host, port)`` to addresses, in the order given.
    """

    connect_to: Mapping[tuple[str, int], tuple[str, int]]
    resolve: Mapping[tuple[str, int], tuple[str, ...]]

    @classmethod
    def parse(cls, resolve: Iterable[str] = (), connect_to: Iterable[str] = ()) -> Routes:
        """Routes from ``--resolve`` and ``--connect-to`` values; a bad one is a ConfigError."""
        return cls(
            connect_to=dict(_connect_to(value) for value in connect_to),
            resolve=dict(_resolve(value) for value in resolve),
        )

    def target(self, host: str, port: int) -> tuple[str, int]:
        """The name and port a connection for ``host:port`` is made to."""
        host = normal_host(host)
        for key in ((host, port), (host, 0), ("", port), ("", 0)):
            if key in self.connect_to:
                return self.connect_to[key]
        return host, port

    def addresses(self, host: str, port: int) -> tuple[tuple[str, ...], int]:
        """The addresses and port a connection for ``host:port`` goes to.

        Raises :class:`OSError` (``socket.gaierror``) when the name does not resolve.
        """
        name, port = self.target(host, port)
        given = self.resolve.get((normal_host(name), port))
        if given:
            return given, port
        if is_ip(name):
            return (name,), port
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        return tuple(dict.fromkeys(str(info[4][0]) for info in found)), port


def open_connection(
    addresses: Sequence[str], port: int, timeout: float
) -> tuple[socket.socket, str]:
    """A TCP connection to the first of ``addresses`` (those of
    :meth:`Routes.addresses`) that answers on ``port``, and that address.

    Raises the last :class:`OSError` when none answers.
    """
    error = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout), address
        except OSError as failed:
            error = failed
    raise error


def is_ip(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _split(value: str, flag: str, fields: int, example: str) -> list[str]:
    """``value`` split on the colons outside ``[...]`` (curl's IPv6 spelling)."""
    parts: list[str] = []
    current = ""
    depth = 0
    for char in value:
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current += char
    parts.append(current)
    if len(parts) != fields:
        raise ConfigError(f"{flag} {value!r}: write {example}")
    return parts


def _port(text: str, value: str, flag: str, empty_ok: bool = False) -> int:
    if not text and empty_ok:
        return 0
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise ConfigError(f"{flag} {value!r}: {text!r} is not a port number (1-65535)")


def _resolve(value: str) -> tuple[tuple[str, int], tuple[str, ...]]:
    example = "HOST:PORT:ADDR[,ADDR...], e.g. cdn1.example.com:443:127.0.0.1"
    host, port, addresses = _split(value, "--resolve", 3, example)
    listed = tuple(a.strip().removeprefix("[").removesuffix("]") for a in addresses.split(","))
    for address in listed:
        if not is_ip(address):
            raise ConfigError(f"--resolve {value!r}: {address!r} is not an IP address")
    if not host:
        raise ConfigError(f"--resolve {value!r}: write {example}")
    return (normal_host(host), _port(port, value, "--resolve")), listed


def _connect_to(value: str) -> tuple[tuple[str, int], tuple[str, int]]:
    example = "HOST:PORT:CONNECT_HOST:CONNECT_PORT, e.g. cdn1.example.com:443:127.0.0.1:8443"
    host, port, connect_host, connect_port = _split(value, "--connect-to", 4, example)
    connect_host = normal_host(connect_host.removeprefix("[").removesuffix("]"))
    if not connect_host:
        raise ConfigError(f"--connect-to {value!r}: write {example}")
    return (
        (normal_host(host), _port(port, value, "--connect-to", empty_ok=True)),
        (connect_host, _port(connect_port, value, "--connect-to")),
    )


class BrowserOrder(ssl.SSLContext):
    """A TLS context that offers ``h2`` before ``http/1.1`` in ALPN, as browsers and
    curl do. httpcore offers ``http/1.1`` first; a server that follows the client's
    order (lighttpd) would then speak HTTP/1.1 to a client that browsers get HTTP/2
    from."""

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        super().set_alpn_protocols(sorted(alpn_protocols, key=lambda p: p != "h2"))


def trust(
    ca_file: Path | None, *, check_hostname: bool = True, browser_order: bool = False
) -> ssl.SSLContext:
    """A verifying TLS context: the CA file's certificates only (as curl's ``--cacert``),
    or the system's, which honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.

    The chain is always verified; ``check_hostname=False`` leaves matching the names
    to the caller (see :func:`probe_tls`). ``browser_order`` offers ``h2`` first
    whatever the client asks for (:class:`BrowserOrder`).
    """
    context = (BrowserOrder if browser_order else ssl.SSLContext)(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if ca_file:
            context.load_verify_locations(cafile=str(ca_file))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    except FileNotFoundError:
        raise ConfigError(
            f"--ca-file {ca_file}: no such file; give a PEM file of CA certificates"
        ) from None
    except ssl.SSLError as error:
        raise ConfigError(
            f"--ca-file {ca_file}: not a PEM file of CA certificates ({error.reason})"
        ) from None
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


@dataclass(frozen=True)
class Handshake:
    """What one connection to a host showed.

    ``protocol`` is the ALPN protocol the server chose (``h2`` or ``http/1.1``);
    ``names`` are the certificate's DNS names; ``not_before``/``not_after`` its dates
    as seconds since the epoch. ``untrusted`` says why the chain did not verify
    (then the certificate fields are empty).
    """

    address: str
    protocol: str
    tls_version: str = ""
    names: tuple[str, ...] = ()
    not_before: float = 0.0
    not_after: float = 0.0
    untrusted: str = ""


def iso_date(seconds: float) -> str:
    """A certificate date (seconds since the epoch) as ``YYYY-MM-DD``, in UTC."""
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


def probe_tls(
    context: ssl.SSLContext, host: str, addresses: Sequence[str], port: int, timeout: float
) -> Handshake:
    """Connect to ``host`` (at ``addresses`` and ``port``, see :meth:`Routes.addresses`)
    with TLS and report what it served.

    ``context`` comes from ``trust(..., check_hostname=False)``: the chain is verified,
    and the caller matches :attr:`Handshake.names` against every configured host.
    Raises :class:`OSError` when the host cannot be reached or the handshake fails for
    another reason than an untrusted certificate.
    """
    sock, address = open_connection(addresses, port, timeout)
    with sock:
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
                alt_names = cert.get("subjectAltName", ())
                names = tuple(
                    str(entry[1]).lower()
                    for entry in alt_names
                    if isinstance(entry, tuple) and entry[0] == "DNS"
                )
                return Handshake(
                    address=address,
                    protocol=tls.selected_alpn_protocol() or "http/1.1",
                    tls_version=tls.version() or "",
                    names=names,
                    not_before=ssl.cert_time_to_seconds(str(cert["notBefore"])),
                    not_after=ssl.cert_time_to_seconds(str(cert["notAfter"])),
                )
        except ssl.SSLCertVerificationError as error:
            return Handshake(address=address, protocol="", untrusted=str(error.verify_message))


def covers(names: Iterable[str], host: str) -> bool:
    """Whether a certificate for ``names`` is valid for ``host`` (RFC 6125: a ``*``
    stands for exactly one whole left-most label, and a trailing dot is ignored)."""
    host = normal_host(host).removesuffix(".")
    for written in names:
        name = normal_host(written).removesuffix(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:]:
                return True
    return False


def missing_module(names: Iterable[str]) -> ImportError | None:
    """The error importing the first of the modules ``names`` that cannot be
    imported, or None when all can."""
    try:
        for name in names:
            importlib.import_module(name)
    except ImportError as error:
        return error
    return None


def http_client(
    routes: Routes,
    context: ssl.SSLContext,
    connections: int,
    timeout: float,
    *,
    http2: bool = True,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` speaking HTTP/1.1 and HTTP/2 (only HTTP/1.1 with
    ``http2=False``) over ``routes`` (:mod:`shard_assets.check.transport`).

    At most ``connections`` connections in all; every phase (connect, read, write,
    waiting for a pooled connection) has ``timeout`` seconds. Certificates are
    verified against ``context`` for the real hostname. It is asynchronous because
    httpcore 1.0's HTTP/2 connection is not safe to share between threads (its HPACK
    table and stream events race), and one event loop multiplexes requests safely.
    """
    missing = missing_module(_CLIENT_MODULES)
    if missing is not None:
        raise ConfigError(
            f"check-hosts needs httpx with HTTP/2 ({missing.name} is not installed): {CHECK_EXTRA}"
        )
    from .transport import routed_client  # noqa: PLC0415 (loads httpx and asyncio)

    return routed_client(routes.addresses, context, connections, timeout, http2=http2)
