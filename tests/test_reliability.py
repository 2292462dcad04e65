"""Reliability: hostile input, hostile paths, locked mode, locks, host changes, verify."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets import shard_site
from shard_assets.cli import main
from shard_assets.config import Settings
from shard_assets.errors import LockedError, LockHeldError, ManifestError, VerifyError
from shard_assets.verify import verify_site

from .conftest import HOSTS, make_site, png, snapshot

MakeSettings = Callable[..., Settings]

HOSTILE_HTML: dict[str, bytes] = {
    "unclosed-tag": b'<img src="img/a.png" alt="x"\n<p>text',
    "unclosed-quote": b'<img src="img/a.png>\n<p>text</p>',
    "lt-in-attribute": b'<img alt="a < b" src="img/a.png">',
    "nul-bytes": b'<img src="img/a.png">\x00\x00<p>x</p>',
    "binary": bytes(range(256)) * 40,
    "invalid-utf8": b'<p>\xff\xfe\xc3(</p><img src="img/a.png"><p>\xed\xa0\x80</p>',
    "utf16-bom": '\ufeff<img src="img/a.png">'.encode("utf-16-le"),
    "crlf": b'<p>a</p>\r\n<img src="img/a.png">\r\n',
    "deep-nesting": b"<div>" * 100_000 + b'<img src="img/a.png">' + b"</div>" * 100_000,
    "only-lt": b"<" * 100_000,
    "unterminated-comment": b'<!-- <img src="img/a.png">',
    "unterminated-script": b'<script>var a = "<img src=img/a.png>";',
    # Thousands of tags whose quotes never close and no '>' anywhere: no quadratic rescans.
    "unclosed-quotes-everywhere": b'<img src="img/a.png" style="x' * 20_000,
    "no-closing-angle": b"<img src=img/a.png " * 50_000,
}
REWRITTEN = {"crlf", "deep-nesting", "invalid-utf8", "lt-in-attribute", "unclosed-tag", "utf16-bom"}
HOSTILE_CSS: dict[str, bytes] = {
    "unterminated-string": b'a { background: url("../img/a.png) }\n'
    b"b { background: url(../img/a.png) }",
    "unterminated-comment": b"/* a { background: url(../img/a.png) }",
    "unterminated-url": b"a { background: url(../img/a.png",
    "nested-parens": b"a { background: image-set(" + b"(" * 10_000 + b'"../img/a.png"',
}


def _site_with(tmp_path: Path, name: str, data: bytes) -> Path:
    root = tmp_path / "site"
    (root / "img").mkdir(parents=True)
    (root / "css").mkdir()
    (root / "img" / "a.png").write_bytes(png())
    (root / name).write_bytes(data)
    return root


@pytest.mark.parametrize("name", sorted(HOSTILE_HTML))
def test_hostile_html_never_crashes_and_changes_only_urls(
    tmp_path: Path, make_settings: MakeSettings, name: str
) -> None:
    data = HOSTILE_HTML[name]
    site = _site_with(tmp_path, "page.html", data)
    result = shard_site(site, make_settings())
    after = (site / "page.html").read_bytes()
    assets = result.assignment.hosts_by_asset
    if after != data:
        host = assets["img/a.png"]
        encoding = "utf-16" if name == "utf16-bom" else "latin-1"
        sharded = f"https://{host}/img/a.png".encode(encoding).removeprefix(b"\xff\xfe")
        assert (
            after.replace(sharded, "img/a.png".encode(encoding)[2 if name == "utf16-bom" else 0 :])
            == data
        )
    # Where a browser would load the image, it is sharded; elsewhere nothing changes.
    assert (after != data) == (name in REWRITTEN)
    # A second run changes nothing.
    shard_site(site, make_settings())
    assert (site / "page.html").read_bytes() == after


def test_binary_and_nul_files_are_left_alone_with_a_warning(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    site = _site_with(tmp_path, "page.html", HOSTILE_HTML["binary"])
    result = shard_site(site, make_settings())
    assert result.undecodable == ("page.html",)
    assert (site / "page.html").read_bytes() == HOSTILE_HTML["binary"]


@pytest.mark.parametrize("name", sorted(HOSTILE_CSS))
def test_hostile_css_never_crashes(tmp_path: Path, make_settings: MakeSettings, name: str) -> None:
    site = _site_with(tmp_path, "css/site.css", HOSTILE_CSS[name])
    result = shard_site(site, make_settings())
    after = (site / "css" / "site.css").read_bytes()
    host = result.assignment.hosts_by_asset.get("img/a.png")
    restored = (
        after.replace(f"https://{host}/img/a.png".encode(), b"../img/a.png") if host else after
    )
    assert restored == HOSTILE_CSS[name]


def test_large_page(tmp_path: Path, make_settings: MakeSettings) -> None:
    text = (
        b'<p class="t">Some text with <a href="/x.html">a link</a> and <em>markup</em>.</p>\n' * 100
    )
    block = text + b'<img src="img/a.png" alt="">\n'
    data = block * (50 * 1024 * 1024 // len(block))  # 50 MB, an image every 8 KB
    site = _site_with(tmp_path, "big.html", data)
    result = shard_site(site, make_settings())
    host = result.assignment.hosts_by_asset["img/a.png"]
    assert result.references == data.count(b"img/a.png")
    assert (site / "big.html").read_bytes() == data.replace(
        b'"img/a.png"', f'"https://{host}/img/a.png"'.encode()
    )


@pytest.mark.parametrize(
    "url",
    [
        "../../etc/passwd",
        "/../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2fetc/passwd",
        "..\\..\\etc\\passwd",
        "img/../../outside.png",
        "file:///etc/passwd",
    ],
)
def test_references_never_escape_the_output(
    tmp_path: Path, make_settings: MakeSettings, url: str
) -> None:
    (tmp_path / "outside.png").write_bytes(png())
    site = _site_with(tmp_path, "index.html", f'<img src="{url}"><img src="img/a.png">'.encode())
    result = shard_site(site, make_settings())
    assert set(result.assignment.hosts_by_asset) == {"img/a.png"}
    assert f'<img src="{url}">'.encode() in (site / "index.html").read_bytes()


def test_symlinks_out_of_the_output_are_never_written(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "page.html").write_bytes(b'<img src="/img/a.png">')
    (outside / "sub").mkdir()
    (outside / "sub" / "inner.html").write_bytes(b'<img src="/img/a.png">')
    site = _site_with(tmp_path, "index.html", b'<img src="/img/a.png">')
    (site / "linked.html").symlink_to(outside / "page.html")
    (site / "linked-folder").symlink_to(outside / "sub", target_is_directory=True)
    shard_site(site, make_settings())
    assert (outside / "page.html").read_bytes() == b'<img src="/img/a.png">'
    assert (outside / "sub" / "inner.html").read_bytes() == b'<img src="/img/a.png">'
    assert b"https://cdn" in (site / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("file_name", "written"),
    [
        ("my photo.png", "my%20photo.png"),
        ("my photo.png", "my photo.png"),
        ("café.png", "caf%C3%A9.png"),
        ("café.png", "café.png"),
        ('it\'s "q".png', "it's &quot;q&quot;.png"),
        ("a#b.png", "a%23b.png"),
        ("a?b.png", "a%3Fb.png"),
    ],
)
def test_awkward_file_names(
    tmp_path: Path, make_settings: MakeSettings, file_name: str, written: str
) -> None:
    site = _site_with(tmp_path, "index.html", f'<img src="img/{written}">'.encode())
    (site / "img" / file_name).write_bytes(png())
    result = shard_site(site, make_settings())
    host = result.assignment.hosts_by_asset[f"img/{file_name}"]
    assert (
        site / "index.html"
    ).read_bytes() == f'<img src="https://{host}/img/{written}">'.encode()


def test_locked_mode(site: Path, make_settings: MakeSettings) -> None:
    before = snapshot(site)
    with pytest.raises(LockedError, match="does not exist yet"):
        shard_site(site, make_settings(locked=True))
    assert snapshot(site) == before
    shard_site(site, make_settings())
    sharded = snapshot(site)
    shard_site(site, make_settings(locked=True))  # nothing would change: passes
    (site / "img" / "new.png").write_bytes(png())
    page = site / "index.html"
    page.write_text(page.read_text().replace("</body>", '<img src="img/new.png"></body>'))
    sharded["index.html"] = page.read_bytes()
    sharded["img/new.png"] = png()
    manifest = (site.parent / "shard-manifest.json").read_bytes()
    with pytest.raises(LockedError) as error:
        shard_site(site, make_settings(locked=True, hosts=[*HOSTS, "cdn5.example.com"]))
    message = str(error.value)
    assert "new asset: img/new.png" in message
    assert "host added: cdn5.example.com" in message
    assert "moved: " in message
    assert snapshot(site) == sharded
    assert (site.parent / "shard-manifest.json").read_bytes() == manifest


def test_a_held_lock_stops_a_second_build(site: Path, make_settings: MakeSettings) -> None:
    settings = make_settings()
    lock = settings.manifest.with_name(".shard-manifest.json.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    before = snapshot(site)
    try:
        with pytest.raises(LockHeldError, match="another shard-assets build"):
            shard_site(site, settings)
    finally:
        os.close(fd)
    assert snapshot(site) == before
    shard_site(site, settings)
    assert not lock.exists()


def test_unconfigured_host_assets_are_reassigned_and_reported(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    shard_site(site, settings)
    data = json.loads(settings.manifest.read_text())
    victims = sorted(a for a, h in data["assets"].items() if h == HOSTS[0])
    data["assets"].update(dict.fromkeys(victims, "gone.example.com"))
    settings.manifest.write_text(json.dumps(data))
    result = shard_site(site, settings)
    assert sorted(m.asset for m in result.assignment.moves) == victims
    assert {m.reason for m in result.assignment.moves} == {"its host was removed"}


def test_plan_shows_moves_and_writes_nothing(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = str(site.parent / "m.json")
    hosts = [arg for h in HOSTS for arg in ("--host", h)]
    assert main(["build", str(site), "--manifest", manifest, "--quiet", *hosts]) == 0
    before = snapshot(site)
    saved = Path(manifest).read_bytes()
    assert main(["plan", str(site), "--manifest", manifest, "--add-host", "cdn5.example.com"]) == 0
    out = capsys.readouterr().out
    assert "would move" in out and "cdn5.example.com" in out and "nothing was written" in out
    assert main(["plan", str(site), "--manifest", manifest, "--remove-host", HOSTS[1]]) == 0
    out = capsys.readouterr().out
    assert f"{HOSTS[1]} -> " in out and "its host was removed" in out
    assert snapshot(site) == before and Path(manifest).read_bytes() == saved
    assert (
        main(["plan", str(site), "--manifest", manifest, "--remove-host", "nope.example.com"]) == 2
    )


def test_rebalance_moves_the_fewest_assets(
    site: Path, make_settings: MakeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    shard_site(site, settings)
    data = json.loads(settings.manifest.read_text())
    keys = sorted(data["assets"])
    data["assets"].update(dict.fromkeys(keys[:20], HOSTS[0]))  # 20+ on one host: over its cap
    settings.manifest.write_text(json.dumps(data))
    before = {k: v for k, v in data["assets"].items()}
    loads = {h: list(before.values()).count(h) for h in HOSTS}
    cap = 12  # ceil(1.1 * 43 / 4)
    # As make_settings built it: the stylesheets and scripts sharded too.
    hosts = [arg for h in HOSTS for arg in ("--host", h)] + ["--stylesheets", "shard"]
    assert (
        main(["rebalance", str(site), "--manifest", str(settings.manifest), "--dry-run", *hosts])
        == 0
    )
    assert json.loads(settings.manifest.read_text())["assets"] == before
    assert main(["rebalance", str(site), "--manifest", str(settings.manifest), *hosts]) == 0
    after = json.loads(settings.manifest.read_text())["assets"]
    moved = [k for k in before if before[k] != after[k]]
    assert len(moved) == sum(max(0, n - cap) for n in loads.values())
    assert all(before[k] == HOSTS[0] for k in moved)
    assert "rebalance:" in capsys.readouterr().out


def test_verify_passes_a_sharded_site_and_catches_mistakes(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    unsharded = verify_site(site, settings)
    assert any("is not sharded" in f.message for f in unsharded)
    assert any("does not exist" in f.message for f in unsharded)
    shard_site(site, settings)
    assert verify_site(site, settings) == []
    page = site / "blog" / "post-1.html"
    text = page.read_text()
    assets = json.loads(settings.manifest.read_text())["assets"]
    wrong = next(h for h in HOSTS if h != assets["img/photo-001.png"])
    text = text.replace(
        f"https://{assets['img/photo-001.png']}/img/photo-001.png",
        f"https://{wrong}/img/photo-001.png",
    )
    text = text.replace(
        f"https://{assets['img/photo-002.png']}/img/photo-002.png",
        "https://evil.example.net/img/photo-002.png",
    )
    text = text.replace(
        f"https://{assets['img/photo-003.png']}/img/photo-003.png", "../img/photo-003.png"
    )
    text = text.replace(
        f"https://{assets['img/photo-004.png']}/img/photo-004.png",
        f"https://{assets['img/photo-004.png']}/img/nope.png",
    )
    page.write_text(text)
    messages = [str(f) for f in verify_site(site, settings)]
    assert any(
        f"the manifest puts img/photo-001.png on {assets['img/photo-001.png']}" in m
        for m in messages
    )
    assert any("img/photo-003.png is not sharded" in m for m in messages)
    assert any("img/nope.png is not in the output" in m for m in messages)
    assert all(m.startswith("blog/post-1.html:") for m in messages)


def test_verify_setting_fails_the_build(tmp_path: Path, make_settings: MakeSettings) -> None:
    site = make_site(tmp_path / "fresh")
    shard_site(site, make_settings(verify=True))
    page = site / "index.html"
    page.write_text(page.read_text() + '<img src="https://cdn1.example.com/img/nope.png">')
    with pytest.raises(VerifyError, match=r"index.html:\d+: .*img/nope.png is not in the output"):
        shard_site(site, make_settings(verify=True))


def test_verify_command_exit_codes(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = str(site.parent / "m.json")
    hosts = [arg for h in HOSTS for arg in ("--host", h)]
    assert main(["verify", str(site), "--manifest", manifest, *hosts]) == 1
    assert "is not sharded" in capsys.readouterr().out
    assert main(["build", str(site), "--manifest", manifest, "--quiet", *hosts]) == 0
    assert main(["verify", str(site), "--manifest", manifest, *hosts]) == 0


def test_manifest_in_a_missing_folder_stops_before_any_write(
    site: Path, make_settings: MakeSettings
) -> None:
    before = snapshot(site)
    with pytest.raises(ManifestError, match="does not exist; create it"):
        shard_site(site, make_settings(manifest=str(site.parent / "nope" / "m.json")))
    assert snapshot(site) == before


def test_manifest_in_an_unwritable_folder_stops_before_any_write(
    site: Path, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite may run as root, for whom chmod does not deny writes: ask os.access.
    settings = make_settings()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: False if Path(p) == settings.manifest.parent else real_access(p, mode),
    )
    before = snapshot(site)
    with pytest.raises(ManifestError, match="cannot write the manifest there"):
        shard_site(site, settings)
    assert snapshot(site) == before


def test_truncated_manifest_is_an_error_with_line_and_column(
    site: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    shard_site(site, settings)
    data = settings.manifest.read_bytes()
    settings.manifest.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ManifestError, match=r"shard-manifest\.json:\d+:\d+: the manifest is not valid JSON"
    ):
        shard_site(site, settings)
    assert settings.manifest.read_bytes() == data[: len(data) // 2]
