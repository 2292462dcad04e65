"""The server harness of testing/: a server that cannot start fails with its own
message, never a hang, and a server is stopped whatever happens, with everything
its process group started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import servers
from testing.certificates import LocalCA
from testing.programs import NGINX, nginx_conf
from testing.recipes import SERVERS, Deployment, require, serve_recipe
from testing.servers import Program, Server, ServerFailed, readable_folder, serve

pytestmark = pytest.mark.servers

#: What each server says when a module its recipe needs is missing, and the edit of
#: the recipe that asks for one.
MISSING_MODULE = {
    "nginx": (
        lambda text: text.replace("server {", "server {\n    brotli on;", 1),
        r'unknown directive "brotli"',
    ),
    "apache": (
        lambda text: "LoadModule nope_module /usr/lib/apache2/modules/mod_nope.so\n" + text,
        r"Cannot load /usr/lib/apache2/modules/mod_nope\.so into server",
    ),
    "caddy": (
        lambda text: text.replace("\tfile_server\n", "\tfile_server\n\trate_limit\n"),
        r"unrecognized directive: rate_limit",
    ),
    "haproxy": (
        lambda text: text.replace(
            "    default_backend", "    http-request lua.pick\n    default_backend"
        ),
        r"but got 'lua\.pick'",
    ),
    "lighttpd": (
        lambda text: text.replace('"mod_magnet"', '"mod_nope"'),
        r"dlopen\(\) failed for: /usr/lib/lighttpd/mod_nope\.so",
    ),
}


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """A one-page site and its twin, in a folder every server can read."""
    with readable_folder() as folder:
        for name in ("site", "site-h2"):
            (folder / name).mkdir()
            (folder / name / "index.html").write_text(f"<!DOCTYPE html><p>{name}</p>\n")
        certificate = LocalCA(folder / "tls").issue("site", "www.example.com")
        yield Deployment(folder / "site", folder / "site-h2", certificate)


def left_running(prefix: Path) -> list[int]:
    """Processes whose command line names ``prefix`` (every server here is started on a
    configuration file in its prefix)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if str(prefix).encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return found


@pytest.mark.parametrize("server", SERVERS)
def test_a_port_in_use_fails_with_the_servers_own_error(
    server: str, deployment: Deployment, tmp_path: Path
) -> None:
    """Another program listens on the port: it must not pass for the server, which
    exits, and its message says why."""
    require(server)
    prefix = tmp_path / server
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        started = time.monotonic()
        with (
            pytest.raises(ServerFailed, match=r"(?i)address already in use") as failed,
            serve_recipe(server, prefix, deployment, port=port),
        ):
            pytest.fail(f"{server} started on a port another program listens on")
    assert failed.value.status is not None and failed.value.status != 0
    assert f"127.0.0.1:{port}" in str(failed.value)
    assert time.monotonic() - started < 8  # nginx itself tries to bind for 2 s
    assert left_running(prefix) == []


@pytest.mark.parametrize("server", SERVERS)
def test_a_missing_module_fails_with_the_servers_own_error(
    server: str, deployment: Deployment, tmp_path: Path
) -> None:
    require(server)
    edit, message = MISSING_MODULE[server]
    prefix = tmp_path / server
    with (
        pytest.raises(ServerFailed, match=message) as failed,
        serve_recipe(server, prefix, deployment, edit=edit),
    ):
        pytest.fail(f"{server} started without a module its configuration needs")
    assert re.search(r"exited with status \d+ before it listened", str(failed.value))
    assert left_running(prefix) == []


def test_a_server_that_never_listens_where_it_should_times_out(tmp_path: Path) -> None:
    """nginx runs, but on another port than the one it was started for."""
    NGINX.require()
    actual, expected = servers.free_port(), servers.free_port()
    config = nginx_conf(tmp_path, f"server {{ listen 127.0.0.1:{actual}; return 204; }}")
    started = time.monotonic()
    with pytest.raises(ServerFailed, match=rf"nginx did not listen on 127\.0\.0\.1:{expected}"):
        Server(NGINX, tmp_path, config, [("127.0.0.1", expected)], timeout=1)
    assert time.monotonic() - started < 5
    assert left_running(tmp_path) == []


# A server that ignores its graceful stop signal, with a child in its process group.
STUBBORN = """
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
child = os.fork()
if child == 0:
    time.sleep(600)
    os._exit(0)
with open("pids", "w") as pids:
    pids.write(f"{os.getpid()} {child}")
time.sleep(600)
"""


def stubborn(port: int) -> Program:
    return Program(
        name="stubborn",
        path=sys.executable,
        packages="python3",
        config_file="stubborn.py",
        arguments=lambda prefix, conf: (str(conf), str(port)),
        stop_signal=signal.SIGTERM,
    )


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_server_is_stopped_whatever_happens_with_its_whole_group(tmp_path: Path) -> None:
    """An interrupt inside the block; the server ignores its stop signal and has a
    child: after the grace period both are killed."""
    port = servers.free_port()
    with (
        pytest.raises(KeyboardInterrupt),
        Server(
            stubborn(port), tmp_path, STUBBORN, [("127.0.0.1", port)], stop_timeout=0.5
        ) as server,
    ):
        deadline = time.monotonic() + 5
        while not (tmp_path / "pids").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
        assert pids[0] == server.process.pid and all(alive(pid) for pid in pids)
        raise KeyboardInterrupt
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(pid) for pid in pids)
    assert server.process.returncode == -signal.SIGKILL


def test_another_port_is_tried_only_when_the_port_was_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    NGINX.require()
    free_port = servers.free_port
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        free = iter([taken, free_port()])
        monkeypatch.setattr(servers, "free_port", lambda *args, **kwargs: next(free))
        ports = []

        def config(port: int) -> str:
            ports.append(port)
            return nginx_conf(tmp_path, f"server {{ listen 127.0.0.1:{port}; return 204; }}")

        with serve(NGINX, tmp_path, config) as server:
            assert server.port != taken
        assert ports == [taken, server.port]

        # A bad configuration is not retried: the first failure is raised.
        ports.clear()
        free = iter([free_port(), free_port()])

        def broken(port: int) -> str:
            ports.append(port)
            return nginx_conf(tmp_path, "server { brotli on; }")

        with (
            pytest.raises(ServerFailed, match='unknown directive "brotli"'),
            serve(NGINX, tmp_path, broken),
        ):
            pytest.fail("nginx started with a directive it does not know")
        assert len(ports) == 1
