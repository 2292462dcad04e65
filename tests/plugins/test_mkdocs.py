"""Real ``mkdocs build`` runs of sample_site/mkdocs in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ..conftest import HOSTS, snapshot
from ..generators import copy_mkdocs, mkdocs_build, set_option

pytest.importorskip("mkdocs")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_mkdocs(tmp_path / "docs-project")


def test_build_shards_the_site_and_writes_the_manifest_beside_mkdocs_yml(project: Path) -> None:
    result = mkdocs_build(project, "--strict")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((project / "shard-manifest.json").read_text())
    assert sorted(manifest["hosts"]) == HOSTS
    assets = manifest["assets"]
    assert len(assets) >= 25
    assert "js/extra.js" in assets
    # Stylesheets stay on the origin (stylesheets: origin, the default), named as
    # MkDocs wrote them; what they load is sharded.
    assert not [key for key in assets if key.endswith(".css")]
    # The web fonts stay on the origin too (cors_assets: origin), named relatively
    # by the stylesheet, which is on the origin itself.
    assert not [key for key in assets if key.endswith((".woff", ".woff2", ".ttf"))]
    site = project / "site"
    extra_css = (site / "css" / "extra.css").read_text()
    assert 'url("../fonts/harbour-pixel.woff2")' in extra_css
    assert f'url("https://{assets["img/callout-bg.png"]}/img/callout-bg.png")' in extra_css
    index = (site / "index.html").read_text()
    assert '<link href="css/extra.css" rel="stylesheet">' in index
    assert f'src="https://{assets["js/extra.js"]}/js/extra.js"' in index
    assert f'href="https://{assets["img/favicon.ico"]}/img/favicon.ico"' in index
    assert not (project.parent / "shard-manifest.json").exists()
    assert "assets over 4 hosts" in result.stderr


def test_rebuild_is_byte_identical(project: Path) -> None:
    assert mkdocs_build(project).returncode == 0
    first = snapshot(project / "site")
    manifest = (project / "shard-manifest.json").read_bytes()
    assert mkdocs_build(project).returncode == 0
    assert snapshot(project / "site") == first
    assert (project / "shard-manifest.json").read_bytes() == manifest


def test_gate_failure_is_a_clean_error_and_keeps_everything(project: Path) -> None:
    assert mkdocs_build(project).returncode == 0
    path = project / "shard-manifest.json"
    data = json.loads(path.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[2])
    path.write_text(json.dumps(data, indent=2))
    before = path.read_bytes()
    result = mkdocs_build(project)
    assert result.returncode == 1
    assert "over cap by" in result.stderr and HOSTS[2] in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_configuration_mistake_fails_before_building(project: Path) -> None:
    set_option(project, "- cdn1.example.com", "- https://cdn1.example.com")
    result = mkdocs_build(project)
    assert result.returncode == 1
    assert "has a scheme: write the bare hostname 'cdn1.example.com'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "site").exists()


def test_disabled_plugin_leaves_the_site_alone(project: Path) -> None:
    set_option(project, "max_imbalance: 0.10", "max_imbalance: 0.10\n      enabled: false")
    assert mkdocs_build(project).returncode == 0
    assert "cdn1.example.com" not in (project / "site" / "index.html").read_text()
    assert not (project / "shard-manifest.json").exists()


@pytest.mark.parametrize(
    ("command", "on_serve", "sharding"),
    [("serve", False, False), ("serve", True, True), ("build", False, True)],
)
def test_off_during_serve_unless_asked(
    tmp_path: Path, command: str, on_serve: bool, sharding: bool
) -> None:
    from shard_assets.plugins.mkdocs import ShardAssetsPlugin

    plugin = ShardAssetsPlugin()
    errors, warnings = plugin.load_config({"hosts": HOSTS, "enabled_on_serve": on_serve})
    assert errors == [] and warnings == []
    plugin.on_startup(command=command, dirty=False)
    config = SimpleNamespace(site_url=None, config_file_path=str(tmp_path / "mkdocs.yml"))
    assert plugin.on_config(config) is config
    assert (plugin.settings is not None) is sharding
    plugin.on_pre_build(config=SimpleNamespace(site_dir=str(tmp_path / "site")))
    assert plugin.build.started is sharding  # off: no lock, no manifest read
    plugin.on_build_error(error=RuntimeError("stop"))


def test_a_typo_in_an_option_is_an_error_with_a_hint(project: Path) -> None:
    set_option(project, "max_imbalance: 0.10", "max_imbalence: 0.10")
    result = mkdocs_build(project)
    assert result.returncode == 1
    assert "did you mean 'max_imbalance'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "site").exists()
