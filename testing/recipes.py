"""The serving recipes of docs/deploy.md, run as written by the real servers.

:func:`recipe` reads a fenced block marked ``<!-- name -->`` from the page;
:class:`Deployment` puts a built site, its twin and a certificate in place of the
page's example paths (``/srv/example/site``, ``/srv/example/site-h2``,
``/etc/ssl/example/...``); :func:`serve_recipe` starts a server with the recipe on
127.0.0.1 (port 443 becomes a free port) inside the main configuration of
:mod:`testing.programs`, and stops it when the block ends.

A wrongly configured server is one call away: ``edit`` changes the recipe's text
(after the paths are filled in, before the port is), and a :class:`Deployment`
whose ``twin`` is the sharded output serves the sharded pages to every protocol.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .certificates import Certificate
from .programs import (
    APACHE,
    CADDY,
    HAPROXY,
    LIGHTTPD,
    NGINX,
    NGINX_MIME_TYPES,
    apache_conf,
    caddy_conf,
    haproxy_conf,
    lighttpd_conf,
    nginx_conf,
)
from .servers import Program, Server, serve

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"

#: docs/deploy.md's recipes for servers, by name, and the programs each one runs.
PROGRAMS: dict[str, tuple[Program, ...]] = {
    "nginx": (NGINX,),
    "apache": (APACHE,),
    "caddy": (CADDY,),
    "haproxy": (HAPROXY, NGINX),  # in front of nginx
    "lighttpd": (LIGHTTPD,),
}
SERVERS = tuple(PROGRAMS)

Edit = Callable[[str], str]


def recipe(name: str, page: Path = DEPLOY) -> str:
    """The fenced block after ``<!-- name -->`` on ``page``."""
    found = re.search(rf"<!-- {name} -->\n```[\w-]+\n(.*?)```", page.read_text(), re.DOTALL)
    if found is None:
        raise LookupError(f"{page} has no fenced block marked <!-- {name} -->")
    return found.group(1)


@dataclass(frozen=True)
class Deployment:
    """What a recipe serves: the sharded output, its twin, and a certificate that
    covers the site and every shard name."""

    output: Path
    twin: Path
    certificate: Certificate

    def fill(self, text: str) -> str:
        """``text`` with this deployment's paths in place of the page's examples."""
        for example, real in (
            ("/srv/example/site-h2", self.twin),  # before its prefix, the output
            ("/srv/example/site", self.output),
            ("/etc/ssl/example/fullchain.pem", self.certificate.chain),
            ("/etc/ssl/example/privkey.pem", self.certificate.key),
            ("/etc/ssl/example/site.pem", self.certificate.bundle),
        ):
            text = text.replace(example, str(real))
        return text


def require(server: str) -> None:
    """Skip the test when a program of ``server``'s recipe is missing (fail in CI)."""
    for program in PROGRAMS[server]:
        program.require()


def _unchanged(text: str) -> str:
    return text


def serve_recipe(
    server: str,
    prefix: Path,
    deployment: Deployment,
    *,
    edit: Edit = _unchanged,
    port: int | None = None,
) -> AbstractContextManager[Server]:
    """docs/deploy.md's recipe for ``server`` (one of :data:`SERVERS`) serving
    ``deployment`` from ``prefix`` until the block ends, on ``port`` (None: a free
    one). Used as ``with serve_recipe(...) as running:``."""
    return _STARTERS[server](prefix, deployment, edit, port)


def _start(
    program: Program,
    prefix: Path,
    config: Callable[[int], str],
    port: int | None,
    *,
    udp: bool = False,
) -> Iterator[Server]:
    if port is None:
        with serve(program, prefix, config, udp=udp) as running:
            yield running
    else:
        with Server(program, prefix, config(port), [("127.0.0.1", port)]) as running:
            yield running


def _put(text: str, example: str, real: str) -> str:
    """``text`` with the recipe's ``example`` (its port 443, the file server's
    address) replaced by ``real``; the example must be there."""
    if example not in text:
        raise LookupError(f"the recipe has no {example!r} to replace with {real!r}")
    return text.replace(example, real)


@contextmanager
def serve_nginx(
    prefix: Path,
    deployment: Deployment,
    edit: Edit = _unchanged,
    port: int | None = None,
    protocol_map: str = "nginx-protocol-map",
) -> Iterator[Server]:
    """The nginx recipe with the map named ``protocol_map`` (``nginx-cdn-map``: the
    root picked by CloudFront's viewer protocol header)."""
    text = edit(deployment.fill(recipe(protocol_map) + recipe("nginx-server")))

    def config(port: int) -> str:
        server = _put(text, "listen 443", f"listen 127.0.0.1:{port}")
        return nginx_conf(prefix, f"include {NGINX_MIME_TYPES};\n{server}")

    yield from _start(NGINX, prefix, config, port)


@contextmanager
def _apache(prefix: Path, deployment: Deployment, edit: Edit, port: int | None) -> Iterator[Server]:
    text = edit(deployment.fill(recipe("apache")))

    def config(port: int) -> str:
        hosts = _put(text, "<VirtualHost *:443>", f"<VirtualHost *:{port}>")
        return apache_conf(prefix, hosts, [("127.0.0.1", port)])

    yield from _start(APACHE, prefix, config, port)


@contextmanager
def _caddy(prefix: Path, deployment: Deployment, edit: Edit, port: int | None) -> Iterator[Server]:
    # Site addresses without a port are served on https_port, which caddy_conf sets;
    # Caddy serves HTTP/3 on the same port over UDP.
    text = edit(deployment.fill(recipe("caddy")))
    yield from _start(CADDY, prefix, lambda port: caddy_conf(prefix, text, port), port, udp=True)


@contextmanager
def _haproxy(
    prefix: Path, deployment: Deployment, edit: Edit, port: int | None
) -> Iterator[Server]:
    """HAProxy's recipe in front of nginx: the nginx recipe on a plain-HTTP port with
    the map that reads HAProxy's header, as docs/deploy.md says."""
    with ExitStack() as stack:
        files = stack.enter_context(
            serve_nginx(
                prefix / "files",
                deployment,
                lambda text: edit(_behind_proxy(text)),
                protocol_map="nginx-edge-map",
            )
        )
        text = edit(deployment.fill(recipe("haproxy")))
        text = _put(text, "server files 127.0.0.1:8080", f"server files 127.0.0.1:{files.port}")

        def config(port: int) -> str:
            return haproxy_conf(_put(text, "bind :443 ", f"bind 127.0.0.1:{port} "))

        yield from _start(HAPROXY, prefix / "haproxy", config, port)


def _behind_proxy(nginx: str) -> str:
    """The nginx recipe as docs/deploy.md says to run it behind HAProxy: plain HTTP
    (its port becomes the test's), without the certificate."""
    text = re.sub(r"(?m)^\s*ssl_certificate(_key)?\s.*\n", "", nginx)
    return _put(text, "listen 443 ssl http2;", "listen 443;")


@contextmanager
def _lighttpd(
    prefix: Path, deployment: Deployment, edit: Edit, port: int | None
) -> Iterator[Server]:
    prefix.mkdir(parents=True, exist_ok=True)
    script = prefix / "shard-assets.lua"
    script.write_text(edit(deployment.fill(recipe("lighttpd-lua"))), encoding="utf-8")
    text = edit(deployment.fill(recipe("lighttpd")))
    text = text.replace("/etc/lighttpd/shard-assets.lua", str(script))

    def config(port: int) -> str:
        socket = '$SERVER["socket"] == '
        tls = _put(text, f'{socket}":443"', f'{socket}"127.0.0.1:{port}"')
        return lighttpd_conf(prefix, tls, port)

    yield from _start(LIGHTTPD, prefix, config, port)


_STARTERS = {
    "nginx": serve_nginx,
    "apache": _apache,
    "caddy": _caddy,
    "haproxy": _haproxy,
    "lighttpd": _lighttpd,
}
