"""Running Debian's nginx in a test: a prefix folder in tmp_path, a free loopback port,
a test CA (trustme), and the process stopped when the test ends."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

MIME_TYPES = Path("/etc/nginx/mime.types")


def find_nginx() -> str:
    """nginx's path; otherwise skip (or, in CI, where ``.ci/run`` installs it, fail)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is not None and MIME_TYPES.is_file():
        return found
    reason = "nginx is not installed: apt-get install nginx"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the nginx tests", pytrace=False)
    raise pytest.skip.Exception(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Nginx:
    port: int
    prefix: Path


@contextmanager
def run_nginx(prefix: Path, http_block: str, port: int) -> Iterator[Nginx]:
    """Run nginx in the foreground with ``http_block`` inside ``http {}``, until the
    block ends; its error log is shown if it does not start."""
    nginx = find_nginx()
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    include {MIME_TYPES};\n"
        "    access_log off;\n"
        + "".join(
            f"    {kind}_temp_path {prefix / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + http_block
        + "\n}\n"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
                raise AssertionError(f"nginx exited {process.returncode}: {log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not start listening in 10 s") from None
                time.sleep(0.05)
        yield Nginx(port, prefix)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
