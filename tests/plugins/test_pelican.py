"""Real Pelican builds of sample_site/pelican in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import HOSTS, ROOT, SAMPLE_SITE, snapshot

pytest.importorskip("pelican")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(
        SAMPLE_SITE / "pelican",
        tmp_path / "blog",
        ignore=shutil.ignore_patterns("output", "shard-manifest.json", "__pycache__"),
    )
    return tmp_path / "blog"


def pelican_build(
    project: Path, *flags: str, **override: object
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pelican`` command, as a user would, from the project folder."""
    settings = [f"{key}={json.dumps(value)}" for key, value in override.items()]
    command = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output"]
    command += flags
    if settings:
        command += ["-e", *settings]
    # The child imports this checkout, whatever the test run's PYTHONPATH says.
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        command,
        cwd=project,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )


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
    from pelican import Pelican
    from pelican.settings import read_settings

    monkeypatch.chdir(project)
    settings = read_settings(
        str(project / "pelicanconf.py"), override={"OUTPUT_PATH": str(project / "out")}
    )
    Pelican(settings).run()
    assert (project / "shard-manifest.json").exists()


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
def test_a_rebuild_rewrites_pages_in_memory_with_the_same_bytes(project: Path, jobs: int) -> None:
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
