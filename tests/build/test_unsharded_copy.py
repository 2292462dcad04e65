"""The unsharded twin (``unsharded_copy``): what it holds, that a failed build never
leaves it half-written, the three front ends, and Debian's nginx serving it with the
recipe of docs/deploy.md over HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build import unsharded_copy as twin
from shard_assets.build.pipeline import shard_site
from shard_assets.build.rewrite import Sharder, UrlRules
from shard_assets.build.unsharded_copy import unshard
from shard_assets.cli import main
from shard_assets.config import Settings
from shard_assets.errors import ConfigError, FaultError, LockedError

from ..conftest import HOSTS, make_site, snapshot
from ..generators import copy_mkdocs, copy_pelican, mkdocs_build, pelican_build, set_option

SITE_URL = "https://www.example.com/"


def twin_settings(
    make_settings: Callable[..., Settings], tmp_path: Path, **options: object
) -> Settings:
    return make_settings(unsharded_copy=str(tmp_path / "site-h2"), site_url=SITE_URL, **options)


def refs(sharder: Sharder, text: str, document: str) -> list[tuple[str, str]]:
    """The files a document loads, with query and fragment, in order."""
    return [(r.key, r.suffix) for r in sharder.find_refs(text, document)]


def test_twin_loads_the_same_files_from_the_origin(
    site: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    original = snapshot(site)
    settings = twin_settings(make_settings, tmp_path, preconnect=True)
    shard_site(site, settings)
    h2 = tmp_path / "site-h2"
    sharder = Sharder(UrlRules.of(settings))
    written = sorted(p.relative_to(h2).as_posix() for p in h2.rglob("*") if p.is_file())
    # Every document with a shard URL, and nothing else (css/base.css has no URL).
    assert written == ["blog/post-1.html", "blog/post-2.html", "css/site.css", "index.html"]
    for document in written:
        sharded = (site / document).read_text()
        text = (h2 / document).read_text()
        assert any(host in sharded for host in HOSTS)
        assert not any(host in text for host in HOSTS), document  # preconnects gone too
        before = original[document].decode()
        assert refs(sharder, text, document) == refs(sharder, before, document)
        # Only URLs change: the text between them is the generator's.
        assert re.sub(r'(?:href|src)="[^"]*"|url\([^)]*\)|"[^"]*\.css"', "", text) == re.sub(
            r'(?:href|src)="[^"]*"|url\([^)]*\)|"[^"]*\.css"', "", before
        )
    # Root-relative URLs come back byte for byte.
    assert '<img src="/img/photo-000.png" alt="photo 0">' in (h2 / "index.html").read_text()


def test_unshard_keeps_other_absolute_urls_and_queries(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(site_url=SITE_URL)
    page = (
        '<html><head><meta charset="utf-8"><link rel="preconnect" href="https://cdn2.example.com">'
        '<link rel="preconnect" href="https://fonts.example.net"></head><body>'
        '<img src="https://cdn2.example.com/img/a.png?v=2#x">'
        '<img src="https://www.example.com/img/b.png">'
        '<img srcset="//cdn1.example.com/img/c.png 1x, https://CDN3.example.com/img/d.png 2x">'
        '<img src="https://cdn9.example.com/img/e.png"></body></html>'
    )
    assert unshard(page, "blog/index.html", Sharder(UrlRules.of(settings))) == (
        '<html><head><meta charset="utf-8">'
        '<link rel="preconnect" href="https://fonts.example.net"></head><body>'
        '<img src="/img/a.png?v=2#x">'
        '<img src="https://www.example.com/img/b.png">'
        '<img srcset="/img/c.png 1x, /img/d.png 2x">'
        '<img src="https://cdn9.example.com/img/e.png"></body></html>'
    )


def test_stale_twin_pages_go_and_work_folders_never_stay(
    site: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = twin_settings(make_settings, tmp_path)
    shard_site(site, settings)
    h2 = tmp_path / "site-h2"
    (site / "blog" / "post-2.html").unlink()
    (tmp_path / ".site-h2.shard-assets-new-killed").mkdir()  # a killed build's
    shard_site(site, settings)
    assert not (h2 / "blog" / "post-2.html").exists()
    assert (h2 / "blog" / "post-1.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["site", "site-h2", "shard-manifest.json"]
    )


def test_a_failed_build_leaves_the_twin_as_it_was(
    site: Path,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = twin_settings(make_settings, tmp_path)
    shard_site(site, settings)
    h2 = tmp_path / "site-h2"
    before = snapshot(h2)
    # A check that fails stops the build before the twin is touched...
    (site / "img" / "new.png").write_bytes(b"png")
    (site / "new.html").write_text('<img src="img/new.png">')
    with pytest.raises(LockedError):
        shard_site(site, twin_settings(make_settings, tmp_path, locked=True))
    assert snapshot(h2) == before
    # ... and a failure while the twin is written leaves the old one whole.
    calls = 0
    real = twin.UnshardedCopy._write

    def failing(copy: twin.UnshardedCopy, document: str, data: bytes | None) -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full")
        return real(copy, document, data)

    monkeypatch.setattr(twin.UnshardedCopy, "_write", failing)
    # The machine's fault is one message (FaultError), the twin as it was.
    with pytest.raises(FaultError, match="disk full"):
        shard_site(site, settings, jobs=1)
    assert snapshot(h2) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["site", "site-h2", "shard-manifest.json"]
    )


def test_twin_is_the_same_for_any_number_of_jobs(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    twins = []
    for jobs in (1, 2):
        site = make_site(tmp_path / f"site{jobs}", images=60, pages=40)
        settings = make_settings(unsharded_copy=str(tmp_path / f"h2-{jobs}"), site_url=SITE_URL)
        shard_site(site, settings, jobs=jobs)
        (tmp_path / "shard-manifest.json").unlink()
        twins.append(snapshot(tmp_path / f"h2-{jobs}"))
    assert twins[0] == twins[1]
    assert len(twins[0]) == 41


@pytest.mark.parametrize("inside", ["site/h2", "site", "."])
def test_a_twin_in_or_around_the_output_is_refused_before_anything_is_written(
    site: Path, tmp_path: Path, make_settings: Callable[..., Settings], inside: str
) -> None:
    before = snapshot(site)
    with pytest.raises(ConfigError, match=r"unsharded_copy.*beside the output"):
        shard_site(site, make_settings(unsharded_copy=inside))
    assert snapshot(site) == before
    assert not (tmp_path / "shard-manifest.json").exists()


def test_cli_path_is_relative_to_the_current_folder(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    hosts = [a for h in HOSTS for a in ("--host", h)]
    assert main(["build", "site", *hosts, "--unsharded-copy", "out-h2", "--quiet"]) == 0
    assert (tmp_path / "out-h2" / "index.html").is_file()
    assert "cdn" not in (tmp_path / "out-h2" / "index.html").read_text()
    assert main(["build", "site", *hosts, "--unsharded-copy", "site/h2", "--quiet"]) == 2


def test_mkdocs_writes_the_twin_beside_mkdocs_yml(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    docs = copy_mkdocs(tmp_path / "docs-project")
    set_option(
        docs,
        "manifest: shard-manifest.json",
        "manifest: shard-manifest.json\n      unsharded_copy: site-h2",
    )
    result = mkdocs_build(docs)
    assert result.returncode == 0, result.stderr
    index = (docs / "site-h2" / "index.html").read_text()
    assert "cdn1.example.com" in (docs / "site" / "index.html").read_text()
    assert not any(host in index for host in HOSTS)


def test_pelican_writes_the_twin(tmp_path: Path) -> None:
    pytest.importorskip("pelican")
    blog = copy_pelican(tmp_path / "blog")
    config = blog / "pelicanconf.py"
    text = config.read_text()
    assert '"max_imbalance"' in text
    config.write_text(
        text.replace('"max_imbalance"', '"unsharded_copy": "output-h2",\n    "max_imbalance"', 1)
    )
    result = pelican_build(blog)
    assert result.returncode == 0, result.stdout + result.stderr
    pages = sorted((blog / "output-h2").rglob("*.html"))
    assert pages
    assert not any(host in p.read_text() for p in pages for host in HOSTS)
