"""The twin made from the build's own passes (issue 21) against the twin made the way
it was before: every document of the finished output read again and unsharded
(:func:`old_twin`). Byte for byte, over the golden rewriting cases, the command line
(first build, rebuild, pages kept sharded, shard URLs written by an author, hosts
changed, 1 and 2 jobs), and real MkDocs, Pelican and Sphinx builds of sample_site/
(first builds, rebuilds, an incremental Sphinx build); and a failed or given-up
build leaves the twin as it was and no work folder behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.build.rewrite import Sharder, UrlRules, apply_edits
from shard_assets.build.unsharded_copy import UnshardedCopy, unshard
from shard_assets.config import Settings, load_settings
from shard_assets.documents.inventory import is_page, is_stylesheet, take_inventory
from shard_assets.documents.text import decode_document
from shard_assets.errors import LockedError

from ..conftest import HOSTS, make_site, snapshot
from ..generators import (
    configure,
    copy_mkdocs,
    copy_pelican,
    copy_sphinx,
    hand_over,
    mkdocs_build,
    pelican_build,
    set_option,
    sphinx_build,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(GOLDEN.glob("*/*.in.*"))
#: Shard URLs an author wrote: an image and a page on shard hosts, in upper case too,
#: and a preconnect link.
AUTHORED = (
    '<link rel="preconnect" href="https://cdn3.example.com">'
    '<img src="https://CDN2.example.com/img/photo-001.png?v=1#a" alt="x">'
    '<a href="//cdn1.example.com/index.html">home</a>'
)


def old_twin(output: Path, sharder: Sharder) -> dict[str, bytes]:
    """The twin as builds wrote it before: each document of the finished output read
    again, and written unsharded when it names a shard host and that changes it."""
    twin = {}
    for document in take_inventory(output).documents:
        decoded = decode_document((output / document).read_bytes(), is_stylesheet(document))
        if decoded is None:
            continue
        lowered = decoded.text.lower()
        if not any(host in lowered for host in sharder.shard_hosts):
            continue
        text = unshard(decoded.text, document, sharder)
        if text != decoded.text:
            twin[document] = decoded.encode(text)
    return twin


def assert_same_twin(output: Path, twin: Path, sharder: Sharder) -> None:
    expected = old_twin(output, sharder)
    assert expected, "no document with a shard URL: nothing compared"
    actual = snapshot(twin)
    assert sorted(actual) == sorted(expected)
    for document, data in expected.items():
        assert actual[document] == data, document
    left = [p.name for p in twin.parent.iterdir() if ".shard-assets-" in p.name]
    assert not left, left


# ------------------------------------------------------------ golden rewriting cases


def _case_settings(case: Path, preconnect: bool) -> tuple[Settings, str]:
    name = case.name.split(".in.")[0]
    options_file = case.with_name(name + ".json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    is_css = case.suffix == ".css"
    document = options.pop("document", "css/site.css" if is_css else "blog/post.html")
    options.setdefault("preconnect", preconnect)
    settings = load_settings(
        {"hosts": HOSTS, "site_url": "https://example.org/", "stylesheets": "shard", **options},
        base_dir=case.parent,
        source=case.name,
    )
    return settings, document


@pytest.mark.parametrize("preconnect", [False, True], ids=["plain", "preconnect"])
@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.parent.name}/{c.name.split('.in.')[0]}" for c in CASES]
)
def test_the_twin_of_the_edits_is_the_sharded_text_unsharded(
    case: Path, preconnect: bool, tmp_path: Path
) -> None:
    settings, document = _case_settings(case, preconnect)
    sharder = Sharder(UrlRules.of(settings))
    decoded = decode_document(case.read_bytes(), case.suffix == ".css")
    assert decoded is not None
    refs = sharder.references(decoded.text, document)
    keys = sorted({ref[2] for ref in refs if not is_page(ref[2]) and "missing" not in ref[2]})
    hosts = {key: HOSTS[i % len(HOSTS)] for i, key in enumerate(keys)}
    replacements = sharder.replacements(decoded.text, document, hosts)
    edits, count = sharder.edits(decoded.text, document, replacements)
    sharded = apply_edits(decoded.text, edits)
    expected = unshard(sharded, document, sharder)
    copy = UnshardedCopy(tmp_path / "h2", tmp_path / "work")
    copy.rewritten(sharder, document, decoded, edits, sharded)
    written = copy.work / document
    if expected == sharded:
        assert not written.exists()
    else:
        assert written.read_bytes() == decoded.encode(expected)
    # The sharded text read again (a second run): the twin from pass one's references.
    again = decode_document(decoded.encode(sharded), case.suffix == ".css")
    assert again is not None
    other = UnshardedCopy(tmp_path / "h2", tmp_path / "again")
    other.read(sharder, document, again, sharder.references(again.text, document))
    assert snapshot(other.work) == snapshot(copy.work)
    assert count or expected == sharded or not edits


# ------------------------------------------------------------------ the command line


def _cli_settings(
    make_settings: Callable[..., Settings], tmp_path: Path, **extra: object
) -> Settings:
    return make_settings(
        unsharded_copy=str(tmp_path / "site-h2"),
        site_url="https://www.example.com/",
        preconnect=True,
        **extra,
    )


@pytest.mark.parametrize("jobs", [1, 2])
def test_command_line_builds_write_the_same_twin(
    tmp_path: Path, make_settings: Callable[..., Settings], jobs: int
) -> None:
    site = make_site(tmp_path / "site", images=30, pages=70)  # enough for 2 workers
    (site / "authored.html").write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{AUTHORED}</body></html>'
    )
    (site / "linked-only.html").write_text('<p><a href="https://cdn4.example.com/a.html">a</a>')
    (site / "latin1.html").write_bytes(
        b'<html><head><meta charset="iso-8859-1"></head><body>caf\xe9'
        b'<img src="img/photo-002.png"></body></html>'
    )
    settings = _cli_settings(make_settings, tmp_path)
    sharder = Sharder(UrlRules.of(settings))
    twin = tmp_path / "site-h2"
    # A first build: every shard URL the build's own but the authored ones.
    shard_site(site, settings, jobs=jobs)
    assert_same_twin(site, twin, sharder)
    # A rebuild of the sharded output: every shard URL kept from the build before.
    shard_site(site, settings, jobs=jobs)
    assert_same_twin(site, twin, sharder)
    # Some pages written again unsharded (as a generator's incremental build does),
    # one page gone, an image added.
    make_site(tmp_path / "fresh", images=31, pages=5)
    for page in ("blog/post-1.html", "blog/post-3.html"):
        (site / page).write_bytes((tmp_path / "fresh" / page).read_bytes())
    (site / "img" / "photo-030.png").write_bytes(
        (tmp_path / "fresh/img/photo-030.png").read_bytes()
    )
    (site / "blog" / "post-2.html").unlink()
    shard_site(site, settings, jobs=jobs)
    assert_same_twin(site, twin, sharder)
    # A host added: pages kept sharded are rewritten where their assets move, and
    # the twin knows the old hosts and the new one.
    more = _cli_settings(make_settings, tmp_path, hosts=[*HOSTS, "cdn5.example.com"])
    previous = json.loads((tmp_path / "shard-manifest.json").read_text())
    assert previous  # the sharder of the build knows the manifest's hosts
    shard_site(site, more, jobs=jobs)
    assert_same_twin(site, twin, Sharder(UrlRules.of(more), HOSTS))


def test_a_page_whose_shard_urls_the_build_turns_back_has_no_twin(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """``stylesheets: origin`` after ``shard``: the build turns shard URLs back to the
    origin; a page left without any has no twin any more."""
    site = make_site(tmp_path / "site", images=4, pages=3)
    (site / "plain.html").write_text('<link rel="stylesheet" href="css/site.css">')
    twin = tmp_path / "site-h2"
    shard_site(site, _cli_settings(make_settings, tmp_path))
    assert (twin / "plain.html").is_file()
    settings = _cli_settings(make_settings, tmp_path, stylesheets="origin")
    shard_site(site, settings)
    assert_same_twin(site, twin, Sharder(UrlRules.of(settings)))
    assert not (twin / "plain.html").exists()


# ------------------------------------------------------------------------ generators


def _same_as_before(output: Path, twin: Path, site_url: str, **options: object) -> None:
    settings = load_settings(
        {"hosts": HOSTS, "site_url": site_url, **options}, base_dir=output, source="test"
    )
    assert_same_twin(output, twin, Sharder(UrlRules.of(settings)))


def _mkdocs_with_twin(tmp_path: Path, *options: str) -> Path:
    """The MkDocs sample with ``unsharded_copy: site-h2`` and ``options``."""
    pytest.importorskip("mkdocs")
    docs = copy_mkdocs(tmp_path / "docs-project")
    added = "".join(f"\n      {option}" for option in ("unsharded_copy: site-h2", *options))
    set_option(docs, "manifest: shard-manifest.json", "manifest: shard-manifest.json" + added)
    return docs


def test_mkdocs_first_build_and_rebuild(tmp_path: Path) -> None:
    docs = _mkdocs_with_twin(tmp_path, "preconnect: true")
    with (docs / "docs" / "index.md").open("a", encoding="utf-8") as page:
        page.write(f"\n\n{AUTHORED}\n")
    for build in ("first", "rebuild"):
        result = mkdocs_build(docs, "--verbose")
        assert result.returncode == 0, result.stderr
        if build == "rebuild":
            assert "in memory" in " ".join(result.stderr.split()), result.stderr[-2000:]
        _same_as_before(docs / "site", docs / "site-h2", "https://docs.example.org/")


def test_mkdocs_failed_build_leaves_the_twin_and_no_work_folder(tmp_path: Path) -> None:
    docs = _mkdocs_with_twin(tmp_path)
    assert mkdocs_build(docs).returncode == 0
    before = snapshot(docs / "site-h2")
    assert before
    # A new image with locked: true: every page was handed over (and its twin
    # written) before the check fails.
    (docs / "docs" / "img").mkdir(exist_ok=True)
    (docs / "docs" / "img" / "new-one.png").write_bytes(b"\x89PNG new")
    with (docs / "docs" / "index.md").open("a", encoding="utf-8") as page:
        page.write("\n\n![new](img/new-one.png)\n")
    set_option(docs, "unsharded_copy: site-h2", "unsharded_copy: site-h2\n      locked: true")
    result = mkdocs_build(docs)
    assert result.returncode != 0
    assert "locked" in result.stderr
    assert snapshot(docs / "site-h2") == before
    assert not [p.name for p in docs.iterdir() if ".shard-assets-" in p.name]


def test_pelican_first_build_and_rebuild(tmp_path: Path) -> None:
    pytest.importorskip("pelican")
    blog = copy_pelican(tmp_path / "blog")
    config = blog / "pelicanconf.py"
    text = config.read_text()
    config.write_text(
        text.replace(
            '"max_imbalance"',
            '"unsharded_copy": "output-h2",\n    "preconnect": True,\n    "max_imbalance"',
            1,
        )
    )
    article = sorted((blog / "content").rglob("*.md"))[0]
    article.write_text(article.read_text() + f"\n\n{AUTHORED}\n")
    for _ in ("first", "rebuild"):
        result = pelican_build(blog)
        assert result.returncode == 0, result.stdout + result.stderr
        _same_as_before(blog / "output", blog / "output-h2", "https://music.example.org")


def test_sphinx_builds_and_an_incremental_build(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    project = copy_sphinx(tmp_path / "docs")
    configure(project, 'shard_assets["unsharded_copy"] = "_build/html-h2"')
    configure(project, 'shard_assets["preconnect"] = True')
    html, twin = project / "_build" / "html", project / "_build" / "html-h2"
    # First build, then nothing changed: every page kept sharded, read by pass one.
    for _ in ("first", "unchanged"):
        result = sphinx_build(project)
        assert result.returncode == 0, result.stdout + result.stderr
        _same_as_before(html, twin, "https://docs.example.org/")
    # One page edited: Sphinx writes it (and its neighbours) unsharded, the rest stay.
    page = project / "guide" / "tides.rst"
    page.write_text(page.read_text() + f"\n.. raw:: html\n\n   {AUTHORED}\n")
    result = sphinx_build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 changed" in result.stdout, result.stdout
    _same_as_before(html, twin, "https://docs.example.org/")
    # Every page read and written again.
    result = sphinx_build(project, "-E")
    assert result.returncode == 0, result.stdout + result.stderr
    _same_as_before(html, twin, "https://docs.example.org/")


# ------------------------------------------------------------------------ failures


def test_a_handover_given_up_removes_its_work_folder(
    site: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = _cli_settings(make_settings, tmp_path)
    shard_site(site, settings)
    before = snapshot(tmp_path / "site-h2")
    pages = {d: (site / d).read_text() for d in take_inventory(site).documents if is_page(d)}
    changed = {d: text.replace("photo-000", "photo-001") for d, text in pages.items()}
    handover = hand_over(site, changed, settings, jobs=1)
    assert handover.twin is not None
    assert snapshot(handover.twin.work)  # the twins of the pages handed over
    handover.discard()
    assert not handover.twin.work.exists()
    assert snapshot(tmp_path / "site-h2") == before


def test_a_locked_build_writes_no_twin(
    site: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    shard_site(site, _cli_settings(make_settings, tmp_path))
    before = snapshot(tmp_path / "site-h2")
    (site / "img" / "new.png").write_bytes(b"png")
    (site / "new.html").write_text('<img src="img/new.png">')
    with pytest.raises(LockedError):
        shard_site(site, _cli_settings(make_settings, tmp_path, locked=True))
    assert snapshot(tmp_path / "site-h2") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-manifest.json", "site", "site-h2"]


def test_an_interrupt_while_the_twin_is_written_leaves_everything_as_it_was(
    site: Path,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _cli_settings(make_settings, tmp_path)
    shard_site(site, settings)
    twin, output = snapshot(tmp_path / "site-h2"), snapshot(site)
    manifest = (tmp_path / "shard-manifest.json").read_bytes()
    # A page the build rewrites (pass two writes its twin) and Ctrl-C meanwhile.
    (site / "new.html").write_text('<img src="img/photo-003.png">')
    real = UnshardedCopy._write

    def interrupted(copy: UnshardedCopy, document: str, data: bytes | None) -> bool:
        if document == "new.html":
            raise KeyboardInterrupt
        return real(copy, document, data)

    monkeypatch.setattr(UnshardedCopy, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        shard_site(site, settings)
    assert snapshot(tmp_path / "site-h2") == twin
    assert snapshot(site) == {**output, "new.html": b'<img src="img/photo-003.png">'}
    assert (tmp_path / "shard-manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-manifest.json", "site", "site-h2"]
