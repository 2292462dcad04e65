"""Debian's nginx as a test server: TLS, HTTP/2, several names and addresses.

:func:`serve_hosts` writes the ``http {}`` part of the configuration and runs it
with :class:`tests.nginx.Nginx` (which finds, starts, waits for and stops nginx).
All servers listen on one free port; each :class:`Server` picks its loopback address
(``127.0.0.2`` and up work on Linux without any setup), its names, its certificate
and its root folder, so one nginx can play several differently configured hosts.

Certificates come from a ``trustme.CA``; the tests trust that CA only.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from .nginx import MIME_TYPES, Nginx, NginxExited, free_port, nginx_conf

#: What the sample sites' fonts and long-lived assets are served with.
FONT_LOCATION = r"\.(woff2?|ttf|otf|eot)$"


@dataclass(frozen=True)
class Server:
    """One nginx ``server`` block.

    ``certificate`` is a trustme leaf (None: plain http). ``cors`` adds
    ``Access-Control-Allow-Origin: *`` to fonts; ``http2`` turns HTTP/2 on for the
    address (nginx decides it per listening address, so every server on one address
    must agree). ``extra`` is raw configuration for the block (e.g. ``return 421;``).
    """

    names: Sequence[str]
    root: Path
    address: str = "127.0.0.1"
    certificate: trustme.LeafCert | None = None
    http2: bool = True
    cors: bool = True
    default: bool = False
    extra: str = ""


@contextmanager
def serve_hosts(prefix: Path, servers: Sequence[Server]) -> Iterator[Nginx]:
    """One nginx for ``servers``, all on one free port, until the block ends. If nginx
    exits at start (most likely the port was taken meanwhile), another port is tried."""
    addresses = sorted({s.address for s in servers})
    failure = None
    for _ in range(5):
        if prefix.exists():
            shutil.rmtree(prefix)
        prefix.mkdir(parents=True)
        port = free_port(addresses)
        try:
            nginx = Nginx(prefix, _config(prefix, servers, port), [(a, port) for a in addresses])
        except NginxExited as exited:
            failure = exited
            continue
        with nginx:
            yield nginx
        return
    raise RuntimeError(f"nginx did not start in 5 tries: {failure}")


def _config(prefix: Path, servers: Sequence[Server], port: int) -> str:
    blocks = "\n".join(_server(prefix, server, port) for server in servers)
    http = f"""    include {MIME_TYPES};
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
{blocks}"""
    return nginx_conf(prefix, http, access_log='$host $server_protocol "$request" $status')


def _server(prefix: Path, server: Server, port: int) -> str:
    listen = f"{server.address}:{port}"
    if server.certificate is not None:
        listen += " ssl"
        if server.http2:
            listen += " http2"
    if server.default:
        listen += " default_server"
    tls = ""
    if server.certificate is not None:
        name = "-".join(server.names[:1]) or "default"
        pem = prefix / f"{name}-{server.address}.pem"
        if not pem.exists():
            server.certificate.private_key_and_cert_chain_pem.write_to_path(str(pem))
        tls = f"    ssl_certificate {pem};\n    ssl_certificate_key {pem};\n"
    cors = "add_header Access-Control-Allow-Origin *;" if server.cors else ""
    return f"""server {{
    listen {listen};
    server_name {" ".join(server.names) or '""'};
{tls}    root {server.root};
    add_header Cache-Control "public, max-age=31536000, immutable";
    {server.extra}
    location ~* {FONT_LOCATION} {{
        add_header Cache-Control "public, max-age=31536000, immutable";
        {cors}
    }}
}}"""
