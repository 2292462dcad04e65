"""Whole builds with the placement settings: algorithms, balance_by, pins, per-page spread."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets import BalanceError, shard_site
from shard_assets.config import Settings
from shard_assets.messages import summary
from shard_assets.placement.balance import balance_report

from ..conftest import HOSTS, snapshot

MakeSettings = Callable[..., Settings]


def manifest_of(settings: Settings) -> dict[str, object]:
    data: dict[str, object] = json.loads(settings.manifest.read_text())
    return data


def assets_of(settings: Settings) -> dict[str, str]:
    assets = manifest_of(settings)["assets"]
    assert isinstance(assets, dict)
    return assets


def many_assets_site(root: Path, count: int) -> Path:
    """One page showing ``count`` tiny images, spread over 50 folders."""
    for i in range(count):
        folder = root / "img" / f"{i % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"photo-{i}.png").write_bytes(b"png")
    tags = "".join(f'<img src="img/{i % 50:02d}/photo-{i}.png">\n' for i in range(count))
    (root / "index.html").write_text(f"<html><body>\n{tags}</body></html>\n")
    return root


@pytest.mark.parametrize("count", [2, 4, 8, 16])
def test_unbounded_ring_build_agrees_with_uhashring_ketama(
    tmp_path: Path, make_settings: MakeSettings, count: int
) -> None:
    uhashring = pytest.importorskip("uhashring")
    site = many_assets_site(tmp_path / "site", 2500)
    weights = {f"cdn{i}.example.com": (i % 3) + 1 for i in range(1, count + 1)}
    settings = make_settings(hosts=weights, bounded=False, max_imbalance=100)
    shard_site(site, settings)
    ring = uhashring.HashRing({n: {"weight": w} for n, w in weights.items()}, hash_fn="ketama")
    assets = assets_of(settings)
    assert len(assets) == 2500
    assert all(ring.get_node(asset) == host for asset, host in assets.items())
    ring_settings = manifest_of(settings)["ring"]
    assert isinstance(ring_settings, dict) and ring_settings["bounded_load"] is False


def test_unbounded_spread_over_the_gate_fails_with_the_way_out(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    site = many_assets_site(tmp_path / "site", 400)
    before = snapshot(site)
    with pytest.raises(BalanceError) as failure:
        shard_site(site, make_settings(bounded=False, max_imbalance=0))
    message = str(failure.value)
    assert "set bounded to true" in message
    suggested = float(message.split("raise max_imbalance to ")[1].split(" ", maxsplit=1)[0])
    assert snapshot(site) == before
    shard_site(site, make_settings(bounded=False, max_imbalance=suggested))


@pytest.mark.parametrize("algorithm", ["ring", "rendezvous", "jump"])
def test_each_algorithm_builds_within_the_caps_and_records_itself(
    site: Path, make_settings: MakeSettings, algorithm: str
) -> None:
    settings = make_settings(algorithm=algorithm)
    result = shard_site(site, settings)
    assert result.balance.ok
    manifest = manifest_of(settings)
    assert manifest["algorithm"] == algorithm
    ring = manifest["ring"]
    assert isinstance(ring, dict)
    if algorithm == "jump":
        assert ring["host_order"] == HOSTS
    assert shard_site(site, settings).references == 0  # a second run changes nothing


def test_switching_algorithm_keeps_the_manifest_and_says_so(
    site: Path, make_settings: MakeSettings
) -> None:
    shard_site(site, make_settings())
    first = assets_of(make_settings())
    result = shard_site(site, make_settings(algorithm="rendezvous"))
    assert assets_of(make_settings()) == first
    assert result.assignment.moves == ()
    assert any("written with algorithm ring" in note for note in result.notes)
    assert "note: the manifest was written with algorithm ring" in summary(result)


def test_jump_warns_when_a_middle_host_is_removed(site: Path, make_settings: MakeSettings) -> None:
    shard_site(site, make_settings(algorithm="jump"))
    at_end = shard_site(site, make_settings(algorithm="jump", hosts=HOSTS[:3]))
    assert at_end.warnings == ()
    shard_site(site, make_settings(algorithm="jump"))
    result = shard_site(site, make_settings(algorithm="jump", hosts=[HOSTS[0], *HOSTS[2:]]))
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("cdn2.example.com was removed from the middle of the host list")
    assert "% of the assets now hash to another host" in warning
    moved_from = {m.old for m in result.assignment.moves}
    assert moved_from == {"cdn2.example.com"}, "the manifest still shields the other assets"


def styled_site(root: Path) -> Path:
    """Two pages that share a stylesheet (which imports another and loads a font)."""
    for folder in ("css", "img", "fonts"):
        (root / folder).mkdir(parents=True)
    (root / "css" / "site.css").write_text(
        '@import "base.css";\nbody { background: url(../img/bg.png) }\n' + "/* pad */\n" * 50
    )
    (root / "css" / "base.css").write_text(
        '@font-face { font-family: x; src: url(../fonts/x.woff2) format("woff2") }\n'
    )
    (root / "fonts" / "x.woff2").write_bytes(b"w" * 5000)
    (root / "img" / "bg.png").write_bytes(b"p" * 300)
    (root / "img" / "only-a.png").write_bytes(b"a" * 70_000)
    (root / "img" / "shared.png").write_bytes(b"s" * 20)
    head = '<link rel="stylesheet" href="css/site.css">'
    (root / "a.html").write_text(
        f'{head}<img src="img/only-a.png"><img src="img/shared.png"><img src="img/shared.png">'
    )
    (root / "b.html").write_text(f'{head}<img src="img/shared.png">')
    return root


def test_requests_count_pages_that_load_an_asset_through_stylesheets_too(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    from shard_assets.build.measures import asset_loads
    from shard_assets.build.rewrite import Sharder, UrlRules
    from shard_assets.build.scan import collect
    from shard_assets.documents.inventory import take_inventory

    site = styled_site(tmp_path / "site")
    # cors_assets: shard, so that the font the stylesheet loads is counted too.
    settings = make_settings(balance_by="requests", cors_assets="shard")
    inventory = take_inventory(site)
    collected = collect(Sharder(UrlRules.of(settings)), site, inventory)
    assert asset_loads("requests", collected, site) == {
        "css/site.css": 2,
        "css/base.css": 2,
        "fonts/x.woff2": 2,
        "img/bg.png": 2,
        "img/only-a.png": 1,
        "img/shared.png": 2,
    }
    pages = dict(collected.pages)
    assert len(pages["a.html"]) == 6 and len(pages["b.html"]) == 5
    result = shard_site(site, settings)
    assert result.balance.total == 11
    assert result.balance.measure == "requests"
    assert "requests" in summary(result)
    ring = manifest_of(settings)["ring"]
    assert isinstance(ring, dict) and ring["balance_by"] == "requests"


def test_bytes_use_file_sizes_and_a_second_run_changes_nothing(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    site = styled_site(tmp_path / "site")
    # cors_assets: shard, so that the font's bytes are counted too.
    settings = make_settings(balance_by="bytes", hosts=HOSTS[:2], cors_assets="shard")
    first = shard_site(site, settings)
    sizes = {
        "css/base.css": len((tmp_path / "site" / "css" / "base.css").read_bytes()),
        "img/only-a.png": 70_000,
        "fonts/x.woff2": 5000,
    }
    loads = {row.host: row.load for row in first.balance.rows}
    assert sum(loads.values()) > sum(sizes.values())
    # The 70 kB image is bigger than any cap: it sits alone on its host.
    big_host = assets_of(settings)["img/only-a.png"]
    assert [a for a, h in assets_of(settings).items() if h == big_host] == ["img/only-a.png"]
    once = snapshot(site)
    manifest = settings.manifest.read_bytes()
    again = shard_site(site, settings)
    assert again.balance.total == first.balance.total, "CSS sizes are measured root-relative"
    assert again.assignment.moves == ()
    assert snapshot(site) == once and settings.manifest.read_bytes() == manifest


def test_pins_keep_groups_on_one_host_and_exclude_wins(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        pin={"img/photo-00*": "cdn2.example.com", "css/*": "cdn3.example.com"},
        exclude=["js/*"],
    )
    result = shard_site(site, settings)
    assets = assets_of(settings)
    assert {assets[f"img/photo-00{i}.png"] for i in range(10)} == {"cdn2.example.com"}
    assert assets["css/site.css"] == assets["css/base.css"] == "cdn3.example.com"
    assert "js/app.js" not in assets
    assert set(result.assignment.pinned) == {f"img/photo-00{i}.png" for i in range(10)} | {
        "css/site.css",
        "css/base.css",
    }
    counts = Counter(assets.values())
    assert max(counts.values()) <= 12  # ceil(1.1 * 42 / 4): the pins count in the balance


def test_a_pin_over_its_cap_is_a_note_not_a_failure(
    site: Path, make_settings: MakeSettings
) -> None:
    result = shard_site(site, make_settings(pin={"img/*": "cdn1.example.com"}))
    assert result.balance.ok
    assert any("cdn1.example.com's pinned assets alone exceed its cap" in n for n in result.notes)
    table = result.balance.table()
    assert "over cap by its pins (allowed)" in table


def test_per_page_spread_is_reported(site: Path, make_settings: MakeSettings) -> None:
    settings = make_settings()
    result = shard_site(site, settings)
    assets = assets_of(settings)
    spreads = {p.page: p for p in result.pages}
    assert set(spreads) == {"index.html", "blog/post-1.html", "blog/post-2.html"}
    # Each page loads 40 images, site.css, base.css (imported) and app.js.
    expected = Counter(assets.values())
    page = spreads["index.html"]
    assert page.requests == 43
    assert dict(zip(HOSTS, page.by_host, strict=True)) == {h: expected[h] for h in HOSTS}
    assert "pages: the most uneven" in summary(result)


def test_max_page_imbalance_fails_uneven_pages_and_touches_nothing(
    site: Path, make_settings: MakeSettings
) -> None:
    # Pages that load every asset are as even as the whole site; a page that loads
    # a subset gets whatever spread the hash gives it.
    tags = "".join(f'<img src="img/photo-{i:03d}.png">' for i in range(0, 40, 3))
    (site / "gallery.html").write_text(f"<html><body>{tags}</body></html>")
    before = snapshot(site)
    with pytest.raises(BalanceError) as failure:
        shard_site(site, make_settings(max_page_imbalance=0))
    message = str(failure.value)
    assert "gallery.html:" in message and "index.html" not in message
    assert "max_page_imbalance (0%)" in message
    assert snapshot(site) == before
    assert not (site.parent / "shard-manifest.json").exists()
    result = shard_site(site, make_settings(max_page_imbalance=0.5))
    assert result.balance.ok


def test_a_host_with_only_pinned_requests_of_a_page_passes_the_page_check(
    site: Path, make_settings: MakeSettings
) -> None:
    # Half of every page's images pinned to one host: 20 of 43 requests, over the
    # allowance of ceil(1.6 x 43 / 4) = 18. The pins fill cdn1 past its share, so the
    # placement puts nothing else there, and the host gate's rule spares it.
    pins = {"img/photo-00*": "cdn1.example.com", "img/photo-01*": "cdn1.example.com"}
    result = shard_site(site, make_settings(pin=pins, max_page_imbalance=0.6))
    page = next(p for p in result.pages if p.page == "index.html")
    assert page.pinned[0] == page.by_host[0] == 20
    assert page.requests == 43


def test_weighted_hosts_get_weighted_caps_for_bytes(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    site = many_assets_site(tmp_path / "site", 300)
    for i in range(0, 300, 7):
        (site / "img" / f"{i % 50:02d}" / f"photo-{i}.png").write_bytes(b"x" * 2000)
    hosts = {"cdn1.example.com": 3, "cdn2.example.com": 1}
    settings = make_settings(hosts=hosts, balance_by="bytes")
    result = shard_site(site, settings)
    rows = {row.host: row for row in result.balance.rows}
    assert rows["cdn1.example.com"].fair_share == 3 * rows["cdn2.example.com"].fair_share
    assert all(row.load <= row.cap for row in rows.values())
    sizes = {a: (site / a).stat().st_size for a in assets_of(settings)}
    balance = balance_report(
        assets_of(settings), settings.hosts, settings.max_imbalance, loads=sizes
    )
    assert balance.ok
