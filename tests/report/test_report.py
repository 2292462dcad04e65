"""``shard-assets report``: the numbers, the three formats, the plugins, and the HTML
as a browser shows it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.cli import main
from shard_assets.config import Settings
from shard_assets.errors import MissingFolderError
from shard_assets.manifest import Manifest, read_manifest
from shard_assets.messages import summary
from shard_assets.placement.ring import Host
from shard_assets.report.html import RENDERERS, render_html
from shard_assets.report.model import (
    BETWEEN_KEPT,
    DROPPED,
    HOST_REMOVED,
    MOVED_BY_TOOL,
    NEW,
    REASONS,
    REPORT_NAME,
    TO_NEW_HOST,
    Change,
    build_report,
    diff_manifests,
)
from shard_assets.report.text import render_json, render_text

from ..conftest import HOSTS, ROOT, SAMPLE_SITE, png, snapshot

Factory = Callable[..., Settings]


def _manifest(settings: Settings) -> Manifest:
    manifest = read_manifest(settings.manifest)
    assert manifest is not None
    return manifest


def _bytes_by_host(site: Path, manifest: Manifest) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for key, host in manifest.assets.items():
        sizes[host] += (site / key).stat().st_size
    return sizes


@pytest.fixture
def built(site: Path, make_settings: Factory) -> Settings:
    """The generated site, sharded over HOSTS; its settings."""
    settings = make_settings()
    shard_site(site, settings)
    return settings


def test_json_has_the_manifests_numbers(site: Path, built: Settings) -> None:
    manifest = _manifest(built)
    data = json.loads(render_json(build_report(site, built.manifest)))
    counts = Counter(manifest.assets.values())
    sizes = _bytes_by_host(site, manifest)
    assert [h["host"] for h in data["hosts"]] == HOSTS
    assert {h["host"]: h["assets"] for h in data["hosts"]} == dict(counts)
    assert {h["host"]: h["bytes"] for h in data["hosts"]} == dict(sizes)
    assert data["total_assets"] == len(manifest.assets) == 43
    assert data["total_bytes"] == sum(sizes.values())
    assert all(h["fair_assets"] == 43 / 4 and h["cap"] == 12 for h in data["hosts"])
    assert data["gate"]["ok"] is True
    assert data["gate"]["verdict"].startswith("gate passed (max_imbalance 10%)")
    assert data["missing"] == [] and data["stale_references"] == 0
    # Each page loads the 40 images, site.css, base.css (through site.css's @import)
    # and app.js: 43 requests, split by host.
    assert [p["page"] for p in sorted(data["pages"], key=lambda p: p["page"])] == [
        "blog/post-1.html",
        "blog/post-2.html",
        "index.html",
    ]
    for page in data["pages"]:
        assert page["assets"] == sum(page["hosts"].values()) == 43
        assert page["excess"] == max(page["hosts"].values()) - 11
    assert data["changes"] is None and data["since"] is None


def test_text_is_a_table_with_the_verdict(site: Path, built: Settings) -> None:
    manifest = _manifest(built)
    text = render_text(build_report(site, built.manifest))
    lines = text.splitlines()
    assert lines[0].startswith("shard-assets report: 43 assets, ")
    assert lines[0].endswith(" over 4 hosts")
    assert lines[3].startswith("gate passed (max_imbalance 10%): every host is within its cap")
    counts = Counter(manifest.assets.values())
    for host in HOSTS:
        row = next(line for line in lines if line.strip().startswith(host))
        assert row.split()[1] == str(counts[host])
        assert row.split()[3:5] == ["10.8", "12"]
    assert "least evenly spread pages (3 of 3, least even first):" in lines
    header = next(line for line in lines if line.strip().startswith("page "))
    assert header.split()[:6] == ["page", "assets", "cdn1", "cdn2", "cdn3", "cdn4"]
    assert "changes since" not in text


def test_changes_since_an_earlier_manifest(
    site: Path, built: Settings, make_settings: Factory, tmp_path: Path
) -> None:
    old_path = tmp_path / "old.json"
    shutil.copy(built.manifest, old_path)
    old = _manifest(built)
    # Add a host, drop an image from every page and show a new one.
    (site / "img" / "new.png").write_bytes(png())
    for page in site.rglob("*.html"):
        text = page.read_text().replace("/img/photo-039.png", "/img/new.png")
        page.write_text(text)
    five = make_settings(hosts=[*HOSTS, "cdn5.example.com"])
    result = shard_site(site, five)

    report = build_report(site, five.manifest, since=old, since_path=str(old_path))
    counts = report.change_counts()
    assert counts == {
        NEW: 1,
        DROPPED: 1,
        HOST_REMOVED: 0,
        TO_NEW_HOST: len(result.assignment.moves),
        MOVED_BY_TOOL: 0,
        BETWEEN_KEPT: 0,
    }
    assert counts[TO_NEW_HOST] > 0
    new_host = _manifest(five).assets["img/new.png"]
    assert Change("img/new.png", None, new_host, NEW) in (report.changes or ())
    assert Change("img/photo-039.png", old.assets["img/photo-039.png"], None, DROPPED) in (
        report.changes or ()
    )
    text = render_text(report)
    assert f"changes since {old_path}: 1 new, 1 dropped, {counts[TO_NEW_HOST]} to a new host" in (
        text
    )

    # Remove a host: its assets, and only those, move, for that reason.
    before = _manifest(five)
    removed = "cdn2.example.com"
    four = make_settings(hosts=[h for h in [*HOSTS, "cdn5.example.com"] if h != removed])
    shard_site(site, four)
    report = build_report(site, four.manifest, since=before, since_path="before")
    assert {c.reason for c in report.changes or ()} == {HOST_REMOVED}
    assert {c.asset for c in report.changes or ()} == {
        a for a, h in before.assets.items() if h == removed
    }


def test_diff_names_every_reason() -> None:
    a, b, c, d = (Host(f"{n}.example.com", Fraction(1)) for n in "abcd")
    old = Manifest(
        {"kept": a.name, "gone": a.name, "orphan": b.name, "to-c": a.name, "hand": a.name},
        (a, b, d),
        Fraction(1, 10),
    )
    new = Manifest(  # b removed, c added
        {"kept": a.name, "fresh": c.name, "orphan": a.name, "to-c": c.name, "hand": d.name},
        (a, c, d),
        Fraction(1, 10),
    )
    assert diff_manifests(old, new) == (
        Change("fresh", None, c.name, NEW),
        Change("gone", a.name, None, DROPPED),
        Change("hand", a.name, d.name, BETWEEN_KEPT),
        Change("orphan", b.name, a.name, HOST_REMOVED),
        Change("to-c", a.name, c.name, TO_NEW_HOST),
    )
    assert list(REASONS) == [NEW, DROPPED, HOST_REMOVED, TO_NEW_HOST, MOVED_BY_TOOL, BETWEEN_KEPT]


def test_failed_gate_missing_files_and_stale_pages(site: Path, built: Settings) -> None:
    data = json.loads(built.manifest.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[0])
    data["assets"]["img/not-there.png"] = HOSTS[1]
    built.manifest.write_text(json.dumps(data))
    report = build_report(site, built.manifest)
    assert not report.balance.ok
    assert report.missing == ("img/not-there.png",)
    assert report.stale > 0  # the pages still point at the hosts the build chose
    text = render_text(report)
    assert f"gate FAILED (max_imbalance 10%): over the cap: {HOSTS[0]} (+30)" in text
    assert "1 manifest asset is not in the output:" in text
    page = render_html(report)
    assert 'class="card verdict fail"' in page and "Gate failed" in page
    assert json.loads(render_json(report))["gate"]["ok"] is False


def test_the_report_compares_hosts_by_the_one_rule(site: Path, built: Settings) -> None:
    # https's own port and upper case name the manifest's host: not stale. Another
    # port is another origin: no reference to the asset at all, as in the build.
    manifest = _manifest(built)
    page = site / "index.html"
    text = page.read_text()
    for key, port in (("img/photo-001.png", ":443"), ("img/photo-002.png", ":8443")):
        host = manifest.assets[key]
        url = f"https://{host}/{key}"
        assert url in text
        text = text.replace(url, f"https://{host.upper()}{port}/{key}")
    page.write_text(text)
    report = build_report(site, built.manifest)
    assert report.stale == 0
    requests = {p.page: p.requests for p in report.pages}
    assert requests == {"index.html": 42, "blog/post-1.html": 43, "blog/post-2.html": 43}


def test_every_format_is_the_same_under_any_hash_seed(
    site: Path, make_settings: Factory, tmp_path: Path
) -> None:
    """Every format, with what moved since an earlier manifest, is byte for byte the
    same from processes with different hash seeds (in each, sets and dicts of strings
    iterate in another order)."""
    earlier = tmp_path / "earlier.json"
    shard_site(site, make_settings(hosts=HOSTS[:3], manifest=str(earlier)))
    settings = make_settings()
    shutil.copy(earlier, settings.manifest)
    shard_site(site, settings)  # the fourth host takes its share
    report = ["report", str(site), "--manifest", str(settings.manifest), "--since", str(earlier)]
    reports = []
    for seed in ("0", "1", "12345"):
        folder = tmp_path / f"seed-{seed}"
        folder.mkdir()
        commands = [
            [*report, "--format", name, "--output", str(folder / f"report.{name}")]
            for name in RENDERERS
        ]
        script = f"from shard_assets.cli import main\nfor args in {commands!r}:\n    main(args)"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
        reports.append(snapshot(folder))
    assert reports[0] == reports[1] == reports[2]
    assert len(reports[0]) == len(RENDERERS) == 3
    changes = json.loads(reports[0]["report.json"])["changes"]
    assert len({c["asset"] for c in changes if c["new"] == HOSTS[3]}) > 5


def test_html_is_self_contained(site: Path, built: Settings) -> None:
    page = render_html(build_report(site, built.manifest))
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


@pytest.mark.parametrize("pin", [{}, {"img/photo-00*.png": "cdn2.example.com"}])
def test_a_build_report_from_the_builds_spreads_is_the_one_read_from_disk(
    site: Path, make_settings: Factory, pin: dict[str, str]
) -> None:
    # The plugins' report: true passes the build's own page spreads, so the pages are
    # not read a second time; the report must be the one a reading gives.
    (site / "blog" / "extra.html").write_text(
        '<link rel="stylesheet" href="../css/site.css"><img src="../img/photo-001.png">'
    )
    settings = make_settings(pin=pin, report=True)
    result = shard_site(site, settings)
    from_build = build_report(site, settings.manifest, settings=settings, pages=result.pages)
    from_disk = build_report(site, settings.manifest, settings=settings)
    assert render_json(from_build) == render_json(from_disk)
    assert len(from_disk.pages) == 4


def _uneven_site(root: Path) -> dict[str, str]:
    """A site whose least even page depends on what counts as its requests: a.html
    puts 5 of its 8 images on cdn1; b.html names 2 images itself and loads 14 more
    through its stylesheet, 11 of its 16 requests on cdn4. Returns the hosts to put
    in the manifest."""
    (root / "img").mkdir(parents=True)
    hosts: dict[str, str] = {}
    for i in range(8):
        hosts[f"img/a{i}.png"] = HOSTS[0] if i < 5 else HOSTS[i - 4]
    hosts["img/b0.png"], hosts["img/b1.png"] = HOSTS[1], HOSTS[2]
    for i in range(14):
        hosts[f"img/c{i}.png"] = HOSTS[3] if i < 11 else HOSTS[i - 11]
    for key in hosts:
        (root / key).write_bytes(png())
    a = "".join(f'<img src="img/a{i}.png">' for i in range(8))
    (root / "a.html").write_text(f"<html><body>{a}</body></html>")
    (root / "b.html").write_text(
        '<html><head><link rel="stylesheet" href="b.css"></head>'
        '<body><img src="img/b0.png"><img src="img/b1.png"></body></html>'
    )
    rules = "".join(f".c{i} {{ background: url(img/c{i}.png) }}\n" for i in range(14))
    (root / "b.css").write_text(rules)
    return hosts


@pytest.mark.parametrize("report", [False, True])
def test_the_build_and_the_report_name_the_same_least_even_page(
    tmp_path: Path, make_settings: Factory, report: bool
) -> None:
    # The summary used to judge only unpinned requests by their ratio to the fair
    # share, and the report only each page's own references by how many a host
    # carries above an even split: here they named a.html and b.html.
    site = tmp_path / "site"
    hosts = _uneven_site(site)
    settings = make_settings(stylesheets="origin", max_imbalance=3, report=report)
    shard_site(site, settings)
    data = json.loads(settings.manifest.read_text())
    data["assets"] = hosts  # the manifest is authoritative: these hosts stay
    settings.manifest.write_text(json.dumps(data))
    result = shard_site(site, settings)
    assert result.assignment.hosts_by_asset == hosts
    named = re.search(r"pages: the most uneven, (\S+),", summary(result))
    assert named is not None
    from_disk = build_report(site, settings.manifest, settings=settings)
    assert [p.page for p in from_disk.pages] == [named[1], "a.html"]
    assert named[1] == "b.html"  # 11 of 16 requests on cdn4, against 5 of 8 on cdn1
    if report:  # the plugins' report: true takes the build's own spreads
        written = build_report(site, settings.manifest, settings=settings, pages=result.pages)
        assert render_json(written) == render_json(from_disk)


# ------------------------------------------------------------------------------ CLI


def test_cli_writes_html_beside_the_manifest(
    site: Path, built: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(site), "--manifest", str(built.manifest)]) == 0
    written = built.manifest.with_name(REPORT_NAME)
    assert capsys.readouterr().out == f"shard-assets: wrote {written}\n"
    assert written.read_text() == render_html(build_report(site, built.manifest))


@pytest.mark.parametrize(("fmt", "render"), [("text", render_text), ("json", render_json)])
def test_cli_prints_text_and_json(
    site: Path,
    built: Settings,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    render: Callable[..., str],
) -> None:
    assert main(["report", str(site), "--manifest", str(built.manifest), "--format", fmt]) == 0
    assert capsys.readouterr().out == render(build_report(site, built.manifest))


def test_cli_since_and_output(site: Path, built: Settings, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    shutil.copy(built.manifest, old)
    out = tmp_path / "r.json"
    args = ["report", str(site), "--manifest", str(built.manifest), "--since", str(old)]
    assert main([*args, "--format", "json", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["since"] == str(old) and data["changes"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manifest", "{tmp}/nope.json"], "nope.json: no such manifest; build the site first"),
        (["--since", "{tmp}/old.json"], "old.json: no such earlier manifest"),
        (["--site-url", "nope"], "not an http(s) URL"),
        (["--output", "{tmp}/no/such/folder/r.html"], "cannot write the report"),
    ],
)
def test_cli_errors_are_one_clean_line(
    site: Path,
    built: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    filled = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--manifest" not in filled:
        filled += ["--manifest", str(built.manifest)]
    assert main(["report", str(site), *filled]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shard-assets: error: ") and message in err
    assert err.count("\n") == 1


def test_cli_missing_output_folder(built: Settings, tmp_path: Path) -> None:
    assert main(["report", str(tmp_path / "nope"), "--manifest", str(built.manifest)]) == 2


def test_missing_output_folder_is_the_builds_error(built: Settings, tmp_path: Path) -> None:
    """The report says a missing output folder as a build does (one message, one class)."""
    missing = tmp_path / "nope"
    with pytest.raises(MissingFolderError) as raised:
        build_report(missing, built.manifest)
    with pytest.raises(MissingFolderError) as built_error:
        shard_site(missing, built)
    assert str(raised.value) == str(built_error.value)


# -------------------------------------------------------------------------- plugins


def test_mkdocs_plugin_writes_the_report(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    import yaml

    project = tmp_path / "docs-project"
    shutil.copytree(
        SAMPLE_SITE / "mkdocs", project, ignore=shutil.ignore_patterns("site", "*.json")
    )
    config_file = project / "mkdocs.yml"
    config = yaml.safe_load(config_file.read_text())
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "shard-assets" in plugin:
            plugin["shard-assets"]["report"] = True
    config_file.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file)]
    for build in ("first", "second"):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert f"report: {project / REPORT_NAME}" in result.stderr, build
    page = (project / REPORT_NAME).read_text()
    assert "Gate passed" in page
    assert "What moved since the previous build" in page and "Nothing moved." in page


def test_pelican_plugin_writes_the_report(tmp_path: Path) -> None:
    pytest.importorskip("pelican")
    project = tmp_path / "blog"
    shutil.copytree(
        SAMPLE_SITE / "pelican",
        project,
        ignore=shutil.ignore_patterns("output", "*.json", "__pycache__"),
    )
    manifest = project / "state" / "m.json"
    manifest.parent.mkdir()
    options = {"hosts": HOSTS, "manifest": str(manifest), "report": True}
    command = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output"]
    command += ["-e", f"SHARD_ASSETS={json.dumps(options)}"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (manifest.parent / REPORT_NAME).read_text()
    assert "Gate passed" in page and "No earlier manifest" in page


# -------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_the_html_report_in_a_browser(
    site: Path, built: Settings, make_settings: Factory, tmp_path: Path
) -> None:
    from testing.browser import launch, require_browser

    chromium = require_browser()
    from playwright.sync_api import sync_playwright

    before = _manifest(built)
    five = make_settings(hosts=[*HOSTS, "cdn5.example.com"])
    shard_site(site, five)
    manifest = _manifest(five)
    report = build_report(site, five.manifest, since=before, since_path="old.json")
    html_file = tmp_path / "report.html"
    html_file.write_text(render_html(report), encoding="utf-8")
    counts = Counter(manifest.assets.values())
    sizes = _bytes_by_host(site, manifest)
    hosts = [h.name for h in manifest.hosts]

    with sync_playwright() as playwright:
        browser = launch(playwright, "MAP * ~NOTFOUND", chromium)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text))
            page.goto(html_file.as_uri())
            bars = page.eval_on_selector_all(
                "#assets-chart rect.bar",
                "(rs) => rs.map((r) => [r.dataset.host, Number(r.dataset.value),"
                " r.getBoundingClientRect().width, r.dataset.fair])",
            )
            byte_bars = page.eval_on_selector_all(
                "#bytes-chart rect.bar", "(rs) => rs.map((r) => [r.dataset.host, r.dataset.value])"
            )
            pages = page.eval_on_selector_all(
                "#pages-chart g.page",
                "(gs) => gs.map((g) => [Number(g.dataset.assets), [...g.querySelectorAll('rect')]"
                ".reduce((n, r) => n + Number(r.dataset.value), 0)])",
            )
            chips = page.eval_on_selector_all(
                "#changes .chip", "(cs) => cs.map((c) => [c.dataset.reason, c.textContent])"
            )
            verdict = page.inner_text("#verdict")
            total = page.inner_text("#total-assets")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()

    assert requests == [html_file.as_uri()], "the report loads nothing"
    assert errors == []
    assert verdict.startswith("Gate passed")
    assert total == str(len(manifest.assets))
    assert [(host, value) for host, value, _, _ in bars] == [(h, counts[h]) for h in hosts]
    assert all(float(fair) == pytest.approx(len(manifest.assets) / 5) for *_, fair in bars)
    # Bar lengths are proportional to the numbers they show.
    scale = {round(width / value, 1) for _, value, width, _ in bars if value}
    assert max(scale) - min(scale) <= 0.2, scale
    assert [(h, int(v)) for h, v in byte_bars] == [(h, sizes[h]) for h in hosts]
    # 40 images, site.css, base.css (imported by site.css) and app.js on each page.
    assert len(pages) == 3 and all(n == shown == 43 for n, shown in pages)
    moved = {reason: text for reason, text in chips}
    assert moved[TO_NEW_HOST] == f"{report.change_counts()[TO_NEW_HOST]}to a new host"
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_moves_the_tool_makes_are_not_called_hand_edits(site: Path, make_settings: Factory) -> None:
    """A host whose weight grows takes assets from the kept hosts: shard-assets' own
    moves, labelled with their reason, both from the build (``report: true``) and, for
    ``report --since``, by replaying the assignment; only other moves are hand edits."""
    shard_site(site, make_settings())
    before = read_manifest(make_settings().manifest)
    assert before is not None
    grown = make_settings(hosts={HOSTS[0]: 3, **dict.fromkeys(HOSTS[1:], 1)})
    result = shard_site(site, grown)
    moves = result.assignment.moves
    assert moves and all(m.old in HOSTS and m.new in HOSTS for m in moves)
    from_build = build_report(site, grown.manifest, since=before, moves=moves)
    replayed = build_report(site, grown.manifest, since=before)
    for report in (from_build, replayed):
        changes = report.changes or ()
        assert len(changes) == len(moves)
        assert {c.category for c in changes} == {MOVED_BY_TOOL}
        assert all(c.reason.startswith(f"{MOVED_BY_TOOL}: ") for c in changes)
    # A move no rule of shard-assets makes is still called what it may be.
    data = json.loads(grown.manifest.read_text())
    asset = next(a for a, h in sorted(data["assets"].items()) if h == HOSTS[1])
    data["assets"][asset] = HOSTS[2]
    grown.manifest.write_text(json.dumps(data))
    edited = build_report(site, grown.manifest, since=before, moves=moves)
    assert [c.asset for c in edited.changes or () if c.category == BETWEEN_KEPT] == [asset]
