"""Shared fixtures: small generated sites, settings, and a PNG writer."""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.config import Settings, load_settings
from shard_assets.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SITE = ROOT / "sample_site"
HOSTS = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com", "cdn4.example.com"]

# The scan cache of every build the tests run (generators' child processes
# included) goes to a folder of this run, never the user's: each build's entries are
# found by its manifest's path, so tests share the folder and not the entries. Set
# SHARD_ASSETS_CACHE_DIR=off to run the suite without the cache.
_CACHE_DIR = None
if "SHARD_ASSETS_CACHE_DIR" not in os.environ:
    _CACHE_DIR = os.environ["SHARD_ASSETS_CACHE_DIR"] = tempfile.mkdtemp(prefix="shard-scans-")


def pytest_sessionfinish() -> None:
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    """A real, decodable PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_site(root: Path, images: int = 40, pages: int = 3) -> Path:
    """A built-site folder: ``pages`` pages that all show ``images`` images, plus CSS and JS."""
    (root / "img").mkdir(parents=True)
    (root / "css").mkdir()
    (root / "js").mkdir()
    (root / "blog").mkdir()
    for i in range(images):
        (root / "img" / f"photo-{i:03d}.png").write_bytes(png(rgb=(i, 100, 200)))
    (root / "css" / "site.css").write_text(
        '@import "base.css";\nbody { background: url(../img/photo-000.png) }\n', encoding="utf-8"
    )
    (root / "css" / "base.css").write_text("h1 { color: red }\n", encoding="utf-8")
    (root / "js" / "app.js").write_text("console.log('hi');\n", encoding="utf-8")
    tags = "\n".join(f'<img src="/img/photo-{i:03d}.png" alt="photo {i}">' for i in range(images))
    for p in range(pages):
        folder = root if p == 0 else root / "blog"
        name = "index.html" if p == 0 else f"post-{p}.html"
        up = "" if p == 0 else "../"
        (folder / name).write_text(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
            f'<link rel="stylesheet" href="{up}css/site.css">\n'
            f'<script src="{up}js/app.js" defer></script>\n'
            f'</head><body>\n<a href="{up}index.html">home</a>\n{tags}\n</body></html>\n',
            encoding="utf-8",
        )
    return root


def make_served_site(folder: Path, site_name: str) -> tuple[Path, Path]:
    """A site to serve, sharded over HOSTS for ``https://site_name/``, and its twin
    (``site-h2``): a font, folder indexes, a page without assets, a folder whose
    index is not in the twin (tests/test_deploy.py, tests/test_edge_rules.py)."""
    site = make_site(folder / "site", images=12, pages=3)
    (site / "fonts").mkdir()
    (site / "fonts" / "body.woff2").write_bytes(b"wOF2 not really a font")
    css = site / "css" / "site.css"
    css.write_text(
        css.read_text() + '@font-face { font-family: b; src: url("../fonts/body.woff2") }\n'
    )
    (site / "blog" / "index.html").write_text('<!DOCTYPE html><img src="../img/photo-001.png">\n')
    (site / "about.html").write_text("<!DOCTYPE html><p>no assets here</p>\n")
    (site / "docs").mkdir()
    (site / "docs" / "index.html").write_text("<!DOCTYPE html><p>the docs</p>\n")
    (site / "docs" / "page.html").write_text('<!DOCTYPE html><img src="../img/photo-002.png">\n')
    settings = load_settings(
        {
            "hosts": HOSTS,
            "manifest": str(folder / "shard-manifest.json"),
            "site_url": f"https://{site_name}/",
            "unsharded_copy": "site-h2",
        },
        base_dir=folder,
        source="test",
    )
    shard_site(site, settings)
    return site, folder / "site-h2"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A generated output folder with 40 images, 2 stylesheets and a script."""
    return make_site(tmp_path / "site")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for ``HOSTS`` with the manifest in the temporary folder.

    Stylesheets and scripts are sharded (``stylesheets: shard``) unless a test
    says otherwise: most tests are about how references are found, placed and
    rewritten, and stylesheets and scripts are the references they need. What the
    default (``origin``) keeps off the shard hosts is tests/test_stylesheets.py's
    subject, and the generator tests build with it."""

    def factory(**options: object) -> Settings:
        merged: dict[str, object] = {
            "hosts": HOSTS,
            "manifest": str(tmp_path / "shard-manifest.json"),
            "stylesheets": "shard",
        }
        merged.update(options)
        return load_settings(merged, base_dir=tmp_path, source="test")

    return factory


def shard_urls(root: Path) -> set[str]:
    """The keys every document puts on a shard host."""
    found: set[str] = set()
    for path in root.rglob("*"):
        if path.suffix in (".html", ".css"):
            found.update(re.findall(r"//cdn\d\.example\.com/([^\"')\s]+)", path.read_text()))
    return found


def assert_choice_checked(
    make_settings: Callable[..., Settings], name: str, value: str, typo: str
) -> None:
    """The setting ``name`` takes ``value``; a ``typo`` of it is a ConfigError that
    suggests ``value``, and MkDocs' config check names the setting for a wrong value."""
    with pytest.raises(ConfigError, match=rf"{name}.*did you mean '{value}'"):
        make_settings(**{name: typo})
    pytest.importorskip("mkdocs")
    from shard_assets.plugins.mkdocs import ShardAssetsPlugin

    plugin = ShardAssetsPlugin()
    errors, _ = plugin.load_config({"hosts": HOSTS, name: value})
    assert errors == []
    errors, _ = plugin.load_config({"hosts": HOSTS, name: "cdn"})
    assert [setting for setting, _ in errors] == [name]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
