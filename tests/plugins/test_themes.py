"""Real themes we did not write, built twice: without the plugin and with it.

Each test builds a tiny content folder (pages with images, one of them nested)
with a theme that ships with Pelican or MkDocs, or with mkdocs-material, or with
one of the four most used Sphinx themes (alabaster, furo, pydata-sphinx-theme,
sphinx-rtd-theme), then
compares the two outputs with :func:`compare.compare_builds`: only URLs changed,
and everything the pages load from the site is on a shard host. The builds say
``cors_assets: shard`` and ``stylesheets: shard``, so that the themes' web fonts,
stylesheets and scripts move too and are checked (the defaults keep them on the
origin: tests/test_mkdocs.py, test_pelican.py and test_sphinx.py build with those).
"""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config
from pelican import Pelican
from pelican.plugins import signals
from pelican.settings import read_settings

from ..compare import Comparison, compare_builds
from ..conftest import HOSTS, ROOT, png

NOMINAL_SITE_URL = "https://example.org/"


def _check(comparison: Comparison, *kinds: str) -> None:
    assert comparison.problems == []
    assert comparison.changed > 0
    missing = [kind for kind in kinds if not comparison.shard_refs[kind]]
    assert missing == [], f"no sharded {missing}; saw {dict(comparison.shard_refs)}"


# --- Pelican ---------------------------------------------------------------------


@pytest.fixture
def pelican_signals() -> Iterator[None]:
    """Isolate Pelican's global signals: no shard-assets receiver when the test starts
    (another test may have left one connected), and none of the test's after it."""
    found = [s for s in vars(signals).values() if hasattr(s, "receivers")]
    removed = [
        (signal, receiver)
        for signal in found
        for receiver in _receivers(signal)
        if getattr(receiver, "__module__", "").startswith("shard_assets")
    ]
    for signal, receiver in removed:
        signal.disconnect(receiver)
    before = {id(signal): set(_receivers(signal)) for signal in found}
    yield
    for signal in found:
        for receiver in set(_receivers(signal)) - before[id(signal)]:
            signal.disconnect(receiver)
    for signal, receiver in removed:
        signal.connect(receiver)


def _receivers(signal: Any) -> list[Any]:
    live = (r() if isinstance(r, weakref.ref) else r for r in list(signal.receivers.values()))
    return [receiver for receiver in live if receiver is not None]


def _pelican_content(root: Path) -> Path:
    content = root / "content"
    (content / "images").mkdir(parents=True)
    (content / "pages").mkdir()
    for name in ("photo.png", "photo@2x.png", "diagram.png", "café 1.png"):
        (content / "images" / name).write_bytes(png())
    (content / "first.md").write_text(
        "Title: First post\nDate: 2024-05-01\nCategory: News\nTags: a, b\n\n"
        "Hello ![A photo]({static}/images/photo.png) and "
        '![A diagram]({static}/images/diagram.png "title").\n\n'
        '<img src="{static}/images/café 1.png" alt="café"\n'
        '     srcset="/images/photo.png 1x, /images/photo@2x.png 2x">\n\n'
        '<div style="background: url(/images/diagram.png)">styled</div>\n',
        encoding="utf-8",
    )
    (content / "pages" / "about.md").write_text(
        "Title: About\n\n![About]({static}/images/photo.png)\n", encoding="utf-8"
    )
    return content


def _pelican_build(root: Path, output: str, theme: str, overrides: dict[str, object]) -> Path:
    settings = read_settings(
        path=None,
        override={
            "PATH": str(root / "content"),
            "OUTPUT_PATH": str(root / output),
            "CACHE_PATH": str(root / "cache"),
            "THEME": theme,
            "STATIC_PATHS": ["images"],
            "ARTICLE_URL": "posts/{date:%Y}/{slug}/",
            "ARTICLE_SAVE_AS": "posts/{date:%Y}/{slug}/index.html",
            "TIMEZONE": "UTC",
            "DEFAULT_LANG": "en",
            "PLUGINS": [],
            **overrides,
        },
    )
    Pelican(settings).run()
    return root / output


@pytest.mark.usefixtures("pelican_signals")
@pytest.mark.parametrize(
    ("theme", "site"),
    [
        # notmyidea with an absolute SITEURL: every theme URL is absolute on it.
        ("notmyidea", {"SITEURL": "http://localhost:8000"}),
        ("simple", {"SITEURL": "", "RELATIVE_URLS": True}),
    ],
)
def test_pelican_theme(tmp_path: Path, theme: str, site: dict[str, object]) -> None:
    _pelican_content(tmp_path)
    plain = _pelican_build(tmp_path, "plain", theme, site)
    sharded = _pelican_build(
        tmp_path,
        "sharded",
        theme,
        {
            **site,
            "PLUGINS": ["shard_assets.plugins.pelican"],
            "SHARD_ASSETS": {
                "hosts": HOSTS,
                "manifest": str(tmp_path / "manifest.json"),
                "cors_assets": "shard",
                "stylesheets": "shard",
            },
        },
    )
    comparison = compare_builds(plain, sharded, str(site["SITEURL"]) or NOMINAL_SITE_URL, HOSTS)
    kinds = ["img[src]", "img[srcset]", "style attribute url()"]
    if theme == "notmyidea":
        kinds += ["link[stylesheet]", "css url()"]
    _check(comparison, *kinds)


# --- MkDocs ----------------------------------------------------------------------


def _mkdocs_docs(root: Path) -> None:
    docs = root / "docs"
    for folder in ("img", "guide", "css", "js"):
        (docs / folder).mkdir(parents=True)
    for name in ("photo.png", "photo@2x.png", "banner.png"):
        (docs / "img" / name).write_bytes(png())
    (docs / "guide" / "diagram.png").write_bytes(png())
    (docs / "index.md").write_text(
        "# Home\n\n![A photo](img/photo.png)\n\n"
        '<img src="img/photo.png" srcset="img/photo.png 1x, img/photo@2x.png 2x" alt="">\n\n'
        "[Nested page](guide/nested.md)\n",
        encoding="utf-8",
    )
    (docs / "guide" / "nested.md").write_text(
        "# Nested\n\n![Up one](../img/photo.png) ![Beside](diagram.png)\n\n"
        # Raw HTML is not rewritten by MkDocs: the page is guide/nested/index.html.
        '<div style="background-image: url(../../img/banner.png)">banner</div>\n',
        encoding="utf-8",
    )
    (docs / "css" / "extra.css").write_text(
        ".banner { background: url(../img/banner.png) }\n", encoding="utf-8"
    )
    (docs / "js" / "extra.js").write_text("console.log('extra');\n", encoding="utf-8")


def _mkdocs_build(root: Path, output: str, theme: str, site_url: str, plugin: bool) -> Path:
    plugins = "  - search\n"
    if plugin:
        manifest = root / "manifest.json"
        plugins += (
            f"  - shard-assets:\n      hosts: {HOSTS}\n      manifest: {manifest}\n"
            "      cors_assets: shard\n      stylesheets: shard\n"
        )
    config_file = root / f"mkdocs-{output}.yml"
    config_file.write_text(
        f"site_name: Sample\nsite_url: {site_url}\ndocs_dir: docs\n"
        f"site_dir: {output}\ntheme:\n  name: {theme}\n"
        "extra_css: [css/extra.css]\nextra_javascript: [js/extra.js]\n"
        f"plugins:\n{plugins}",
        encoding="utf-8",
    )
    build(load_config(config_file=str(config_file)))
    return root / output


@pytest.mark.parametrize(
    ("theme", "site_url"),
    [
        ("mkdocs", "https://example.org/"),
        # Served under a sub-path: root-relative URLs outside /docs/ are not ours.
        ("readthedocs", "https://example.org/docs/"),
        ("material", "https://example.org/"),
    ],
)
def test_mkdocs_theme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, theme: str, site_url: str
) -> None:
    if theme == "material":
        pytest.importorskip("material")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the same sitemap.xml.gz twice
    _mkdocs_docs(tmp_path)
    plain = _mkdocs_build(tmp_path, "plain", theme, site_url, plugin=False)
    sharded = _mkdocs_build(tmp_path, "sharded", theme, site_url, plugin=True)
    comparison = compare_builds(plain, sharded, site_url, HOSTS)
    _check(
        comparison,
        "img[src]",
        "img[srcset]",
        "link[stylesheet]",
        "script[src]",
        "style attribute url()",
        "css url()",
    )


# --- Sphinx ----------------------------------------------------------------------


def _sphinx_project(root: Path) -> Path:
    source = root / "source"
    for folder in ("img", "guide", "_static/css", "_static/js"):
        (source / folder).mkdir(parents=True)
    for name in ("photo.png", "photo@2x.png", "banner.png"):
        (source / "img" / name).write_bytes(png())
    (source / "guide" / "diagram.png").write_bytes(png())
    (source / "_static" / "banner.png").write_bytes(png())
    (source / "index.rst").write_text(
        "Home\n====\n\n.. image:: img/photo.png\n   :alt: A photo\n\n"
        ".. figure:: img/banner.png\n\n   A figure.\n\n"
        ".. raw:: html\n\n"
        '   <img src="_static/banner.png" srcset="_static/banner.png 1x, _images/photo@2x.png 2x"'
        ' alt="">\n'
        '   <div style="background-image: url(_static/banner.png)">banner</div>\n\n'
        ".. toctree::\n\n   guide/nested\n\n"
        ".. image:: img/photo@2x.png\n",
        encoding="utf-8",
    )
    (source / "guide" / "nested.rst").write_text(
        "Nested\n======\n\n.. image:: ../img/photo.png\n\n.. image:: diagram.png\n\n"
        ":download:`A download <diagram.png>`\n",
        encoding="utf-8",
    )
    (source / "_static" / "css" / "extra.css").write_text(
        ".banner { background: url(../banner.png) }\n", encoding="utf-8"
    )
    (source / "_static" / "js" / "extra.js").write_text("console.log('extra');\n")
    return source


def _sphinx_build(root: Path, output: str, theme: str, plugin: bool) -> Path:
    conf = [
        "project = 'Sample'",
        f"html_theme = {theme!r}",
        f"html_baseurl = {NOMINAL_SITE_URL!r}",
        "html_static_path = ['_static']",
        "html_css_files = ['css/extra.css']",
        "html_js_files = ['js/extra.js']",
    ]
    if plugin:
        manifest = str(root / "manifest.json")
        conf += [
            "extensions = ['shard_assets.plugins.sphinx']",
            f"shard_assets = {{'hosts': {HOSTS!r}, 'manifest': {manifest!r}, "
            "'cors_assets': 'shard', 'stylesheets': 'shard'}",
        ]
    (root / "source" / "conf.py").write_text("\n".join(conf) + "\n", encoding="utf-8")
    doctrees = root / f"doctrees-{output}"
    command = [sys.executable, "-m", "sphinx", "-q", "-E", "-d", str(doctrees)]
    result = subprocess.run(
        [*command, str(root / "source"), str(root / output)],
        env={
            **os.environ,
            # The child imports this checkout, whatever the test run's PYTHONPATH says.
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root / output


@pytest.mark.parametrize("theme", ["alabaster", "furo", "pydata_sphinx_theme", "sphinx_rtd_theme"])
def test_sphinx_theme(tmp_path: Path, theme: str) -> None:
    pytest.importorskip(theme)
    _sphinx_project(tmp_path)
    plain = _sphinx_build(tmp_path, "plain", theme, plugin=False)
    sharded = _sphinx_build(tmp_path, "sharded", theme, plugin=True)
    # The extension's value is part of the HTML config hash Sphinx writes there.
    (plain / ".buildinfo").unlink()
    (sharded / ".buildinfo").unlink()
    comparison = compare_builds(plain, sharded, NOMINAL_SITE_URL, HOSTS)
    kinds = ["img[src]", "img[srcset]", "link[stylesheet]", "script[src]"]
    kinds += ["style attribute url()", "css url()"]
    _check(comparison, *kinds)
