"""Servers as child processes, started and stopped one way.

A :class:`Program` says where a server is installed and how it runs in the
foreground on one configuration file. :class:`Server` writes that file into a
prefix folder (its logs go there too), starts the program in a session of its own,
and returns once the program's own processes listen on every address it was given;
it stops the program on exit, whatever happened: the program's graceful stop
signal, then SIGKILL to everything left in its process group.

A server that exits while starting (a missing module, a port in use, a bad
directive) or does not listen within the timeout raises :class:`ServerFailed` with
the program's own messages, never a hang. "Listening" means a socket held by a
process of the server's group (read from ``/proc``, so Linux only), not merely
something answering on the port: another program on a taken port must not pass
for the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

#: Values of ``$CI`` that make a missing program fail a test instead of skipping it.
CI_VALUES = ("1", "true", "yes")
#: How many lines of each log a failure quotes.
QUOTED_LINES = 40


def skip_or_fail(reason: str, what: str, *, module_level: bool = False) -> NoReturn:
    """Skip the calling test because ``reason``, except in CI (``$CI`` set), where
    ``.ci/run`` installs everything and a skip would hide a broken setup: there the
    test fails, saying that CI must run ``what``."""
    import pytest

    if os.environ.get("CI", "").lower() in CI_VALUES:
        pytest.fail(f"{reason}; CI must run {what}", pytrace=False)
    raise pytest.skip.Exception(reason, allow_module_level=module_level)


@dataclass(frozen=True)
class Program:
    """An installed server and how it runs in the foreground.

    ``arguments(prefix, config)`` are the command-line arguments after the
    executable. ``error_log`` is the file (in the prefix) that this package's
    configurations send the program's errors to; its standard output and error go
    to ``output.log`` beside it. ``needs`` are files the configurations read
    (modules, MIME types), checked by :meth:`require`.
    """

    name: str
    path: str
    packages: str
    config_file: str
    arguments: Callable[[Path, Path], Sequence[str]]
    stop_signal: signal.Signals
    error_log: str | None = "error.log"
    needs: tuple[str, ...] = ()
    environment: Callable[[Path], Mapping[str, str]] = field(default=lambda prefix: {})

    @property
    def variable(self) -> str:
        """The environment variable that overrides the path: ``$NGINX``, ``$APACHE2``..."""
        return Path(self.path).name.upper()

    def find(self) -> str | None:
        """The executable: ``$VARIABLE``, else Debian's path, else the name on PATH."""
        configured = os.environ.get(self.variable)
        if configured:
            return configured if os.access(configured, os.X_OK) else None
        if os.access(self.path, os.X_OK):
            return self.path
        return shutil.which(Path(self.path).name)

    def missing(self) -> str | None:
        """What is missing to run the tests' configurations, or None."""
        absent = [need for need in self.needs if not Path(need).exists()]
        if self.find() is not None and not absent:
            return None
        what = f"{self.name} is not installed"
        if absent:
            what += f" ({', '.join(absent)} missing)"
        return f"{what}: apt-get install {self.packages} (or set {self.variable})"

    def require(self) -> None:
        """Skip the test when the program is missing (fail in CI)."""
        reason = self.missing()
        if reason is not None:
            skip_or_fail(reason, f"the {self.name} tests")


class ServerFailed(RuntimeError):
    """The server exited while starting (``status`` is its exit status, negative for
    a signal) or did not listen in time (``status`` is None)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LogFile:
    """A log a server appends to: :meth:`lines` reads what came after an :meth:`offset`."""

    path: Path

    def offset(self) -> int:
        """The log's size now."""
        return self.path.stat().st_size if self.path.exists() else 0

    def lines(self, since: int = 0) -> list[str]:
        """The lines after offset ``since``."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace").splitlines()


class Server(contextlib.AbstractContextManager["Server"]):
    """``program`` running ``config`` in ``prefix`` until closed.

    Returns once every ``(address, port)`` of ``listening`` is listened on by the
    program's processes, within ``timeout`` seconds; otherwise stops it and raises
    :class:`ServerFailed` with its messages. ``stop_timeout`` is how long the
    graceful stop may take before the process group is killed.
    """

    def __init__(
        self,
        program: Program,
        prefix: Path,
        config: str,
        listening: Sequence[tuple[str, int]],
        *,
        timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        executable = program.find()
        if executable is None:
            raise RuntimeError(program.missing())
        self.program = program
        self.prefix = prefix
        self.listening = tuple(listening)
        self.stop_timeout = stop_timeout
        prefix.mkdir(parents=True, exist_ok=True)
        self.config_file = prefix / program.config_file
        self.config_file.write_text(config, encoding="utf-8")
        self.output = prefix / "output.log"
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                [executable, *program.arguments(prefix, self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=prefix,
                env={**os.environ, **program.environment(prefix)},
                # Its own session and process group: Ctrl-C reaches Python only, which
                # then stops the server in order, and the group can be killed whole.
                start_new_session=True,
            )
        try:
            self._wait(timeout)
        except BaseException:
            self.close()
            raise

    @property
    def port(self) -> int:
        """The port of the first address it listens on (for a one-port server)."""
        return self.listening[0][1]

    def log(self, name: str) -> LogFile:
        """The log ``name`` in the prefix (as the configuration names it)."""
        return LogFile(self.prefix / name)

    def errors(self) -> str:
        """The last lines of the program's error log and of its output."""
        quoted = []
        for name in (self.program.error_log, self.output.name):
            path = self.prefix / name if name else None
            if path is not None and path.is_file():
                lines = path.read_text(errors="replace").strip().splitlines()[-QUOTED_LINES:]
                if lines:
                    quoted.append(f"--- {path}\n" + "\n".join(lines))
        return "\n".join(quoted) or f"(nothing in {self.prefix})"

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.listening)
        while waiting:
            status = _exit_status(self.process.pid)
            if status is not None:
                raise ServerFailed(
                    f"{self.program.name} exited with status {status} before it listened "
                    f"on {_where(waiting)}; its own messages:\n{self.errors()}",
                    status,
                )
            if _listens(self.process.pid, *waiting[0]):
                waiting.pop(0)
            elif time.monotonic() > deadline:
                raise ServerFailed(
                    f"{self.program.name} did not listen on {_where(waiting)} within "
                    f"{timeout:g} s; its own messages:\n{self.errors()}",
                    None,
                )
            else:
                time.sleep(0.02)

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server: its graceful stop signal, then, after ``stop_timeout``
        seconds or once it has exited, SIGKILL to whatever is left of its process
        group (workers and children included). The group is killed before the
        server's own process is reaped, so its id cannot belong to anyone else."""
        pid = self.process.pid
        if _exit_status(pid) is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(self.program.stop_signal)
            deadline = time.monotonic() + self.stop_timeout
            while _exit_status(pid) is None and time.monotonic() < deadline:
                time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def serve(
    program: Program,
    prefix: Path,
    config: Callable[[int], str],
    addresses: Sequence[str] = ("127.0.0.1",),
    *,
    udp: bool = False,
    tries: int = 3,
) -> Iterator[Server]:
    """``program`` running ``config(port)`` on a free port of every one of
    ``addresses`` (and free for UDP too with ``udp``, for HTTP/3) until the block
    ends. Only when the server exits and the port has been taken meanwhile by
    another program is another port tried; any other failure is raised at once."""
    for attempt in range(1, tries + 1):
        port = free_port(addresses, udp=udp)
        try:
            server = Server(program, prefix, config(port), [(a, port) for a in addresses])
        except ServerFailed as failed:
            taken = failed.status is not None and not _bindable(addresses, port, udp)
            if taken and attempt < tries:
                continue
            raise
        with server:
            yield server
        return


def free_port(addresses: Sequence[str] = ("127.0.0.1",), *, udp: bool = False) -> int:
    """A TCP port (and UDP port, with ``udp``) free on every one of ``addresses``
    right now. Another program may still take it before the server binds it."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if _bindable(addresses, port, udp):
            return port


@contextlib.contextmanager
def readable_folder(prefix: str = "shard-assets-") -> Iterator[Path]:
    """A temporary folder that every user can read, removed afterwards. Servers that
    drop root's privileges (Apache httpd's children, nginx's workers) serve from it;
    they cannot read pytest's temporary folders (mode 0700)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder


def _where(listening: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{address}:{port}" for address, port in listening)


def _bindable(addresses: Sequence[str], port: int, udp: bool) -> bool:
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for address in addresses:
        for kind in kinds:
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind((address, port))
                except OSError:
                    return False
    return True


def _exit_status(pid: int) -> int | None:
    """The exit status (negative: killed by that signal) once ``pid`` has exited,
    without reaping it; None while it runs."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None or info.si_pid == 0:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _listens(group: int, address: str, port: int) -> bool:
    """Whether a process of process group ``group`` listens on ``address:port`` (or on
    the wildcard address), and the address accepts a connection."""
    sockets = _listening_sockets(address, port)
    if not sockets or not any(sockets & _socket_inodes(pid) for pid in _members(group)):
        return False
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.5):
        return True
    return False


def _listening_sockets(address: str, port: int) -> set[str]:
    """The inodes of TCP sockets listening on ``address:port`` or the wildcard."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with contextlib.suppress(FileNotFoundError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                host, _, hex_port = local.partition(":")
                if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                    continue
                # Each 32-bit word of the address is in the host's (little-endian) order.
                raw = b"".join(bytes.fromhex(host[i : i + 8])[::-1] for i in range(0, len(host), 8))
                bound = socket.inet_ntop(family, raw)
                if bound in (address, "0.0.0.0", "::", f"::ffff:{address}"):
                    found.add(inode)
    return found


def _members(group: int) -> list[int]:
    """The processes of process group ``group``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
                if int(stat.rpartition(")")[2].split()[2]) == group:
                    members.append(int(entry))
    return members


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes
