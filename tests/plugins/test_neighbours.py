"""Real builds of our plugins next to the plugins and generators people combine them with.

Each combination is built for real, in a temporary folder, by the tools' own commands
(``mkdocs build``, ``mike deploy``, ``pelican``, ``zensical build`` and
``shard-assets build``), and the output is checked with the library's ``verify``
(every site-local reference on the host the manifest names, nothing left on the
origin) and, for the Material site, in Chromium. One build per module-scoped fixture.
What each combination does, and why, is in the README ("Used with other plugins and
generators").
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

import pytest

from shard_assets.config import load_settings
from shard_assets.verify import verify_site
from testing.cdn_server import shard_hosts

from ..conftest import ROOT, SAMPLE_SITE, png, snapshot

HOSTS = shard_hosts(4)
SITE_URL = "https://docs.example.org/"
FONT = SAMPLE_SITE / "mkdocs" / "docs" / "fonts" / "harbour-pixel.woff2"  # a real font


def _env() -> dict[str, str]:
    """The child's environment: this checkout first on PYTHONPATH, this Python's scripts
    first on PATH (mike runs ``mkdocs``), a fixed build date."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    scripts = os.pathsep.join(
        p for p in (str(Path(sys.executable).parent), os.environ.get("PATH")) if p
    )
    return {
        **os.environ,
        "PYTHONPATH": path,
        "PATH": scripts,
        "SOURCE_DATE_EPOCH": "1700000000",
        "NO_MKDOCS_2_WARNING": "1",  # Material's banner about its end of life
    }


def run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the test with its output unless it succeeds."""
    result = subprocess.run(
        list(command), cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def audit(output: Path, manifest: Path, site_url: str = SITE_URL, **build: str) -> list[str]:
    """``shard-assets verify``'s findings for ``output`` (empty when it is sound), with
    the ``cors_assets`` and ``stylesheets`` the build had (``build``)."""
    options = {"hosts": HOSTS, "manifest": str(manifest), "site_url": site_url, **build}
    settings = load_settings(options, base_dir=output, source="test")
    return [str(finding) for finding in verify_site(output, settings)]


def assets_of(manifest: Path) -> dict[str, str]:
    assets: dict[str, str] = json.loads(manifest.read_text())["assets"]
    return assets


def write_docs(docs: Path, pages: Mapping[str, str]) -> None:
    """A small docs folder: ``pages`` (Markdown by path), a stylesheet with a font and a
    background, a script, and images."""
    for name, text in pages.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    for folder in ("css", "js", "img", "fonts"):
        (docs / folder).mkdir(parents=True, exist_ok=True)
    (docs / "css" / "extra.css").write_text(
        "@font-face {\n  font-family: 'Docs Sans';\n"
        "  src: url('../fonts/docs-sans.woff2') format('woff2');\n}\n"
        'body {\n  background: url("../img/paper.png");\n}\n',
        encoding="utf-8",
    )
    (docs / "js" / "extra.js").write_text(
        "document.documentElement.dataset.docs = 'ready';\n", encoding="utf-8"
    )
    shutil.copyfile(FONT, docs / "fonts" / "docs-sans.woff2")
    for i, name in enumerate(("paper", "overview", "detail", "map")):
        (docs / "img" / f"{name}.png").write_bytes(png(rgb=(i * 60, 120, 200)))
    (docs / "img" / "diagram.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>\n', encoding="utf-8"
    )


PAGES = {
    "index.md": "# Home\n\n![Overview](img/overview.png)\n\nSee the [guide](guide.md).\n",
    "guide.md": "# Guide\n\n![Detail](img/detail.png)\n\n![Diagram](img/diagram.svg)\n",
}


#: The settings that shard the files the defaults keep on the origin.
MOVE_ALL = {"cors_assets": "shard", "stylesheets": "shard"}


def shard_plugin(**options: Any) -> dict[str, Any]:
    return {"shard-assets": {"hosts": HOSTS, **options}}


def mkdocs_project(
    root: Path, plugins: list[Any], pages: Mapping[str, str] = PAGES, **config: Any
) -> Path:
    """A MkDocs project in ``root``; returns its mkdocs.yml."""
    import yaml

    write_docs(root / "docs", pages)
    settings = {
        "site_name": "Neighbours",
        "site_url": SITE_URL,
        "theme": {"name": "mkdocs", "highlightjs": False},  # no highlight.js from cdnjs
        "extra_css": ["css/extra.css"],
        "extra_javascript": ["js/extra.js"],
        "plugins": plugins,
        **config,
    }
    path = root / "mkdocs.yml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return path


class Built(NamedTuple):
    """A built project: its folder (with the manifest), its output and the build's log."""

    project: Path
    output: Path
    log: str

    @property
    def manifest(self) -> Path:
        return self.project / "shard-manifest.json"


class Rebuilt(NamedTuple):
    """Sites built in several plugin orders, one of them then built again over its
    output and manifest, and what that one's first build had written."""

    built: dict[str, Built]
    first_output: dict[str, bytes]
    first_manifest: bytes


def assert_as_first_built(site: Built, builds: Rebuilt) -> None:
    """``site`` holds, byte for byte, what the first build wrote (output and manifest)."""
    assert snapshot(site.output) == builds.first_output
    assert site.manifest.read_bytes() == builds.first_manifest


def mkdocs_build(config: Path) -> Built:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)]
    result = run(command, config.parent)
    return Built(config.parent, config.parent / "site", result.stderr)


def pages_of(output: Path) -> list[str]:
    return sorted(p.relative_to(output).as_posix() for p in output.rglob("*.html"))


# -- Material's privacy plugin and mkdocs-minify-plugin -----------------------------------


class ThirdParty:
    """A loopback server standing in for a third-party host (Google Fonts, a badge
    service): a stylesheet whose font is on the same host, and an image. The privacy
    plugin downloads them at build time; the server records every path asked for."""

    def __init__(self) -> None:
        import http.server
        import threading

        css = b"@font-face { font-family: 'Third'; src: url(%s/third.woff2) format('woff2'); }"
        files = {"/third.css": css, "/third.woff2": FONT.read_bytes(), "/badge.png": png()}
        types = {".css": "text/css", ".woff2": "font/woff2", ".png": "image/png"}
        self.asked: list[str] = []
        asked = self.asked

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(f"{self.headers['Host']}{self.path}")
                body = files.get(self.path, b"").replace(b"%s", origin.encode())
                self.send_response(200 if self.path in files else 404)
                self.send_header("Content-Type", types.get(Path(self.path).suffix, "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        origin = self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ThirdParty:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


MATERIAL_ORDERS = ("plain", "shard-assets first", "shard-assets last")


def material_project(root: Path, order: str, third_party: str) -> Path:
    """Material with privacy (fetching from ``third_party``) and minify (HTML, CSS, JS,
    hashed names); shard-assets listed ``order``, or absent for "plain"."""
    cache = root / ".cache" / "privacy"
    # privacy fetches the fonts a stylesheet it fetched names in jobs that on_env does
    # not wait for (it waits for those queued before it), so MkDocs may copy the font
    # before it is downloaded (FileNotFoundError, now and then). The font is in the
    # cache already, as after an earlier build; the stylesheet and image are fetched.
    font = cache / "assets" / "external" / third_party.removeprefix("http://") / "third.woff2"
    font.parent.mkdir(parents=True)
    shutil.copyfile(FONT, font)
    privacy = {
        "privacy": {
            "cache_dir": str(cache),
            # Material's JavaScript names mermaid on unpkg.com, which privacy would
            # fetch; this site draws no diagrams, and the build must run offline.
            "assets_exclude": ["unpkg.com/*"],
        }
    }
    minify = {
        "minify": {
            "minify_html": True,
            "minify_css": True,
            "minify_js": True,
            "css_files": ["css/extra.css"],
            "js_files": ["js/extra.js"],
            "cache_safe": True,
        }
    }
    # cors_assets and stylesheets: shard, so that the font and the stylesheet privacy
    # downloads, and the files minify renames, move like the rest: the tests follow
    # every file privacy and minify touch onto the shard hosts.
    ours = shard_plugin(**MOVE_ALL, scheme="http", preconnect=True)
    plugins = {
        "plain": [privacy, minify],
        "shard-assets first": [ours, privacy, minify],
        "shard-assets last": [privacy, minify, ours],
    }[order]
    pages = {
        **PAGES,
        "badge.md": f"# Badge\n\n![Build status]({third_party}/badge.png)\n",
    }
    return mkdocs_project(
        root,
        plugins,
        pages,
        theme={"name": "material", "font": False},  # no Google Fonts: the build is offline
        extra_css=["css/extra.css", f"{third_party}/third.css"],
    )


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    """The Material site built plain and with shard-assets listed first and last; then
    the last built again, over its output and manifest."""
    pytest.importorskip("material.plugins.privacy")
    pytest.importorskip("mkdocs_minify_plugin")
    built = {}
    with ThirdParty() as third_party:
        for order in MATERIAL_ORDERS:
            root = tmp_path_factory.mktemp("material")
            built[order] = mkdocs_build(material_project(root, order, third_party.origin))
        last = built["shard-assets last"]
        before = Rebuilt(built, snapshot(last.output), last.manifest.read_bytes())
        mkdocs_build(last.project / "mkdocs.yml")
    assert sorted(set(third_party.asked)) == sorted(
        f"{third_party.origin.removeprefix('http://')}{path}"
        for path in ("/badge.png", "/third.css")
    ), "privacy fetched the third party's files, and nothing else from anywhere"
    return before


SHARDED = ("shard-assets first", "shard-assets last")
_PRECONNECT = re.compile(r'<link rel="preconnect" href="http://cdn\d\.shard\.test">')


def shard_urls(text: str) -> set[str]:
    return set(re.findall(r"http://cdn\d\.shard\.test/[^\s\"'>)]+", text))


@pytest.mark.parametrize("order", SHARDED)
def test_privacy_fetches_first_and_never_sees_our_urls_or_hints(
    material: Rebuilt, order: str
) -> None:
    from bs4 import BeautifulSoup

    site = material.built[order]
    assert audit(site.output, site.manifest, **MOVE_ALL) == []
    assets = assets_of(site.manifest)
    fetched = sorted(key for key in assets if key.startswith("assets/external/"))
    assert [key.rpartition("/")[2] for key in fetched] == ["badge.png", "third.css", "third.woff2"]
    # The stylesheet privacy downloaded names the font it downloaded with it; both sharded.
    css, font = fetched[1], fetched[2]
    assert f"url(http://{assets[font]}/{font})" in (site.output / css).read_text()
    # privacy's on_post_page (-50) saw each page before ours sharded it in on_post_build
    # (-110): it never tried to fetch a shard URL, nor dropped our preconnect hints
    # (it removes those to hosts other than site_url's).
    assert "shard.test" not in "".join(
        line for line in site.log.splitlines() if "shard_assets" not in line
    )
    for page in pages_of(site.output):
        soup = BeautifulSoup((site.output / page).read_text(encoding="utf-8"), "html.parser")
        hints = {str(link["href"]) for link in soup.find_all("link", rel="preconnect")}
        used = {url.split("/")[2] for url in shard_urls(str(soup))}
        assert hints == {f"http://{host}" for host in used}, page


@pytest.mark.parametrize("order", SHARDED)
def test_minified_output_keeps_every_asset(material: Rebuilt, order: str, tmp_path: Path) -> None:
    from ..compare import compare_builds

    site = material.built[order]
    assets = assets_of(site.manifest)
    # minify renamed the extras (hash and .min) and dropped the attributes' quotes.
    assert {key for key in assets if key.startswith(("css/extra", "js/extra"))} == {
        key
        for key in (p.relative_to(site.output).as_posix() for p in site.output.rglob("*"))
        if key.startswith(("css/extra.", "js/extra.")) and ".min." in key
    }
    index = (site.output / "index.html").read_text(encoding="utf-8")
    assert "<link rel=stylesheet href=http://cdn" in index
    # Against the same build without shard-assets: only URLs changed (once our hints
    # are taken out), and everything a browser loads is on a shard host.
    without_hints = tmp_path / "site"
    shutil.copytree(site.output, without_hints)
    for page in pages_of(without_hints):
        path = without_hints / page
        path.write_text(_PRECONNECT.sub("", path.read_text(encoding="utf-8")), encoding="utf-8")
    result = compare_builds(material.built["plain"].output, without_hints, SITE_URL, HOSTS)
    assert result.problems == []
    kinds = {"link[stylesheet]", "link[icon]", "script[src]", "img[src]", "css url()"}
    assert set(result.shard_refs) == kinds
    assert not result.kept_refs


def test_material_plugin_order_gives_the_same_bytes(material: Rebuilt) -> None:
    assert_as_first_built(material.built["shard-assets first"], material)


def test_material_rebuild_is_byte_identical(material: Rebuilt) -> None:
    assert_as_first_built(material.built["shard-assets last"], material)


@pytest.mark.browser
def test_material_site_loads_cleanly_in_chromium(material: Rebuilt) -> None:
    from playwright.sync_api import sync_playwright

    from testing.browser import check_site, launch, require_browser
    from testing.cdn_server import CdnServer

    chromium = require_browser()
    site = material.built["shard-assets last"]
    probes = {
        "extra.js ran": "document.documentElement.dataset.docs === 'ready'",
        "extra.css paints the background": (
            "getComputedStyle(document.body).backgroundImage.includes('paper.png')"
        ),
        "privacy's font is declared": "[...document.fonts].some(f => f.family === 'Third')",
    }
    pages = ["/" + page for page in pages_of(site.output)]
    with sync_playwright() as playwright, CdnServer(site.output, HOSTS) as server:
        browser = launch(playwright, server.resolver_rules(), chromium)
        try:
            problems = check_site(browser, server, pages, assets_of(site.manifest), probes)
        finally:
            browser.close()
        hosts = {hit.host for hit in server.hits()}
    assert problems == []
    assert set(HOSTS) <= hosts


# -- mkdocs-static-i18n -----------------------------------------------------------------

I18N = {
    "i18n": {
        "docs_structure": "suffix",
        "languages": [
            {"locale": "en", "default": True, "name": "English"},
            {"locale": "fr", "name": "Français"},
            {"locale": "de", "name": "Deutsch"},
        ],
    }
}
I18N_PAGES = {
    **PAGES,
    "index.fr.md": "# Accueil\n\n![Aperçu](img/overview.png)\n\nVoir le [guide](guide.md).\n",
    # Only the German home page shows this map: an asset of the last language built.
    "index.de.md": "# Start\n\n![Karte](img/map.png)\n",
}


@pytest.fixture(scope="module")
def i18n(tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    """The same bilingual site, built with shard-assets listed before and after i18n."""
    pytest.importorskip("mkdocs_static_i18n")
    orders = {"i18n first": [I18N, shard_plugin()], "shard-assets first": [shard_plugin(), I18N]}
    built = {
        order: mkdocs_build(mkdocs_project(tmp_path_factory.mktemp("i18n"), plugins, I18N_PAGES))
        for order, plugins in orders.items()
    }
    first = built["i18n first"]
    before = Rebuilt(built, snapshot(first.output), first.manifest.read_bytes())
    # The rebuild shards English pages in memory as MkDocs hands them over.
    mkdocs_build(first.project / "mkdocs.yml")
    return before


@pytest.mark.parametrize("order", ["shard-assets first", "i18n first"])
def test_i18n_french_pages_share_the_assets_and_their_hosts(i18n: Rebuilt, order: str) -> None:
    site = i18n.built[order]
    assert {"fr/index.html", "fr/guide/index.html", "de/index.html"} <= set(pages_of(site.output))
    assert audit(site.output, site.manifest) == []
    assets = assets_of(site.manifest)
    # The French pages load the same files (../img/overview.png): one key each, no fr/ copy.
    assert not [key for key in assets if key.startswith(("fr/", "de/"))]
    assert "img/map.png" in assets
    overview = f"https://{assets['img/overview.png']}/img/overview.png"
    for page in ("index.html", "fr/index.html"):
        assert f'src="{overview}"' in (site.output / page).read_text(encoding="utf-8")
    # i18n builds French and German inside the English build; shard-assets shards all
    # three at the end, once.
    assert site.log.count("assets over 4 hosts") == 1, site.log


def test_i18n_plugin_order_gives_the_same_bytes(i18n: Rebuilt) -> None:
    assert_as_first_built(i18n.built["shard-assets first"], i18n)


def test_i18n_rebuild_is_byte_identical(i18n: Rebuilt) -> None:
    assert_as_first_built(i18n.built["i18n first"], i18n)


# -- mike ---------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout


def gh_pages(repo: Path, into: Path) -> Path:
    """The gh-pages branch's files, checked out into ``into``."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "archive", "gh-pages"], cwd=repo, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


class Versions(NamedTuple):
    """mike's deployed site, each version's manifest, and 1.0 deployed again from its commit."""

    site: Path
    manifests: dict[str, bytes]
    again: Path
    manifest_again: bytes


@pytest.fixture(scope="module")
def mike(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    """Versions 1.0 and 2.0 deployed by ``mike deploy`` into a local git repo; the
    manifest lives beside mkdocs.yml, committed with each version's sources."""
    pytest.importorskip("mike")
    repo = tmp_path_factory.mktemp("mike")
    # shard-assets listed before mike: mike's on_config must still have added the version.
    mkdocs_project(repo, [shard_plugin(), "mike"])
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Docs")
    git(repo, "config", "user.email", "docs@example.org")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sources")
    manifest = repo / "shard-manifest.json"
    deploy = [sys.executable, "-c", "from mike.driver import main; main()", "deploy"]
    run([*deploy, "1.0"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "1.0")
    manifests = {"1.0": manifest.read_bytes()}
    (repo / "docs" / "news.md").write_text("# News\n\n![New](img/news.png)\n", encoding="utf-8")
    (repo / "docs" / "img" / "news.png").write_bytes(png(rgb=(9, 9, 9)))
    run([*deploy, "2.0"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "2.0")
    manifests["2.0"] = manifest.read_bytes()
    site = gh_pages(repo, repo.parent / "deployed")
    git(repo, "checkout", "-q", "HEAD~1")  # 1.0's sources, and 1.0's manifest
    run([*deploy, "1.0"], repo)
    return Versions(site, manifests, gh_pages(repo, repo.parent / "again"), manifest.read_bytes())


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_mike_each_version_is_sharded_under_its_own_path(mike: Versions, version: str) -> None:
    output = mike.site / version
    manifest = output.parent.parent / f"manifest-{version}.json"
    manifest.write_bytes(mike.manifests[version])
    assert audit(output, manifest, f"{SITE_URL}{version}/") == []
    assets = assets_of(manifest)
    index = (output / "index.html").read_text(encoding="utf-8")
    path = f"/{version}/img/overview.png"
    assert f'src="https://{assets["img/overview.png"]}{path}"' in index
    assert ("img/news.png" in assets) == (version == "2.0")


def test_mike_redeploying_an_old_version_from_its_commit_changes_nothing(mike: Versions) -> None:
    assert mike.manifest_again == mike.manifests["1.0"]
    assert snapshot(mike.again / "1.0") == snapshot(mike.site / "1.0")
    assert snapshot(mike.again / "2.0") == snapshot(mike.site / "2.0")
    assert json.loads((mike.again / "versions.json").read_text())[0]["version"] == "2.0"


# -- Pelican and i18n_subsites -------------------------------------------------------------

SUBSITES_ORDERS = {
    "i18n_subsites first": ["pelican.plugins.i18n_subsites", "shard_assets.plugins.pelican"],
    "shard-assets first": ["shard_assets.plugins.pelican", "pelican.plugins.i18n_subsites"],
}
PELICAN_SITE_URL = "https://music.example.org/"


def pelican_project(root: Path) -> Path:
    """Two English articles, one translated into German, on Pelican's notmyidea theme
    (its templates use THEME_STATIC_DIR, as i18n_subsites asks)."""
    content = root / "content"
    (content / "images").mkdir(parents=True)
    (content / "images" / "cover.png").write_bytes(png())
    (content / "images" / "map.png").write_bytes(png(rgb=(1, 2, 3)))
    articles = {
        "ferry.md": "Title: Night Ferry\nLang: en\n\n![Cover]({static}/images/cover.png)\n",
        "ferry-de.md": (
            "Title: Nachtfähre\nLang: de\n\n![Cover]({static}/images/cover.png)\n\n"
            "![Karte]({static}/images/map.png)\n"
        ),
        "tour.md": "Title: Spring Tour\nSlug: spring-tour\nLang: en\n\nNo pictures.\n",
    }
    for name, text in articles.items():
        slug = "" if "Slug:" in text else "Slug: night-ferry\n"
        (content / name).write_text(f"Date: 2024-04-06\n{slug}{text}", encoding="utf-8")
    return root


def pelican_build(project: Path, plugins: list[str], **shard_options: Any) -> Built:
    options = {"hosts": HOSTS, "manifest": str(project / "shard-manifest.json"), **shard_options}
    overrides = {
        "PLUGINS": plugins,
        "SITEURL": PELICAN_SITE_URL.rstrip("/"),
        "THEME": "notmyidea",
        "STATIC_PATHS": ["images"],
        "I18N_SUBSITES": {"de": {"SITENAME": "Nachbarn"}},
        "SHARD_ASSETS": options,
        **{f"{kind}_FEED_ATOM": None for kind in ("CATEGORY", "TRANSLATION", "AUTHOR")},
        "FEED_ALL_ATOM": None,
        "AUTHOR_FEED_RSS": None,
        "TIMEZONE": "UTC",
    }
    settings = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    command = [sys.executable, "-m", "pelican", "content", "-o", "output", "-e", *settings]
    return Built(project, project / "output", run(command, project).stderr)


@pytest.fixture(scope="module")
def subsites(tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    """The site built in both plugin orders; then the first built again, locked (which
    fails if the manifest would change)."""
    pytest.importorskip("pelican.plugins.i18n_subsites")
    built = {
        order: pelican_build(pelican_project(tmp_path_factory.mktemp("subsites")), plugins)
        for order, plugins in SUBSITES_ORDERS.items()
    }
    first = built["i18n_subsites first"]
    before = Rebuilt(built, snapshot(first.output), first.manifest.read_bytes())
    pelican_build(first.project, SUBSITES_ORDERS["i18n_subsites first"], locked=True)
    return before


@pytest.mark.parametrize("order", sorted(SUBSITES_ORDERS))
def test_i18n_subsites_german_pages_share_the_theme_assets(subsites: Rebuilt, order: str) -> None:
    site = subsites.built[order]
    output = site.output
    assert audit(output, site.manifest, PELICAN_SITE_URL) == []
    assets = assets_of(site.manifest)
    assert "de/night-ferry.html" in pages_of(output)
    # The subsite's pages load the main site's theme (../theme/): one key, one host.
    assert not [key for key in assets if key.startswith("de/theme/")]
    # Its stylesheet (and the fonts it names) stay on the origin, by the defaults: both
    # sites' pages name the one file there (the subsite's as de/../theme/css/main.css).
    for page in ("night-ferry.html", "de/night-ferry.html"):
        text = (output / page).read_text(encoding="utf-8")
        (href,) = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)
        parts = urlsplit(href)
        assert (parts.netloc, posixpath.normpath(parts.path)) == (
            "music.example.org",
            "/theme/css/main.css",
        ), page
    assert {"de/images/cover.png", "de/images/map.png"} <= set(assets)


def test_i18n_subsites_locked_rebuild_changes_nothing(subsites: Rebuilt) -> None:
    assert_as_first_built(subsites.built["i18n_subsites first"], subsites)


def test_i18n_subsites_plugin_order_gives_the_same_bytes(subsites: Rebuilt) -> None:
    assert_as_first_built(subsites.built["shard-assets first"], subsites)


# -- Zensical -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zensical(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``zensical build`` of a project whose mkdocs.yml lists shard-assets, then the
    recipe the README gives: ``shard-assets build site/`` with the same settings."""
    if shutil.which("zensical", path=_env()["PATH"]) is None:
        pytest.skip("zensical is not installed: pip install -e '.[test]'")
    # Zensical renders only its own themes (its variant of Material), not MkDocs'.
    theme = {"name": "material", "font": False}
    config = mkdocs_project(tmp_path_factory.mktemp("zensical"), [shard_plugin()], theme=theme)
    project = config.parent
    log = run(["zensical", "build"], project).stdout
    built = Built(project, project / "site", log)
    # Zensical ignored the plugin it does not know, without a word: nothing is sharded.
    assert not built.manifest.exists()
    assert not [page for page in pages_of(built.output) if "shard.test" in read(built, page)]
    assert "shard" not in log.lower()
    hosts = [argument for host in HOSTS for argument in ("--host", host)]
    recipe = ["shard-assets", "build", "site/", *hosts, "--site-url", SITE_URL, "--strict"]
    run(recipe, project)
    return built


def read(site: Built, page: str) -> str:
    return (site.output / page).read_text(encoding="utf-8")


def test_zensical_then_the_command_line_shards_the_site(zensical: Built) -> None:
    assert audit(zensical.output, zensical.manifest) == []
    assets = assets_of(zensical.manifest)
    assert "img/overview.png" in assets
    overview = f'src="https://{assets["img/overview.png"]}/img/overview.png"'
    assert overview in read(zensical, "index.html")
    assert "js/extra.js" in assets
    # The stylesheets stay on the origin (stylesheets: origin, the default), and so
    # does the web font (cors_assets: origin): the stylesheet, on the origin itself,
    # names it as Zensical wrote it.
    assert not [key for key in assets if key.endswith((".css", ".woff2"))]
    assert (zensical.output / "fonts" / "docs-sans.woff2").is_file()
    assert "url('../fonts/docs-sans.woff2')" in read(zensical, "css/extra.css")


# -- Other generators: the command line on their output, served under a sub-path -----------

SUB_PATH_URL = "https://example.org/blog/"
# Each generator's default output folder, and how its templates write asset URLs for a
# site served under /blog/ (Hugo: baseURL with relURL/absURL; Jekyll: baseurl with
# relative_url/absolute_url; Eleventy: pathPrefix with the url filter; Nikola:
# SITE_URL, relative links).
GENERATORS = {
    "hugo": ("public", "/blog/css/site.css", "https://example.org/blog/img/hero.png"),
    "jekyll": ("_site", "/blog/css/site.css", "https://example.org/blog/img/hero.png"),
    "eleventy": ("_site", "/blog/css/site.css", "/blog/img/hero.png"),
    "nikola": ("output", "{up}css/site.css", "{up}img/hero.png"),
}


def generator_output(root: Path, generator: str) -> Path:
    """A built site as ``generator`` lays it out: a home page, a post one folder down,
    a stylesheet with a background, and images."""
    folder, css, image = GENERATORS[generator]
    output = root / folder
    for page, up in (("index.html", ""), ("posts/first/index.html", "../../")):
        (output / page).parent.mkdir(parents=True, exist_ok=True)
        (output / page).write_text(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
            f'<link rel="stylesheet" href="{css.format(up=up)}">\n</head><body>\n'
            f'<img src="{image.format(up=up)}" alt="">\n'
            f'<img src="{up}img/photo.png" alt="">\n</body></html>\n',
            encoding="utf-8",
        )
    (output / "css").mkdir()
    (output / "css" / "site.css").write_text("body { background: url(../img/bg.png) }\n")
    (output / "img").mkdir()
    for name in ("hero", "photo", "bg"):
        (output / "img" / f"{name}.png").write_bytes(png())
    return output


def cli_build(output: Path, *extra: str) -> int:
    from shard_assets.cli import main

    hosts = [argument for host in HOSTS for argument in ("--host", host)]
    manifest = str(output.parent / "shard-manifest.json")
    return main(["build", str(output), *hosts, "--manifest", manifest, "--quiet", *extra])


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_sub_path_site_is_sharded_with_its_site_url(tmp_path: Path, generator: str) -> None:
    output = generator_output(tmp_path, generator)
    assert cli_build(output, "--site-url", SUB_PATH_URL, "--strict") == 0
    manifest = tmp_path / "shard-manifest.json"
    assert audit(output, manifest, SUB_PATH_URL) == []
    assets = assets_of(manifest)
    assert sorted(assets) == ["img/bg.png", "img/hero.png", "img/photo.png"]
    post = (output / "posts" / "first" / "index.html").read_text(encoding="utf-8")
    # The shard URL keeps /blog/: the CDN mirrors the origin, where the file lives.
    assert f'src="https://{assets["img/photo.png"]}/blog/img/photo.png"' in post
    css = (output / "css" / "site.css").read_text()
    assert f"url(https://{assets['img/bg.png']}/blog/img/bg.png)" in css


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_sub_path_site_without_its_site_url_is_wrong(
    tmp_path: Path, generator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output = generator_output(tmp_path, generator)
    code = cli_build(output, "--strict")
    if generator == "nikola":
        # Relative links resolve inside the folder: the build passes, but the shard
        # URLs lack /blog/, and verify, told the real URL, finds every one of them.
        assert code == 0
        findings = audit(output, tmp_path / "shard-manifest.json", SUB_PATH_URL)
        assert len(findings) == 5, findings  # 2 on each page, 1 in the stylesheet
        assert all(f.endswith("a shard URL outside the site's path") for f in findings)
    else:
        # Root-relative and absolute URLs name /blog/...: not files of this folder.
        assert code == 1
        assert "/blog/css/site.css is not in the output" in capsys.readouterr().err


# -- Nested builds, as the lifecycle tells them apart --------------------------------------


def test_a_build_inside_the_one_going_on_is_nested(tmp_path: Path) -> None:
    import logging

    from shard_assets.errors import ShardAssetsError
    from shard_assets.plugins.lifecycle import BuildLifecycle

    def fail(error: ShardAssetsError) -> NoReturn:
        raise error

    build = BuildLifecycle(fail, logging.getLogger(__name__))
    site = tmp_path / "output"
    assert build.begin(site)
    assert not build.begin(site / "de")  # i18n_subsites' subsite
    assert build.nested and build.page("<p>", "de/index.html") == "<p>"
    assert not build.end()  # the subsite ended; the main site goes on
    assert not build.nested
    assert not build.begin(site, same_folder=True)  # mkdocs-static-i18n's next language
    assert not build.end()
    assert build.end()  # the main site ended
    # A run that failed without an end, then the same folder again: a new build.
    assert build.begin(site)
    assert build.begin(site)
    assert build.begin(tmp_path / "elsewhere")
    assert not build.begin(tmp_path / "elsewhere" / "de")
    build.forget()  # after a failed build
    assert build.begin(tmp_path / "elsewhere" / "de")
