"""Shard a static site's asset URLs across several CDN hostnames at build time.

The core never imports MkDocs or Pelican; the adapters live in
``shard_assets.plugins``. The library API is what the CLI and the plugins use.
"""

from __future__ import annotations

from .assign import Assignment, Move, assign_hosts
from .balance import BalanceReport, balance_report
from .config import Settings, load_settings
from .errors import BalanceError, ConfigError, ManifestError, MissingAssetError, ShardAssetsError
from .manifest import Manifest, read_manifest, render_manifest, write_manifest
from .pipeline import shard_site
from .results import BuildResult
from .ring import Host, Ring, key_hash

__version__ = "0.1.0"

__all__ = [
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
