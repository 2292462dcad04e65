"""Debian's nginx as a child process: the one place that finds it, starts it, waits until
it answers and stops it, for the tests and the benchmarks alike.

Each caller writes what is its own inside ``http {}``; :func:`nginx_conf` wraps that
in the rest, every file in one prefix folder (nothing under ``/etc`` or ``/var``
besides the MIME types some callers include):

- ``tests/test_deploy.py``: docs/deploy.md's recipe, as written;
- ``tests/nginx_hosts.py`` (``tests/test_check_hosts.py``): a server per host and
  address, all on one port, with its certificate and root;
- ``benchmarks/tls_serving.py`` (``benchmarks/page_load_tls.py``): virtual servers on
  an HTTP/1.1 and an HTTP/2 port, and an access log with nginx's ``$connection``.

It lives in ``tests/`` beside ``tests/browser.py``, Chromium's counterpart, for the
same reason: the benchmarks already borrow their process helpers from ``tests/``
(``browser``, ``cdn_server``), while the tests import a benchmark only to run that
benchmark. pytest is imported only by :func:`require_nginx`, so a benchmark run
needs none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

NGINX = "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")


def find_nginx() -> str | None:
    """nginx's path: ``$NGINX``, else Debian's ``/usr/sbin/nginx``, else ``nginx`` on PATH."""
    configured = os.environ.get("NGINX")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


def require_nginx() -> None:
    """Skip the test when nginx (or Debian's MIME types) is missing, except in CI (``CI``
    set), where ``.ci/run`` installs it and a skip would hide a broken setup: there it
    fails."""
    import pytest

    if find_nginx() is not None and MIME_TYPES.is_file():
        return
    reason = "nginx is not installed: apt-get install nginx (or set NGINX)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the nginx tests", pytrace=False)
    raise pytest.skip.Exception(reason)


def free_port(addresses: Iterable[str] = ("127.0.0.1",)) -> int:
    """A TCP port free on every one of ``addresses`` right now. Another program may
    still take it before nginx binds it: nginx then exits, and :class:`Nginx` raises
    :class:`NginxExited` with its error log."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if all(_bindable(address, port) for address in addresses):
            return port


def nginx_conf(
    prefix: Path, http: str, *, access_log: str | None = None, master_process: bool = False
) -> str:
    """nginx.conf for a child in the foreground with ``http`` inside ``http {}``; its pid
    file, error log, temporary folders and access log (``access.log``, in the
    ``access_log`` format; none without one) in ``prefix``.

    Without ``master_process`` one process does everything. With it, a master runs
    one worker, as in production; a master started as root (CI) runs its worker as
    nobody, so the caller must make what it serves readable by everyone.
    """
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix / f'tmp-{kind}'};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    logging = (
        f"    log_format main '{access_log}';\n    access_log {prefix / 'access.log'} main;\n"
        if access_log
        else "    access_log off;\n"
    )
    return (
        "daemon off;\n"
        + ("" if master_process else "master_process off;\n")
        + f"worker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n{temp_paths}{logging}{http}\n}}\n"
    )


class NginxExited(RuntimeError):
    """nginx exited before it answered (most likely, a port was taken meanwhile)."""


class Nginx(contextlib.AbstractContextManager["Nginx"]):
    """nginx running ``config`` (from :func:`nginx_conf`) in ``prefix`` until closed.

    Starting writes ``prefix/nginx.conf``, runs nginx in its own process group (so
    that Ctrl-C reaches Python, which then stops nginx in order, rather than both
    racing) and returns once every address of ``listening`` accepts connections,
    within 10 s. Otherwise nginx is stopped and :class:`NginxExited` (it exited) or
    RuntimeError (it did not answer) carries its error log.
    """

    def __init__(self, prefix: Path, config: str, listening: Sequence[tuple[str, int]]) -> None:
        executable = find_nginx()
        if executable is None:
            raise RuntimeError("nginx not found: apt-get install nginx (or set NGINX)")
        self.prefix = prefix
        self.listening = tuple(listening)
        self.access_log = prefix / "access.log"
        self.error_log = prefix / "error.log"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(config, encoding="utf-8")
        self.access_log.touch()
        self.process = subprocess.Popen(
            [executable, "-p", str(prefix), "-c", str(conf), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            self._wait(10)
        except BaseException:
            self.close()
            raise

    @property
    def port(self) -> int:
        """The port of the first address it listens on (for a one-port server)."""
        return self.listening[0][1]

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.listening)
        while waiting:
            if self.process.poll() is not None:
                raise NginxExited(f"nginx exited ({self.process.returncode}):\n{self.errors()}")
            if _answers(*waiting[0]):
                waiting.pop(0)
            elif time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not answer within {timeout:g} s:\n{self.errors()}")
            else:
                time.sleep(0.02)

    def errors(self) -> str:
        """nginx's error log, and its standard error once it has exited."""
        text = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        stderr = self.process.stderr
        if self.process.poll() is not None and stderr is not None and not stderr.closed:
            text += stderr.read().decode("utf-8", "replace")
        return text.strip()

    def log_offset(self) -> int:
        """The access log's size now: :meth:`requests` reads what comes after it."""
        return self.access_log.stat().st_size

    def requests(self, since: int = 0) -> list[str]:
        """The access log's lines after offset ``since``, one request a line."""
        with self.access_log.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace").splitlines()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop nginx: a graceful quit, then after 5 s SIGKILL to its process group (a
        master's worker too)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


def _answers(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.2):
        return True
    return False


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True
