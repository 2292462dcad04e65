"""The build lifecycle every generator adapter uses, so an adapter holds only what is
specific to its generator (where its settings come from, which events it hooks, how
it fails and logs).

A build goes through four steps, each a method of :class:`BuildLifecycle`:

1. :meth:`~BuildLifecycle.start`, when the generator starts writing: lock the
   manifest for the whole build and read it, and get ready to take pages over.
2. :meth:`~BuildLifecycle.page`, for each page the generator is about to write: the
   page is sharded in memory when the manifest already places every asset it loads
   (see :mod:`shard_assets.build.handover`); write the text it returns, if any. On a
   first build, :meth:`~BuildLifecycle.static_files` before the first page lets the
   pages be sharded with the assignment the generator's other files would get.
   :meth:`~BuildLifecycle.drain` waits for the worker processes, before anything
   reads the pages.
3. :meth:`~BuildLifecycle.finish`, when the whole output is written: the final
   :func:`shard_assets.build.pipeline.shard_site` (check, put the pages in place, shard the
   rest, write the manifest), the ``report: true`` page, then the warnings and the
   summary are logged, and the lock released. ``finish`` without ``start`` locks
   and shards the output folder as the CLI does.
4. :meth:`~BuildLifecycle.abort`, when the generator's build fails: every page
   prepared in memory is given up (put back as the generator made it) and the lock
   released.

Ctrl-C or SIGTERM at any point from ``start`` to the end does what ``abort`` does
(the worker processes stopped, the temporary files removed, the lock released) and
then goes to the generator, which ends its own way (see
:class:`shard_assets.interrupts.InterruptGuard`). Within ``finish``, the final build
unwinds as the command line's does, and the state of the files is logged.

Some plugins build more output inside a build: mkdocs-static-i18n runs MkDocs' build
again for each other language (same ``site_dir``, pages under ``fr/``), and Pelican's
i18n_subsites runs a whole Pelican for each language (into ``output/de``) while the
main site's run asks for its writer. :meth:`~BuildLifecycle.begin` and
:meth:`~BuildLifecycle.end` bracket each build the adapter sees; a nested one is left
alone, and the outer build's ``finish`` shards its files with the rest, once, with the
outer build's settings, one manifest and one gate.

The adapter gives two things: ``fail``, which turns a :class:`ShardAssetsError` into
the generator's own failure (MkDocs' ``PluginError``, Pelican's exit) and never
returns; and ``log``, anything with ``debug``, ``info`` and ``warning`` methods
taking one message (a :class:`logging.Logger` will do). Messages start with
``shard-assets: `` where the plugin's name is not already shown; the summary is one
message of several lines. A minimal adapter::

    def fail(error: ShardAssetsError) -> NoReturn:
        raise MyGeneratorError(str(error)) from None

    build = BuildLifecycle(fail, logging.getLogger(__name__))
    build.start(settings, output_dir)          # when writing starts
    text = build.page(text, "docs/index.html")  # per page; None: already written
    build.finish(settings, output_dir)          # when the output is complete
    build.abort()                               # when the generator's build fails
"""

from __future__ import annotations

import codecs
import contextlib
import fnmatch
import io
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, NoReturn, Protocol

from ..build.handover import TEXT_MODE, Handover, PageFiles
from ..build.pipeline import shard_site
from ..config import Settings
from ..documents.inventory import is_page
from ..errors import ShardAssetsError
from ..files import manifest_lock
from ..interrupts import Interrupted, InterruptGuard, describe
from ..manifest import Manifest
from ..messages import sharded_at_the_end, sharded_with_a_guess, summary, warnings_by_kind
from ..parallel import default_jobs
from ..results import BuildResult

#: What the adapters use: the lifecycle, how to log, how their generator writes pages.
__all__ = [
    "PREFIX",
    "BuildLifecycle",
    "BuildLog",
    "LinesLog",
    "PageFiles",
    "Unsaid",
    "copied_files",
]

#: What every message of the lifecycle starts with (an adapter may strip it).
PREFIX = "shard-assets: "


class BuildLog(Protocol):
    """Where the lifecycle's messages go (a :class:`logging.Logger` is one)."""

    def debug(self, message: str, /) -> None: ...

    def info(self, message: str, /) -> None: ...

    def warning(self, message: str, /) -> None: ...


class LinesLog:
    """A :class:`BuildLog` for a logger that shows the plugin's name already (as
    MkDocs' plugin logger does): the prefix is dropped, and each line of a message is
    a record of its own."""

    def __init__(self, log: BuildLog) -> None:
        self.log = log

    def debug(self, message: str, /) -> None:
        self.log.debug(message.removeprefix(PREFIX))

    def info(self, message: str, /) -> None:
        for line in message.splitlines():
            self.log.info(line.removeprefix(PREFIX))

    def warning(self, message: str, /) -> None:
        self.log.warning(message.removeprefix(PREFIX))


#: Turns the core's error into the generator's failure; never returns.
Fail = Callable[[ShardAssetsError], NoReturn]


class Unsaid(logging.Filter):
    """Drops, once each, the messages it expects: what a generator logs about a page a
    worker writes in its place (MkDocs: that it skipped a page whose text is empty)."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.expected and (message := record.getMessage()) in self.expected:
            self.expected.discard(message)
            return False
        return True


class BuildLifecycle:
    """One generator build: the manifest's lock, the pages handed over, the end.

    One object may serve build after build in the same process (``mkdocs serve``,
    Pelican's autoreload): :meth:`start` first gives up what a failed build left.
    """

    def __init__(self, fail: Fail, log: BuildLog) -> None:
        self.fail = fail
        self.log = log
        self.handover: Handover | None = None
        self._lock = contextlib.ExitStack()
        self._runs: list[Path] = []  # the output folders of the builds going on, outermost first
        self._interrupts = InterruptGuard(self._interrupted)

    @property
    def started(self) -> bool:
        """Whether pages are being taken over (between :meth:`start` and the end)."""
        return self.handover is not None

    def begin(self, output_dir: Path, *, same_folder: bool = False) -> bool:
        """Note that a build of ``output_dir`` begins; False when it is nested in the
        build going on: it writes inside that build's output folder (or, with
        ``same_folder``, into the folder itself). Leave a nested build alone until
        :meth:`end`. Any other build is not nested: whatever went on before has ended."""
        output = output_dir.resolve()
        outer = self._runs[0] if self._runs else None
        if outer is not None and output.is_relative_to(outer) and (same_folder or output != outer):
            self._runs.append(output)
            return False
        self._runs = [output]
        return True

    @property
    def nested(self) -> bool:
        """Whether the build going on is nested in another (see :meth:`begin`)."""
        return len(self._runs) > 1

    def end(self) -> bool:
        """Note that the build going on ended; False when it was a nested one."""
        nested = self.nested
        if self._runs:
            self._runs.pop()
        return not nested

    def forget(self) -> None:
        """After a failed build: no build is going on any more."""
        self._runs.clear()

    def start(
        self,
        settings: Settings,
        output_dir: Path,
        *,
        jobs: int | None = None,
        direct: bool = False,
        files: PageFiles = TEXT_MODE,
    ) -> None:
        """Lock and read the manifest for the whole build, and get ready for pages.

        ``jobs`` worker processes take the pages (default: the ``jobs`` setting, else
        one per core). ``direct``: the generator writes the sharded text :meth:`page`
        returns (and nothing when it returns None: a worker writes it, the way ``files``
        says the generator does), and a failed build puts the generator's text back;
        otherwise it writes its own text and the sharded page is put in place at the
        end (see :mod:`shard_assets.build.handover`).
        """
        self.abort()
        self._interrupts.install()
        with self._ours():
            try:
                self._lock.enter_context(manifest_lock(settings.manifest))
                workers = (settings.jobs or default_jobs()) if jobs is None else jobs
                self.handover = Handover(settings, output_dir, workers, direct=direct, files=files)
            except ShardAssetsError as error:
                self.abort()
                self.fail(error)
        if not self.handover.active:
            self.log.debug(PREFIX + sharded_at_the_end(self.handover.reason))

    def static_files(self, files: Iterable[str]) -> None:
        """Before the generator hands over its first page: ``files``, the output-relative
        paths of the other files it writes (its static and theme files). On a first
        build the pages are then sharded as they are handed over, with the assignment
        those files would get, and each is confirmed at the end as on a rebuild (see
        :meth:`shard_assets.build.handover.Handover.guess`)."""
        if self.handover is None or self.nested or not self.handover.may_guess:
            return
        listed = list(files)
        with self._ours():
            if self.handover.guess(listed):
                self.log.debug(PREFIX + sharded_with_a_guess(len(listed)))

    def page(self, text: str, document: str) -> str | None:
        """Take ``text``, the page at output-relative path ``document`` the generator
        is about to write, and return what to write (None: it is written already)."""
        if self.handover is None or self.nested:
            return text
        with self._ours():
            try:
                return self.handover.hand_over(text, document)
            except ShardAssetsError as error:  # a worker failed a page before this one
                self.abort()
                self.fail(error)

    def wrap(self, handle: IO[str], filename: str, encoding: str) -> IO[str]:
        """For a generator that writes pages through file handles: ``handle``, just
        opened to write ``filename`` (a path in the output folder) in ``encoding``, or,
        for a UTF-8 page, a :class:`PageBuffer` that hands it over when closed."""
        if (
            self.handover is None
            or filename == os.devnull
            or not is_page(filename)
            or codecs.lookup(encoding).name != "utf-8"
        ):
            return handle
        output = self.handover.output_dir
        root = os.path.join(str(output), "")
        if filename.startswith(root):
            document = filename[len(root) :].replace(os.sep, "/")
        else:
            document = Path(os.path.relpath(filename, output)).as_posix()
        return PageBuffer(handle, self, document)

    def drain(self) -> None:
        """Wait until every page handed over is done (and, direct, written)."""
        if self.handover is not None:
            with self._ours():
                try:
                    self.handover.drain()
                except ShardAssetsError as error:
                    self.abort()
                    self.fail(error)

    def abort(self) -> None:
        """The generator's build failed: give up the pages, release the lock."""
        self._interrupts.defer()  # an interrupt now goes to the generator afterwards
        try:
            self._give_up()
        finally:
            self._interrupts.uninstall()

    def _give_up(self) -> None:
        handover, self.handover = self.handover, None
        try:
            if handover is not None:
                handover.discard()
        finally:
            self._lock.close()

    def _interrupted(self) -> None:
        """Ctrl-C or SIGTERM: the build is over, whatever the generator does next."""
        self.forget()
        self._give_up()

    @contextlib.contextmanager
    def _ours(self) -> Iterator[None]:
        """The lifecycle's own code in a generator's build: an interrupt raises
        :class:`Interrupted` here; the build is given up, the state of the files is
        logged when the final build says it, and the signal goes on to the generator."""
        try:
            with self._interrupts.ours():
                yield
        except Interrupted as error:
            try:
                self._interrupted()
                if getattr(error, "__notes__", None):
                    self.log.warning(describe(error))
            finally:
                self._interrupts.uninstall()  # the generator's handler raises, or the process ends
            raise  # its handler returned: this step stops all the same

    def finish(self, settings: Settings, output_dir: Path) -> BuildResult:
        """Shard the finished output, write the manifest and the report, log the
        warnings and the summary; the lock is released whatever happens."""
        self._interrupts.install()  # already, unless the build was not started
        try:
            with self._ours():
                result, report = self._finish(settings, output_dir)
                for kind, warning in warnings_by_kind(result):
                    self.warning(kind, f"{PREFIX}{warning}")
                self.log.info(summary(result))
                if report is not None:
                    self.log.info(f"{PREFIX}report: {report}")
        finally:
            self._interrupts.uninstall()
        return result

    def _finish(self, settings: Settings, output_dir: Path) -> tuple[BuildResult, Path | None]:
        """:meth:`finish`'s build: the result, and the report's path if there is one."""
        try:
            if self.handover is None:
                self._lock.enter_context(manifest_lock(settings.manifest))
                self.handover = Handover(settings, output_dir)
            handover = self.handover
            result = shard_site(
                output_dir, settings, jobs=settings.jobs or default_jobs(), handover=handover
            )
            self.handover = None  # confirmed (or given back by shard_site when it failed)
            report = (
                write_build_report(output_dir, settings, handover.previous, result)
                if settings.report
                else None
            )
        except ShardAssetsError as error:
            self.handover = None
            self.fail(error)
        finally:
            self._lock.close()
        return result, report

    def warning(self, kind: str, message: str) -> None:
        """Log one of the build's warnings; ``kind`` is ``hosts``, ``missing`` or
        ``undecodable`` (see :func:`shard_assets.messages.warnings_by_kind`). An
        adapter whose generator tells kinds of warnings apart overrides it."""
        self.log.warning(message)


def copied_files(sources: Iterable[Path], target: str, ignores: Iterable[str]) -> Iterator[str]:
    """The output-relative paths of the files a generator copies from ``sources`` (files
    or folders) into the output folder's ``target``, but those whose name matches one of
    the ``ignores`` patterns (for :meth:`BuildLifecycle.static_files`)."""
    patterns = tuple(ignores)
    for source in sources:
        found = [source] if source.is_file() else sorted(source.rglob("*"))
        for file in found:
            if not file.is_file() or any(fnmatch.fnmatch(file.name, p) for p in patterns):
                continue
            relative = file.name if file == source else file.relative_to(source).as_posix()
            yield f"{target}/{relative}".lstrip("/")


class PageBuffer(io.StringIO):
    """For a generator that writes pages through a file handle: collects a page as
    the generator writes it and, when closed, hands it to ``build`` and writes what
    comes back to ``handle`` (nothing when a worker process writes it)."""

    def __init__(self, handle: IO[str], build: BuildLifecycle, document: str) -> None:
        super().__init__()
        self.handle = handle
        self.build = build
        self.document = document

    def close(self) -> None:
        if self.closed:
            return
        text = self.getvalue()
        # Closed first: when an interrupt comes out of ``page``, the finalizer's close
        # (at the garbage collection) must not write to the closed handle again.
        super().close()
        written: str | None = text
        try:
            written = self.build.page(text, self.document)
        finally:  # whatever happens, the generator's page is written
            with self.handle:
                if written is not None:
                    self.handle.write(written)


def write_build_report(
    output_dir: Path, settings: Settings, previous: Manifest | None, result: BuildResult
) -> Path:
    """After a build: write the HTML report beside the manifest; return its path.

    ``previous`` is the manifest as it was before the build (None on a first build);
    ``result`` the build's, whose page spreads spare reading the pages again.
    """
    # Imported here: only ``report: true`` needs them, and every build pays for an import.
    from ..report.html import render_html  # noqa: PLC0415
    from ..report.model import build_report, default_report_path, write_report  # noqa: PLC0415

    report = build_report(
        output_dir,
        settings.manifest,
        settings=settings,
        since=previous,
        since_path="the previous build" if previous is not None else None,
        pages=result.pages,
        moves=result.assignment.moves,
    )
    path = default_report_path(settings.manifest)
    write_report(
        path, render_html(report), "make the manifest's folder writable or set 'report' to false"
    )
    return path
