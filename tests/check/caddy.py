"""Debian's Caddy (2.6) as a child process, for the HTTP/3 tests of check-hosts.

Caddy serves HTTP/3 over UDP on its HTTPS port and advertises it in ``Alt-Svc``. One
site block runs on a port free for TCP and UDP on 127.0.0.1, with its storage,
configuration and log in a prefix folder; the server is stopped whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CADDY = "/usr/bin/caddy"


def find_caddy() -> str | None:
    """Caddy's path: ``$CADDY``, else Debian's ``/usr/bin/caddy``, else ``caddy`` on PATH."""
    configured = os.environ.get("CADDY")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return CADDY if os.access(CADDY, os.X_OK) else shutil.which("caddy")


def require_caddy() -> None:
    """Skip the test when Caddy is missing, except in CI (``CI`` set), where
    ``.ci/run`` installs it: there it fails."""
    import pytest

    if find_caddy() is not None:
        return
    reason = "caddy is not installed: apt-get install caddy (or set CADDY)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the Caddy tests", pytrace=False)
    raise pytest.skip.Exception(reason)


def _free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1 right now."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def _udp_bound(port: int) -> bool:
    with open("/proc/net/udp", encoding="ascii") as table:
        return any(int(line.split()[1].partition(":")[2], 16) == port for line in list(table)[1:])


class Caddy(contextlib.AbstractContextManager["Caddy"]):
    """Caddy serving ``site_block`` (Caddyfile text) on a free port until closed."""

    def __init__(self, prefix: Path, site_block: str, timeout: float = 10) -> None:
        executable = find_caddy()
        if executable is None:
            raise RuntimeError("caddy not found: apt-get install caddy (or set CADDY)")
        prefix.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.log = prefix / "caddy.log"
        config = prefix / "Caddyfile"
        config.write_text(
            f"""{{
    admin off
    auto_https disable_redirects
    https_port {self.port}
    default_bind 127.0.0.1
    grace_period 1s
    storage file_system {prefix / "storage"}
}}

{site_block}""",
            encoding="utf-8",
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [executable, "run", "--config", str(config), "--adapter", "caddyfile"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(prefix), "XDG_DATA_HOME": str(prefix / "data")},
                start_new_session=True,
            )
        try:
            self._wait(timeout)
        except BaseException:
            self.close()
            raise

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"caddy exited ({self.process.returncode}):\n{self.errors()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if _udp_bound(self.port):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"caddy did not answer within {timeout:g} s:\n{self.errors()}")
            time.sleep(0.02)

    def errors(self) -> str:
        return self.log.read_text(errors="replace").strip() if self.log.exists() else ""

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """SIGTERM, then after 5 s SIGKILL to its process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
