"""The edge rules of docs/deploy.md that can run here: the unsharded tree a path
rewrite needs (a shell block), and the Cloudflare Worker's and the CloudFront
Function's JavaScript under node with stand-in requests. Each path a rule chooses is
served from the deployed tree: HTTP/1.1 visitors get the sharded pages, HTTP/2 and
HTTP/3 visitors the twin's, a page the twin lacks the output's copy, and assets are
never rewritten."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from testing.recipes import recipe
from testing.servers import skip_or_fail

from .conftest import make_served_site

SITE = "www.example.com"
PATHS = (
    "/",
    "/index.html",
    "/blog/",
    "/blog/post-1.html",
    "/css/site.css",
    "/about.html",  # no shard URL: not in the twin
    "/docs/",  # a folder in the twin whose index is not
    "/docs/page.html",
    "/img/photo-003.png",
    "/fonts/body.woff2",
    "/js/app.js",
    "/index.html?utm_source=feed",
)
DOCUMENT_SUFFIXES = ("/", ".html", ".htm", ".css")

# Runs the Worker's fetch handler on a Request for each (protocol, URL); prints the
# URL of the request it forwarded with fetch().
WORKER_DRIVER = """
import { pathToFileURL } from "node:url";
const [module, cases] = process.argv.slice(2);
const worker = (await import(pathToFileURL(module))).default;
globalThis.fetch = async (input, init) => {
  const forwarded = new Request(input, init);
  return new Response(null, { status: 204, headers: { "x-forwarded-url": forwarded.url } });
};
const chosen = [];
for (const [protocol, url] of JSON.parse(cases)) {
  const request = new Request(url, { headers: { "user-agent": "test" } });
  Object.defineProperty(request, "cf", { value: { httpProtocol: protocol } });
  const response = await worker.fetch(request, {}, { waitUntil() {} });
  chosen.push(response.headers.get("x-forwarded-url"));
}
console.log(JSON.stringify(chosen));
"""

# Runs the CloudFront Function's handler on a viewer-request event for each (HTTP
# version header or null, URI); prints the URI it returns.
CLOUDFRONT_DRIVER = """
const fs = require("node:fs");
const [file, cases] = process.argv.slice(2);
const handler = new Function(fs.readFileSync(file, "utf8") + "\\nreturn handler;")();
const chosen = [];
for (const [version, uri] of JSON.parse(cases)) {
  const headers = { host: { value: "www.example.com" } };
  if (version !== null) headers["cloudfront-viewer-http-version"] = { value: version };
  const event = {
    version: "1.0",
    context: { eventType: "viewer-request" },
    viewer: { ip: "192.0.2.1" },
    request: { method: "GET", uri, querystring: {}, headers, cookies: {} },
  };
  chosen.push(handler(event).uri);
}
console.log(JSON.stringify(chosen));
"""


@dataclass(frozen=True)
class Tree:
    output: Path
    twin: Path
    deploy: Path


def node() -> str:
    found = shutil.which("node")
    if found is None:
        skip_or_fail("node is not installed: apt-get install nodejs", "the edge rule tests")
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """The served site, and docs/deploy.md's edge tree made from it by its shell block."""
    folder = tmp_path_factory.mktemp("edge")
    output, twin = make_served_site(folder, SITE)
    subprocess.run(["bash", "-euo", "pipefail", "-c", recipe("edge-tree")], cwd=folder, check=True)
    return Tree(output, twin, folder / "deploy")


def file_of(url_path: str) -> str:
    """The file a URL's path names, relative to the root: a folder names its index."""
    local = urlsplit(url_path).path.lstrip("/")
    return local + "index.html" if local.endswith("/") or not local else local


def is_document(url_path: str) -> bool:
    return urlsplit(url_path).path.endswith(DOCUMENT_SUFFIXES)


def served(tree: Tree, path: str) -> bytes:
    """What a static origin serving the deployed tree answers for ``path``."""
    return (tree.deploy / file_of(path)).read_bytes()


def expected(tree: Tree, unsharded: bool, path: str) -> bytes:
    """The sharded copy, or with ``unsharded`` the twin's when it has one."""
    twin = tree.twin / file_of(path)
    if unsharded and is_document(path) and twin.is_file():
        return twin.read_bytes()
    return (tree.output / file_of(path)).read_bytes()


Cases = list[list[str | None]]


def run_node(tmp_path: Path, driver: str, name: str, code: str, cases: Cases) -> list[str]:
    """``driver`` run by node on ``code`` (written as ``name``) and ``cases``."""
    (tmp_path / name).write_text(code, encoding="utf-8")
    script = tmp_path / ("driver.mjs" if name.endswith(".mjs") else "driver.cjs")
    script.write_text(driver, encoding="utf-8")
    result = subprocess.run(
        [node(), str(script), str(tmp_path / name), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    chosen: list[str] = json.loads(result.stdout)
    return chosen


def test_the_edge_tree_holds_every_document_the_twins_copy_first(tree: Tree) -> None:
    documents = sorted(
        p.relative_to(tree.output) for p in tree.output.rglob("*") if p.suffix in (".html", ".css")
    )
    twinned = [d for d in documents if (tree.twin / d).is_file()]
    assert twinned and len(twinned) < len(documents)  # both cases are there
    unsharded = tree.deploy / "_unsharded"
    for document in documents:
        copy = expected(tree, True, f"/{document.as_posix()}")
        assert (unsharded / document).read_bytes() == copy, document
    copied = sorted(p.relative_to(unsharded) for p in unsharded.rglob("*") if p.is_file())
    assert copied == documents  # no asset
    for path in tree.output.rglob("*"):
        if path.is_file():
            assert (tree.deploy / path.relative_to(tree.output)).read_bytes() == path.read_bytes()


def test_the_cloudflare_worker_picks_by_the_visitors_protocol(tree: Tree, tmp_path: Path) -> None:
    protocols = ("HTTP/1.1", "HTTP/2", "HTTP/3")
    cases: Cases = [[protocol, f"https://{SITE}{path}"] for protocol in protocols for path in PATHS]
    chosen = run_node(tmp_path, WORKER_DRIVER, "worker.mjs", recipe("cloudflare-worker"), cases)
    for (protocol, url), forwarded in zip(cases, chosen, strict=True):
        assert url is not None
        path = url.removeprefix(f"https://{SITE}")
        parts = urlsplit(forwarded)
        assert parts.netloc == SITE and parts.query == urlsplit(path).query, forwarded
        unsharded = protocol != "HTTP/1.1" and is_document(path)
        assert parts.path == ("/_unsharded" if unsharded else "") + urlsplit(path).path
        assert served(tree, parts.path) == expected(tree, unsharded, path), (protocol, path)


def test_the_cloudfront_function_picks_by_the_viewers_protocol(tree: Tree, tmp_path: Path) -> None:
    """Without the header (no origin request policy names it) every viewer gets the
    sharded pages; ``1.0`` is HTTP/1.0."""
    versions: list[str | None] = ["1.0", "1.1", "2.0", "3.0", None]
    uris = [path for path in PATHS if "?" not in path]  # the query is not in the URI
    cases: Cases = [[version, uri] for version in versions for uri in uris]
    function = recipe("cloudfront-function")
    chosen = run_node(tmp_path, CLOUDFRONT_DRIVER, "function.js", function, cases)
    for (version, uri), result in zip(cases, chosen, strict=True):
        assert uri is not None
        unsharded = version in ("2.0", "3.0") and is_document(uri)
        assert result == ("/_unsharded" if unsharded else "") + uri, (version, uri)
        assert served(tree, result) == expected(tree, unsharded, uri), (version, uri)
