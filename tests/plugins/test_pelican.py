"""Real Pelican builds of sample_site/pelican in a temporary folder."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from shard_assets.build.pipeline import shard_site
from shard_assets.config import Settings, load_settings
from shard_assets.messages import summary, warnings_by_kind
from shard_assets.results import BuildResult
from shard_assets.verify import verify_site

from ..conftest import HOSTS, shard_urls, snapshot
from ..generators import copy_pelican, pelican_build

pytest.importorskip("pelican")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_pelican(tmp_path / "blog")


def test_build_shards_theme_and_content(project: Path) -> None:
    result = pelican_build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((project / "shard-manifest.json").read_text())
    assets = manifest["assets"]
    assert len(assets) >= 40
    assert any(key.startswith("theme/icons/") for key in assets), "theme files, on finalized"
    assert any(key.startswith("images/") for key in assets)
    # Stylesheets stay on the origin (stylesheets: origin, the default).
    assert not [key for key in assets if key.endswith(".css")]
    output = project / "output"
    for page in output.rglob("*.html"):
        text = page.read_text()
        assert 'src="/images/' not in text and 'href="/theme/icons/' not in text, page
        assert 'href="https://music.example.org/theme/css/main.css"' in text, page
    # The theme's stylesheets, copied on finalized, are rewritten where they are.
    css = "".join(p.read_text() for p in (output / "theme").rglob("*.css"))
    assert "url(https://cdn" in css or 'url("https://cdn' in css


def test_rebuild_is_byte_identical(project: Path) -> None:
    assert pelican_build(project).returncode == 0
    first = snapshot(project / "output")
    manifest = (project / "shard-manifest.json").read_bytes()
    assert pelican_build(project).returncode == 0
    assert snapshot(project / "output") == first
    assert (project / "shard-manifest.json").read_bytes() == manifest


def test_unsharded_build_has_no_shard_urls(project: Path) -> None:
    assert pelican_build(project, PLUGINS=[]).returncode == 0
    assert not (project / "shard-manifest.json").exists()
    assert all(
        "cdn1.example.com" not in p.read_text() for p in (project / "output").rglob("*.html")
    )


def test_gate_failure_makes_pelican_exit_non_zero(project: Path) -> None:
    assert pelican_build(project).returncode == 0
    path = project / "shard-manifest.json"
    data = json.loads(path.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[0])
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    result = pelican_build(project)
    assert result.returncode == 1
    assert "over cap by" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert path.read_bytes() == before


def test_configuration_mistake_fails_at_initialization(project: Path) -> None:
    result = pelican_build(project, SHARD_ASSETS={"hosts": ["cdn1.example.com:8080"]})
    assert result.returncode == 1
    assert "has a port" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "output").exists()


def test_siteurl_is_the_default_site_url(project: Path) -> None:
    result = pelican_build(project, SITEURL="http://localhost:8000")
    assert result.returncode == 0, result.stdout + result.stderr
    index = (project / "output" / "index.html").read_text()
    assert "http://localhost:8000/theme/icons/" not in index
    assert 'href="http://localhost:8000/theme/css/main.css"' in index  # on the origin
    assert "https://cdn" in index


def test_api_build(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pelican's own API runs the plugin as the command does: the manifest holds the
    configured hosts and settings, and exactly the assets the output puts on a shard
    host (theme files and content images alike), each at the host the output names."""
    from pelican import Pelican
    from pelican.settings import read_settings

    monkeypatch.chdir(project)
    out = project / "out"
    settings = read_settings(str(project / "pelicanconf.py"), override={"OUTPUT_PATH": str(out)})
    Pelican(settings).run()
    path = project / "shard-manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["hosts"] == dict.fromkeys(HOSTS, 1)
    assert manifest["ring"]["max_imbalance"] == 0.10
    assets = manifest["assets"]
    assert set(assets) == {url.partition("?")[0] for url in shard_urls(out)}  # ?v=2 on a script
    assert all((out / key).is_file() for key in assets)
    assert {key.split("/")[0] for key in assets} >= {"theme", "images"}
    assert set(assets.values()) == set(HOSTS)
    audit = load_settings(
        {"hosts": HOSTS, "manifest": str(path), "site_url": settings["SITEURL"]},
        base_dir=project,
        source="test",
    )
    assert verify_site(out, audit) == []


def _settings(project: Path, **options: object) -> dict[str, object]:
    """The sample site's SHARD_ASSETS with ``options`` (for ``-e SHARD_ASSETS=...``)."""
    return {
        "hosts": HOSTS,
        "manifest": str(project / "shard-manifest.json"),
        "max_imbalance": 0.10,
        **options,
    }


def _pages(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(folder).items() if k.endswith(".html")}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_rebuild_rewrites_pages_at_handover_with_the_same_bytes(project: Path, jobs: int) -> None:
    first_run = pelican_build(project, "--verbose", SHARD_ASSETS=_settings(project, jobs=jobs))
    assert first_run.returncode == 0
    first_log = " ".join((first_run.stdout + first_run.stderr).split())
    pages = len(_pages(project / "output"))
    # No manifest yet: pages are sharded with the hosts the static files would get,
    # and those the assignment confirms are kept (see the first-build test below).
    assert f"{pages} of those files in memory" not in first_log
    assert "of those files in memory" in first_log
    first = snapshot(project / "output")
    result = pelican_build(project, "--verbose", SHARD_ASSETS=_settings(project, jobs=jobs))
    assert result.returncode == 0, result.stdout + result.stderr
    log = " ".join((result.stdout + result.stderr).split())  # the log wraps lines
    assert f"{pages} of those files in memory" in log
    assert snapshot(project / "output") == first
    assert not [p for p in (project / "output").rglob("*") if ".shard-assets-" in p.name]
    # From an empty output folder (as in CI) the images are copied after the pages are
    # written; they are checked at the end, and the pages are sharded in memory all the same.
    shutil.rmtree(project / "output")
    result = pelican_build(project, "--verbose", SHARD_ASSETS=_settings(project, jobs=jobs))
    assert result.returncode == 0
    assert f"{pages} of those files in memory" in " ".join((result.stdout + result.stderr).split())
    assert snapshot(project / "output") == first


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_rebuild_leaves_every_page_as_pelican_wrote_it(
    project: Path, tmp_path: Path, jobs: int
) -> None:
    assert pelican_build(project).returncode == 0
    manifest = (project / "shard-manifest.json").read_bytes()
    album = project / "content" / "albums" / "night-ferry.md"
    images = project / "content" / "images"
    shutil.copy(images / "covers" / "aurora-lines-128.png", images / "new.jpg")
    album.write_text(album.read_text() + "\n![New]({static}/images/new.jpg)\n")
    # The new image changes the manifest, which locked mode refuses.
    result = pelican_build(project, SHARD_ASSETS=_settings(project, jobs=jobs, locked=True))
    assert result.returncode == 1
    assert "locked mode" in result.stdout + result.stderr
    assert (project / "shard-manifest.json").read_bytes() == manifest
    plain = pelican_build(project, "-o", str(tmp_path / "plain"), PLUGINS=[])
    assert plain.returncode == 0
    assert _pages(project / "output") == _pages(tmp_path / "plain")
    assert not [p for p in (project / "output").rglob("*") if ".shard-assets-" in p.name]


READER_PLUGIN = """\
from pathlib import Path
from pelican import signals

def _read(path, context):
    if path.endswith(".html"):
        text = Path(path).read_text()
        Path(__file__).with_name("seen.txt").open("a").write(
            f"{'https://cdn' in text and text.rstrip().endswith('</html>')}\\n"
        )

def register():
    signals.content_written.connect(_read)
"""


def test_pages_are_whole_and_sharded_for_a_plugin_that_reads_them(project: Path) -> None:
    # A plugin that reads each page as it is written: shard-assets then writes each
    # page itself, at once, rather than on a worker process.
    (project / "reader.py").write_text(READER_PLUGIN)
    plugins = ["reader", "shard_assets.plugins.pelican"]
    assert pelican_build(project, PLUGINS=plugins, PLUGIN_PATHS=[str(project)]).returncode == 0
    (project / "seen.txt").unlink()
    result = pelican_build(
        project,
        "--verbose",
        PLUGINS=plugins,
        PLUGIN_PATHS=[str(project)],
        SHARD_ASSETS=_settings(project, jobs=2),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen = (project / "seen.txt").read_text().split()
    assert seen and set(seen) == {"True"}
    assert "of those files in memory" in " ".join((result.stdout + result.stderr).split())


def _first_build_in_process(project: Path, out: Path, jobs: int) -> BuildResult:
    """A first build of the sample through Pelican's API, into ``out``; its result."""
    from pelican import Pelican
    from pelican.settings import read_settings

    from shard_assets.plugins import pelican as plugin

    results: list[BuildResult] = []
    finish = plugin._BUILD.finish

    def kept(settings: Settings, output_dir: Path) -> BuildResult:
        results.append(finish(settings, output_dir))
        return results[-1]

    override = {"OUTPUT_PATH": str(out), "SHARD_ASSETS": _settings(project, jobs=jobs)}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        patch.setattr(plugin._BUILD, "finish", kept)
        Pelican(read_settings(str(project / "pelicanconf.py"), override=override)).run()
    (result,) = results
    return result


def _messages(result: BuildResult) -> tuple[list[tuple[str, str]], list[str]]:
    """The build's warnings and summary, without the lines that say how the pages
    were handed over (the manifest's own path differs between the two builds)."""
    lines = [
        line
        for line in summary(result).splitlines()
        if "handed them over" not in line and not line.lstrip().startswith("manifest:")
    ]
    return warnings_by_kind(result), lines


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("unreferenced", [False, True])
def test_a_first_build_sharded_at_handover_is_the_end_of_build_paths(
    project: Path, tmp_path: Path, jobs: int, unreferenced: bool
) -> None:
    """With no manifest, Pelican's pages are sharded as they are written with the hosts
    its static and theme files would get; the output, the manifest and the messages
    are those of a plain build sharded afterwards. A file no page loads (the sample's
    robots.txt and its media, and with ``unreferenced`` three more images) makes the
    guess wrong for some assets: their pages are put back and sharded at the end."""
    if unreferenced:
        images = project / "content" / "images"
        for n in range(3):
            shutil.copy(images / "covers" / "aurora-lines-128.png", images / f"unused-{n}.png")
    result = _first_build_in_process(project, project / "output", jobs)
    pages = len(_pages(project / "output"))
    assert 0 < result.rewritten_at_handover < pages  # some confirmed, some put back
    assert not [p for p in (project / "output").rglob("*") if ".shard-assets-" in p.name]

    plain = pelican_build(project, "-o", str(tmp_path / "plain"), PLUGINS=[])
    assert plain.returncode == 0, plain.stdout + plain.stderr
    settings = load_settings(
        _settings(tmp_path, site_url="https://music.example.org"), base_dir=tmp_path, source="test"
    )
    reference = shard_site(tmp_path / "plain", settings)
    assert reference.rewritten_at_handover == 0
    assert snapshot(project / "output") == snapshot(tmp_path / "plain")
    manifest = "shard-manifest.json"
    assert (project / manifest).read_bytes() == (tmp_path / manifest).read_bytes()
    assert _messages(result) == _messages(reference)
    assert (result.rewritten, result.references) == (reference.rewritten, reference.references)


def test_a_first_build_without_the_generators_makes_no_guess(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When ``all_generators_finalized`` did not reach the plugin (another Pelican
    front end, a plugin disconnecting it), the static files are unknown: the theme's
    alone would be a guess for a site it does not describe, so there is none, and every
    page is sharded at the end, with the same bytes."""
    from pelican import signals

    from shard_assets.plugins import pelican as plugin

    listener = plugin._on_all_generators_finalized
    signals.all_generators_finalized.disconnect(listener)  # connected by an earlier build
    try:
        with pytest.MonkeyPatch.context() as patch:  # and by this build's register()
            patch.setattr(plugin, "_on_all_generators_finalized", lambda generators: None)
            with caplog.at_level(logging.DEBUG, logger=plugin.log.name):
                _first_build_in_process(project, project / "output", jobs=1)
    finally:
        signals.all_generators_finalized.connect(listener)
    said = [r.getMessage() for r in caplog.records if r.name == plugin.log.name]
    assert said, "the plugin's debug lines were not captured"
    assert not [m for m in said if "other files the generator writes" in m], said
    plain = pelican_build(project, "-o", str(tmp_path / "plain"), PLUGINS=[])
    assert plain.returncode == 0, plain.stdout + plain.stderr
    settings = load_settings(
        _settings(tmp_path, site_url="https://music.example.org"), base_dir=tmp_path, source="test"
    )
    shard_site(tmp_path / "plain", settings)
    assert snapshot(project / "output") == snapshot(tmp_path / "plain")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_first_build_leaves_every_page_as_pelican_wrote_it(
    project: Path, tmp_path: Path, jobs: int
) -> None:
    """Pages sharded with the guessed hosts are put back when a check fails at the
    end (here ``locked``: a first build would write a manifest): no manifest, no
    temporary file, every page as a plain build writes it."""
    result = pelican_build(project, SHARD_ASSETS=_settings(project, jobs=jobs, locked=True))
    assert result.returncode == 1
    assert "locked mode" in result.stdout + result.stderr
    assert not (project / "shard-manifest.json").exists()
    plain = pelican_build(project, "-o", str(tmp_path / "plain"), PLUGINS=[])
    assert plain.returncode == 0
    assert _pages(project / "output") == _pages(tmp_path / "plain")
    assert not [p for p in (project / "output").rglob("*") if ".shard-assets-" in p.name]
