"""The Pelican plugin: ``PLUGINS = ["shard_assets.plugins.pelican"]``.

Settings come from one dict, ``SHARD_ASSETS``, merged over the defaults; ``site_url``
defaults to ``SITEURL``. They are checked when Pelican initializes, before anything
is written, and the whole output folder is sharded on ``finalized``, which also
catches theme CSS that ``content_written`` never sees. Errors are raised, so
``pelican`` logs them and exits non-zero.

Rebuilds are faster: the plugin's writer (``get_writer``, extending ``_open_w``) hands
each page to the build lifecycle (:mod:`shard_assets.plugins.lifecycle`, direct way) as it is
written; a plugin generator, run after the page writers and before static files are
copied, waits for the worker writing them. Pages are sharded at once, in this process,
when another plugin listens to a signal sent while pages are written (it might read
them); every page on ``finalized`` without ``_open_w`` or with another writer. A run
nested in ours (an i18n_subsites subsite) is left to ours (:mod:`shard_assets.plugins.lifecycle`).
A first build does the same with the hosts the static and theme files would get
(listed on ``all_generators_finalized``, before the writer), confirmed at the end.

Pelican does not tell plugins where its settings file is, so a relative
``manifest`` path is relative to the folder ``pelican`` runs in; write
``str(Path(__file__).parent / "shard-manifest.json")`` in pelicanconf.py for an
exact path.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from pelican import signals

from .. import Settings, ShardAssetsError, load_settings
from .lifecycle import BuildLifecycle

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


def _settings(pelican: Any) -> Settings:
    """:func:`settings_from` for the running build, failing it on an error."""
    try:
        return settings_from(pelican.settings)
    except ShardAssetsError as error:
        _BUILD.abort()
        _fail(error)


def _on_initialized(pelican: Any) -> None:
    _settings(pelican)


#: From the writer's creation to ``finalized``: the lock and the pages.
_BUILD = BuildLifecycle(_fail, log)


def _get_writer(pelican: Any) -> type | None:
    """A writer that rewrites pages in memory, holding the manifest's lock until
    ``finalized`` (see the module docstring)."""
    if _BUILD.nested:
        return None
    _BUILD.abort()  # a build before this one, in the same process, failed
    settings = _settings(pelican)
    if not settings.enabled:
        return None
    from pelican.writers import Writer  # noqa: PLC0415 (only when Pelican writes)

    if not callable(getattr(Writer, "_open_w", None)):
        return None
    jobs = 1 if _pages_may_be_read() else None
    _BUILD.start(settings, Path(pelican.output_path), jobs=jobs, direct=True)
    generators, _GENERATORS[:] = list(_GENERATORS), []
    if generators:  # else the static files are unknown: the theme's alone are no guess
        _BUILD.static_files(_static_files(pelican, generators))

    class ShardingWriter(Writer):  # type: ignore[misc]
        def _open_w(self, filename: str, encoding: str, override: bool = False) -> IO[str]:
            return _BUILD.wrap(super()._open_w(filename, encoding, override), filename, encoding)

    return ShardingWriter


#: The generators of the run going on, from ``all_generators_finalized`` (sent just
#: before Pelican asks for its writer) to the writer.
_GENERATORS: list[Any] = []


def _on_all_generators_finalized(generators: list[Any]) -> None:
    _GENERATORS[:] = generators


def _static_files(pelican: Any, generators: list[Any]) -> Iterator[str]:
    """The files Pelican copies after it writes its pages, output-relative: the
    static files its generators found and the theme's static files (as
    ``StaticGenerator.generate_output`` copies them)."""
    for generator in generators:
        for static in getattr(generator, "staticfiles", ()):
            yield str(static.save_as).replace(os.sep, "/")
    settings = pelican.settings
    ignores = settings.get("IGNORE_FILES") or ()
    target = str(settings.get("THEME_STATIC_DIR", "theme"))
    for path in settings.get("THEME_STATIC_PATHS") or ():
        source = Path(pelican.theme, path)
        found = [source] if source.is_file() else sorted(source.rglob("*"))
        for file in found:
            if not file.is_file() or any(fnmatch.fnmatch(file.name, i) for i in ignores):
                continue
            relative = file.name if file == source else file.relative_to(source).as_posix()
            yield f"{target}/{relative}".lstrip("/")


def _pages_may_be_read() -> bool:
    """Whether another plugin listens to a signal Pelican sends while it writes pages
    (and so might read a page a worker has not written yet)."""
    writing = (signals.content_written, signals.article_writer_finalized)
    return any(signal.receivers for signal in (*writing, signals.page_writer_finalized))


class _PagesWritten:
    """A generator that waits until every page handed over is written. Pelican runs
    plugin generators after its page writers and before it copies static files, so
    the pages are whole before ``finalized`` (whichever plugin it calls first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

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
    signals.initialized.connect(_on_initialized)
    signals.all_generators_finalized.connect(_on_all_generators_finalized)
    signals.get_writer.connect(_get_writer)
    signals.get_generators.connect(_get_generators)
    signals.finalized.connect(_on_finalized)
