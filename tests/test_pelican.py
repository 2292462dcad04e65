"""Real Pelican builds of sample_site/pelican in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HOSTS, ROOT, SAMPLE_SITE, snapshot

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
    assert any(key.startswith("theme/css/") for key in assets), "theme CSS is caught on finalized"
    assert any(key.startswith("images/") for key in assets)
    output = project / "output"
    for page in output.rglob("*.html"):
        text = page.read_text()
        assert 'src="/images/' not in text and 'href="/theme/css/' not in text, page
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
    assert "http://localhost:8000/theme/" not in index
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


def test_a_rebuild_rewrites_pages_in_memory_with_the_same_bytes(project: Path) -> None:
    first_run = pelican_build(project, "--verbose")
    assert first_run.returncode == 0
    assert "in memory" not in first_run.stdout + first_run.stderr  # no manifest yet
    first = snapshot(project / "output")
    result = pelican_build(project, "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    log = " ".join((result.stdout + result.stderr).split())  # the log wraps lines
    assert "of those files in memory" in log
    assert snapshot(project / "output") == first
    # From an empty output folder, the images are copied after the pages are written:
    # the pages wait for the end of the build, with the same result.
    shutil.rmtree(project / "output")
    result = pelican_build(project)
    assert result.returncode == 0
    assert snapshot(project / "output") == first
