"""``stylesheets: origin`` (the default): stylesheets stay on the site's origin, on
the connection the page came on; what they load is sharded, and so are scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.cli import main
from shard_assets.config import Settings
from shard_assets.messages import summary
from shard_assets.verify import verify_site

from .conftest import HOSTS, assert_choice_checked, make_site, shard_urls, snapshot
from .generators import hand_over

STYLESHEETS = {"css/site.css", "css/base.css", "css/PRINT.CSS"}
SCRIPTS = {"js/app.js", "js/head.js"}


def styled_site(root: Path) -> Path:
    """make_site (two stylesheets, one @importing the other and naming an image, and a
    deferred script) plus a classic script in the head and a print stylesheet whose
    name is in capitals."""
    make_site(root, images=8, pages=3)
    (root / "js" / "head.js").write_text("window.ready = 1;\n")
    (root / "css" / "PRINT.CSS").write_text("img { display: none }\n")
    index = root / "index.html"
    index.write_text(
        index.read_text().replace(
            "</head>",
            '<script src="js/head.js"></script>\n'
            '<link rel="stylesheet" href="css/PRINT.CSS" media="print">\n</head>',
        )
    )
    return root


def test_stylesheets_stay_and_what_they_name_is_sharded(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = styled_site(tmp_path / "site")
    pages = {p: p.read_text() for p in root.rglob("*.html")}
    settings = make_settings(stylesheets="origin", verify=True)
    result = shard_site(root, settings)
    assets = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]
    assert sorted(assets) == sorted([f"img/photo-{i:03d}.png" for i in range(8)] + [*SCRIPTS])
    assert not STYLESHEETS & shard_urls(root)
    assert shard_urls(root) >= SCRIPTS
    # The pages name the stylesheets as the generator wrote them.
    for page, text in pages.items():
        new = page.read_text()
        for tag in re.findall(r"<link [^>]*>", text):
            assert tag in new, (page, tag)
    # A stylesheet stays where it is, so its image needs its shard URL, and nothing
    # else in it changes (its @import of the other stylesheet included).
    host = assets["img/photo-000.png"]
    assert (root / "css" / "site.css").read_text() == (
        f'@import "base.css";\nbody {{ background: url(https://{host}/img/photo-000.png) }}\n'
    )
    assert "3 stylesheet(s) stay on the origin" in summary(result)
    assert verify_site(root, settings) == []
    before = snapshot(root)
    shard_site(root, settings)
    assert snapshot(root) == before


def test_it_is_the_default(tmp_path: Path) -> None:
    root = styled_site(tmp_path / "site")
    hosts = [a for h in HOSTS for a in ("--host", h)]
    manifest = str(tmp_path / "m.json")
    assert main(["build", str(root), *hosts, "--manifest", manifest, "--quiet"]) == 0
    assets = set(json.loads(Path(manifest).read_text())["assets"])
    assert not STYLESHEETS & assets
    assert assets >= SCRIPTS


def test_shard_moves_them_like_any_asset(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = styled_site(tmp_path / "site")
    shard_site(root, make_settings(stylesheets="shard"))
    assets = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]
    assert set(assets) >= STYLESHEETS | SCRIPTS
    assert shard_urls(root) >= STYLESHEETS | SCRIPTS


def test_switching_to_origin_brings_sharded_urls_back(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """The command line over output an older version sharded: each stylesheet goes
    back to its origin URL, and the manifest drops them."""
    root = styled_site(tmp_path / "site")
    shard_site(root, make_settings(stylesheets="shard"))
    settings = make_settings(stylesheets="origin")
    findings = [str(f) for f in verify_site(root, settings)]
    assert any("css/site.css stays on the origin (stylesheets: origin)" in f for f in findings)
    result = shard_site(root, settings)
    assert not STYLESHEETS & shard_urls(root)
    index = (root / "index.html").read_text()
    assert '<link rel="stylesheet" href="/css/site.css">' in index
    assert '<link rel="stylesheet" href="/css/PRINT.CSS" media="print">' in index
    assets = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]
    assert not STYLESHEETS & set(assets)
    assert "dropped 3" in summary(result)
    assert verify_site(root, settings) == []


def test_a_rebuild_shards_pages_as_they_are_handed_over(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """The manifest has no stylesheet, and a page handed over that loads one is still
    sharded in memory, byte for byte as on disk."""
    root = styled_site(tmp_path / "site")
    pages = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.html")}
    settings = make_settings(stylesheets="origin")
    shard_site(root, settings)
    expected = snapshot(root)
    result = shard_site(root, settings, handover=hand_over(root, pages, settings, jobs=1))
    assert result.rewritten_at_handover == len(pages)
    assert snapshot(root) == expected


def test_the_setting_in_each_front_end(make_settings: Callable[..., Settings]) -> None:
    assert_choice_checked(make_settings, "stylesheets", "origin", "origni")
    assert_choice_checked(make_settings, "stylesheets", "shard", "shrad")


def test_verify_on_the_command_line_takes_the_setting_the_build_had(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = styled_site(tmp_path / "site")
    hosts = [a for h in HOSTS for a in ("--host", h)]
    common = [str(root), *hosts, "--manifest", str(tmp_path / "m.json")]
    assert main(["build", *common, "--stylesheets", "shard", "--quiet"]) == 0
    assert main(["verify", *common, "--stylesheets", "shard", "--quiet"]) == 0
    capsys.readouterr()
    # Told the default, it expects the stylesheets on the origin, and finds them moved.
    assert main(["verify", *common]) == 1
    assert "css/site.css stays on the origin (stylesheets: origin)" in capsys.readouterr().out


def test_a_pin_on_a_stylesheet_says_it_stays_on_the_origin(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    root = styled_site(tmp_path / "site")
    settings = make_settings(stylesheets="origin", pin={"css/*": HOSTS[1]})
    result = shard_site(root, settings)
    assert not STYLESHEETS & shard_urls(root)
    assert (
        f"pin css/*={HOSTS[1]} matches 3 file(s) kept on the origin (stylesheets: origin), "
        "such as css/PRINT.CSS: they stay there; set stylesheets: shard to pin them"
    ) in result.notes
    again = styled_site(tmp_path / "again")
    manifest = tmp_path / "again.json"
    pinned = make_settings(stylesheets="shard", pin={"css/*": HOSTS[1]}, manifest=str(manifest))
    moved = shard_site(again, pinned)
    assert not [n for n in moved.notes if n.startswith("pin ")]
    assets = json.loads(manifest.read_text())["assets"]
    assert {assets[key] for key in STYLESHEETS} == {HOSTS[1]}
