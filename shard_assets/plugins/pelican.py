"""The Pelican plugin: ``PLUGINS = ["shard_assets.plugins.pelican"]``.

Settings come from one dict, ``SHARD_ASSETS``, merged over the defaults; ``site_url``
defaults to ``SITEURL``. They are checked when Pelican initializes, and the output is
sharded on ``finalized``, which also catches theme CSS that ``content_written`` never
sees. Errors are raised, so ``pelican`` logs them and exits non-zero.

The plugin's writer (``get_writer``, extending ``_open_w``) hands each page to the build
lifecycle (:mod:`shard_assets.plugins.lifecycle`, direct way) as it is written, sharded
with the manifest's hosts or, on a first build, those the static and theme files (from
``all_generators_finalized``) would get; a plugin generator waits for the worker before
static files are copied. When pages wait for ``finalized`` instead (another plugin
reads them, another writer, a nested run): docs/handover.md.

Pelican does not tell plugins where its settings file is: a relative ``manifest`` is
relative to the folder ``pelican`` runs in (or write ``str(Path(__file__).parent /
"shard-manifest.json")`` in pelicanconf.py).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from pelican import signals

from .. import Settings, ShardAssetsError, load_settings
from .lifecycle import BuildLifecycle, copied_files

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


def _fail(error: ShardAssetsError) -> NoReturn:
    """Stop the build: under ``pelican``, log the message and exit 1 (its ``main()``
    would bury it under a traceback); through the API, raise ``error``."""
    main = sys.modules.get("__main__")
    if Path(sys.argv[0]).name == "pelican" or getattr(main, "__package__", None) == "pelican":
        log.critical("%s", error)
        raise SystemExit(1) from None
    raise error


def _settings(pelican: Any) -> Settings:
    """:func:`settings_from` for the running build, failing it on an error."""
    try:
        return settings_from(pelican.settings)
    except ShardAssetsError as error:
        _BUILD.abort()
        _fail(error)


#: From the writer's creation to ``finalized``: the lock and the pages.
_BUILD = BuildLifecycle(_fail, log)


def _get_writer(pelican: Any) -> type | None:
    """A writer that hands pages over, the manifest locked until ``finalized``."""
    if _BUILD.nested:
        return None
    _BUILD.abort()  # a build before this one, in the same process, failed
    settings = _settings(pelican)
    if not settings.enabled:
        return None
    from pelican.writers import Writer  # noqa: PLC0415 (only when Pelican writes)

    if not callable(getattr(Writer, "_open_w", None)):
        return None
    # Another plugin hearing of pages as they are written might read one not written yet.
    writing = (signals.content_written, signals.article_writer_finalized)
    jobs = 1 if any(s.receivers for s in (*writing, signals.page_writer_finalized)) else None
    _BUILD.start(settings, Path(pelican.output_path), jobs=jobs, direct=True)
    generators, _GENERATORS[:] = list(_GENERATORS), []
    if generators:  # else the static files are unknown: the theme's alone are no guess
        _BUILD.static_files(_static_files(pelican, generators))

    class ShardingWriter(Writer):  # type: ignore[misc]
        def _open_w(self, filename: str, encoding: str, override: bool = False) -> IO[str]:
            return _BUILD.wrap(super()._open_w(filename, encoding, override), filename, encoding)

    return ShardingWriter


#: The run's generators, from ``all_generators_finalized`` (just before the writer).
_GENERATORS: list[Any] = []


def _on_all_generators_finalized(generators: list[Any]) -> None:
    _GENERATORS[:] = generators


def _static_files(pelican: Any, generators: list[Any]) -> Iterator[str]:
    """What Pelican copies after its pages: its generators' static files, the theme's."""
    for generator in generators:
        for static in getattr(generator, "staticfiles", ()):
            yield str(static.save_as).replace(os.sep, "/")
    settings = pelican.settings
    theme = [Path(pelican.theme, path) for path in settings.get("THEME_STATIC_PATHS") or ()]
    target = str(settings.get("THEME_STATIC_DIR", "theme"))
    yield from copied_files(theme, target, settings.get("IGNORE_FILES") or ())


class _PagesWritten:
    """Waits for every page handed over (run after the page writers, before static
    files are copied, so pages are whole before any ``finalized``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def generate_output(self, writer: Any) -> None:
        _BUILD.drain()


def _get_generators(pelican: Any) -> type | None:
    return _PagesWritten if _BUILD.begin(Path(pelican.output_path)) else None


def _on_finalized(pelican: Any) -> None:
    if not _BUILD.end():  # a nested run: the outer run's finalized shards its pages
        return
    settings = _settings(pelican)
    if settings.enabled:
        _BUILD.finish(settings, Path(pelican.output_path))
    else:
        _BUILD.abort()


def register() -> None:
    """Pelican's plugin entry point."""
    signals.initialized.connect(_settings)
    signals.all_generators_finalized.connect(_on_all_generators_finalized)
    signals.get_writer.connect(_get_writer)
    signals.get_generators.connect(_get_generators)
    signals.finalized.connect(_on_finalized)
