"""The Pelican plugin: ``PLUGINS = ["shard_assets.plugins.pelican"]``.

Settings come from one dict, ``SHARD_ASSETS``, merged over the defaults; ``site_url``
defaults to ``SITEURL``. They are checked when Pelican initializes, before anything
is written, and the whole output folder is sharded on ``finalized``, which also
catches theme CSS that ``content_written`` never sees. Errors are raised, so
``pelican`` logs them and exits non-zero.

Rebuilds are faster: the plugin gives Pelican a writer (``get_writer``) that locks
and reads the manifest when writing starts and, when the manifest already places
every asset a page loads, writes the page sharded, remembering how to put Pelican's
text back until ``finalized`` has checked the build (the direct way of
:mod:`shard_assets.memory`): those pages are not read or written again. With more
than one core, a worker process shards and writes the pages while Pelican renders
the next ones; a generator of the plugin's, which Pelican runs after the page
writers and before it copies static files, waits for it. When another plugin
listens to a signal sent while pages are written (it might read them), each page is
sharded and written at once instead. The writer extends Pelican's
``Writer._open_w``; on a Pelican without it, or when another plugin supplies the
writer, every page is sharded on ``finalized`` as before. On a first build (no
manifest yet) the writer only scans each page, so ``finalized`` need not read it
back to find its references.

A run nested in another (i18n_subsites builds each language's subsite, into a folder
inside the main site's output, while the main site's run is going on) is left alone:
the main site's ``finalized`` shards its pages with the rest, with the main site's
URL and settings, one manifest and one balance gate.

Pelican does not tell plugins where its settings file is, so a relative
``manifest`` path is relative to the folder ``pelican`` runs in; write
``str(Path(__file__).parent / "shard-manifest.json")`` in pelicanconf.py for an
exact path.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any, ClassVar, NoReturn

from pelican import signals

from ..config import Settings, load_settings
from ..errors import ShardAssetsError
from ..files import manifest_lock
from ..memory import InMemoryPages
from ..parallel import default_jobs
from ..pipeline import PAGE_SUFFIXES, build_warnings, shard_site, summary
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


class _Build:
    """What lives from the writer's creation to ``finalized``: the lock and the pages;
    and, from ``get_generators`` to ``finalized``, the run's output folder and the runs
    nested in it."""

    lock = contextlib.ExitStack()
    pages: InMemoryPages | None = None
    output: Path | None = None
    nested: ClassVar[list[Any]] = []


def _is_nested(pelican: Any) -> bool:
    return any(run is pelican for run in _Build.nested)


def _get_writer(pelican: Any) -> type | None:
    """A writer that rewrites pages in memory, holding the manifest's lock until
    ``finalized`` (see the module docstring)."""
    if _is_nested(pelican):
        return None
    if _Build.pages is not None:  # a build before this one, in the same process, failed
        _Build.pages.discard()
    _Build.lock.close()
    _Build.pages = None
    try:
        settings = settings_from(pelican.settings)
        if not settings.enabled:
            return None
        from pelican.writers import Writer  # noqa: PLC0415 (only when Pelican writes)

        if not callable(getattr(Writer, "_open_w", None)):
            return None
        output = Path(pelican.output_path)
        root = os.path.join(str(output), "")
        _Build.lock.enter_context(manifest_lock(settings.manifest))
        jobs = 1 if _pages_may_be_read() else settings.jobs or default_jobs()
        _Build.pages = pages = InMemoryPages(settings, output, jobs, direct=True)
    except ShardAssetsError as error:
        _Build.lock.close()
        _fail(error)
    if not pages.active:
        # Pages are only scanned as they are written, and sharded on finalized.
        log.debug("shard-assets: pages are sharded at the end of the build: %s", pages.reason)

    class ShardingWriter(Writer):  # type: ignore[misc]
        def _open_w(self, filename: str, encoding: str, override: bool = False) -> IO[str]:
            handle: IO[str] = super()._open_w(filename, encoding, override)
            if (
                filename == os.devnull
                or not filename.lower().endswith(PAGE_SUFFIXES)
                or codecs.lookup(encoding).name != "utf-8"
            ):
                return handle
            if filename.startswith(root):
                document = filename[len(root) :].replace(os.sep, "/")
            else:
                document = Path(os.path.relpath(filename, output)).as_posix()
            return _PageBuffer(handle, pages, document)

    return ShardingWriter


def _pages_may_be_read() -> bool:
    """Whether another plugin listens to a signal Pelican sends while it writes pages
    (and so might read a page a worker has not written yet)."""
    return any(
        signal.receivers
        for signal in (
            signals.content_written,
            signals.article_writer_finalized,
            signals.page_writer_finalized,
        )
    )


class _PagesWritten:
    """A generator that waits until every page handed over is written. Pelican runs
    plugin generators after its page writers and before it copies static files, so
    the pages are whole before ``finalized`` (whichever plugin it calls first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def generate_output(self, writer: Any) -> None:
        if _Build.pages is not None:
            try:
                _Build.pages.drain()
            except ShardAssetsError as error:
                _fail(error)


def _get_generators(pelican: Any) -> type | None:
    """Note the run's output folder; a run whose output lies inside the folder of a run
    still going on is nested in it, as i18n_subsites builds each language's subsite
    (into ``output/de``) while the main site's run asks for its writer. A nested run
    does nothing here: the outer run's ``finalized`` shards its pages with the rest,
    once, with the outer site's URL, one manifest and one gate."""
    output = Path(pelican.output_path).resolve()
    outer = _Build.output
    if outer is not None and output != outer and output.is_relative_to(outer):
        _Build.nested.append(pelican)
        return None
    _Build.output = output  # a run not nested in another: any earlier one has ended
    _Build.nested.clear()
    return _PagesWritten


class _PageBuffer(io.StringIO):
    """Collects a page as Pelican writes it; when closed, hands it over and writes
    what comes back (nothing when a worker writes it)."""

    def __init__(self, handle: IO[str], pages: InMemoryPages, document: str) -> None:
        super().__init__()
        self.handle = handle
        self.pages = pages
        self.document = document

    def close(self) -> None:
        if not self.closed:
            text = self.getvalue()
            written: str | None = text
            try:
                written = self.pages.hand_over(text, self.document)
            finally:  # whatever happens, Pelican's page is written
                with self.handle:
                    if written is not None:
                        self.handle.write(written)
        super().close()


def _on_finalized(pelican: Any) -> None:
    if _is_nested(pelican):
        _Build.nested.remove(pelican)
        log.debug("shard-assets: %s is sharded with the site around it", pelican.output_path)
        return
    _Build.output = None
    pages, _Build.pages = _Build.pages, None
    try:
        settings = settings_from(pelican.settings)
        if not settings.enabled:
            return
        if pages is None:
            _Build.lock.enter_context(manifest_lock(settings.manifest))
            pages = InMemoryPages(settings, Path(pelican.output_path))
        result = shard_site(
            Path(pelican.output_path),
            settings,
            jobs=settings.jobs or default_jobs(),
            in_memory=pages,
        )
        report = (
            write_build_report(Path(pelican.output_path), settings, pages.previous, result)
            if settings.report
            else None
        )
    except ShardAssetsError as error:
        _fail(error)
    finally:
        _Build.lock.close()
    for warning in build_warnings(result):
        log.warning("shard-assets: %s", warning)
    log.info("%s", summary(result))
    if report is not None:
        log.info("shard-assets: report: %s", report)


def register() -> None:
    """Pelican's plugin entry point."""
    signals.initialized.connect(_on_initialized)
    signals.get_writer.connect(_get_writer)
    signals.get_generators.connect(_get_generators)
    signals.finalized.connect(_on_finalized)
