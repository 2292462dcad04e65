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
import sys
from pathlib import Path
from typing import Any, NoReturn

from pelican import signals

from ..config import Settings, load_settings
from ..errors import ShardAssetsError
from ..manifest import read_manifest
from ..parallel import default_jobs
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


def _running_pelican_command() -> bool:
    main = sys.modules.get("__main__")
    return Path(sys.argv[0]).name == "pelican" or getattr(main, "__package__", None) == "pelican"


def _fail(error: ShardAssetsError) -> NoReturn:
    """Stop the build with ``error``'s message.

    Under the ``pelican`` command the message is logged and the process exits 1:
    Pelican's ``main()`` logs every exception with its traceback, which would bury a
    message written to be read on its own. Called through the API, the error is
    raised as usual.
    """
    if _running_pelican_command():
        log.critical("%s", error)
        raise SystemExit(1) from None
    raise error


def _on_initialized(pelican: Any) -> None:
    try:
        settings_from(pelican.settings)
    except ShardAssetsError as error:
        _fail(error)


def _on_finalized(pelican: Any) -> None:
    try:
        settings = settings_from(pelican.settings)
        if not settings.enabled:
            return
        previous = read_manifest(settings.manifest) if settings.report else None
        result = shard_site(
            Path(pelican.output_path), settings, jobs=settings.jobs or default_jobs()
        )
        report = (
            write_build_report(Path(pelican.output_path), settings, previous)
            if settings.report
            else None
        )
    except ShardAssetsError as error:
        _fail(error)
    for warning in result.warnings:
        log.warning("shard-assets: %s", warning)
    for missing in result.missing:
        log.warning("shard-assets: %s", missing)
    for document in result.undecodable:
        log.warning("shard-assets: %s: cannot be decoded; left as it was", document)
    log.info("%s", summary(result))
    if report is not None:
        log.info("shard-assets: report: %s", report)


def register() -> None:
    """Pelican's plugin entry point."""
    signals.initialized.connect(_on_initialized)
    signals.finalized.connect(_on_finalized)
