"""``check-hosts --unsharded-copy``: which copy of the pages each protocol's visitors
get, against the real servers of docs/deploy.md's recipes over TLS from a test CA.

A small site is sharded once with its twin. Every server's recipe (testing.recipes:
nginx, Apache httpd, Caddy, HAProxy in front of nginx, lighttpd) runs as written,
and with two mistakes: the twin's path pointing at the output (the sharded pages to
everyone) and a rule by protocol that matches every protocol (the twin to everyone).
nginx's recipe also runs with HTTP/2 visitors redirected elsewhere, with HTTP/1.1
only, and with pages of neither copy. Caddy 2.6 serves HTTP/3 over UDP (and
advertises it in Alt-Svc), so the HTTP/3 probe (aioquic) meets a real server.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.check.pages import h3_authority, page_path, sample_pages
from shard_assets.cli import main
from shard_assets.config import load_settings
from shard_assets.documents.urls import Site
from testing.certificates import LocalCA
from testing.recipes import SERVERS, Deployment, require, serve_recipe
from testing.servers import Server, free_port, readable_folder

from ..conftest import HOSTS, make_site

SITE = "www.example.com"
ELSEWHERE = "www.elsewhere.test"
#: The pages of the twin: those with shard URLs (about.html has none).
TWIN_PAGES = ["blog/index.html", "blog/post-1.html", "blog/post-2.html", "index.html"]
#: What the server that serves neither copy has for every page.
LAST_YEAR = b"<!DOCTYPE html><p>last year's page</p>\n"

Edit = Callable[[str], str]


@dataclass(frozen=True)
class Deployed:
    """The sharded output, its twin, pages of neither copy, the certificate and CA."""

    root: Path
    output: Path
    twin: Path
    neither: Path
    manifest: Path
    ca: LocalCA
    deployment: Deployment

    def check(
        self, port: int, *extra: str, twin: bool = True, copy: Path | None = None, sample: int = 3
    ) -> int:
        """check-hosts with the site and every shard name sent to 127.0.0.1:``port``,
        with ``copy`` (by default the twin) as the unsharded copy."""
        routes = [f for h in [SITE, *HOSTS] for f in ("--connect-to", f"{h}:443:127.0.0.1:{port}")]
        given = ["--unsharded-copy", str(copy or self.twin)] if twin else []
        return main(
            [
                "check-hosts",
                str(self.output),
                "--manifest",
                str(self.manifest),
                "--ca-file",
                str(self.ca.ca_file),
                "--site-url",
                f"https://{SITE}/",
                "--sample",
                str(sample),
                *given,
                *routes,
                *extra,
            ]
        )

    def serve(
        self,
        server: str,
        name: str,
        *,
        output: Path | None = None,
        twin: Path | None = None,
        edit: Edit | None = None,
    ) -> AbstractContextManager[Server]:
        """``server``'s recipe serving the output and the twin (or ``output`` and
        ``twin`` in their places), edited by ``edit``."""
        require(server)
        deployment = Deployment(
            output or self.output, twin or self.twin, self.deployment.certificate
        )
        prefix = self.root / "servers" / f"{server}-{name}"
        if edit is None:
            return serve_recipe(server, prefix, deployment)
        return serve_recipe(server, prefix, deployment, edit=edit)


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    """In a folder every server can read (Apache's children run as nobody)."""
    with readable_folder() as root:
        output = make_site(root / "site", images=8, pages=3)
        (output / "blog" / "index.html").write_text(
            '<!DOCTYPE html><img src="../img/photo-001.png">\n'
        )
        (output / "about.html").write_text("<!DOCTYPE html><p>no assets here</p>\n")
        manifest = root / "shard-manifest.json"
        settings = load_settings(
            {
                "hosts": HOSTS,
                "manifest": str(manifest),
                "site_url": f"https://{SITE}/",
                "unsharded_copy": "site-h2",
            },
            base_dir=root,
            source="test",
        )
        shard_site(output, settings)
        twin = root / "site-h2"
        assert sorted(p.relative_to(twin).as_posix() for p in twin.rglob("*.html")) == TWIN_PAGES
        neither = root / "neither"
        shutil.copytree(output, neither)
        for page in TWIN_PAGES:
            (neither / page).write_bytes(LAST_YEAR)
        ca = LocalCA(root / "tls")
        certificate = ca.issue("site", SITE, ELSEWHERE, *HOSTS)
        deployment = Deployment(output, twin, certificate)
        yield Deployed(root, output, twin, neither, manifest, ca, deployment)


def _lines(out: str, heading: str) -> list[str]:
    """The lines after ``heading`` that are indented."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


# ------------------------------------------------------------------ every server


def _every_protocol(deployed: Deployed) -> dict[str, Edit]:
    """Each recipe with its rule by protocol matching every protocol (the mistake
    that serves the twin to everyone)."""

    def nginx(text: str) -> str:
        return _replace(text, f'"HTTP/1.1" {deployed.output};', f'"HTTP/1.1" {deployed.twin};')

    def haproxy(text: str) -> str:
        # HAProxy tells nginx that every visitor spoke HTTP/2. The edit reaches the nginx
        # behind it too, which has no such line.
        return text.replace("X-Visitor-Http-Version %[req.ver]", "X-Visitor-Http-Version 2.0")

    def lighttpd(text: str) -> str:
        # The Lua script takes every protocol for HTTP/2 (the edit also reaches the
        # configuration file, which has no such line).
        protocols = 'if protocol == "HTTP/1.0" or protocol == "HTTP/1.1" then'
        return text.replace(protocols, "if false then")

    return {
        "nginx": nginx,
        "apache": partial(_replace, old="RewriteCond expr \"%{HTTP2} == 'on'\"\n", new=""),
        "caddy": partial(_replace, old="\t\tprotocol http/2+\n", new=""),
        "haproxy": haproxy,
        "lighttpd": lighttpd,
    }


def _replace(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced: the recipe must still have it."""
    assert old in text, f"the recipe no longer has {old!r}"
    return text.replace(old, new)


@pytest.mark.parametrize("server", SERVERS)
def test_each_recipe_serves_each_protocol_its_copy(
    deployed: Deployed, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed.serve(server, "right") as running:
        assert deployed.check(running.port, "--resolve", f"{SITE}:{running.port}:127.0.0.1") == 0
    out = capsys.readouterr().out
    assert f"Pages by protocol: 3 of the 4 page(s) of {deployed.twin}, each compared with" in out
    verdicts = _lines(out, "Pages by protocol:")
    assert verdicts[:2] == [
        "HTTP/1.1: the sharded pages (3 of 3): right",
        "HTTP/2: the unsharded copy (3 of 3): right",
    ]
    if server == "caddy":
        assert verdicts[2].startswith("HTTP/3: the unsharded copy (3 of 3): right; QUIC to")
    else:
        assert verdicts[2] == (
            f"HTTP/3: not probed: {SITE} does not advertise it (no Alt-Svc header with h3)"
        )
    assert "0 problem(s)" in out and "page(s) fetched as their protocol's copy" in out


@pytest.mark.parametrize("server", SERVERS)
def test_the_sharded_pages_to_everyone(
    deployed: Deployed, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin's path points at the output."""
    with deployed.serve(server, "sharded", twin=deployed.output) as running:
        assert deployed.check(running.port, "--resolve", f"{SITE}:{running.port}:127.0.0.1") == 1
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:")[1] == (
        "HTTP/2: the sharded pages (3 of 3): wrong (see the problems)"
    )
    problems = _lines(out, f"protocol ({2 if server == 'caddy' else 1}):")
    assert problems[0] == (
        f"HTTP/2 visitors get the sharded pages (3 of 3 sampled page(s), e.g. "
        f"https://{SITE}/blog/: the bytes of {deployed.output / 'blog/index.html'}): serve "
        f"them the unsharded copy ({deployed.twin}); the server's choice by protocol is "
        "missing or does not match (docs/deploy.md has a tested recipe for each server)"
    )
    if server == "caddy":
        assert problems[1].startswith("HTTP/3 visitors get the sharded pages (3 of 3 sampled")


@pytest.mark.parametrize("server", SERVERS)
def test_the_twin_to_everyone(
    deployed: Deployed, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rule by protocol matches every protocol."""
    edit = _every_protocol(deployed)[server]
    with deployed.serve(server, "twin", edit=edit) as running:
        port = running.port
        assert (
            deployed.check(port, "--format", "json", "--resolve", f"{SITE}:{port}:127.0.0.1") == 1
        )
    report = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["key"]) for p in report["problems"]] == [("protocol", "blog/index.html")]
    assert report["problems"][0]["message"].startswith(
        "HTTP/1.1 visitors get the unsharded copy (3 of 3 sampled page(s), e.g. "
        f"https://{SITE}/blog/: the bytes of {deployed.twin / 'blog/index.html'}): serve them "
        f"the sharded output ({deployed.output}); the server sends every protocol"
    )
    serving = report["serving"]
    assert serving["sampled"] == [
        f"https://{SITE}/blog/",
        f"https://{SITE}/blog/post-1.html",
        f"https://{SITE}/",
    ]
    expected = {("http/1.1", "HTTP/1.1", "twin"), ("http/2", "HTTP/2", "twin")}
    if server == "caddy":
        expected.add(("http/3", "HTTP/3", "twin"))
    assert {(f["protocol"], f["http_version"], f["copy"]) for f in serving["fetches"]} == expected


# ------------------------------------------------------------- nginx, faults


def test_http2_redirected_elsewhere_one_line_per_page(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    def redirect_http2(conf: str) -> str:
        """Pages (not assets) over HTTP/2 go to another site."""
        pages = "location ~ (?:/|\\.html?)$ {"
        assert pages in conf
        rule = f'if ($server_protocol = "HTTP/2.0") {{ return 301 https://{ELSEWHERE}$uri; }}'
        return conf.replace(pages, f"{pages}\n        {rule}")

    with deployed.serve("nginx", "redirect", edit=redirect_http2) as nginx:
        assert deployed.check(nginx.port) == 1
    out = capsys.readouterr().out
    assert _lines(out, "status (3):") == [
        f"https://{SITE}{path}: over HTTP/2: a redirect (301) to https://{ELSEWHERE}{path}, "
        "not the page; serve the page itself, to every protocol"
        for path in ("/blog/", "/blog/post-1.html", "/")
    ]
    assert "HTTP/2: no page (3 of 3): wrong (see the problems)" in out


def test_a_site_that_answers_neither_protocol(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed.serve("nginx", "hosts") as nginx:
        refused = free_port()
        site = ["--connect-to", f"{SITE}:443:127.0.0.1:{refused}"]
        assert deployed.check(nginx.port, *site) == 1
    out = capsys.readouterr().out
    failed = _lines(out, "fetch (3):")
    assert len(failed) == 3
    for line, path in zip(failed, ("/blog/", "/blog/post-1.html", "/"), strict=True):
        assert line.startswith(f"https://{SITE}{path}: over HTTP/1.1 and HTTP/2: ConnectError")
        assert line.endswith(
            "; the site must answer every protocol: is it up there, with a trusted certificate?"
        )
    assert "HTTP/3: not probed" in out


def test_pages_of_neither_copy(deployed: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    with deployed.serve(
        "nginx", "neither", output=deployed.neither, twin=deployed.neither
    ) as nginx:
        assert deployed.check(nginx.port, sample=1) == 1
    out = capsys.readouterr().out
    assert _lines(out, "stale (1):") == [
        f"https://{SITE}/: over HTTP/1.1 and HTTP/2: {len(LAST_YEAR)} bytes that are neither "
        f"the sharded page ({deployed.output / 'index.html'}) nor its unsharded copy "
        f"({deployed.twin / 'index.html'}): a stale deploy, or another site; deploy the "
        "output folder and the unsharded copy again"
    ]


def test_an_http11_only_site_serves_everyone_the_sharded_pages(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    def http11_only(conf: str) -> str:
        return conf.replace(" ssl http2;", " ssl;")

    with deployed.serve("nginx", "h1", edit=http11_only) as nginx:
        assert deployed.check(nginx.port) == 0
    verdicts = _lines(capsys.readouterr().out, "Pages by protocol:")
    assert verdicts[1] == (
        "HTTP/2: the sharded pages (3 of 3) (answered in HTTP/1.1: the site does not offer "
        "HTTP/2): right"
    )


def test_a_plain_http_site_serves_everyone_the_sharded_pages(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    """Browsers speak HTTP/2 and HTTP/3 only over https: over plain http, the sharded
    pages are right for everyone."""

    def plain_http(conf: str) -> str:
        conf = re.sub(r"(?m)^\s*ssl_certificate(_key)?\s.*\n", "", conf)
        return _replace(conf, "listen 443 ssl http2;", "listen 443;")

    with deployed.serve("nginx", "http", edit=plain_http) as nginx:
        routes = [
            f for h in [SITE, *HOSTS] for f in ("--connect-to", f"{h}:80:127.0.0.1:{nginx.port}")
        ]
        command = ["check-hosts", str(deployed.output), "--manifest", str(deployed.manifest)]
        command += ["--site-url", f"http://{SITE}/", "--unsharded-copy", str(deployed.twin)]
        assert main([*command, "--scheme", "http", "--sample", "2", *routes]) == 0
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:") == [
        "HTTP/1.1: the sharded pages (2 of 2): right",
        "HTTP/2: not used: browsers speak HTTP/2 only over https",
        "HTTP/3: not used: browsers speak HTTP/3 only over https",
    ]
    assert out.endswith("; 2 of 2 page(s) fetched as their protocol's copy\n")  # HTTP/1.1 only


def test_without_a_twin_an_http2_site_is_a_warning(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed.serve("nginx", "no-twin", twin=deployed.output) as nginx:
        assert deployed.check(nginx.port, twin=False) == 0
    out = capsys.readouterr().out
    assert "Pages by protocol" not in out
    assert (
        f"no --unsharded-copy: {SITE} answers HTTP/2, so its HTTP/2 and HTTP/3 visitors get "
        "the sharded pages, which load slower for them than unsharded ones (over real round "
        "trips, 0.94x the unsharded speed with the defaults and 0.71x with everything "
        "sharded: docs/page-load.md)" in out
    )


def test_a_copy_that_is_the_output_is_a_warning(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployed.serve("nginx", "same") as nginx:
        assert deployed.check(nginx.port, copy=deployed.output, sample=1) == 0
    out = capsys.readouterr().out
    assert "Pages by protocol" not in out
    assert (
        f"{deployed.output} holds no page that differs from {deployed.output}: nothing tells "
        "the two apart, so serving by protocol is not checked" in out
    )


# ------------------------------------------------------------------ Caddy, HTTP/3


@pytest.fixture(scope="module")
def caddy(deployed: Deployed) -> Iterator[Server]:
    """Caddy's recipe, which serves HTTP/3 and names its own port in Alt-Svc."""
    with deployed.serve("caddy", "h3") as running:
        yield running


def test_http3_over_quic_names_where(
    deployed: Deployed, caddy: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    port = caddy.port
    assert deployed.check(port, "--resolve", f"{SITE}:{port}:127.0.0.1", sample=1) == 0
    assert _lines(capsys.readouterr().out, "Pages by protocol:")[2] == (
        f"HTTP/3: the unsharded copy (1 of 1): right; QUIC to 127.0.0.1 port {port} "
        f'(UDP; Alt-Svc: h3=":{port}"; ma=2592000)'
    )


def test_http3_advertised_but_udp_unanswered(
    deployed: Deployed, caddy: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """Caddy's Alt-Svc names its port; the QUIC packets go to a UDP port where no
    one listens."""
    port, silent = caddy.port, free_port(udp=True)
    elsewhere = ["--connect-to", f"{SITE}:{port}:127.0.0.1:{silent}"]
    assert deployed.check(port, *elsewhere, "--timeout", "0.5", sample=1) == 0
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:")[2] == (
        f"HTTP/3: not probed: no QUIC answer from 127.0.0.1 port {silent} (UDP) within 0.5 s: "
        "UDP blocked on the way, or no HTTP/3 server there"
    )


def test_a_failed_quic_handshake_says_why(deployed: Deployed, caddy: Server) -> None:
    """Verified against the system's CAs, which do not hold the test CA; and a name
    Caddy has no site for, which it refuses with a TLS alert."""
    from shard_assets.check.quic import QuicFailed, h3_connection

    async def connect(name: str, ca_file: Path | None) -> None:
        async with h3_connection("127.0.0.1", caddy.port, name, ca_file, 5):
            pass

    untrusted = r"^the QUIC connection failed: unable to get local issuer certificate$"
    with pytest.raises(QuicFailed, match=untrusted):
        asyncio.run(connect(SITE, None))
    refused = r"^the QUIC handshake failed: the server sent the TLS alert internal_error$"
    with pytest.raises(QuicFailed, match=refused):
        asyncio.run(connect("nobody.test", deployed.ca.ca_file))


def test_http3_without_aioquic(
    deployed: Deployed,
    caddy: Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aioquic", None)
    port = caddy.port
    assert deployed.check(port, "--resolve", f"{SITE}:{port}:127.0.0.1", sample=1) == 0
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:")[2] == (
        "HTTP/3: not probed: aioquic is not installed (pip install 'shard-assets[check]')"
    )


# ----------------------------------------------------------------------- no server


def test_the_sample_takes_one_page_of_each_kind_first_and_is_deterministic() -> None:
    keys = sorted(
        ["index.html", "about.html", "zoo.html"]
        + [f"guide/{i:02d}/index.html" for i in range(20)]
        + [f"blog/post-{i:02d}.html" for i in range(20)]
    )
    # The front page, the first folder index, the first page named by its file, then
    # evenly spaced picks from the other 40.
    assert sample_pages(keys, 5) == [
        "about.html",
        "blog/post-00.html",
        "guide/00/index.html",
        "guide/01/index.html",
        "index.html",
    ]
    assert sample_pages(keys, 2) == ["guide/00/index.html", "index.html"]
    assert sample_pages(keys[:3], 10) == keys[:3]


def test_page_paths_name_folders_as_visitors_do() -> None:
    paths = Site.from_url(f"https://{SITE}/docs/")
    assert page_path(paths, "index.html") == "/docs/"
    assert page_path(paths, "guide/index.html") == "/docs/guide/"
    assert page_path(paths, "guide/my index.html") == "/docs/guide/my%20index.html"


@pytest.mark.parametrize(
    ("alt_svc", "expected"),
    [
        ('h3=":443"; ma=86400', (SITE, 443)),
        ('h2=":443", h3="alt.example.com:8443"', ("alt.example.com", 8443)),
        ('h3="[::1]:4433"', ("::1", 4433)),
        ('h3-29=":443"', None),
        ("clear", None),
        ('h3=":0"', None),
    ],
)
def test_alt_svc_h3_entries(alt_svc: str, expected: tuple[str, int] | None) -> None:
    assert h3_authority(alt_svc, SITE) == expected


def test_unsharded_copy_needs_the_site_url_and_a_folder(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["check-hosts", str(deployed.output), "--manifest", str(deployed.manifest)]
    assert main([*command, "--unsharded-copy", str(deployed.twin)]) == 2
    assert "--unsharded-copy needs --site-url" in capsys.readouterr().err
    missing = deployed.root / "no-such-twin"
    site = ["--site-url", f"https://{SITE}/"]
    assert main([*command, *site, "--unsharded-copy", str(missing)]) == 2
    assert f"--unsharded-copy {missing}: no such folder" in capsys.readouterr().err
