"""Debian's nginx as a test server: TLS, HTTP/2, several names and addresses.

:class:`Nginx` writes a configuration into its own prefix folder (pid file, logs and
temporary folders included, nothing under ``/etc`` or ``/var`` besides the MIME
types), runs ``/usr/sbin/nginx`` as a child in the foreground (``daemon off``, one
process), waits until every listening address answers, and kills it on exit. All
servers listen on one free port; each :class:`Server` picks its loopback address
(``127.0.0.2`` and up work on Linux without any setup), its names, its certificate
and its root folder, so one nginx can play several differently configured hosts.

Certificates come from a ``trustme.CA``; the tests trust that CA only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import trustme

NGINX = "/usr/sbin/nginx"
MIME_TYPES = "/etc/nginx/mime.types"
#: What the sample sites' fonts and long-lived assets are served with.
FONT_LOCATION = r"\.(woff2?|ttf|otf|eot)$"


def require_nginx() -> None:
    """Skip the test when Debian's nginx is not installed, except in CI (``CI`` set),
    where ``.ci/run`` installs it and a skip would hide a broken setup: there it fails."""
    import pytest

    if Path(NGINX).is_file() and Path(MIME_TYPES).is_file():
        return
    reason = "nginx is not installed: apt-get install nginx"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the live-check tests", pytrace=False)
    pytest.skip(reason)


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


class Nginx:
    """A running nginx for ``servers``; use as a context manager."""

    def __init__(self, prefix: Path, servers: Sequence[Server]) -> None:
        self.prefix = prefix
        self.servers = list(servers)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        for _ in range(5):
            self.port = _free_port({s.address for s in self.servers})
            if self._start():
                return self
        raise RuntimeError(f"nginx did not start:\n{self.log()}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill nginx and wait for it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        """What nginx wrote to its error log."""
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def requests(self) -> list[str]:
        """The access log: ``host protocol request status``, one request a line."""
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def connect_to(self, hosts: Sequence[str], address: str, port: int = 443) -> list[str]:
        """``--connect-to`` flags that send ``hosts`` (on ``port``) to ``address``."""
        flags: list[str] = []
        for host in hosts:
            flags += ["--connect-to", f"{host}:{port}:{address}:{self.port}"]
        return flags

    def _start(self) -> bool:
        if self.prefix.exists():
            shutil.rmtree(self.prefix)
        (self.prefix / "tmp").mkdir(parents=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self._config())
        command = [NGINX, "-p", str(self.prefix), "-c", str(conf), "-e", "stderr"]
        with (self.prefix / "error.log").open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        addresses = sorted({s.address for s in self.servers})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False  # most likely the port was taken meanwhile: try another
            if all(_answers(address, self.port) for address in addresses):
                return True
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not answer within 10 s:\n{self.log()}")

    def _config(self) -> str:
        tmp = self.prefix / "tmp"
        temp_paths = "\n".join(
            f"    {kind}_temp_path {tmp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        blocks = "\n".join(self._server(server) for server in self.servers)
        return f"""daemon off;
master_process off;
worker_processes 1;
pid {self.prefix / "nginx.pid"};
error_log {self.prefix / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    log_format hosts '$host $server_protocol "$request" $status';
    access_log {self.prefix / "access.log"} hosts;
    ssl_protocols TLSv1.2 TLSv1.3;
{temp_paths}
{blocks}
}}
"""

    def _server(self, server: Server) -> str:
        listen = f"{server.address}:{self.port}"
        if server.certificate is not None:
            listen += " ssl"
            if server.http2:
                listen += " http2"
        if server.default:
            listen += " default_server"
        tls = ""
        if server.certificate is not None:
            name = "-".join(server.names[:1]) or "default"
            pem = self.prefix / f"{name}-{server.address}.pem"
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


def _answers(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.2):
        return True
    return False


def _free_port(addresses: set[str]) -> int:
    """A port that is free on every address now (nginx may still lose a race for it)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if all(_bindable(address, port) for address in addresses):
            return port


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on (for a host that refuses connections)."""
    return _free_port({"127.0.0.1"})
