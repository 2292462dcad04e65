"""The servers of Debian's packages, and the main configuration each runs in a prefix.

Each ``*_conf`` function wraps what a caller serves (a recipe of docs/deploy.md, or
generated ``server {}`` blocks) in the rest of a main configuration: foreground, pid
and state files in the prefix, errors to ``prefix/error.log``, nothing read from or
written to ``/etc`` or ``/var`` besides the MIME types and modules, loopback only,
and a bounded graceful stop. :class:`testing.servers.Server` runs the result.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

from .servers import Program

NGINX = Program(
    name="nginx",
    path="/usr/sbin/nginx",
    packages="nginx",
    config_file="nginx.conf",
    # -e: errors before the configuration is read go to the prefix too.
    arguments=lambda prefix, conf: ("-p", str(prefix), "-c", str(conf), "-e", "error.log"),
    stop_signal=signal.SIGQUIT,
    needs=("/etc/nginx/mime.types",),
)
NGINX_MIME_TYPES = Path("/etc/nginx/mime.types")

APACHE_MODULES = Path("/usr/lib/apache2/modules")
APACHE = Program(
    name="Apache httpd",
    path="/usr/sbin/apache2",
    packages="apache2",
    config_file="httpd.conf",
    # -E: errors while starting (a module that cannot load) go to the prefix too.
    arguments=lambda prefix, conf: (
        "-d",
        str(prefix),
        "-f",
        str(conf),
        "-E",
        "error.log",
        "-DFOREGROUND",
    ),
    # Apache's "stop": the parent kills its children at once (its graceful stop,
    # SIGWINCH, waits for every open connection without a time limit).
    stop_signal=signal.SIGTERM,
    needs=(str(APACHE_MODULES / "mod_http2.so"), "/etc/mime.types"),
)
#: What the recipe needs of Apache httpd (Debian enables most of these by default).
APACHE_LOADED = (
    "mpm_event",
    "authz_core",
    "mime",
    "dir",
    "headers",
    "rewrite",
    "socache_shmcb",
    "ssl",
    "http2",
)

CADDY = Program(
    name="Caddy",
    path="/usr/bin/caddy",
    packages="caddy",
    config_file="Caddyfile",
    arguments=lambda prefix, conf: ("run", "--config", str(conf), "--adapter", "caddyfile"),
    stop_signal=signal.SIGTERM,
    # Its storage and autosaved configuration stay in the prefix.
    environment=lambda prefix: {
        "HOME": str(prefix),
        "XDG_CONFIG_HOME": str(prefix / "config"),
        "XDG_DATA_HOME": str(prefix / "data"),
    },
)

HAPROXY = Program(
    name="HAProxy",
    path="/usr/sbin/haproxy",
    packages="haproxy",
    config_file="haproxy.cfg",
    # -db: foreground, messages to standard error (output.log).
    arguments=lambda prefix, conf: ("-db", "-f", str(conf)),
    stop_signal=signal.SIGUSR1,  # soft stop; hard-stop-after bounds it
    error_log=None,
)

LIGHTTPD_MODULES = Path("/usr/lib/lighttpd")
LIGHTTPD = Program(
    name="lighttpd",
    path="/usr/sbin/lighttpd",
    packages="lighttpd lighttpd-mod-openssl lighttpd-modules-lua",
    config_file="lighttpd.conf",
    arguments=lambda prefix, conf: ("-D", "-f", str(conf)),
    stop_signal=signal.SIGINT,  # graceful; server.graceful-shutdown-timeout bounds it
    needs=(
        str(LIGHTTPD_MODULES / "mod_openssl.so"),
        str(LIGHTTPD_MODULES / "mod_magnet.so"),
        "/usr/share/lighttpd/create-mime.conf.pl",
    ),
)


def nginx_conf(
    prefix: Path, http: str, *, access_log: str | None = None, master_process: bool = False
) -> str:
    """nginx.conf with ``http`` inside ``http {}``; its temporary folders and access log
    (``access.log``, in the ``access_log`` format; none without one) in ``prefix``.

    Without ``master_process`` one process does everything. With it, a master runs
    one worker, as in production; a master started as root (CI) runs its worker as
    nobody, so what it serves must be readable by everyone
    (:func:`testing.servers.readable_folder`).
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


def apache_conf(prefix: Path, body: str, listening: Sequence[tuple[str, int]]) -> str:
    """httpd.conf: Debian's modules of :data:`APACHE_LOADED`, ``Listen`` on each of
    ``listening``, then ``body`` (virtual hosts). Started as root, its children run
    as nobody: what they serve must be readable by everyone."""
    modules = "".join(
        f"LoadModule {name}_module {APACHE_MODULES / f'mod_{name}.so'}\n" for name in APACHE_LOADED
    )
    listen = "".join(f"Listen {address}:{port}\n" for address, port in listening)
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    return f"""ServerRoot {prefix}
ServerName localhost
PidFile {prefix / "httpd.pid"}
DefaultRuntimeDir {prefix}
Mutex file:{prefix} default
ErrorLog {prefix / "error.log"}
LogLevel warn
{user}{modules}TypesConfig /etc/mime.types
DirectoryIndex index.html
{listen}
{body}"""


def caddy_conf(prefix: Path, body: str, port: int) -> str:
    """A Caddyfile: global options (no admin endpoint, no HTTP redirect listener,
    HTTPS on ``port`` of 127.0.0.1, storage and logs in ``prefix``, a 2 s grace
    period), then ``body`` (site blocks)."""
    return f"""{{
    admin off
    auto_https disable_redirects
    https_port {port}
    default_bind 127.0.0.1
    grace_period 2s
    storage file_system {prefix / "storage"}
    log default {{
        output file {prefix / "error.log"}
        level WARN
    }}
}}

{body}"""


def haproxy_conf(body: str) -> str:
    """haproxy.cfg: messages to standard error, HTTP mode and timeouts by default,
    a soft stop of at most 2 s, then ``body`` (frontends and backends)."""
    return f"""global
    log stderr format short local0 warning
    hard-stop-after 2s

defaults
    log global
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

{body}"""


def lighttpd_conf(prefix: Path, body: str, port: int) -> str:
    """lighttpd.conf: what Debian's main file sets (index file, MIME types), 127.0.0.1
    on ``port``, errors in ``prefix``, a 2 s graceful stop, then ``body``, which sets
    ``server.document-root`` (lighttpd refuses a variable set twice)."""
    return f"""server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{prefix / "error.log"}"
server.feature-flags = ("server.graceful-shutdown-timeout" => 2)
index-file.names = ("index.html")
include_shell "/usr/share/lighttpd/create-mime.conf.pl"

{body}"""
