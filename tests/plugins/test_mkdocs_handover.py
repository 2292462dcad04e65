"""MkDocs rebuilds rewrite pages in memory (``on_post_page``); the output must be
byte for byte what the end-of-build (disk) path gives, and fall back to it when the
hosts the manifest gave are not the final ones."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.config import Settings, load_settings
from shard_assets.messages import summary, warnings_by_kind
from shard_assets.plugins.lifecycle import BuildLifecycle
from shard_assets.results import BuildResult

from ..conftest import HOSTS, png, snapshot
from ..generators import copy_mkdocs

pytest.importorskip("mkdocs")

from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, event_priority


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the same build date everywhere
    return copy_mkdocs(tmp_path / "project")


def _build(project: Path, caplog: pytest.LogCaptureFixture) -> str:
    caplog.clear()
    pelican_log = sys.modules.get("pelican.log")
    if pelican_log is not None:
        # Importing Pelican (other tests do) makes every logger created later drop a
        # message it has logged before in the process, like this summary's lines.
        pelican_log.LimitFilter._raised_messages.clear()
    with caplog.at_level(logging.INFO):
        build(load_config(config_file=str(project / "mkdocs.yml")))
    return caplog.text


def _set(project: Path, extra: str) -> None:
    config = project / "mkdocs.yml"
    text = config.read_text()
    config.write_text(text.replace("max_imbalance: 0.10", f"max_imbalance: 0.10\n{extra}"))


def _disk_path(project: Path, manifest: bytes | None, tmp_path: Path, **options: object) -> Path:
    """What the end-of-build path alone gives: a plain build, sharded by the library
    (with ``manifest`` as the manifest; None: none yet)."""
    return _disk_build(project, manifest, tmp_path, **options)[0]


def _disk_build(
    project: Path, manifest: bytes | None, tmp_path: Path, **options: object
) -> tuple[Path, BuildResult]:
    """:func:`_disk_path`'s project, and the library's result."""
    reference = tmp_path / "reference"
    shutil.copytree(project, reference, ignore=shutil.ignore_patterns("site"))
    if manifest is None:
        (reference / "shard-manifest.json").unlink(missing_ok=True)
    else:
        (reference / "shard-manifest.json").write_bytes(manifest)
    _set(reference, "      enabled: false")
    build(load_config(config_file=str(reference / "mkdocs.yml")))
    settings = load_settings(
        {
            "hosts": HOSTS,
            "manifest": str(reference / "shard-manifest.json"),
            "site_url": "https://docs.example.org/",
            **options,
        },
        base_dir=reference,
        source="test",
    )
    return reference, shard_site(reference / "site", settings)


def _assert_same_build(project: Path, reference: Path) -> None:
    assert snapshot(project / "site") == snapshot(reference / "site")
    manifest = "shard-manifest.json"
    assert (project / manifest).read_bytes() == (reference / manifest).read_bytes()


def test_a_rebuild_at_handover_is_byte_identical(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_log = _build(project, caplog)
    assert "in memory" not in first_log  # no manifest yet: nothing rewritten in memory
    first = snapshot(project / "site")
    manifest = (project / "shard-manifest.json").read_bytes()
    log = _build(project, caplog)
    assert "8 of those files in memory" in log
    assert snapshot(project / "site") == first
    assert (project / "shard-manifest.json").read_bytes() == manifest


def test_a_page_with_a_new_asset_waits_for_the_end(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _build(project, caplog)
    manifest = (project / "shard-manifest.json").read_bytes()
    (project / "docs" / "img" / "brand-new.png").write_bytes(png())
    page = project / "docs" / "guide" / "install.md"
    page.write_text(page.read_text() + "\n![New](../img/brand-new.png)\n")
    log = _build(project, caplog)
    assert "7 of those files in memory" in log
    reference = _disk_path(project, manifest, tmp_path)
    _assert_same_build(project, reference)
    assert "img/brand-new.png" in (project / "shard-manifest.json").read_text()


def test_hosts_that_change_at_the_end_fall_back_to_the_disk_path(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _build(project, caplog)
    manifest = (project / "shard-manifest.json").read_bytes()
    assets = json.loads(manifest)["assets"]
    # A pin moves an asset every page loads: the manifest's host, used in memory,
    # is not the final one, so each page is read back and re-pointed.
    old = assets["img/favicon.ico"]
    # To the host with the fewest assets, so the gate passes whatever the theme ships
    # (MkDocs 1.5's has fewer files: one more on a full host is over its cap).
    others = [host for host in HOSTS if host != old]
    new = min(others, key=lambda host: (list(assets.values()).count(host), others.index(host)))
    _set(project, f'      pin: {{"img/favicon.ico": "{new}"}}')
    log = _build(project, caplog)
    assert "in memory" not in log
    reference = _disk_path(project, manifest, tmp_path, pin={"img/favicon.ico": new})
    assert snapshot(project / "site") == snapshot(reference / "site")
    index = (project / "site" / "index.html").read_text()
    assert f"https://{new}/img/favicon.ico" in index
    assert f"https://{old}/img/favicon.ico" not in index


def test_the_first_build_and_changed_hosts_use_the_disk_path(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _build(project, caplog)
    manifest = (project / "shard-manifest.json").read_bytes()
    config = project / "mkdocs.yml"
    added = "- cdn4.example.com\n        - cdn5.example.com"
    config.write_text(config.read_text().replace("- cdn4.example.com", added))
    log = _build(project, caplog)
    assert "in memory" not in log
    assert "cdn5.example.com" in (project / "shard-manifest.json").read_text()
    assert manifest != (project / "shard-manifest.json").read_bytes()


def test_a_failed_check_leaves_every_page_as_mkdocs_wrote_it(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _build(project, caplog)
    (project / "docs" / "img" / "brand-new.png").write_bytes(png())
    page = project / "docs" / "guide" / "install.md"
    page.write_text(page.read_text() + "\n![New](../img/brand-new.png)\n")
    _set(project, "      locked: true")  # the new image changes the manifest: fail
    manifest = (project / "shard-manifest.json").read_bytes()
    with pytest.raises(Exception, match="Aborted"):
        _build(project, caplog)
    assert "locked mode" in caplog.text
    site = project / "site"
    assert not [p for p in site.rglob("*") if ".shard-assets-" in p.name]
    assert "cdn1.example.com" not in (site / "index.html").read_text()
    assert (project / "shard-manifest.json").read_bytes() == manifest


def _messages(result: BuildResult) -> tuple[list[tuple[str, str]], list[str]]:
    """The build's warnings and summary, without the lines that say how the pages
    were handed over (and the manifest's path, which differs between the builds)."""
    lines = [
        line
        for line in summary(result).splitlines()
        if "handed them over" not in line and not line.lstrip().startswith("manifest:")
    ]
    return warnings_by_kind(result), lines


@pytest.mark.parametrize("guessed", ["wrong", "right"])
def test_a_first_build_is_the_end_of_build_paths(
    project: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    guessed: str,
) -> None:
    """With no manifest, pages are sharded as MkDocs hands them over with the hosts its
    other files (on_files) would get, and kept where the assignment agrees: the same
    bytes, manifest and messages as a plain build sharded afterwards. The theme's
    scripts that no page loads (search, dark mode) make that guess wrong for some
    assets every page loads; excluded, it is the assignment. (MkDocs 1.5's theme also
    ships fonts/fontawesome-webfont.svg, a font its stylesheet names in @font-face,
    kept on the origin like every font, which the guess takes for an image.)"""
    options: dict[str, object] = {}
    if guessed == "right":
        options["exclude"] = ["search/*", "js/darkmode.js", "fonts/*"]
        _set(project, '      exclude: ["search/*", "js/darkmode.js", "fonts/*"]')
    results: list[BuildResult] = []
    finish = BuildLifecycle.finish

    def kept(self: BuildLifecycle, settings: Settings, output_dir: Path) -> BuildResult:
        results.append(finish(self, settings, output_dir))
        return results[-1]

    monkeypatch.setattr(BuildLifecycle, "finish", kept)
    _build(project, caplog)
    (result,) = results
    if guessed == "right":
        assert result.rewritten_at_handover == 8  # every page kept as sharded at handover
    else:
        assert result.rewritten_at_handover == 0  # every page read back and sharded again
    reference, expected = _disk_build(project, None, tmp_path, **options)
    _assert_same_build(project, reference)
    assert _messages(result) == _messages(expected)
    assert (result.rewritten, result.references) == (expected.rewritten, expected.references)


def test_pages_the_workers_wrote_before_the_end_are_this_builds(
    project: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages sent to the workers one at a time are temporary files in the output by
    the time the end of the build lists it: they are this build's, to be renamed into
    place, not a killed build's leftovers to delete (a 300-page site failed so)."""
    from shard_assets import parallel

    monkeypatch.setattr(parallel, "BATCH", 1)
    _set(project, "      jobs: 2")
    _build(project, caplog)
    first = snapshot(project / "site")
    log = _build(project, caplog)
    assert "8 of those files in memory" in log
    assert snapshot(project / "site") == first


class _Neighbour(BasePlugin):  # type: ignore[type-arg]
    """Another plugin: what its ``on_post_page`` (after ours, when ``later``) is given,
    and each page as its ``on_post_build``, before ours, reads it."""

    def __init__(self, later: bool) -> None:
        super().__init__()
        self.given: list[str] = []
        self.read: dict[str, bytes] = {}
        if later:
            self.on_post_page = self._given  # type: ignore[method-assign]

    @event_priority(-200)
    def _given(self, output: str, *, page: object, config: object) -> str:
        self.given.append(output)
        return output

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        self.read = _pages(Path(config.site_dir))


def _pages(site: Path) -> dict[str, bytes]:
    """The pages of ``site`` (the 404 page is a theme template, sharded at the end)."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("index.html")}


def _build_beside(project: Path, neighbour: _Neighbour) -> None:
    config = load_config(config_file=str(project / "mkdocs.yml"))
    config.plugins["neighbour"] = neighbour
    build(config)


def _mkdocs_wrote(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files MkDocs' own writer writes from now on."""
    from mkdocs import utils

    written: list[str] = []
    write_file = utils.write_file

    def recording(content: bytes, output_path: str) -> None:
        written.append(Path(output_path).name)
        write_file(content, output_path)

    monkeypatch.setattr(utils, "write_file", recording)
    return written


def test_workers_write_the_pages_in_mkdocs_place(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last to see the pages, the plugin leaves each to a worker: MkDocs writes none of
    them (it gets an empty text) and does not say it skipped them; the bytes are the
    end-of-build path's."""
    _set(project, "      jobs: 2")
    _build(project, caplog)
    manifest = (project / "shard-manifest.json").read_bytes()
    written = _mkdocs_wrote(monkeypatch)
    log = _build(project, caplog)
    assert "8 of those files in memory" in log
    assert "index.html" not in written and "404.html" in written  # 404: a theme template
    assert "Page skipped" not in log
    _assert_same_build(project, _disk_path(project, manifest, tmp_path))


def test_a_plugin_after_ours_gets_each_page_and_mkdocs_writes_them(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another plugin's ``on_post_page`` after ours gets the whole page, so MkDocs
    writes its own text and the sharded page waits beside it (deferred)."""
    _set(project, "      jobs: 2")
    _build(project, caplog)
    manifest = (project / "shard-manifest.json").read_bytes()
    written = _mkdocs_wrote(monkeypatch)
    neighbour = _Neighbour(later=True)
    _build_beside(project, neighbour)
    assert len(neighbour.given) == 8 and all("</html>" in text for text in neighbour.given)
    assert written.count("index.html") == 8
    _assert_same_build(project, _disk_path(project, manifest, tmp_path))


def test_plugins_read_every_page_whole_in_on_post_build(
    project: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers are waited for before any plugin's ``on_post_build``, however slowly
    they write: each page another plugin reads there is the page the build ends with."""
    from shard_assets.build import handover

    _set(project, "      jobs: 2")
    _build(project, caplog)
    write = handover.write_as_generated

    def slowly(path: Path, text: str, files: handover.PageFiles) -> None:
        time.sleep(0.3)
        write(path, text, files)

    monkeypatch.setattr(handover, "write_as_generated", slowly)
    neighbour = _Neighbour(later=False)
    _build_beside(project, neighbour)
    site = project / "site"
    assert len(neighbour.read) == 8 and neighbour.read == _pages(site)
    assert b"https://cdn" in neighbour.read["index.html"]


def test_a_worker_writes_a_page_as_mkdocs_would(tmp_path: Path) -> None:
    """Text MkDocs cannot encode as it is (a lone surrogate) becomes a character
    reference, as in MkDocs' writer, in a folder made for it."""
    from mkdocs import utils

    from shard_assets.build.handover import write_as_generated
    from shard_assets.plugins.mkdocs import MKDOCS_FILES

    text = "<p>caf\u00e9 \udc80\r\n</p>\n"
    write_as_generated(tmp_path / "ours" / "page" / "index.html", text, MKDOCS_FILES)
    utils.write_file(
        text.encode("utf-8", errors="xmlcharrefreplace"), str(tmp_path / "mkdocs.html")
    )
    ours = (tmp_path / "ours" / "page" / "index.html").read_bytes()
    assert ours == (tmp_path / "mkdocs.html").read_bytes() == "<p>café &#56448;\r\n</p>\n".encode()
