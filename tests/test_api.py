"""The public surface: a pinned ``__all__`` and a core free of generator imports."""

from __future__ import annotations

import subprocess
import sys

import shard_assets


def test_all_is_pinned() -> None:
    assert shard_assets.__all__ == [
        "Assignment",
        "BalanceError",
        "BalanceReport",
        "BuildResult",
        "ConfigError",
        "Host",
        "Manifest",
        "ManifestError",
        "MissingAssetError",
        "Move",
        "Ring",
        "Settings",
        "ShardAssetsError",
        "__version__",
        "assign_hosts",
        "balance_report",
        "key_hash",
        "load_settings",
        "read_manifest",
        "render_manifest",
        "shard_site",
        "write_manifest",
    ]


def test_core_and_cli_import_no_generator() -> None:
    code = (
        "import sys, shard_assets, shard_assets.cli, shard_assets.pipeline; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('mkdocs', 'pelican', 'bs4')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
