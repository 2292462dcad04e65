"""The Sphinx extension: ``extensions = ["shard_assets.plugins.sphinx"]``.

Settings are one dict in ``conf.py``, as Sphinx users know from
``html_theme_options`` and ``sphinx_gallery_conf``::

    shard_assets = {
        "hosts": ["cdn1.example.com", "cdn2.example.com"],
        "manifest": "shard-manifest.json",  # relative to the folder of conf.py
    }

The keys are the other front ends' settings; ``site_url`` defaults to
``html_baseurl``. They are checked once, when Sphinx reads ``conf.py``
(``config-inited``): a mistake is a ``ConfigError`` naming the key and the fix.

The output is sharded on ``build-finished``, after every other extension's handler
(priority 900), for the builders whose output is a web site: ``html``, ``dirhtml``
and ``singlehtml`` (one page that loads the same ``_static`` and ``_images``).
Every other builder is left alone, the ones writing HTML-ish output too (``epub``,
``htmlhelp``, ``qthelp``, ``devhelp``, ``applehelp``): their output is read
offline, from a package, where a CDN URL is the wrong thing. Nothing is done when
the build raised.

Sphinx hands no rendered page to extensions (it writes pages itself, in worker
processes under ``-j``), so the whole output folder is sharded at the end, as
``shard-assets build`` would; nothing runs while Sphinx reads or writes, which is
why the extension declares itself safe for both. An incremental build meets a
folder where the pages Sphinx did not write again are sharded already: URLs on the
manifest's hosts are references like any other, so the result is byte for byte
that of a clean build with the same manifest. Sphinx copies ``_static`` again
(unsharded) before it writes pages, and the ``?v=<checksum>`` it puts on CSS and
JS URLs is the checksum of that copy, the theme's file: it is kept as it is, the
same in a clean and an incremental build.

Warnings are logged with ``type="shard_assets"`` (subtypes ``missing``,
``undecodable``, ``hosts``), so ``suppress_warnings`` silences them and ``-W``
fails the build on them; ``-q`` hides the summary. A failed build (the balance
gate, ``locked``, ``strict``, an unreadable manifest) is logged as one error, the
build's status becomes 1 ("build finished with problems"), as ``linkcheck`` and
``doctest`` report theirs, and neither the output nor the manifest is touched.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

from .. import __version__
from ..config import Settings, load_settings
from ..errors import ShardAssetsError
from ..files import manifest_lock
from ..memory import InMemoryPages
from ..parallel import default_jobs
from ..pipeline import BuildResult, MissingRef, shard_site, summary
from ..report import write_build_report

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
        logger.info(f"shard-assets: nothing to do for the {app.builder.name} builder")
        return
    try:
        result, report = _shard(Path(app.outdir), settings)
    except ShardAssetsError as error:
        message = str(error).removeprefix("shard-assets: ")  # the gate's says it already
        logger.error(f"shard-assets: {message}", type=WARNING_TYPE, subtype="failed")
        app.statuscode = 1
        return
    for subtype, message in _warnings(result):
        logger.warning(f"shard-assets: {message}", type=WARNING_TYPE, subtype=subtype)
    for line in summary(result).splitlines():
        logger.info(line)
    if report is not None:
        logger.info(f"shard-assets: report: {report}")


def _shard(output: Path, settings: Settings) -> tuple[BuildResult, Path | None]:
    """Shard ``output`` and write the report if asked, holding the manifest's lock."""
    with manifest_lock(settings.manifest):
        pages = InMemoryPages(settings, output)  # reads the manifest; no page is handed over
        jobs = settings.jobs or default_jobs()
        result = shard_site(output, settings, jobs=jobs, in_memory=pages)
        report = (
            write_build_report(output, settings, pages.previous, result)
            if settings.report
            else None
        )
    return result, report


def _warnings(result: BuildResult) -> list[tuple[str, str]]:
    """What the build warns about, each with its ``suppress_warnings`` subtype."""
    return [
        *(("hosts", warning) for warning in result.warnings),
        *(("missing", str(missing)) for missing in result.missing if not _is_template(missing)),
        *(
            ("undecodable", f"{document}: binary or not decodable; left as it was")
            for document in result.undecodable
        ),
    ]


def _is_template(missing: MissingRef) -> bool:
    """Whether a missing reference is Jinja markup, not a URL: themes ship templates
    in their static folders, which Sphinx copies unrendered (pydata-sphinx-theme's
    ``_static/webpack-macros.html``); a browser never loads them as pages."""
    return "{{" in missing.url or "{%" in missing.url


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx's extension entry point."""
    # Changing the settings makes Sphinx write every page again ("html"), so no page
    # keeps URLs of hosts a build no longer knows.
    app.add_config_value(SETTING, {}, "html", types=(dict,))
    app.connect("config-inited", _on_config_inited)
    app.connect("build-finished", _on_build_finished, priority=900)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
