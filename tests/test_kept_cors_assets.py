"""``cors_assets: origin``: assets fetched in CORS mode stay on the site's origin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.cli import main
from shard_assets.config import Settings, load_settings
from shard_assets.messages import summary
from shard_assets.verify import verify_site

from .conftest import HOSTS, assert_choice_checked, make_site, shard_urls, snapshot
from .generators import copy_mkdocs, hand_over, mkdocs_build, set_option

SITE_URL = "https://example.org/"
CORS_KEYS = {"fonts/body.woff2", "fonts/nested.woff2", "js/mod.js", "js/sri.js", "img/canvas.png"}


def cors_site(root: Path) -> Path:
    """make_site plus web fonts (one in @media), a module, an SRI script, and an image
    loaded with crossorigin on one page and without on another."""
    make_site(root, images=8, pages=3)
    (root / "fonts").mkdir()
    for name in ("body.woff2", "nested.woff2"):
        (root / "fonts" / name).write_bytes(b"wOF2")
    (root / "js" / "mod.js").write_text("export {};\n")
    (root / "js" / "sri.js").write_text("1;\n")
    (root / "img" / "canvas.png").write_bytes(b"png")
    css = root / "css" / "site.css"
    css.write_text(
        css.read_text()
        + '@font-face { font-family: b; src: url("../fonts/body.woff2") format("woff2") }\n'
        + "@media print { @font-face { font-family: n; src: url(../fonts/nested.woff2) } }\n"
    )
    index = root / "index.html"
    index.write_text(
        index.read_text().replace(
            "</head>",
            '<script type="module" src="js/mod.js"></script>\n'
            '<script src="js/sri.js" integrity="sha384-x"></script>\n</head>',
        )
        + '<img src="img/canvas.png" crossorigin>\n'
    )
    post = root / "blog" / "post-1.html"
    post.write_text(post.read_text() + '<img src="../img/canvas.png" alt="no crossorigin">\n')
    return root


def test_cors_mode_assets_stay_on_the_origin_and_the_rest_is_sharded(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = cors_site(tmp_path / "site")
    # site_url: the stylesheet moves to a shard host, so its fonts need their origin URL.
    settings = make_settings(cors_assets="origin", verify=True, site_url=SITE_URL)
    result = shard_site(root, settings)
    manifest = json.loads((tmp_path / "shard-manifest.json").read_text())
    assert not CORS_KEYS & set(manifest["assets"])
    assert {"img/photo-000.png", "css/site.css", "js/app.js"} <= set(manifest["assets"])
    assert not CORS_KEYS & shard_urls(root)
    assert result.cors == ()  # none on a shard host: no CORS header needed
    assert result.crossorigin == ()  # the SRI script stays: nothing to add
    assert "5 asset(s) fetched in CORS mode" in summary(result)
    assert 'src="img/canvas.png" crossorigin' in (root / "index.html").read_text()
    assert 'src="../img/canvas.png" alt' in (root / "blog" / "post-1.html").read_text()
    assert 'url("https://example.org/fonts/body.woff2")' in (root / "css" / "site.css").read_text()
    assert verify_site(root, settings) == []
    before = snapshot(root)
    shard_site(root, settings)
    assert snapshot(root) == before


def test_without_site_url_the_default_warns_with_both_fixes(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = cors_site(tmp_path / "site")
    result = shard_site(root, make_settings())  # cors_assets: origin, the default
    host = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]["css/site.css"]
    css = (root / "css" / "site.css").read_text()
    fonts = ("../fonts/body.woff2", "../fonts/nested.woff2")  # in this order in the file
    assert result.warnings == tuple(
        f"css/site.css:{css[: css.index(url)].count(chr(10)) + 1}: {url} names {url[3:]}, "
        f"which stays on the origin, but css/site.css is on {host}, so the browser fetches "
        f"{url[3:]} from {host}: set site_url (the site's public address) so the build "
        "writes its absolute URL on the origin, or cors_assets: shard to shard it"
        for url in fonts
    )
    assert not CORS_KEYS & shard_urls(root)


def test_switching_to_origin_brings_sharded_urls_back(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = cors_site(tmp_path / "site")
    shard_site(root, make_settings(cors_assets="shard"))
    assert shard_urls(root) >= CORS_KEYS
    settings = make_settings(cors_assets="origin", site_url=SITE_URL)
    assert verify_site(root, settings)  # the audit sees them on shard hosts
    shard_site(root, settings)
    assert not CORS_KEYS & shard_urls(root)
    assert "url(https://example.org/fonts/nested.woff2)" in (root / "css" / "site.css").read_text()
    manifest = json.loads((tmp_path / "shard-manifest.json").read_text())
    assert not CORS_KEYS & set(manifest["assets"])
    assert verify_site(root, settings) == []


def test_the_manifest_is_the_same_for_any_number_of_jobs(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    manifests = []
    for jobs in (1, 2):
        root = cors_site(tmp_path / f"site{jobs}")
        manifest = tmp_path / f"m{jobs}.json"
        shard_site(root, make_settings(cors_assets="origin", manifest=str(manifest)), jobs=jobs)
        manifests.append(manifest.read_bytes())
    assert manifests[0] == manifests[1]


def test_the_setting_in_each_front_end(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = cors_site(tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    hosts = [a for h in HOSTS for a in ("--host", h)]
    assert main(["build", "site", *hosts, "--cors-assets", "origin", "--quiet"]) == 0
    assert not CORS_KEYS & shard_urls(root)
    assert_choice_checked(make_settings, "cors_assets", "origin", "orgin")


def test_mkdocs_rebuild_with_the_manifest_keeps_fonts_on_the_origin(tmp_path: Path) -> None:
    """The rebuild shards pages in memory from the manifest, which has no font: the
    result is the first build's, byte for byte, and passes the audit."""
    pytest.importorskip("mkdocs")
    project = copy_mkdocs(tmp_path / "docs-project")
    set_option(project, "max_imbalance: 0.10", "max_imbalance: 0.10\n      cors_assets: origin")
    assert mkdocs_build(project).returncode == 0
    first = snapshot(project / "site")
    fonts = {key for key in first if key.endswith((".woff2", ".woff"))}
    assert fonts
    manifest = json.loads((project / "shard-manifest.json").read_text())
    assert not fonts & set(manifest["assets"])
    assert not fonts & shard_urls(project / "site")
    result = mkdocs_build(project)
    assert result.returncode == 0, result.stderr
    assert snapshot(project / "site") == first
    settings = load_settings(
        {"hosts": HOSTS, "manifest": str(project / "shard-manifest.json"), "cors_assets": "origin"},
        base_dir=project,
        source="test",
    )
    assert verify_site(project / "site", settings) == []


def test_a_rebuild_shards_pages_with_cors_references_as_they_are_handed_over(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """A CORS-mode reference stays on the origin whatever the manifest says, so a page
    with one (index.html: a module, an SRI script, an image with crossorigin) is still
    sharded as the generator hands it over; blog/post-1.html loads that image without
    crossorigin, which the manifest does not place, so it waits for the end."""
    root = cors_site(tmp_path / "site")
    pages = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.html")}
    settings = make_settings(cors_assets="origin")
    shard_site(root, settings)
    expected = snapshot(root)
    result = shard_site(root, settings, handover=hand_over(root, pages, settings, jobs=1))
    assert result.rewritten_at_handover == len(pages) - 1
    assert snapshot(root) == expected
