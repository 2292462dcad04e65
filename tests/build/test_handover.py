"""Pages sharded as a generator hands them over (shard_assets.build.handover), driven the way
the plugins drive it, and checked against what the end-of-build (disk) path gives."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shard_assets.build import handover
from shard_assets.build.handover import Handover, write_as_generated
from shard_assets.build.pipeline import apply_plan, plan_build, shard_site
from shard_assets.build.rewrite import apply_edits, undo_edits, undone
from shard_assets.config import Settings
from shard_assets.errors import LockedError
from shard_assets.parallel import PipeWorker
from shard_assets.plugins.lifecycle import BuildLifecycle
from shard_assets.results import BuildResult
from shard_assets.verify import verify_site

from ..conftest import make_site, png, snapshot
from ..generators import hand_over

Build = Callable[..., BuildResult]


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An output folder, and its pages as the generator writes them."""
    site = make_site(tmp_path / "site", images=12, pages=6)
    return site, {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}


@pytest.fixture
def built(
    generated: tuple[Path, dict[str, str]], make_settings: Callable[..., Settings]
) -> tuple[Path, dict[str, str], Settings]:
    """:func:`generated` after a first build: the manifest gives every asset a host."""
    site, pages = generated
    settings = make_settings()
    shard_site(site, settings)
    return site, pages, settings


def _temporary_files(site: Path) -> list[Path]:
    return [p for p in site.rglob("*") if ".shard-assets-" in p.name]


@pytest.fixture(params=[1, 2], ids=["at-once", "worker"])
def jobs(request: pytest.FixtureRequest) -> int:
    """Pages written at once, or by a worker process."""
    return int(request.param)


@pytest.fixture(params=[handover.UNDO_BUDGET, 0], ids=["undo", "temporary-file"])
def budget(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Edits kept in memory to undo pages (0: the generator's text goes to a file)."""
    monkeypatch.setattr(handover, "UNDO_BUDGET", request.param)
    return int(request.param)


def test_a_direct_rebuild_is_what_the_disk_path_gives(
    built: tuple[Path, dict[str, str], Settings], jobs: int, budget: int
) -> None:
    site, pages, settings = built
    expected = snapshot(site)
    handed_over = hand_over(site, pages, settings, jobs=jobs)
    if budget == 0:
        assert len(_temporary_files(site)) == len(pages)
    result = shard_site(site, settings, handover=handed_over)
    assert result.rewritten_at_handover == len(pages)
    assert snapshot(site) == expected
    assert not _temporary_files(site)


def test_the_old_names_still_answer_with_a_deprecation_warning(
    built: tuple[Path, dict[str, str], Settings],
) -> None:
    site, pages, settings = built
    plan = plan_build(site, settings, handover=hand_over(site, pages, settings, jobs=1))
    with pytest.warns(DeprecationWarning, match=r"Plan\.handover"):
        assert plan.in_memory is plan.handover is not None
    result = apply_plan(plan)
    with pytest.warns(DeprecationWarning, match="rewritten_at_handover"):
        assert result.in_memory == result.rewritten_at_handover == len(pages)
    with pytest.warns(DeprecationWarning, match="scanned_at_handover"):
        assert result.scanned == result.scanned_at_handover == 0


def test_a_failed_check_puts_back_every_page_as_the_generator_wrote_it(
    generated: tuple[Path, dict[str, str]],
    make_settings: Callable[..., Settings],
    jobs: int,
    budget: int,
) -> None:
    site, pages = generated
    shard_site(site, make_settings())
    # A new image changes the manifest, which locked mode refuses.
    (site / "img" / "brand-new.png").write_bytes(png(rgb=(1, 2, 3)))
    pages["blog/post-1.html"] = pages["blog/post-1.html"].replace(
        "</body>", '<img src="../img/brand-new.png"></body>'
    )
    settings = make_settings(locked=True)
    manifest = settings.manifest.read_bytes()
    handed_over = hand_over(site, pages, settings, jobs=jobs)
    assert "cdn" in (site / "index.html").read_text()  # written sharded, for now
    with pytest.raises(LockedError, match=r"brand-new\.png"):
        shard_site(site, settings, handover=handed_over)
    for document, text in pages.items():
        assert (site / document).read_text() == text, document
    assert not _temporary_files(site)
    assert settings.manifest.read_bytes() == manifest


def test_a_page_written_twice_keeps_the_second_text(
    built: tuple[Path, dict[str, str], Settings], jobs: int
) -> None:
    site, pages, settings = built
    expected = snapshot(site)
    handed_over = Handover(settings, site, jobs, direct=True)
    first = pages["index.html"].replace("home", "first")
    for document, text in [("index.html", first), *pages.items()]:
        written = handed_over.hand_over(text, document)
        if written is not None:
            write_as_generated(site / document, written)
    handed_over.drain()
    result = shard_site(site, settings, handover=handed_over)
    # The page written twice is read from disk.
    assert result.rewritten_at_handover == len(pages) - 1
    assert snapshot(site) == expected


def test_a_link_missing_at_the_end_is_reported_as_on_the_disk_path(
    built: tuple[Path, dict[str, str], Settings],
) -> None:
    site, pages, settings = built
    expected = snapshot(site)
    pages["blog/post-2.html"] += '<link rel="prefetch" href="gone.html">\n'  # never built
    handed_over = hand_over(site, pages, settings, jobs=1)
    result = shard_site(site, settings, handover=handed_over)
    assert [(m.document, m.url) for m in result.missing] == [("blog/post-2.html", "gone.html")]
    assert result.rewritten_at_handover == len(pages) - 1  # that page was read from disk
    post = expected["blog/post-2.html"].decode() + '<link rel="prefetch" href="gone.html">\n'
    assert (site / "blog" / "post-2.html").read_text() == post
    assert not _temporary_files(site)


def test_an_asset_missing_at_the_end_is_reported_as_on_the_disk_path(
    built: tuple[Path, dict[str, str], Settings],
) -> None:
    site, pages, settings = built
    handed_over = hand_over(site, pages, settings, jobs=1)
    # Removed after the pages were written: the manifest still gave it a host.
    (site / "img" / "photo-003.png").unlink()
    result = shard_site(site, settings, handover=handed_over)
    assert {m.document for m in result.missing if m.url == "/img/photo-003.png"} == set(pages)
    for document in pages:
        text = (site / document).read_text()
        assert 'src="/img/photo-003.png"' in text, document  # left as written, not sharded
        assert 'src="/img/photo-004.png"' not in text, document
    assert result.rewritten_at_handover == 0  # every page loads the missing image
    assert not _temporary_files(site)


def test_a_page_changed_after_it_was_written_is_read_again(
    built: tuple[Path, dict[str, str], Settings],
) -> None:
    site, pages, settings = built
    handed_over = hand_over(site, pages, settings, jobs=1)
    page = site / "blog" / "post-3.html"
    page.write_text(page.read_text() + "<!-- minified by another plugin -->\n")
    result = shard_site(site, settings, handover=handed_over)
    assert result.rewritten_at_handover == len(pages) - 1
    assert page.read_text().endswith("<!-- minified by another plugin -->\n")
    assert verify_site(site, settings) == []


@pytest.mark.parametrize(
    ("options", "extra"),
    [
        (
            {"exclude": ["img/photo-001.png"]},
            '<img src="../img/photo-001.png" crossorigin="anonymous">',
        ),
        (
            {"stylesheets": "origin", "cors_assets": "shard"},
            '<link rel="stylesheet" href="../css/base.css" integrity="sha384-x">',
        ),
    ],
    ids=["excluded-cors-file", "kept-stylesheet-with-integrity"],
)
def test_a_rebuild_notes_files_kept_on_the_origin_as_the_disk_path_does(
    generated: tuple[Path, dict[str, str]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    options: dict[str, object],
    extra: str,
) -> None:
    """A page sharded at handover is scanned by pass one's own loop: what the build
    says about CORS and ``crossorigin`` is what reading the page gives."""
    site, pages = generated
    pages["blog/post-1.html"] += extra + "\n"
    for document, text in pages.items():
        (site / document).write_text(text)
    settings = make_settings(**options)
    shard_site(site, settings)
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    reference_settings = make_settings(manifest=str(tmp_path / "reference.json"), **options)
    shutil.copy(settings.manifest, reference_settings.manifest)
    for document, text in pages.items():
        (reference / document).write_text(text)
    expected = shard_site(reference, reference_settings)
    result = shard_site(site, settings, handover=hand_over(site, pages, settings, jobs=1))
    assert result.rewritten_at_handover == len(pages)
    assert (result.cors, result.crossorigin) == (expected.cors, expected.crossorigin)
    assert snapshot(site) == snapshot(reference)


def test_template_markup_in_a_page_is_left_as_on_the_disk_path(
    built: tuple[Path, dict[str, str], Settings], tmp_path: Path
) -> None:
    """A URL holding template markup names no file, here as in pass one: the page is
    still sharded as it is handed over, and the markup stays as written."""
    site, pages, settings = built
    pages["blog/post-1.html"] += "<img src=\"{{ pathto('img/photo-001.png', 1) }}\">\n"
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    for document, text in pages.items():
        (reference / document).write_text(text)
    shutil.copy(settings.manifest, tmp_path / "reference.json")
    expected = shard_site(reference, replace(settings, manifest=tmp_path / "reference.json"))
    result = shard_site(site, settings, handover=hand_over(site, pages, settings, jobs=1))
    assert result.rewritten_at_handover == len(pages)
    assert result.missing == expected.missing == ()
    assert snapshot(site) == snapshot(reference)


@given(
    st.text(max_size=200),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 8), st.text(max_size=12))),
)
def test_undo_gives_the_text_back(text: str, raw: list[tuple[int, int, str]]) -> None:
    edits: list[tuple[int, int, str]] = []
    last = 0
    for wanted, length, replacement in sorted(raw):
        start = max(wanted, last)
        if start > len(text):
            break
        end = min(start + length, len(text))
        edits.append((start, end, replacement))
        last = end
    edited = apply_edits(text, edits)
    assert undone(edited, undo_edits(text, edits, {})) == text


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "deferred"])
def test_a_first_build_scans_pages_as_handed_over_with_the_disk_paths_result(
    generated: tuple[Path, dict[str, str]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    jobs: int,
    direct: bool,
) -> None:
    site, pages = generated
    # One reference to a file that is not there, one element with integrity: their
    # messages need lines and URL texts (the first page is read, the second is not).
    pages["blog/post-1.html"] += '<img src="../img/not-there.png">\n'
    pages["blog/post-2.html"] += '<script src="../js/app.js" integrity="sha384-x"></script>\n'
    for document, text in pages.items():
        (site / document).write_text(text)
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    # cors_assets: shard, so that the integrity element moves and gets crossorigin.
    reference_settings = make_settings(
        manifest=str(tmp_path / "reference.json"), cors_assets="shard"
    )
    expected = shard_site(reference, reference_settings)
    settings = make_settings(cors_assets="shard")
    handed_over = Handover(settings, site, jobs, direct=direct)
    assert not handed_over.active  # no manifest yet: nothing is rewritten in memory
    for document, text in pages.items():
        written = handed_over.hand_over(text, document)
        assert written in (text, None)
        if written is not None:
            write_as_generated(site / document, written)
    handed_over.drain()
    result = shard_site(site, settings, handover=handed_over)
    assert result.scanned_at_handover == len(pages) - 1  # the page with the missing file is read
    assert snapshot(site) == snapshot(reference)
    assert settings.manifest.read_bytes() == (tmp_path / "reference.json").read_bytes()
    assert (result.missing, result.crossorigin) == (expected.missing, expected.crossorigin)
    assert result.crossorigin and result.missing


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "deferred"])
@pytest.mark.parametrize("unreferenced", [0, 12], ids=["exact", "unreferenced"])
def test_a_first_build_sharded_with_a_guess_is_the_disk_paths(
    generated: tuple[Path, dict[str, str]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    jobs: int,
    direct: bool,
    unreferenced: int,
) -> None:
    """With no manifest, pages are sharded with the hosts the site's other files would
    get (Handover.guess), and confirmed only where the assignment agrees: the same
    bytes, manifest and notes as the end-of-build path, whether the guess is the
    assignment (every file referenced) or not (files no page loads)."""
    site, pages = generated
    for n in range(unreferenced):
        (site / "img" / f"unused-{n}.png").write_bytes(png())
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    expected = shard_site(reference, make_settings(manifest=str(tmp_path / "reference.json")))
    settings = make_settings()
    handed_over = Handover(settings, site, jobs, direct=direct)
    files = [p.relative_to(site).as_posix() for p in sorted(site.rglob("*")) if p.is_file()]
    assert handed_over.guess(files)
    assert handed_over.active
    for document, text in pages.items():
        written = handed_over.hand_over(text, document)
        if written is not None:
            write_as_generated(site / document, written)
    handed_over.drain()
    result = shard_site(site, settings, handover=handed_over)
    assert snapshot(site) == snapshot(reference)
    assert settings.manifest.read_bytes() == (tmp_path / "reference.json").read_bytes()
    assert (result.missing, result.crossorigin, result.notes, result.warnings) == (
        expected.missing,
        expected.crossorigin,
        expected.notes,
        expected.warnings,
    )
    assert (result.rewritten, result.references) == (expected.rewritten, expected.references)
    if unreferenced:
        assert result.rewritten_at_handover < len(pages)  # some guessed hosts were wrong
    else:
        assert result.rewritten_at_handover == len(pages)


def test_the_guess_is_only_for_a_first_build_balanced_by_count_before_any_page(
    built: tuple[Path, dict[str, str], Settings],
    generated: tuple[Path, dict[str, str]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    site, pages, settings = built
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    rebuild = Handover(settings, site)
    assert not rebuild.may_guess
    assert not rebuild.guess(files)  # the manifest's hosts stand
    fresh = Handover(make_settings(manifest=str(tmp_path / "none.json"), balance_by="bytes"), site)
    assert not fresh.may_guess
    assert not fresh.guess(files)  # loads need the pages
    first = Handover(make_settings(manifest=str(tmp_path / "none.json")), site)
    assert first.may_guess
    document, text = next(iter(pages.items()))
    first.hand_over(text, document)
    assert not first.may_guess
    assert not first.guess(files)  # a page was handed over with no hosts
    first.discard()


def test_a_direct_handover_writes_on_a_worker_without_a_thread_in_the_generator(
    built: tuple[Path, dict[str, str], Settings],
) -> None:
    """Direct, with workers (Pelican's rebuild), one forked worker writes the pages
    through a pipe: no thread joins the generator's process (ProcessPoolExecutor's
    two took Python's lock from it for every batch), and the rebuild is the same."""
    import threading

    site, pages, settings = built
    expected = snapshot(site)
    threads = threading.active_count()
    given = Handover(settings, site, 2, direct=True)
    assert isinstance(given.workers, PipeWorker)
    for document, text in pages.items():
        assert given.hand_over(text, document) is None  # the worker writes it
        assert threading.active_count() == threads
    result = shard_site(site, settings, handover=given)
    assert result.rewritten_at_handover == len(pages)
    assert snapshot(site) == expected
    assert threading.active_count() == threads


def test_the_lifecycle_lists_the_generators_files_only_for_a_guess(
    built: tuple[Path, dict[str, str], Settings],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """A rebuild (the manifest's hosts stand) never walks the generator's static and
    theme folders: the listing is only for a first build's guess."""
    site, _, settings = built
    listed: list[str] = []

    def files() -> Iterator[str]:
        for path in sorted(site.rglob("*")):
            if path.is_file() and not path.name.endswith(".html"):
                listed.append(path.name)
                yield path.relative_to(site).as_posix()

    for manifest, walked in ((settings.manifest, False), (tmp_path / "none.json", True)):
        build = BuildLifecycle(_no_failure, logging.getLogger("test"))
        build.start(replace(settings, manifest=manifest), site, jobs=1)
        listed.clear()
        build.static_files(files())
        assert bool(listed) == walked
        assert (build.handover is not None and build.handover.guessed) == walked
        build.abort()


def _no_failure(error: Exception) -> NoReturn:
    raise AssertionError(error)
