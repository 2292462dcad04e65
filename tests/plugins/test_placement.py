"""Weights, pins, balance_by and the algorithm settings through all three front ends.

Each front end builds a small generated site in-process: the CLI over an output
folder, MkDocs with ``mkdocs.commands.build``, Pelican with ``Pelican(...).run()``.
The plugin classes are the ones importable from this checkout (asserted for MkDocs,
whose entry point could otherwise name an installed copy).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shard_assets.cli import main

from ..conftest import png

IMAGES = 24
BIG = "img/photo-000.png"  # made far bigger than the others: bigger than any byte cap
Build = Callable[[Path, dict[str, Any]], dict[str, Any]]


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(IMAGES):
        (folder / f"photo-{i:03d}.png").write_bytes(png(rgb=(i, 50, 90)))
    # Bytes after IEND are ignored by decoders; 5 MB outweighs any theme's assets.
    (folder / "photo-000.png").write_bytes(png() + bytes(5_000_000))


def cli_build(tmp_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    site = tmp_path / "out"
    write_images(site / "img")
    tags = "".join(f'<img src="img/photo-{i:03d}.png">\n' for i in range(IMAGES))
    (site / "index.html").write_text(f"<html><body>{tags}</body></html>\n")
    manifest = tmp_path / "m.json"
    args = ["build", str(site), "--quiet", "--manifest", str(manifest)]
    hosts = options.pop("hosts")
    items = hosts.items() if isinstance(hosts, dict) else ((h, 1) for h in hosts)
    args += [arg for name, weight in items for arg in ("--host", f"{name}={weight}")]
    for glob, host in options.pop("pin", {}).items():
        args += ["--pin", f"{glob}={host}"]
    if options.pop("bounded", True) is False:
        args.append("--no-bounded")
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    assert main(args) == 0
    data: dict[str, Any] = json.loads(manifest.read_text())
    return data


def mkdocs_build(tmp_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    pytest.importorskip("mkdocs")
    import yaml
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from shard_assets.plugins.mkdocs import ShardAssetsPlugin

    project = tmp_path / "project"
    write_images(project / "docs" / "img")
    images = "\n".join(f"![photo {i}](img/photo-{i:03d}.png)" for i in range(IMAGES))
    (project / "docs" / "index.md").write_text(f"# Photos\n\n{images}\n")
    manifest = tmp_path / "m.json"
    config = {
        "site_name": "Photos",
        "plugins": [{"shard-assets": {**options, "manifest": str(manifest)}}],
    }
    (project / "mkdocs.yml").write_text(yaml.safe_dump(config))
    loaded = load_config(config_file=str(project / "mkdocs.yml"))
    plugin = loaded.plugins["shard-assets"]
    assert type(plugin) is ShardAssetsPlugin, "the plugin under test is this checkout's"
    loaded.plugins.on_startup(command="build", dirty=False)
    build(loaded)
    data: dict[str, Any] = json.loads(manifest.read_text())
    return data


def pelican_build(tmp_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    pytest.importorskip("pelican")
    from pelican import Pelican
    from pelican.settings import read_settings

    content = tmp_path / "content"
    write_images(content / "img")
    (content / "pages").mkdir()
    images = "\n".join(f"![photo {i}]({{static}}/img/photo-{i:03d}.png)" for i in range(IMAGES))
    (content / "pages" / "photos.md").write_text(f"Title: Photos\n\n{images}\n")
    manifest = tmp_path / "m.json"
    settings = read_settings(
        override={
            "PATH": str(content),
            "OUTPUT_PATH": str(tmp_path / "output"),
            "STATIC_PATHS": ["img"],
            "PLUGINS": ["shard_assets.plugins.pelican"],
            "SHARD_ASSETS": {**options, "manifest": str(manifest)},
            "SITEURL": "",
            "FEED_ALL_ATOM": None,
            "CATEGORY_FEED_ATOM": None,
            "AUTHOR_FEED_ATOM": None,
            "AUTHOR_FEED_RSS": None,
            "TIMEZONE": "UTC",
        }
    )
    Pelican(settings).run()
    data: dict[str, Any] = json.loads(manifest.read_text())
    return data


FRONT_ENDS: dict[str, Build] = {
    "cli": cli_build,
    "mkdocs": mkdocs_build,
    "pelican": pelican_build,
}
front_ends = pytest.mark.parametrize("build", FRONT_ENDS.values(), ids=FRONT_ENDS.keys())


@front_ends
@pytest.mark.parametrize("algorithm", ["ring", "rendezvous"])
def test_weights_give_weighted_caps(build: Build, tmp_path: Path, algorithm: str) -> None:
    hosts = {"cdn1.example.com": 3, "cdn2.example.com": 1}
    manifest = build(tmp_path, {"hosts": hosts, "algorithm": algorithm})
    assert manifest["algorithm"] == algorithm
    assert manifest["hosts"] == hosts
    counts = Counter(manifest["assets"].values())
    total = len(manifest["assets"])
    assert counts["cdn1.example.com"] <= math.ceil(1.1 * total * 3 / 4)
    assert counts["cdn2.example.com"] <= math.ceil(1.1 * total / 4)
    assert counts["cdn1.example.com"] > counts["cdn2.example.com"]


@front_ends
def test_pins_keep_a_group_on_its_host(build: Build, tmp_path: Path) -> None:
    hosts = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com"]
    manifest = build(tmp_path, {"hosts": hosts, "pin": {"img/photo-00*": "cdn3.example.com"}})
    pinned = {a: h for a, h in manifest["assets"].items() if a.startswith("img/photo-00")}
    assert len(pinned) == 10
    assert set(pinned.values()) == {"cdn3.example.com"}


@front_ends
def test_balance_by_bytes_puts_an_oversized_asset_alone_on_its_host(
    build: Build, tmp_path: Path
) -> None:
    hosts = ["cdn1.example.com", "cdn2.example.com"]
    manifest = build(tmp_path, {"hosts": hosts, "balance_by": "bytes"})
    assert manifest["ring"]["balance_by"] == "bytes"
    host = manifest["assets"][BIG]
    assert [a for a, h in manifest["assets"].items() if h == host] == [BIG]


@front_ends
def test_jump_unbounded(build: Build, tmp_path: Path) -> None:
    hosts = ["cdn1.example.com", "cdn2.example.com"]
    options = {"hosts": hosts, "algorithm": "jump", "bounded": False, "max_imbalance": 5}
    manifest = build(tmp_path, options)
    assert manifest["algorithm"] == "jump"
    assert manifest["ring"]["bounded_load"] is False
    assert manifest["ring"]["host_order"] == hosts


def test_cli_prints_the_jump_renumbering_warning(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*hosts: str) -> int:
        args = ["build", str(site), "--quiet", "--algorithm", "jump"]
        args += ["--manifest", str(site.parent / "m.json")]
        return main([*args, *(a for h in hosts for a in ("--host", h))])

    assert run("a.example.com", "b.example.com", "c.example.com") == 0
    assert run("a.example.com", "c.example.com") == 0
    err = capsys.readouterr().err
    assert "warning: b.example.com was removed from the middle of the host list" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--algorithm", "jump", "--host", "b.example.com=2"], "does not support host weights"),
        (["--pin", "js/*=nope.example.com"], "which is not in hosts"),
        (["--pin", "js/*"], "write GLOB=HOST"),
        (["--max-page-imbalance", "-1"], "must be 0 or more"),
    ],
)
def test_cli_placement_mistakes_exit_2(
    site: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["build", str(site), "--host", "a.example.com", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_mkdocs_options_are_validated() -> None:
    pytest.importorskip("mkdocs")
    from shard_assets.plugins.mkdocs import ShardAssetsPlugin

    plugin = ShardAssetsPlugin()
    errors, _ = plugin.load_config(
        {"hosts": ["a.example.com"], "algorithm": "rendezvous", "balance_by": "requests"}
    )
    assert errors == []
    assert plugin.config.algorithm == "rendezvous" and plugin.config.balance_by == "requests"
    assert plugin.config.bounded is True and plugin.config.max_page_imbalance is None
    errors, _ = ShardAssetsPlugin().load_config({"hosts": ["a.example.com"], "algorithm": "md5"})
    assert [name for name, _ in errors] == ["algorithm"]


@front_ends
def test_balance_by_requests(build: Build, tmp_path: Path) -> None:
    hosts = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com"]
    manifest = build(tmp_path, {"hosts": hosts, "balance_by": "requests"})
    assert manifest["ring"]["balance_by"] == "requests"
    assert {f"img/photo-{i:03d}.png" for i in range(IMAGES)} <= set(manifest["assets"])
    assert set(manifest["assets"].values()) == set(hosts)
