"""Whole builds of a generated output folder through the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets import BalanceError, ManifestError, MissingAssetError, shard_site
from shard_assets.config import Settings
from shard_assets.verify import verify_site

from ..conftest import HOSTS, ROOT, png, snapshot

MakeSettings = Callable[..., Settings]


def test_rewrites_every_reference_and_writes_the_manifest(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    result = shard_site(site, settings)
    manifest = json.loads(settings.manifest.read_text())
    assert manifest["version"] == 1
    assert manifest["algorithm"] == "ring"
    assert sorted(manifest["hosts"]) == HOSTS
    assert len(manifest["assets"]) == 40 + 3  # images, two stylesheets, one script
    assert result.references == 3 * (40 + 2) + 2  # per page: images, css, js; css: @import, url()
    page = (site / "blog" / "post-1.html").read_text()
    for asset, host in manifest["assets"].items():
        if asset.startswith("img/"):
            assert f'src="https://{host}/{asset}"' in page
    assert f'href="https://{manifest["assets"]["css/site.css"]}/css/site.css"' in page
    assert '<a href="../index.html">' in page, "navigation links are not assets"
    css = (site / "css" / "site.css").read_text()
    assert f'@import "https://{manifest["assets"]["css/base.css"]}/css/base.css";' in css


def test_only_url_bytes_change(site: Path, make_settings: MakeSettings) -> None:
    before = snapshot(site)
    shard_site(site, make_settings())
    after = snapshot(site)
    assert before.keys() == after.keys()
    for name, data in before.items():
        if not name.endswith((".html", ".css")):
            assert after[name] == data
    # Undo the rewrite by hand: what remains must be the original bytes.
    manifest = json.loads((site.parent / "shard-manifest.json").read_text())
    page = after["blog/post-1.html"].decode()
    for asset, host in manifest["assets"].items():
        page = page.replace(
            f"https://{host}/{asset}",
            f"../{asset}" if asset.startswith(("css/", "js/")) else f"/{asset}",
        )
    assert page.encode() == before["blog/post-1.html"]


def test_second_run_changes_nothing(site: Path, make_settings: MakeSettings) -> None:
    settings = make_settings()
    shard_site(site, settings)
    once = snapshot(site)
    manifest = settings.manifest.read_bytes()
    result = shard_site(site, settings)
    assert snapshot(site) == once
    assert settings.manifest.read_bytes() == manifest
    assert result.references == 0
    assert not result.manifest_changed


def test_rebuild_from_clean_output_is_byte_identical(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    from ..conftest import make_site

    settings = make_settings()
    shard_site(make_site(tmp_path / "one"), settings)
    manifest = settings.manifest.read_bytes()
    shard_site(make_site(tmp_path / "two"), settings)
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert settings.manifest.read_bytes() == manifest


def test_output_is_the_same_under_any_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "1", "12345"):
        folder = tmp_path / seed
        script = (
            "import sys; from pathlib import Path; from tests.conftest import make_site; "
            "from shard_assets.cli import main; "
            f"make_site(Path({str(folder / 'site')!r})); "
            f"sys.exit(main(['build', {str(folder / 'site')!r}, '--quiet', '--manifest', "
            f"{str(folder / 'm.json')!r}] + [a for h in {HOSTS!r} for a in ('--host', h)]))"
        )
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
        outputs.append((snapshot(folder / "site"), (folder / "m.json").read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]


def test_adding_a_fifth_host_moves_about_a_fifth_all_to_it(
    site: Path, make_settings: MakeSettings
) -> None:
    shard_site(site, make_settings())
    first = json.loads((site.parent / "shard-manifest.json").read_text())["assets"]
    result = shard_site(site, make_settings(hosts=[*HOSTS, "cdn5.example.com"]))
    second = json.loads((site.parent / "shard-manifest.json").read_text())["assets"]
    moved = {a for a in first if first[a] != second[a]}
    assert {second[a] for a in moved} == {"cdn5.example.com"}
    assert 0.1 <= len(moved) / len(first) <= 0.3
    assert len(result.assignment.moves) == len(moved)
    page = (site / "index.html").read_text()
    for asset in moved:
        assert f"https://cdn5.example.com/{asset}" in page


def test_removing_a_host_reassigns_only_its_assets(site: Path, make_settings: MakeSettings) -> None:
    shard_site(site, make_settings())
    first = json.loads((site.parent / "shard-manifest.json").read_text())["assets"]
    shard_site(site, make_settings(hosts=HOSTS[:3]))
    second = json.loads((site.parent / "shard-manifest.json").read_text())["assets"]
    for asset, host in first.items():
        if host != HOSTS[3]:
            assert second[asset] == host
        else:
            assert second[asset] in HOSTS[:3]


def test_gate_fails_on_a_lopsided_manifest_and_touches_nothing(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    shard_site(site, settings)
    data = json.loads(settings.manifest.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[0])
    settings.manifest.write_text(json.dumps(data, indent=2) + "\n")
    manifest = settings.manifest.read_bytes()
    # Start from an unsharded output so a rewrite would show.
    for page in site.rglob("*.html"):
        page.write_text(page.read_text().replace("https://", "//old-"))
    before = snapshot(site)
    with pytest.raises(BalanceError) as failure:
        shard_site(site, settings)
    message = str(failure.value)
    assert "cdn1.example.com" in message and "over cap by" in message
    assert "max_imbalance" in message and "shard-assets rebalance" in message
    with pytest.raises(BalanceError, match="set bounded to true"):
        shard_site(site, make_settings(bounded=False))
    assert settings.manifest.read_bytes() == manifest
    assert snapshot(site) == before


def test_missing_files_warn_or_fail_when_strict(site: Path, make_settings: MakeSettings) -> None:
    page = site / "index.html"
    page.write_text(page.read_text().replace("</body>", '<img src="img/gone.png">\n</body>'))
    result = shard_site(site, make_settings())
    assert [str(m) for m in result.missing] == ["index.html:47: img/gone.png is not in the output"]
    page.write_text(page.read_text().replace("</body>", '<img src="img/gone2.png">\n</body>'))
    before = snapshot(site)
    with pytest.raises(MissingAssetError, match=r"img/gone2\.png"):
        shard_site(site, make_settings(strict=True))
    assert snapshot(site) == before


def test_template_markup_names_no_missing_file(site: Path, make_settings: MakeSettings) -> None:
    """A theme's Jinja template copied unrendered into the output (as Sphinx copies
    pydata-sphinx-theme's webpack-macros.html) neither warns nor fails a strict build."""
    template = site / "_static" / "macros.html"
    template.parent.mkdir()
    template.write_text(
        "{% macro head() %}\n"
        '<link href="{{ pathto(\'_static/theme.css\', 1) }}?digest=75c7" rel="stylesheet" />\n'
        '<img src="img/{% if dark %}night{% endif %}.png">\n'
        "{% endmacro %}\n"
    )
    before = template.read_bytes()
    result = shard_site(site, make_settings(strict=True))
    assert result.missing == ()
    assert template.read_bytes() == before


def test_exclude_keeps_matching_assets_on_the_origin(
    site: Path, make_settings: MakeSettings
) -> None:
    shard_site(site, make_settings(exclude=["js/*", "img/photo-00?.png"]))
    assets = json.loads((site.parent / "shard-manifest.json").read_text())["assets"]
    assert "js/app.js" not in assets and "img/photo-001.png" not in assets
    assert "img/photo-010.png" in assets
    assert 'src="js/app.js"' in (site / "index.html").read_text()


def _stylesheet_site(root: Path, css: str) -> Path:
    """A page that links ``css/site.css`` (``css``), with a font, two images and a
    print stylesheet beside it."""
    for name in ("fonts/body.woff2", "img/bg.png", "img/keep.png", "css/print.css"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    (root / "css" / "site.css").write_text(css)
    (root / "index.html").write_text('<link rel="stylesheet" href="css/site.css">')
    return root


SHARDED_CSS = (
    '@import "print.css";\n'
    "@font-face { src: url(../fonts/body.woff2?v=2) }\n"
    "body { background: url(/img/keep.png), url(../img/bg.png) }\n"
)
KEPT = ["fonts/*", "img/keep.png", "css/print.css"]


def test_exclude_in_a_sharded_stylesheet_names_the_origin(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    # A relative URL resolves against the stylesheet's own URL: once the stylesheet is
    # on a shard host, an excluded file must be named by its absolute origin URL.
    root = _stylesheet_site(tmp_path / "out", SHARDED_CSS)
    settings = make_settings(exclude=KEPT, site_url="https://example.org/")
    result = shard_site(root, settings)
    assets = json.loads(settings.manifest.read_text())["assets"]
    assert sorted(assets) == ["css/site.css", "img/bg.png"]
    assert (root / "css" / "site.css").read_text() == (
        '@import "https://example.org/css/print.css";\n'
        "@font-face { src: url(https://example.org/fonts/body.woff2?v=2) }\n"
        f"body {{ background: url(https://example.org/img/keep.png), "
        f"url(https://{assets['img/bg.png']}/img/bg.png) }}\n"
    )
    assert result.warnings == ()
    assert verify_site(root, settings) == []
    before = snapshot(root)
    assert shard_site(root, settings).references == 0
    assert snapshot(root) == before, "a second run changes nothing"


def test_exclude_in_a_sharded_stylesheet_without_site_url_warns(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    root = _stylesheet_site(tmp_path / "out", SHARDED_CSS)
    settings = make_settings(exclude=KEPT)
    result = shard_site(root, settings)
    host = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]["css/site.css"]
    assert "url(../fonts/body.woff2?v=2)" in (root / "css" / "site.css").read_text()
    assert result.warnings == tuple(
        f"css/site.css:{line}: {url} names {key}, which stays on the origin, but "
        f"css/site.css is on {host}, so the browser fetches {key} from {host}: set site_url "
        "(the site's public address) so the build writes its absolute URL on the origin"
        for line, url, key in [
            (1, "print.css", "css/print.css"),
            (2, "../fonts/body.woff2?v=2", "fonts/body.woff2"),
            (3, "/img/keep.png", "img/keep.png"),
        ]
    )
    # verify resolves the stylesheet's URLs against its shard host, as the browser does.
    assert [(f.line, f.message.split(":")[0]) for f in verify_site(root, settings)] == [
        (1, "print.css"),
        (2, "../fonts/body.woff2?v=2"),
        (3, "/img/keep.png"),
    ]
    assert all(
        f"resolves to {host}, the host of css/site.css" in f.message and "set site_url" in f.message
        for f in verify_site(root, settings)
    )


@pytest.mark.parametrize("site_url", [None, "https://example.org/"])
def test_cors_origin_font_in_a_sharded_stylesheet(
    tmp_path: Path, make_settings: MakeSettings, site_url: str | None
) -> None:
    root = _stylesheet_site(tmp_path / "out", "@font-face { src: url(../fonts/body.woff2) }\n")
    settings = make_settings(cors_assets="origin", site_url=site_url)
    result = shard_site(root, settings)
    css = (root / "css" / "site.css").read_text()
    findings = [str(f) for f in verify_site(root, settings)]
    if site_url:
        assert css == "@font-face { src: url(https://example.org/fonts/body.woff2) }\n"
        assert result.warnings == () and findings == []
    else:
        assert css == "@font-face { src: url(../fonts/body.woff2) }\n"
        assert len(result.warnings) == 1 and "set site_url" in result.warnings[0]
        assert len(findings) == 1 and "kept there by cors_assets: origin" in findings[0]


def test_excluded_stylesheet_keeps_its_relative_urls(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    root = _stylesheet_site(tmp_path / "out", SHARDED_CSS)
    result = shard_site(root, make_settings(exclude=[*KEPT, "css/site.css"]))
    css = (root / "css" / "site.css").read_text()
    assert css.startswith('@import "print.css";\n@font-face { src: url(../fonts/body.woff2?v=2) }')
    assert result.warnings == ()


def test_site_url_prefix_and_scheme(tmp_path: Path, make_settings: MakeSettings) -> None:
    root = tmp_path / "out"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(b"png")
    (root / "index.html").write_text(
        '<img src="/docs/img/a.png"><img src="/img/a.png"><img src="https://example.org/docs/img/a.png">'
    )
    shard_site(root, make_settings(site_url="https://example.org/docs/", scheme="relative"))
    html = (root / "index.html").read_text()
    host = json.loads((tmp_path / "shard-manifest.json").read_text())["assets"]["img/a.png"]
    sharded = f"//{host}/docs/img/a.png"
    assert html == f'<img src="{sharded}"><img src="/img/a.png"><img src="{sharded}">'


def test_bad_manifest_is_an_error_and_left_alone(site: Path, make_settings: MakeSettings) -> None:
    settings = make_settings()
    settings.manifest.write_text('{"version": 1, "assets": {')
    with pytest.raises(
        ManifestError, match=r"shard-manifest.json:1:\d+: the manifest is not valid JSON"
    ):
        shard_site(site, settings)
    assert settings.manifest.read_text() == '{"version": 1, "assets": {'
    settings.manifest.write_text('{"version": 7, "assets": {}, "hosts": {}}')
    with pytest.raises(ManifestError, match="version 7 is not supported"):
        shard_site(site, settings)


def test_manifest_entries_for_removed_files_are_dropped(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    shard_site(site, settings)
    (site / "img" / "photo-039.png").unlink()
    result = shard_site(site, settings)
    assets = json.loads(settings.manifest.read_text())["assets"]
    assert "img/photo-039.png" not in assets
    assert result.assignment.dropped == ("img/photo-039.png",)
    # The pages still point at it: a reference to a missing file, reported, not an asset.
    gone = [m for m in result.missing if m.url.endswith("/img/photo-039.png")]
    assert gone and all(m.url.startswith("https://cdn") for m in gone)


def test_balance_counts(site: Path, make_settings: MakeSettings) -> None:
    result = shard_site(site, make_settings())
    counts = Counter(result.assignment.hosts_by_asset.values())
    assert sum(counts.values()) == 43
    assert max(counts.values()) <= 12  # ceil(1.1 * 43 / 4)


def test_cross_origin_report(tmp_path: Path, make_settings: MakeSettings) -> None:
    from shard_assets.messages import summary

    root = tmp_path / "out"
    (root / "fonts").mkdir(parents=True)
    (root / "js").mkdir()
    (root / "fonts" / "a.woff2").write_bytes(b"wOF2")
    (root / "js" / "mod.js").write_text("export {};")
    (root / "js" / "sri.js").write_text("1;")
    (root / "site.css").write_text('@font-face { src: url("fonts/a.woff2") format("woff2") }')
    (root / "index.html").write_text(
        '<head><meta charset="utf-8"><link rel="stylesheet" href="site.css"></head>\n'
        '<script type="module" src="js/mod.js"></script>\n'
        '<script src="js/sri.js" integrity="sha384-x"></script>\n'
    )
    # cors_assets: shard, so that the CORS-mode assets move and the report lists them.
    result = shard_site(root, make_settings(preconnect=True, cors_assets="shard"))
    # js/sri.js gets crossorigin: from its shard host it is fetched in CORS mode too.
    assert result.cors == ("fonts/a.woff2", "js/mod.js", "js/sri.js")
    assert [(c.document, c.line, c.url) for c in result.crossorigin] == [
        ("index.html", 3, "js/sri.js")
    ]
    text = summary(result)
    assert "CORS: 3 asset(s)" in text and "Access-Control-Allow-Origin: *" in text
    assert 'SRI: added crossorigin="anonymous" to 1 element(s)' in text
    page = (root / "index.html").read_text()
    hosts = result.assignment.hosts_by_asset
    used = {hosts[key] for key in ("site.css", "js/mod.js", "js/sri.js")}
    assert page.count('rel="preconnect"') == len(used)
    again = shard_site(root, make_settings(preconnect=True, cors_assets="shard"))
    assert (root / "index.html").read_text() == page
    assert again.crossorigin == ()
    assert again.cors == result.cors


@pytest.mark.parametrize(
    ("href", "added"),
    [
        ("https://cdn1.example.com", False),
        # The one host rule: :443 is https's own port, so this link is there already
        # (it was added a second time); a bare name is a relative URL, no preconnect
        # (it was taken for one).
        ("https://CDN1.example.com:443", False),
        ("cdn1.example.com", True),
    ],
)
def test_a_preconnect_already_there_is_found_by_its_host(
    tmp_path: Path, make_settings: MakeSettings, href: str, added: bool
) -> None:
    root = tmp_path / "out"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").write_bytes(png())
    (root / "index.html").write_text(
        f'<head><meta charset="utf-8"><link rel="preconnect" href="{href}"></head>'
        '<img src="img/a.png">'
    )
    shard_site(root, make_settings(hosts=["cdn1.example.com"], preconnect=True))
    page = (root / "index.html").read_text()
    assert 'src="https://cdn1.example.com/img/a.png"' in page
    assert page.count('rel="preconnect"') == (2 if added else 1)
