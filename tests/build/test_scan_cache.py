"""The scan cache (build/scan_cache.py): a build does not scan again a document whose
text it scanned in the build before, and what it writes is the same as without."""

from __future__ import annotations

import marshal
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shard_assets.build import scan_cache
from shard_assets.build.pipeline import shard_site
from shard_assets.build.rewrite import Sharder, UrlRules
from shard_assets.build.scan_cache import CACHE_DIR_VARIABLE, ScanCache, cache_file
from shard_assets.config import Settings
from shard_assets.documents.html import RefSpan
from tests.conftest import make_site, snapshot
from tests.generators import copy_mkdocs, hand_over, mkdocs_build

#: (document, whether it was scanned) for every call of Sharder.references.
Calls = list[str]


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """The documents :meth:`Sharder.references` scans (in this process)."""
    calls: Calls = []
    references = Sharder.references

    def counted(self: Sharder, text: str, document: str) -> list[RefSpan]:
        calls.append(document)
        return references(self, text, document)

    monkeypatch.setattr(Sharder, "references", counted)
    yield calls


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


def _build(site: Path, settings: Settings, jobs: int = 1) -> dict[str, bytes]:
    shard_site(site, settings, jobs=jobs)
    return snapshot(site) | {"manifest": settings.manifest.read_bytes()}


def _twice_without_cache(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, bytes]:
    """What two builds write with the cache off (the second over the first's output)."""
    with monkeypatch.context() as patch:
        patch.setenv(CACHE_DIR_VARIABLE, "off")
        site = make_site(tmp_path / "plain")
        _build(site, settings)
        result = _build(site, settings)
    settings.manifest.unlink()
    return result


def test_a_second_build_scans_nothing_unchanged(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    cache_dir: Path,
    scanned: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings()
    plain = _twice_without_cache(tmp_path, settings, monkeypatch)
    scanned.clear()
    site = make_site(tmp_path / "site")
    _build(site, settings)
    documents = len(scanned)
    assert documents == 5  # 3 pages, 2 stylesheets
    scanned.clear()
    # The second run reads the sharded output: the text of each rewritten document
    # is new to the cache; base.css, with no URL, is as it was.
    assert _build(site, settings) == plain
    assert scanned == ["index.html", "blog/post-1.html", "blog/post-2.html", "css/site.css"]
    scanned.clear()
    # The third reads the same text again: nothing is scanned, nothing changes.
    assert _build(site, settings) == plain
    assert scanned == []
    assert cache_file(settings.manifest) is not None
    assert cache_file(settings.manifest).parent == cache_dir  # type: ignore[union-attr]


def test_a_changed_document_is_scanned_again(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    settings = make_settings()
    site = make_site(tmp_path / "site")
    _build(site, settings)
    _build(site, settings)
    page = site / "blog" / "post-1.html"
    page.write_text(page.read_text().replace("photo 1", "photo one"))
    scanned.clear()
    _build(site, settings)
    assert scanned == ["blog/post-1.html"]


def test_the_same_text_elsewhere_is_scanned(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    """A relative URL names another file in another folder: the path is in the key."""
    settings = make_settings()
    site = make_site(tmp_path / "site")
    (site / "blog" / "img").mkdir()
    shutil.copy(site / "img" / "photo-001.png", site / "blog" / "img" / "photo-001.png")
    text = '<!DOCTYPE html><img src="img/photo-001.png">\n'
    (site / "one.html").write_text(text)
    _build(site, settings)  # the cache has one.html's text as it was before this build
    (site / "blog" / "one.html").write_text(text)
    scanned.clear()
    files = _build(site, settings)
    assert "blog/one.html" in scanned
    assert b"/blog/img/photo-001.png" in files["blog/one.html"]
    assert b"/blog/" not in files["one.html"]


def test_other_url_rules_do_not_use_the_cache(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    """Another ``site_url`` makes other URLs site-local: the entries do not apply."""
    site = make_site(tmp_path / "site")
    page = site / "index.html"
    page.write_text(page.read_text() + '<img src="https://example.org/img/photo-002.png">\n')
    first = make_settings()
    _build(site, first)
    _build(site, first)
    scanned.clear()
    files = _build(site, make_settings(site_url="https://example.org/"))
    assert len(scanned) == 5
    assert b"https://example.org/img/photo-002.png" not in files["index.html"]


def test_worker_processes_fill_the_cache(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    settings = make_settings()
    site = make_site(tmp_path / "site", pages=12)
    _build(site, settings, jobs=2)
    _build(site, settings, jobs=2)  # scanned in the workers: the calls are not seen here
    scanned.clear()
    _build(site, settings, jobs=1)
    assert scanned == []


def test_a_damaged_cache_is_an_empty_one(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    settings = make_settings()
    site = make_site(tmp_path / "site")
    _build(site, settings)
    files = _build(site, settings)
    path = cache_file(settings.manifest)
    assert path is not None
    data = path.read_bytes()
    sharder = Sharder.for_build(UrlRules.of(settings), None)
    assert ScanCache(path, sharder).found  # a sound file is read
    # A bit of an entry's key flipped: the file still reads, and the checksum says no.
    key = next(iter(ScanCache(path, sharder).found))
    at = data.index(key)
    flipped = data[:at] + bytes([key[0] ^ 1]) + data[at + 1 :]
    for damaged in (data[:-1], flipped, b"", data[:20]):
        path.write_bytes(damaged)
        assert ScanCache(path, sharder).found == {}
    scanned.clear()
    assert _build(site, settings) == files
    assert len(scanned) == 5


def test_the_cache_off_writes_none(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, "OFF")
    settings = make_settings()
    assert cache_file(settings.manifest) is None
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(ScanCache, "key", _no_digest)  # off: no document is digested
    _build(make_site(tmp_path / "site"), settings)
    assert not (tmp_path / "home").exists()


def _no_digest(self: ScanCache, text: str, document: str) -> bytes:
    raise AssertionError(f"{document} digested with the cache off")


def test_the_user_cache_folder_by_default(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    xdg = cache_file(manifest, {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert xdg is not None
    assert xdg.parent == tmp_path / "xdg" / "shard-assets"
    home = cache_file(manifest, {})
    assert home is not None
    assert home.parent == Path.home() / ".cache" / "shard-assets"
    assert cache_file(tmp_path / "other.json", {}) != home


def test_a_cache_that_cannot_be_written_fails_nothing(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(blocked))
    settings = make_settings()
    site = make_site(tmp_path / "site")
    _build(site, settings)
    assert blocked.read_text() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "not-a-folder",
        "shard-manifest.json",
        "site",
    ]


def test_the_budget_bounds_what_is_kept(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    cache_dir: Path,
    scanned: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past :data:`CACHE_BUDGET` bytes of entries a build keeps no more."""
    # A page's entry (40 images and 2 more) is 2,580 bytes, the stylesheets' 116 and 5.
    monkeypatch.setattr(scan_cache, "CACHE_BUDGET", 3000)
    settings = make_settings()
    site = make_site(tmp_path / "site")
    _build(site, settings)
    _build(site, settings)
    scanned.clear()
    _build(site, settings)
    # Within the budget: the two stylesheets (1 and 0 references) and one page.
    assert len(scanned) == 2


def test_pages_handed_over_are_found_in_the_cache(
    tmp_path: Path, make_settings: Callable[..., Settings], cache_dir: Path, scanned: Calls
) -> None:
    """A generator plugin's rebuild: the pages it hands over are not scanned again."""
    settings = make_settings()
    site = make_site(tmp_path / "site")
    pages = {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}
    shard_site(site, settings)
    for _ in range(2):
        shard_site(site, settings, handover=hand_over(site, pages, settings, jobs=1))
        files = snapshot(site)
        scanned.clear()
    shard_site(site, settings, handover=hand_over(site, pages, settings, jobs=1))
    assert scanned == []
    assert snapshot(site) == files


def test_a_mkdocs_rebuild_writes_what_it_writes_without(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MkDocs' pages come from the cache in MkDocs' process and its worker; the
    cache holds an entry for each document, and the build writes what it writes
    with the cache off."""
    project = copy_mkdocs(tmp_path / "project")
    for _ in range(3):
        assert mkdocs_build(project).returncode == 0
    cached = snapshot(project / "site")
    path = cache_file(project / "shard-manifest.json")
    assert path is not None
    entries = marshal.loads(path.read_bytes()[len(scan_cache._MAGIC) + 32 :])
    documents = [d for d in cached if d.endswith((".html", ".css"))]
    assert len(entries) == len(documents)
    shutil.rmtree(project / "site")
    (project / "shard-manifest.json").unlink()
    monkeypatch.setenv(CACHE_DIR_VARIABLE, "off")
    for _ in range(3):
        assert mkdocs_build(project).returncode == 0
    assert snapshot(project / "site") == cached


def test_keeping_stops_at_the_budget(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process that saves the cache keeps at most :data:`CACHE_BUDGET` references,
    whatever its worker processes send back (each within the budget)."""
    monkeypatch.setattr(scan_cache, "CACHE_BUDGET", 5)
    cache = ScanCache(None, Sharder.for_build(UrlRules.of(make_settings()), None))
    cache.keep(b"one", b"abc")
    cache.keep(b"two", b"abc")
    cache.keep(b"three", b"ab")
    cache.keep(b"", b"a")
    assert list(cache.kept) == [b"one", b"three"]


def test_a_worker_sends_back_within_the_budget(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process sends back the entries it made within :data:`CACHE_BUDGET`
    bytes; past it, the references alone."""
    sharder = Sharder.for_build(UrlRules.of(make_settings()), None)
    cache = ScanCache(None, sharder)
    text = '<img src="a.png"><img src="b.png">'
    entry = len(marshal.dumps(sharder.references(text, "a.html")))
    monkeypatch.setattr(scan_cache, "CACHE_BUDGET", entry * 2 - 1)
    first = cache.references(sharder, text, "a.html")
    second = cache.references(sharder, text, "b.html")
    assert first[1] and first[2] is not None
    assert second[1:] == (b"", None)
    assert second[0] == sharder.references(text, "b.html")
