"""The Pelican plugin: ``PLUGINS = ["shard_assets.plugins.pelican"]``.

Settings come from one dict, ``SHARD_ASSETS``, merged over the defaults; ``site_url``
defaults to ``SITEURL``. They are checked when Pelican initializes, before anything
is written, and the whole output folder is sharded on ``finalized``, which also
catches theme CSS that ``content_written`` never sees. Errors are raised, so
``pelican`` logs them and exits non-zero.

Pelican does not tell plugins where its settings file is, so a relative
``manifest`` path is relative to the folder ``pelican`` runs in; write
``str(Path(__file__).parent / "shard-manifest.json")`` in pelicanconf.py for an
exact path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pelican import signals

from ..config import Settings, load_settings
from ..manifest import read_manifest
from ..pipeline import shard_site, summary
from ..report import write_build_report

log = logging.getLogger(__name__)

SETTING = "SHARD_ASSETS"


def settings_from(pelican_settings: dict[str, Any]) -> Settings:
    """Validate ``SHARD_ASSETS`` (with ``SITEURL`` as the default site_url)."""
    options = dict(pelican_settings.get(SETTING) or {})
    if not options.get("site_url") and pelican_settings.get("SITEURL"):
        options["site_url"] = pelican_settings["SITEURL"]
    if options.get("site_url") and "://" not in str(options["site_url"]):
        # Pelican's SITEURL may be empty or relative; only an absolute URL names an origin.
        options.pop("site_url")
    return load_settings(options, base_dir=Path.cwd(), source=f"{SETTING} in the Pelican settings")


def _on_initialized(pelican: Any) -> None:
    settings_from(pelican.settings)


def _on_finalized(pelican: Any) -> None:
    settings = settings_from(pelican.settings)
    if not settings.enabled:
        return
    previous = read_manifest(settings.manifest) if settings.report else None
    result = shard_site(Path(pelican.output_path), settings)
    for missing in result.missing:
        log.warning("shard-assets: %s", missing)
    for document in result.undecodable:
        log.warning("shard-assets: %s: cannot be decoded; left as it was", document)
    log.info("%s", summary(result))
    if settings.report:
        report = write_build_report(Path(pelican.output_path), settings, previous)
        log.info("shard-assets: report: %s", report)


def register() -> None:
    """Pelican's plugin entry point."""
    signals.initialized.connect(_on_initialized)
    signals.finalized.connect(_on_finalized)
