"""The Sphinx extension: ``extensions = ["shard_assets.plugins.sphinx"]``.

Settings are one dict in ``conf.py``, as ``html_theme_options`` is::

    shard_assets = {
        "hosts": ["cdn1.example.com", "cdn2.example.com"],
        "manifest": "shard-manifest.json",  # relative to the folder of conf.py
    }

The keys are the other front ends' settings; ``site_url`` defaults to
``html_baseurl``. They are checked once, on ``config-inited``: a mistake is a
``ConfigError`` naming the key and the fix.

The output is sharded on ``build-finished``, after other extensions (priority 900),
for the builders whose output is a web site: ``html``, ``dirhtml`` and ``singlehtml``
(one page loading the same ``_static`` and ``_images``). Every other builder is left
alone, HTML-ish ones too (``epub``, ``htmlhelp``, ``qthelp``, ``devhelp``,
``applehelp``), whose output is read offline. Nothing is done when the build raised.

Sphinx hands no rendered page to extensions (under ``-j`` worker processes write
them), so the build lifecycle (:mod:`shard_assets.plugins.lifecycle`) only finishes: the
output folder is sharded at the end, as ``shard-assets build`` would; nothing runs
while Sphinx reads or writes, so the extension is safe for both. An incremental
build meets pages sharded by the build before: URLs on the manifest's hosts are
references too, so the result is byte for byte a clean build's. Sphinx copies
``_static`` again (unsharded) before it writes pages, so the ``?v=<checksum>`` it puts
on CSS and JS URLs is the theme file's, the same in both; it is kept as it is.

Warnings have ``type="shard_assets"`` and a subtype (``missing``, ``undecodable``,
``hosts``) for ``suppress_warnings``; ``-W`` fails the build on them, ``-q`` hides the
summary. A failed build (the gate, ``locked``, ``strict``, a bad manifest) is one
logged error and status 1, and neither the output nor the manifest is touched.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, NoReturn

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

from .. import Settings, ShardAssetsError, __version__, load_settings
from .lifecycle import PREFIX, BuildLifecycle

logger = logging.getLogger(__name__)

#: The ``conf.py`` name of the settings dict.
SETTING = "shard_assets"
#: The builders whose output is sharded; every other one is left alone.
BUILDERS = frozenset({"html", "dirhtml", "singlehtml"})
#: The ``type`` of every warning and error logged here (for ``suppress_warnings``).
WARNING_TYPE = "shard_assets"


def settings_from(config: Config, confdir: Path) -> Settings:
    """Validate ``config.shard_assets`` (``html_baseurl`` is the default site_url; a
    relative manifest path is relative to ``confdir``, the folder of conf.py)."""
    source = f"{SETTING} in {confdir / 'conf.py'}"
    options = config[SETTING]
    if not isinstance(options, dict):
        raise ShardAssetsError(
            f"{source} must be a dict of settings, e.g. "
            f'{{"hosts": ["cdn1.example.com", "cdn2.example.com"]}}; got {options!r}'
        )
    options = dict(options)
    base_url = config.html_baseurl
    if not options.get("site_url") and isinstance(base_url, str) and "://" in base_url:
        options["site_url"] = base_url
    return load_settings(options, base_dir=confdir, source=source)


_SETTINGS: weakref.WeakKeyDictionary[Sphinx, Settings] = weakref.WeakKeyDictionary()


def _on_config_inited(app: Sphinx, config: Config) -> None:
    try:
        _SETTINGS[app] = settings_from(config, Path(app.confdir))
    except ShardAssetsError as error:
        raise ConfigError(str(error)) from None


def _on_build_finished(app: Sphinx, exception: BaseException | None) -> None:
    settings = _SETTINGS.get(app)
    if exception is not None or settings is None or not settings.enabled:
        return
    if app.builder.name not in BUILDERS:
        logger.info(f"{PREFIX}nothing to do for the {app.builder.name} builder")
        return
    try:
        _SphinxBuild(app).finish(settings, Path(app.outdir))
    except _Failed:
        return


class _Failed(Exception):
    """The build failed and said so; Sphinx goes on to its end with status 1."""


class _SphinxBuild(BuildLifecycle):
    """The build lifecycle, failing and warning the way Sphinx extensions do."""

    def __init__(self, app: Sphinx) -> None:
        super().__init__(self._fail, logger)
        self.app = app

    def _fail(self, error: ShardAssetsError) -> NoReturn:
        """Log the error and make the build's status 1, as ``linkcheck`` does for a
        broken link, rather than raise: Sphinx prints any exception inside a report
        for its developers."""
        message = str(error).removeprefix(PREFIX)  # the gate's starts with it already
        logger.error(f"{PREFIX}{message}", type=WARNING_TYPE, subtype="failed")
        self.app.statuscode = 1
        raise _Failed from None

    def warning(self, kind: str, message: str) -> None:
        """With ``kind`` as the subtype, for ``suppress_warnings``."""
        logger.warning(message, type=WARNING_TYPE, subtype=kind)


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx's extension entry point."""
    # Changing the settings makes Sphinx write every page again ("html"), so no page
    # keeps URLs of hosts a build no longer knows.
    app.add_config_value(SETTING, {}, "html", types=(dict,))
    app.connect("config-inited", _on_config_inited)
    app.connect("build-finished", _on_build_finished, priority=900)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
