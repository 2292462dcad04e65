"""The serving recipes of docs/deploy.md, run as written by Debian's servers (nginx,
Apache httpd, Caddy, HAProxy in front of nginx, lighttpd): HTTP/1.1 visitors get the
sharded pages, HTTP/2 visitors the unsharded twin, and every asset resolves on every
name, over TLS from a test CA. Each server starts once for the module."""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testing.certificates import LocalCA
from testing.recipes import SERVERS, Deployment, recipe, require, serve_nginx, serve_recipe
from testing.servers import Server, readable_folder

from .conftest import HOSTS, make_served_site

pytestmark = pytest.mark.servers

SITE = "www.example.com"
SHARD_URL = re.compile(r"https://(cdn\d\.example\.com)(/[^\"')\s]*)")
LOCAL_URL = re.compile(r"(?:src|href)=\"(/[^\"]+)\"|url\((/[^)]+)\)")


@dataclass(frozen=True)
class Site:
    """The built site in a folder every server can read, and the CA its certificate
    comes from."""

    folder: Path
    deployment: Deployment
    context: ssl.SSLContext


@dataclass(frozen=True)
class Served:
    server: Server
    output: Path
    twin: Path
    context: ssl.SSLContext


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with readable_folder() as folder:
        output, twin = make_served_site(folder, SITE)
        ca = LocalCA(folder / "tls")
        certificate = ca.issue("site", SITE, *HOSTS)
        yield Site(folder, Deployment(output, twin, certificate), ca.context())


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest, site: Site) -> Iterator[Served]:
    """docs/deploy.md's recipe for one server, serving the site."""
    require(request.param)
    deployment = site.deployment
    with serve_recipe(request.param, site.folder / request.param, deployment) as server:
        yield Served(server, deployment.output, deployment.twin, site.context)


@pytest.fixture(scope="module")
def behind_cdn(site: Site) -> Iterator[Served]:
    """The nginx recipe at a CDN's origin: the root picked by the viewer's protocol header."""
    require("nginx")
    deployment = site.deployment
    with serve_nginx(site.folder / "cdn", deployment, protocol_map="nginx-cdn-map") as server:
        yield Served(server, deployment.output, deployment.twin, site.context)


Fetch = Callable[[str, str], httpx.Response]


def fetcher(served: Served, http2: bool) -> Iterator[Fetch]:
    with httpx.Client(http1=not http2, http2=http2, verify=served.context, timeout=10) as client:

        def fetch(host: str, path: str) -> httpx.Response:
            response = client.get(
                f"https://127.0.0.1:{served.server.port}{path}",
                headers={"Host": host},
                extensions={"sni_hostname": host},
            )
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            return response

        yield fetch


@pytest.fixture
def http1(served: Served) -> Iterator[Fetch]:
    yield from fetcher(served, http2=False)


@pytest.fixture
def http2(served: Served) -> Iterator[Fetch]:
    yield from fetcher(served, http2=True)


@pytest.mark.parametrize(
    "path", ["/", "/index.html", "/blog/post-1.html", "/blog/", "/css/site.css", "/docs/page.html"]
)
def test_http1_gets_the_sharded_document_and_http2_the_twin(
    served: Served, http1: Fetch, http2: Fetch, path: str
) -> None:
    document = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
    sharded, unsharded = http1(SITE, path), http2(SITE, path)
    assert sharded.status_code == unsharded.status_code == 200
    assert sharded.content == (served.output / document).read_bytes()
    assert unsharded.content == (served.twin / document).read_bytes()
    assert SHARD_URL.search(sharded.text)
    assert not SHARD_URL.search(unsharded.text)
    # They differ by protocol: no shared cache may keep either for the other.
    assert "private" in sharded.headers["cache-control"]
    assert "private" in unsharded.headers["cache-control"]


@pytest.mark.parametrize("path", ["/about.html", "/docs/"])
def test_http2_falls_back_to_the_sharded_output_for_the_rest(
    served: Served, http2: Fetch, path: str
) -> None:
    """A page without shard URLs is not in the twin: the output's copy (the same
    text) is served, for a folder's index too when the folder is in the twin."""
    document = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
    assert not (served.twin / document).exists()
    assert (served.twin / "docs").is_dir()
    response = http2(SITE, path)
    assert response.status_code == 200
    assert response.content == (served.output / document).read_bytes()
    assert http2(SITE, "/missing.html").status_code == 404


def test_every_url_of_either_page_resolves(served: Served, http1: Fetch, http2: Fetch) -> None:
    sharded = http1(SITE, "/index.html").text + http1(SITE, "/css/site.css").text
    shard_refs = SHARD_URL.findall(sharded)
    assert {host for host, _ in shard_refs} == set(HOSTS)
    for host, path in shard_refs:
        response = http1(host, path)
        assert response.status_code == 200, (host, path)
        assert response.content == (served.output / path.lstrip("/")).read_bytes()
    unsharded = http2(SITE, "/index.html").text + http2(SITE, "/css/site.css").text
    local = [a or b for a, b in LOCAL_URL.findall(unsharded)]
    # The 12 images and the font, root-relative in the twin (the stylesheet, on the
    # origin by default, keeps the relative URL it was written with).
    assert len(local) >= 13
    for path in local:
        response = http2(SITE, path)
        assert response.status_code == 200, path
        if not path.endswith(".css"):
            assert response.content == (served.output / path.lstrip("/")).read_bytes()


def test_every_shard_name_serves_the_whole_output_with_cors_and_caching(
    served: Served, http1: Fetch, http2: Fetch
) -> None:
    for host in HOSTS:  # any name, any file: scripts compute URLs from the ones they see
        for fetch in (http1, http2):
            font = fetch(host, "/fonts/body.woff2")
            assert font.status_code == 200
            assert font.content == (served.output / "fonts" / "body.woff2").read_bytes()
            assert font.headers["access-control-allow-origin"] == "*"
            assert font.headers["cache-control"] == "public, max-age=604800"
            image = fetch(host, "/img/photo-011.png")
            assert image.status_code == 200
            assert image.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("viewer", "twin_expected"), [("2.0", True), ("3.0", True), ("1.1", False), (None, False)]
)
def test_behind_a_cdn_the_viewers_protocol_header_picks_the_root(
    behind_cdn: Served, viewer: str | None, twin_expected: bool
) -> None:
    headers = {"Host": SITE}
    if viewer is not None:
        headers["CloudFront-Viewer-Http-Version"] = viewer
    # The CDN's own connection to the origin: HTTP/1.1 here, whatever the visitor spoke.
    with httpx.Client(verify=behind_cdn.context, timeout=10) as client:
        response = client.get(
            f"https://127.0.0.1:{behind_cdn.server.port}/blog/post-1.html",
            headers=headers,
            extensions={"sni_hostname": SITE},
        )
    assert response.http_version == "HTTP/1.1"
    expected = (behind_cdn.twin if twin_expected else behind_cdn.output) / "blog" / "post-1.html"
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
