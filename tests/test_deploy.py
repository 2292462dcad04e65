"""The nginx recipe of docs/deploy.md, run as written by Debian's nginx: HTTP/1.1
visitors get the sharded pages, HTTP/2 visitors the unsharded twin, and every asset
resolves on every name, over TLS from a test CA."""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.config import load_settings

from .conftest import HOSTS, ROOT, make_site
from .nginx import MIME_TYPES, Nginx, free_port, nginx_conf, require_nginx

trustme = pytest.importorskip("trustme")

DEPLOY = ROOT / "docs" / "deploy.md"
SITE = "www.example.com"
SHARD_URL = re.compile(r"https://(cdn\d\.example\.com)(/[^\"')\s]*)")
LOCAL_URL = re.compile(r"(?:src|href)=\"(/[^\"]+)\"|url\((/[^)]+)\)")


def recipe(name: str) -> str:
    """The fenced block after ``<!-- name -->`` in docs/deploy.md."""
    found = re.search(rf"<!-- {name} -->\n```\w+\n(.*?)```", DEPLOY.read_text(), re.DOTALL)
    assert found, f"docs/deploy.md has no block marked <!-- {name} -->"
    return found.group(1)


def build(tmp: Path) -> tuple[Path, Path]:
    """The sample site sharded over HOSTS, with a font, a folder index, a page without
    assets, and its twin."""
    site = make_site(tmp / "site", images=12, pages=3)
    (site / "fonts").mkdir()
    (site / "fonts" / "body.woff2").write_bytes(b"wOF2 not really a font")
    css = site / "css" / "site.css"
    css.write_text(
        css.read_text() + '@font-face { font-family: b; src: url("../fonts/body.woff2") }\n'
    )
    (site / "blog" / "index.html").write_text('<!DOCTYPE html><img src="../img/photo-001.png">\n')
    (site / "about.html").write_text("<!DOCTYPE html><p>no assets here</p>\n")
    settings = load_settings(
        {
            "hosts": HOSTS,
            "manifest": str(tmp / "shard-manifest.json"),
            "site_url": f"https://{SITE}/",
            "unsharded_copy": "site-h2",
        },
        base_dir=tmp,
        source="test",
    )
    shard_site(site, settings)
    return site, tmp / "site-h2"


def serve(tmp: Path, protocol_map: str) -> Iterator[tuple[Nginx, Path, Path, ssl.SSLContext]]:
    """The docs' recipe (``protocol_map``, then the server block) serving :func:`build`."""
    require_nginx()
    site, twin = build(tmp)
    ca = trustme.CA()
    cert = ca.issue_cert(SITE, *HOSTS)
    chain, key = tmp / "fullchain.pem", tmp / "privkey.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    port = free_port()
    conf = (
        (recipe(protocol_map) + recipe("nginx-server"))
        .replace("/srv/example/site-h2", str(twin))
        .replace("/srv/example/site", str(site))
        .replace("/etc/ssl/example/fullchain.pem", str(chain))
        .replace("/etc/ssl/example/privkey.pem", str(key))
        .replace("listen 443 ", f"listen 127.0.0.1:{port} ")
    )
    assert f"127.0.0.1:{port}" in conf and str(twin) in conf
    context = ssl.create_default_context()
    ca.configure_trust(context)
    config = nginx_conf(tmp / "nginx", f"include {MIME_TYPES};\n{conf}")
    with Nginx(tmp / "nginx", config, [("127.0.0.1", port)]) as nginx:
        yield nginx, site, twin, context


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Nginx, Path, Path, ssl.SSLContext]]:
    """The nginx recipe as docs/deploy.md gives it: the root picked by $server_protocol."""
    yield from serve(tmp_path_factory.mktemp("deploy"), "nginx-protocol-map")


@pytest.fixture(scope="module")
def behind_cdn(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Nginx, Path, Path, ssl.SSLContext]]:
    """The same recipe at a CDN's origin: the root picked by the viewer's protocol header."""
    yield from serve(tmp_path_factory.mktemp("cdn"), "nginx-cdn-map")


Fetch = Callable[[str, str], httpx.Response]


def fetcher(served: tuple[Nginx, Path, Path, ssl.SSLContext], http2: bool) -> Iterator[Fetch]:
    nginx, _, _, context = served
    with httpx.Client(http1=not http2, http2=http2, verify=context, timeout=10) as client:

        def fetch(host: str, path: str) -> httpx.Response:
            response = client.get(
                f"https://127.0.0.1:{nginx.port}{path}",
                headers={"Host": host},
                extensions={"sni_hostname": host},
            )
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            return response

        yield fetch


@pytest.fixture
def http1(served: tuple[Nginx, Path, Path, ssl.SSLContext]) -> Iterator[Fetch]:
    yield from fetcher(served, http2=False)


@pytest.fixture
def http2(served: tuple[Nginx, Path, Path, ssl.SSLContext]) -> Iterator[Fetch]:
    yield from fetcher(served, http2=True)


@pytest.mark.parametrize(
    "path", ["/", "/index.html", "/blog/post-1.html", "/blog/", "/css/site.css"]
)
def test_http1_gets_the_sharded_document_and_http2_the_twin(
    served: tuple[Nginx, Path, Path, ssl.SSLContext], http1: Fetch, http2: Fetch, path: str
) -> None:
    _, site, twin, _ = served
    document = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
    sharded, unsharded = http1(SITE, path), http2(SITE, path)
    assert sharded.status_code == unsharded.status_code == 200
    assert sharded.content == (site / document).read_bytes()
    assert unsharded.content == (twin / document).read_bytes()
    assert SHARD_URL.search(sharded.text)
    assert not SHARD_URL.search(unsharded.text)
    # They differ by protocol: no shared cache may keep either for the other.
    assert "private" in sharded.headers["cache-control"]
    assert "private" in unsharded.headers["cache-control"]


def test_http2_falls_back_to_the_sharded_output_for_the_rest(
    served: tuple[Nginx, Path, Path, ssl.SSLContext], http2: Fetch
) -> None:
    _, site, twin, _ = served
    assert not (twin / "about.html").exists()  # no shard URL in it: the same text
    about = http2(SITE, "/about.html")
    assert about.status_code == 200
    assert about.content == (site / "about.html").read_bytes()
    assert http2(SITE, "/missing.html").status_code == 404


def test_every_url_of_either_page_resolves(
    served: tuple[Nginx, Path, Path, ssl.SSLContext], http1: Fetch, http2: Fetch
) -> None:
    _, site, _, _ = served
    sharded = http1(SITE, "/index.html").text + http1(SITE, "/css/site.css").text
    shard_refs = SHARD_URL.findall(sharded)
    assert {host for host, _ in shard_refs} == set(HOSTS)
    for host, path in shard_refs:
        response = http1(host, path)
        assert response.status_code == 200, (host, path)
        assert response.content == (site / path.lstrip("/")).read_bytes()
    unsharded = http2(SITE, "/index.html").text + http2(SITE, "/css/site.css").text
    local = [a or b for a, b in LOCAL_URL.findall(unsharded)]
    # The 12 images and the font, root-relative in the twin (the stylesheet, on the
    # origin by default, keeps the relative URL it was written with).
    assert len(local) >= 13
    for path in local:
        response = http2(SITE, path)
        assert response.status_code == 200, path
        if not path.endswith(".css"):
            assert response.content == (site / path.lstrip("/")).read_bytes()


def test_every_shard_name_serves_the_whole_output_with_cors_and_long_caching(
    served: tuple[Nginx, Path, Path, ssl.SSLContext], http1: Fetch, http2: Fetch
) -> None:
    _, site, _, _ = served
    for host in HOSTS:  # any name, any file: scripts compute URLs from the ones they see
        for fetch in (http1, http2):
            font = fetch(host, "/fonts/body.woff2")
            assert font.status_code == 200
            assert font.content == (site / "fonts" / "body.woff2").read_bytes()
            assert font.headers["access-control-allow-origin"] == "*"
            assert "max-age=604800" in font.headers["cache-control"]
            assert fetch(host, "/img/photo-011.png").status_code == 200


@pytest.mark.parametrize(
    ("viewer", "twin_expected"), [("2.0", True), ("3.0", True), ("1.1", False), (None, False)]
)
def test_behind_a_cdn_the_viewers_protocol_header_picks_the_root(
    behind_cdn: tuple[Nginx, Path, Path, ssl.SSLContext], viewer: str | None, twin_expected: bool
) -> None:
    nginx, site, twin, context = behind_cdn
    headers = {"Host": SITE}
    if viewer is not None:
        headers["CloudFront-Viewer-Http-Version"] = viewer
    # The CDN's own connection to the origin: HTTP/1.1 here, whatever the visitor spoke.
    with httpx.Client(verify=context, timeout=10) as client:
        response = client.get(
            f"https://127.0.0.1:{nginx.port}/blog/post-1.html",
            headers=headers,
            extensions={"sni_hostname": SITE},
        )
    assert response.http_version == "HTTP/1.1"
    expected = (twin if twin_expected else site) / "blog" / "post-1.html"
    assert response.content == expected.read_bytes()


def test_the_headers_file_is_well_formed() -> None:
    """Netlify's and Cloudflare Pages' format: a path (one splat at most) on its own
    line, then indented ``Name: value`` lines; CORS for every path."""
    rules: dict[str, list[tuple[str, str]]] = {}
    path = ""
    for line in recipe("headers-file").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("  "):
            name, colon, value = line.strip().partition(": ")
            assert colon and re.fullmatch(r"[A-Za-z-]+", name) and value, line
            rules[path].append((name, value))
        else:
            path = line
            assert path.startswith("/") and path.count("*") <= 1, line
            rules[path] = []
    assert ("Access-Control-Allow-Origin", "*") in rules["/*"]
    assert all(rules.values())
