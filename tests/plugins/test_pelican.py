"""Real Pelican builds of sample_site/pelican in a temporary folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shard_assets.config import load_settings
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
    assert "in memory" not in first_log  # no manifest yet: nothing rewritten in memory
    pages = len(_pages(project / "output"))
    assert f"{pages} pages scanned as the generator handed them over" in first_log
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
