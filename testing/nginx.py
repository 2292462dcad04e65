"""nginx playing several hosts at once: ``server {}`` blocks, and one nginx to run them.

One :class:`ServerBlock` per group of names on one address: its certificate (none:
plain http), HTTP/2 or not, its root and whatever else it needs (``body``). The
blocks of :func:`serve_hosts` share one free port; the TLS benchmark gives each block
a port of its own (an HTTP/1.1 port and an HTTP/2 port) and runs
:class:`testing.servers.Server` itself. Loopback addresses
``127.0.0.2`` and up work on Linux without any setup, so one nginx can play several
differently configured hosts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .certificates import Certificate
from .programs import NGINX, nginx_conf
from .servers import Server, serve


@dataclass(frozen=True)
class ServerBlock:
    """One nginx ``server`` block.

    ``http2`` turns HTTP/2 on for the block's address and port (nginx decides it per
    listening socket, so every block on one address and port must agree); ``root``
    None keeps the ``http {}`` root; ``body`` is raw configuration for the block (a
    location, ``return 421;``, headers).
    """

    names: Sequence[str]
    certificate: Certificate | None = None
    address: str = "127.0.0.1"
    port: int | None = None
    http2: bool = True
    default: bool = False
    root: Path | None = None
    body: str = ""

    def render(self, port: int) -> str:
        """The block, listening on its own port or else on ``port``."""
        listen = f"{self.address}:{self.port or port}"
        tls = ""
        if self.certificate is not None:
            listen += " ssl http2" if self.http2 else " ssl"
            tls = (
                f"    ssl_certificate {self.certificate.chain};\n"
                f"    ssl_certificate_key {self.certificate.key};\n"
            )
        if self.default:
            listen += " default_server"
        root = f"    root {self.root};\n" if self.root is not None else ""
        names = " ".join(self.names) or '""'
        return (
            f"server {{\n    listen {listen};\n"
            f"    server_name {names};\n"
            f"{tls}{root}{self.body}\n}}\n"
        )


@contextmanager
def serve_hosts(
    prefix: Path,
    blocks: Sequence[ServerBlock],
    *,
    http: str = "",
    access_log: str = '$host $server_protocol "$request" $status',
) -> Iterator[Server]:
    """One nginx for ``blocks`` (after ``http``, the ``http {}`` settings they share)
    until the block ends, every block on one free port, requests logged to
    ``access.log`` in ``access_log``'s format."""
    addresses = sorted({b.address for b in blocks})

    def config(port: int) -> str:
        rendered = "".join(block.render(port) for block in blocks)
        return nginx_conf(prefix, f"{http}\n{rendered}", access_log=access_log)

    with serve(NGINX, prefix, config, addresses) as server:
        yield server
