"""End to end in a real browser: the sample sites, sharded, load cleanly in Chromium.

The three sample sites are built with four shard hosts (``cdn1.shard.test`` ...) and
served by one local HTTP/1.1 server that answers for the origin and every shard
host (testing/cdn_server.py). Headless Chromium reaches them through
``--host-resolver-rules`` and loads every page; a page passes when no request fails,
nothing is logged at error level, every image decodes, every font face loads, every
stylesheet is applied, and every asset came from the host the manifest names (the
web fonts, which stay on the origin by default, from the origin).

The tests skip when Playwright or Chromium is missing, except in CI (``CI`` set),
where ``.ci/run`` installs both and a skip would hide a broken setup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

from testing.browser import check_page, check_site, host_problems, launch, require_browser
from testing.cdn_server import KEPT, CdnServer, shard_hosts

from .conftest import ROOT, SAMPLE_SITE

pytestmark = pytest.mark.browser

if TYPE_CHECKING:
    from playwright.sync_api import Playwright


CHROMIUM = require_browser()
pytest.importorskip("mkdocs")
pytest.importorskip("pelican")
pytest.importorskip("sphinx")
pytest.importorskip("pydata_sphinx_theme")

HOSTS = shard_hosts(4)
#: Where the test server serves the origin, which keeps the stylesheets and the fonts
#: (stylesheets and cors_assets: origin, the defaults); the site's public URL.
SITE_URL = f"http://{KEPT}/"

# Expressions that must be true on every page: the CSS (on the origin) and the
# sharded JS took effect.
MKDOCS_PROBES = {
    "extra.js ran": "document.documentElement.dataset.harbourDocs === 'ready'",
    "extra.css styles h1": (
        "getComputedStyle(document.querySelector('h1')).fontFamily.includes('Harbour Pixel')"
    ),
    "the theme's CSS applies": (
        "getComputedStyle(document.querySelector('.navbar')).display === 'flex'"
    ),
}
PELICAN_PROBES = {
    "site.js ran": "document.documentElement.classList.contains('js')",
    "main.css paints the background": (
        "getComputedStyle(document.documentElement).backgroundImage.includes('paper-texture.png')"
    ),
    "fonts.css, imported by main.css, applies": (
        "getComputedStyle(document.querySelector('.brand-name')).fontFamily"
        ".includes('Shard Sample')"
    ),
}

SPHINX_PROBES = {
    "tidewater.js ran": "document.documentElement.dataset.tidewater === 'ready'",
    "tidewater.css styles h1": (
        "getComputedStyle(document.querySelector('h1')).fontFamily.includes('Tidewater Pixel')"
    ),
    "the theme's CSS applies": (
        "getComputedStyle(document.querySelector('.bd-header')).position === 'sticky'"
    ),
}
#: Sphinx's search page, searching: it loads searchindex.js by script and lists the
#: pages that match.
SPHINX_SEARCH = "/search.html?q=harbour"


class Built(NamedTuple):
    """A built sample site: its output folder, pages, manifest assets and probes."""

    output: Path
    pages: list[str]
    assets: dict[str, str]
    probes: dict[str, str]


def _env() -> dict[str, str]:
    """The child's environment: this worktree first on PYTHONPATH, so it runs this code."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "SOURCE_DATE_EPOCH": "1700000000"}


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _built(
    output: Path, manifest: Path | None, probes: dict[str, str], extra: tuple[str, ...] = ()
) -> Built:
    pages = sorted(
        "/" + p.relative_to(output).as_posix()
        for p in output.rglob("*.html")
        # A theme's Jinja templates copied into _static are not pages (pydata-sphinx-theme's).
        if "_static" not in p.relative_to(output).parts
    )
    pages += extra
    assets = json.loads(manifest.read_text())["assets"] if manifest else {}
    return Built(output, pages, assets, probes)


def _build_mkdocs(folder: Path, sharded: bool) -> Built:
    import yaml

    project = folder / "mkdocs"
    shutil.copytree(
        SAMPLE_SITE / "mkdocs", project, ignore=shutil.ignore_patterns("site", "*.json")
    )
    config_file = project / "mkdocs.yml"
    config = yaml.safe_load(config_file.read_text())
    plugins = [p for p in config["plugins"] if not (isinstance(p, dict) and "shard-assets" in p)]
    if sharded:
        plugins.append({"shard-assets": {"hosts": HOSTS, "scheme": "http"}})
        config["site_url"] = SITE_URL
    config["plugins"] = plugins
    config_file.write_text(yaml.safe_dump(config))
    _run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file)], folder)
    manifest = project / "shard-manifest.json"
    assert manifest.exists() == sharded
    return _built(project / "site", manifest if sharded else None, MKDOCS_PROBES)


def _build_pelican(folder: Path, sharded: bool) -> Built:
    project = folder / "pelican"
    shutil.copytree(
        SAMPLE_SITE / "pelican",
        project,
        ignore=shutil.ignore_patterns("output", "*.json", "__pycache__"),
    )
    manifest = project / "shard-manifest.json"
    # Served from the test server's origin: Pelican's SITEURL (shard-assets' site_url).
    override: dict[str, object] = {"SITEURL": SITE_URL.rstrip("/")}
    if sharded:
        override["SHARD_ASSETS"] = {"hosts": HOSTS, "scheme": "http", "manifest": str(manifest)}
    else:
        override["PLUGINS"] = []
    settings = [f"{key}={json.dumps(value)}" for key, value in override.items()]
    command = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py"]
    _run([*command, "-o", "output", "-e", *settings], project)
    assert manifest.exists() == sharded
    return _built(project / "output", manifest if sharded else None, PELICAN_PROBES)


def _build_sphinx(folder: Path, sharded: bool) -> Built:
    project = folder / "sphinx"
    shutil.copytree(
        SAMPLE_SITE / "sphinx", project, ignore=shutil.ignore_patterns("_build", "*.json")
    )
    settings = f"shard_assets.update(hosts={HOSTS!r}, scheme='http')\nhtml_baseurl = {SITE_URL!r}"
    with (project / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write(f"\n{settings if sharded else 'extensions = []'}\n")
    _run([sys.executable, "-m", "sphinx", "-W", "-q", ".", "_build/html"], project)
    manifest = project / "shard-manifest.json"
    assert manifest.exists() == sharded
    output = project / "_build" / "html"
    return _built(output, manifest if sharded else None, SPHINX_PROBES, (SPHINX_SEARCH,))


BUILDERS = {"mkdocs": _build_mkdocs, "pelican": _build_pelican, "sphinx": _build_sphinx}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Built]:
    """Each generator's sample site, sharded and not (built once for the module)."""
    result = subprocess.run(
        [sys.executable, "-c", "import shard_assets; print(shard_assets.__file__)"],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()).is_relative_to(ROOT), "the builds must run this code"
    return {
        (name, sharded): build(tmp_path_factory.mktemp(f"{name}-{sharded}"), sharded)
        for name, build in sorted(BUILDERS.items())
        for sharded in (True, False)
    }


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.mark.parametrize("sharded", [True, False], ids=["sharded", "unsharded"])
@pytest.mark.parametrize("generator", sorted(BUILDERS))
def test_every_page_loads_cleanly(
    builds: dict[tuple[str, bool], Built], playwright: Playwright, generator: str, sharded: bool
) -> None:
    site = builds[generator, sharded]
    assert len(site.pages) >= 9
    with CdnServer(site.output, HOSTS) as server:
        browser = launch(playwright, server.resolver_rules(), CHROMIUM)
        try:
            problems = check_site(browser, server, site.pages, site.assets, site.probes)
        finally:
            browser.close()
        hits = server.hits()
    assert problems == []
    hosts_used = {hit.host for hit in hits}
    if sharded:
        assert set(HOSTS) <= hosts_used, "every shard host served something"
        requested = {hit.key for hit in hits if hit.key in site.assets}
        # Not every asset is fetched: srcset and <picture> alternatives, preload="none"
        # audio. Most are, from the host the manifest names (checked above).
        assert len(requested) >= len(site.assets) * 2 // 3
    else:
        assert hosts_used == {server.origin}


def _page_using(site: Built, host: str) -> str:
    """The first page that references an asset on ``host``."""
    for page in site.pages:
        text = (site.output / page.lstrip("/")).read_text(encoding="utf-8")
        if f"http://{host}/" in text:
            return page
    raise AssertionError(f"no page uses {host}")


def test_a_shard_host_the_browser_cannot_resolve_fails_the_check(
    builds: dict[tuple[str, bool], Built], playwright: Playwright
) -> None:
    site = builds["pelican", True]
    missing = HOSTS[-1]
    page = _page_using(site, missing)
    with CdnServer(site.output, HOSTS) as server:
        browser = launch(playwright, server.resolver_rules(HOSTS[:-1]), CHROMIUM)
        try:
            result = check_page(browser, server, page, site.probes)
        finally:
            browser.close()
    failed = [p for p in result.problems if p.startswith("request failed")]
    assert failed
    assert all(missing in p and "ERR_NAME_NOT_RESOLVED" in p for p in failed), failed
    assert any(p.startswith(f"image not decoded: http://{missing}/") for p in result.problems)


def test_a_host_the_cdn_does_not_serve_fails_the_check(
    builds: dict[tuple[str, bool], Built], playwright: Playwright
) -> None:
    site = builds["mkdocs", True]
    missing = HOSTS[0]
    page = _page_using(site, missing)
    with CdnServer(site.output, HOSTS[1:]) as server:
        browser = launch(playwright, server.resolver_rules(HOSTS), CHROMIUM)
        try:
            problems = check_site(browser, server, [page], site.assets, site.probes)
        finally:
            browser.close()
    # The page sees its requests to the missing host fail: Chromium reports the 421 to
    # a CORS-mode request (a font on that host, with cors_assets: shard) as such, and
    # blocks it for a no-cors one (a stylesheet, a script: ORB) as a failed request.
    seen = (f"{page}: HTTP 421: http://{missing}/", f"{page}: request failed: http://{missing}/")
    assert any(p.startswith(seen) for p in problems), problems
    assert any(p.startswith(f"{missing} answered 421") for p in problems), problems


def test_an_asset_requested_from_another_host_fails_the_check(
    builds: dict[tuple[str, bool], Built], playwright: Playwright
) -> None:
    site = builds["pelican", True]
    page = "/index.html"
    with CdnServer(site.output, HOSTS) as server:
        browser = launch(playwright, server.resolver_rules(), CHROMIUM)
        try:
            assert check_site(browser, server, [page], site.assets, site.probes) == []
        finally:
            browser.close()
    requested = sorted({hit.key for hit in server.hits() if hit.key in site.assets})
    asset = requested[0]
    elsewhere = next(h for h in HOSTS if h != site.assets[asset])
    problems = host_problems(server, {**site.assets, asset: elsewhere})
    assert problems == [f"{asset} was requested from {site.assets[asset]}, not {elsewhere}"]


def test_sphinx_search_finds_pages_with_its_index_on_a_shard_host(
    builds: dict[tuple[str, bool], Built], playwright: Playwright
) -> None:
    site = builds["sphinx", True]
    with CdnServer(site.output, HOSTS) as server:
        browser = launch(playwright, server.resolver_rules(), CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(server.url(SPHINX_SEARCH), wait_until="load")
            found = page.locator("#search-results ul.search li")
            found.first.wait_for(timeout=15_000)
            titles = sorted(found.all_inner_texts())
        finally:
            browser.close()
        hits = server.hits()
    assert any("Tidewater" in title for title in titles), titles
    index = [hit for hit in hits if hit.key == "searchindex.js"]
    assert [(hit.host, hit.status) for hit in index] == [(site.assets["searchindex.js"], 200)]
