"""``check-hosts --unsharded-copy``: which copy of the pages each protocol's visitors
get, against real servers over TLS from a test CA.

A small site is sharded once with its twin. nginx runs docs/deploy.md's recipe as
written, and wrongly: the sharded pages to everyone (the twin's path points at the
output), the twin to everyone (the output's path points at a copy of it with the
twin's pages), HTTP/2 visitors redirected elsewhere, HTTP/1.1 only, pages of neither
copy. Caddy 2.6 serves HTTP/3 over UDP (and advertises it in Alt-Svc), so the HTTP/3
probe (aioquic) meets a real server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from shard_assets.build.pipeline import shard_site
from shard_assets.check.pages import h3_authority, page_path, sample_pages
from shard_assets.cli import main
from shard_assets.config import load_settings
from shard_assets.documents.urls import Site

from ..conftest import HOSTS, make_site
from ..nginx import MIME_TYPES, Nginx, free_port, nginx_conf, require_nginx
from ..test_deploy import recipe
from .caddy import Caddy, require_caddy

SITE = "www.example.com"
ELSEWHERE = "www.elsewhere.test"
#: The pages of the twin: those with shard URLs (about.html has none).
TWIN_PAGES = ["blog/index.html", "blog/post-1.html", "blog/post-2.html", "index.html"]

#: What the server that serves neither copy has for every page.
LAST_YEAR = b"<!DOCTYPE html><p>last year's page</p>\n"

Edit = Callable[[str], str]


@dataclass(frozen=True)
class Deployed:
    """The sharded output, its twin, the same output with the twin's pages (for a
    server that serves the twin to everyone), pages of neither copy, and the TLS files."""

    root: Path
    output: Path
    twin: Path
    everyone_twin: Path
    neither: Path
    manifest: Path
    ca_file: Path
    chain: Path
    key: Path

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
                str(self.ca_file),
                "--site-url",
                f"https://{SITE}/",
                "--sample",
                str(sample),
                *given,
                *routes,
                *extra,
            ]
        )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    root = tmp_path_factory.mktemp("serving")
    output = make_site(root / "site", images=8, pages=3)
    (output / "blog" / "index.html").write_text('<!DOCTYPE html><img src="../img/photo-001.png">\n')
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
    everyone_twin = root / "everyone-twin"
    shutil.copytree(output, everyone_twin)
    shutil.copytree(twin, everyone_twin, dirs_exist_ok=True)
    neither = root / "neither"
    shutil.copytree(output, neither)
    for page in TWIN_PAGES:
        (neither / page).write_bytes(LAST_YEAR)
    ca = trustme.CA()
    ca_file = root / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert(SITE, ELSEWHERE, *HOSTS)
    chain, key = root / "fullchain.pem", root / "privkey.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return Deployed(root, output, twin, everyone_twin, neither, manifest, ca_file, chain, key)


def _unchanged(text: str) -> str:
    return text


@contextmanager
def nginx_recipe(
    deployed: Deployed, name: str, output: Path, twin: Path, edit: Edit = _unchanged
) -> Iterator[Nginx]:
    """docs/deploy.md's nginx recipe serving ``output`` and ``twin``, edited by ``edit``."""
    require_nginx()
    prefix = deployed.root / f"nginx-{name}"
    port = free_port()
    conf = edit(
        (recipe("nginx-protocol-map") + recipe("nginx-server"))
        .replace("/srv/example/site-h2", str(twin))
        .replace("/srv/example/site", str(output))
        .replace("/etc/ssl/example/fullchain.pem", str(deployed.chain))
        .replace("/etc/ssl/example/privkey.pem", str(deployed.key))
        .replace("listen 443 ", f"listen 127.0.0.1:{port} ")
    )
    config = nginx_conf(prefix, f"include {MIME_TYPES};\n{conf}")
    with Nginx(prefix, config, [("127.0.0.1", port)]) as nginx:
        yield nginx


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


# --------------------------------------------------------------------------- nginx


def test_the_recipe_serves_each_protocol_its_copy(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with nginx_recipe(deployed, "right", deployed.output, deployed.twin) as nginx:
        assert deployed.check(nginx.port) == 0
    out = capsys.readouterr().out
    assert f"Pages by protocol: 3 of the 4 page(s) of {deployed.twin}, each compared with" in out
    verdicts = _lines(out, "Pages by protocol:")
    assert verdicts[0] == "HTTP/1.1: the sharded pages (3 of 3): right"
    assert verdicts[1] == "HTTP/2: the unsharded copy (3 of 3): right"
    assert verdicts[2] == (
        f"HTTP/3: not probed: {SITE} does not advertise it (no Alt-Svc header with h3)"
    )
    assert "0 problem(s)" in out and "6 of 6 page(s) fetched as their protocol's copy" in out


def test_the_sharded_pages_to_everyone(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with nginx_recipe(deployed, "sharded", deployed.output, deployed.output) as nginx:
        assert deployed.check(nginx.port) == 1
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:")[1] == (
        "HTTP/2: the sharded pages (3 of 3): wrong (see the problems)"
    )
    assert _lines(out, "protocol (1):") == [
        f"HTTP/2 visitors get the sharded pages (3 of 3 sampled page(s), e.g. "
        f"https://{SITE}/blog/: the bytes of {deployed.output / 'blog/index.html'}): serve "
        f"them the unsharded copy ({deployed.twin}); the server's choice by protocol is "
        "missing or does not match (docs/deploy.md has a tested recipe for each server)"
    ]


def test_the_twin_to_everyone(deployed: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    with nginx_recipe(deployed, "twin", deployed.everyone_twin, deployed.twin) as nginx:
        assert deployed.check(nginx.port, "--format", "json") == 1
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
    assert {(f["protocol"], f["http_version"], f["copy"]) for f in serving["fetches"]} == {
        ("http/1.1", "HTTP/1.1", "twin"),
        ("http/2", "HTTP/2", "twin"),
    }


def test_http2_redirected_elsewhere_one_line_per_page(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    def redirect_http2(conf: str) -> str:
        """Pages (not assets) over HTTP/2 go to another site."""
        pages = "location ~ (?:/|\\.html?)$ {"
        assert pages in conf
        rule = f'if ($server_protocol = "HTTP/2.0") {{ return 301 https://{ELSEWHERE}$uri; }}'
        return conf.replace(pages, f"{pages}\n        {rule}")

    with nginx_recipe(
        deployed, "redirect", deployed.output, deployed.twin, redirect_http2
    ) as nginx:
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
    with nginx_recipe(deployed, "hosts", deployed.output, deployed.twin) as nginx:
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
    with nginx_recipe(deployed, "neither", deployed.neither, deployed.neither) as nginx:
        assert deployed.check(nginx.port, "--sample", "1") == 1
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

    with nginx_recipe(deployed, "h1", deployed.output, deployed.twin, http11_only) as nginx:
        assert deployed.check(nginx.port) == 0
    verdicts = _lines(capsys.readouterr().out, "Pages by protocol:")
    assert verdicts[1] == (
        "HTTP/2: the sharded pages (3 of 3) (answered in HTTP/1.1: the site does not offer "
        "HTTP/2): right"
    )


def test_without_a_twin_an_http2_site_is_a_warning(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with nginx_recipe(deployed, "no-twin", deployed.output, deployed.output) as nginx:
        assert deployed.check(nginx.port, twin=False) == 0
    out = capsys.readouterr().out
    assert "Pages by protocol" not in out
    assert (
        f"no --unsharded-copy: {SITE} answers HTTP/2, so its HTTP/2 and HTTP/3 visitors get "
        "the sharded pages, which load slower for them than unsharded ones (over real round "
        "trips, 0.94x the unsharded speed with the defaults and 0.71x with everything "
        "sharded: docs/page-load.md)" in out
    )


# --------------------------------------------------------------------------- Caddy


def caddy_by_protocol(output: Path, twin: Path, chain: Path, key: str) -> str:
    """A site block that serves HTTP/1.1 the output and HTTP/2 and HTTP/3 the twin
    (falling back to the output)."""
    return f"""{SITE}, {ELSEWHERE}, {", ".join(HOSTS)} {{
    tls {chain} {key}
    @twin {{
        not protocol http/1.1
        file {{
            root {twin}
            try_files {{path}} {{path}}index.html
        }}
    }}
    root * {output}
    root @twin {twin}
    file_server
}}
"""


@dataclass(frozen=True)
class Running:
    """A Caddy serving ``deployed`` and the flags that reach its HTTP/3: Alt-Svc names
    Caddy's own port, which --resolve maps to the loopback address."""

    caddy: Caddy
    resolve: tuple[str, ...]


@contextmanager
def caddy_serving(deployed: Deployed, name: str, twin: Path) -> Iterator[Running]:
    require_caddy()
    block = caddy_by_protocol(deployed.output, twin, deployed.chain, str(deployed.key))
    with Caddy(deployed.root / name, block) as caddy:
        yield Running(caddy, ("--resolve", f"{SITE}:{caddy.port}:127.0.0.1"))


@pytest.fixture(scope="module")
def caddy(deployed: Deployed) -> Iterator[Running]:
    """Caddy serving each protocol its copy."""
    with caddy_serving(deployed, "caddy", deployed.twin) as running:
        yield running


def test_http3_over_quic_against_caddy(
    deployed: Deployed, caddy: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deployed.check(caddy.caddy.port, *caddy.resolve) == 0
    out = capsys.readouterr().out
    port = caddy.caddy.port
    assert _lines(out, "Pages by protocol:") == [
        "HTTP/1.1: the sharded pages (3 of 3): right",
        "HTTP/2: the unsharded copy (3 of 3): right",
        f"HTTP/3: the unsharded copy (3 of 3): right; QUIC to 127.0.0.1 port "
        f'{port} (UDP; Alt-Svc: h3=":{port}"; ma=2592000)',
    ]
    assert "9 of 9 page(s) fetched as their protocol's copy" in out


def test_http3_gets_the_sharded_pages_from_caddy_without_a_rule(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with caddy_serving(deployed, "caddy-sharded", deployed.output) as sharded:
        assert deployed.check(sharded.caddy.port, *sharded.resolve, "--sample", "1") == 1
    out = capsys.readouterr().out
    problems = _lines(out, "protocol (2):")
    assert problems[0].startswith("HTTP/2 visitors get the sharded pages (1 of 1 sampled")
    assert problems[1].startswith("HTTP/3 visitors get the sharded pages (1 of 1 sampled")


def test_http3_advertised_but_udp_unanswered(
    deployed: Deployed, caddy: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    """Caddy's Alt-Svc names its port; the QUIC packets go to a UDP port where no
    one listens."""
    port, silent = caddy.caddy.port, free_port()
    elsewhere = ["--connect-to", f"{SITE}:{port}:127.0.0.1:{silent}"]
    assert deployed.check(port, *elsewhere, "--sample", "1", "--timeout", "1") == 0
    out = capsys.readouterr().out
    assert _lines(out, "Pages by protocol:")[2] == (
        f"HTTP/3: not probed: no QUIC answer from 127.0.0.1 port {silent} (UDP) within 1 s: "
        "UDP blocked on the way, or no HTTP/3 server there"
    )


def test_a_failed_quic_handshake_says_why(deployed: Deployed, caddy: Running) -> None:
    """Verified against the system's CAs, which do not hold the test CA; and a name
    Caddy has no site for, which it refuses with a TLS alert."""
    from shard_assets.check.quic import QuicFailed, h3_connection

    async def connect(name: str, ca_file: Path | None) -> None:
        async with h3_connection("127.0.0.1", caddy.caddy.port, name, ca_file, 5):
            pass

    untrusted = r"^the QUIC connection failed: unable to get local issuer certificate$"
    with pytest.raises(QuicFailed, match=untrusted):
        asyncio.run(connect(SITE, None))
    refused = r"^the QUIC handshake failed: the server sent the TLS alert internal_error$"
    with pytest.raises(QuicFailed, match=refused):
        asyncio.run(connect("nobody.test", deployed.ca_file))


def test_http3_without_aioquic(
    deployed: Deployed,
    caddy: Running,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aioquic", None)
    assert deployed.check(caddy.caddy.port, *caddy.resolve, "--sample", "1") == 0
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


def test_a_copy_that_is_the_output_is_a_warning(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    with nginx_recipe(deployed, "same", deployed.output, deployed.twin) as nginx:
        assert deployed.check(nginx.port, copy=deployed.output, sample=1) == 0
    out = capsys.readouterr().out
    assert "Pages by protocol" not in out
    assert (
        f"{deployed.output} holds no page that differs from {deployed.output}: nothing tells "
        "the two apart, so serving by protocol is not checked" in out
    )


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
