"""Pages sharded from memory as a generator hands them over (MkDocs' ``on_post_page``,
Pelican's writer), confirmed only when the build's checks have passed.

A host depends on the whole asset set (the bounded-load pass), which is known only
when the build ends. But in the steady state, every rebuild after the first, the
manifest already gives every asset a host, and those hosts do not change. So a page
is prepared as it is handed over when:

- the manifest exists, names exactly the configured hosts and weights and the same
  placement settings, and passes the gate on its own (checked once, when the build
  starts);
- every asset the page references has a host in that manifest (a page with a
  reference to a file the manifest does not know waits for the end);
- the page's text is exactly what the end of the build would read back from disk
  (UTF-8, no other declared charset, no NUL bytes).

Whether the files it references exist is checked at the end, against the finished
output: a generator may copy its images after it writes its pages (Pelican does).

A page that cannot be rewritten that way (the first build, a build that changes the
hosts or the placement settings, a page that loads a file the manifest does not
place) is still scanned as it is handed over: its references (a
:class:`ScannedPage`) stand in for pass one at the end, so the page is not read and
scanned again, only rewritten once the assignment is known.

Each prepared page is recorded: the host used for each asset, the other files it
links to, the size of the file on disk, and a temporary file beside it or how to
undo its edits (see below). At the end,
:func:`shard_assets.build.pipeline.plan_build` counts those assets without reading the
pages, computes the assignment as always, and uses a prepared page only when every
file it references exists, the assignment gives every one of its assets the host
used, and the file on disk still has the recorded size; any other page is read and
sharded from disk like any other document.

There are two ways to keep the promise that a failed build leaves every page as the
generator made it:

- **Deferred** (MkDocs): the generator writes its own text, the rewritten page goes
  to the temporary file, and that is renamed into place only after every check has
  passed (:meth:`InMemoryPages.commit`), and deleted when one fails
  (:meth:`InMemoryPages.discard`). With several ``jobs``, worker processes prepare
  the pages while the generator goes on building: MkDocs' pages are large, and
  scanning them is most of the work.
- **Direct** (Pelican): the generator writes the rewritten text itself, and the
  record keeps how to undo the URL edits (or, past :data:`UNDO_BUDGET`, the
  generator's text in the temporary file). When the checks pass, nothing is left to
  do; when they fail, or a page is not confirmed, the generator's text is put back
  (atomically), so the page is read from disk as it made it. Pelican's pages are
  small and many, and on ext4 renaming a new file over an old one costs more than
  writing it (the filesystem flushes the new file first), so the direct way writes
  each page once. With several ``jobs``, one worker process rewrites and writes the
  pages, in the order they were handed over, while the generator renders the next;
  :meth:`InMemoryPages.drain` waits for it before anything reads the pages. A page
  that changed on disk after it was written (another plugin rewrote it) is left as
  that plugin wrote it, and read again. A build that is killed leaves the pages it
  wrote sharded with the manifest's hosts, those of the last good build, each one
  whole as far as the generator writes whole files.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ..config import Settings
from ..documents.html import RefSpan
from ..documents.inventory import Inventory, is_folder, is_page, is_stylesheet
from ..documents.text import META_CHARSET, reference_at
from ..errors import fault
from ..files import StagedFiles, atomic_write, remove_temporaries, write_temporary
from ..kept import kept_stylesheet
from ..manifest import Manifest, cannot_stand, read_manifest
from ..messages import PAGES_WRITTEN_SO_FAR
from ..parallel import die_with_parent, start_pool
from .rewrite import Sharder, Undo, apply_edits, shard_url, undo_edits, undone
from .scan import PageRecord, ScannedPage

_UTF8 = frozenset({"utf-8", "utf-16", "utf-32"})


class PagePreparer:
    """Rewrites one page's text with the manifest's hosts, when that is exact, and
    keeps one of the two texts in a temporary file beside it, or else records the
    page's references (see the module docstring). Small and picklable: worker
    processes get a copy."""

    def __init__(
        self, settings: Settings, output_dir: Path, previous: Manifest | None, rewrite: bool
    ) -> None:
        self.settings = settings
        self.output_dir = output_dir
        self.rewrite = rewrite
        self.sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
        self.hosts: dict[str, str] = {}
        if previous is not None:
            configured = set(settings.host_names)
            self.hosts = {k: h for k, h in previous.assets.items() if h in configured}
        self._keys: dict[str, tuple[str | None, bool]] = {}
        #: Each original URL text once, however many pages' undo records hold it.
        self._texts: dict[str, str] = {}
        self.undo_budget = UNDO_BUDGET
        self.scan_budget = SCAN_BUDGET

    def prepare(self, text: str, document: str, *, direct: bool = False) -> Prepared:
        """The record of ``text`` (the page at output-relative path ``document``) and
        the text the generator writes: ``text`` itself, with the rewritten page in the
        record's temporary file; or, ``direct``, the rewritten page, with the record's
        ``undo`` (or, past :data:`UNDO_BUDGET`, a temporary file) to get ``text``
        back. When the page cannot be rewritten (see :attr:`rewrite`) a
        :class:`ScannedPage`, and ``text``. No record (and ``text``) when the page is
        not exactly what the end of the build reads back, or past :data:`SCAN_BUDGET`."""
        if "\0" in text[:8192]:
            return None, text
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the generator escapes them
            return None, text
        declared = META_CHARSET.search(data[:1024])
        if declared and not data.startswith(codecs.BOM_UTF8):
            try:
                charset = codecs.lookup(declared.group(1).decode("ascii")).name
            except LookupError:
                charset = "utf-8"
            if charset not in _UTF8:
                return None, text
        refs = self.sharder.references(text, document)
        if self.rewrite:
            rewritten = self._rewritten(text, data, document, refs, direct)
            if rewritten is not None:
                return rewritten
        return self._scanned(text, len(data), refs), text

    def _rewritten(  # noqa: PLR0912, PLR0915  one pass over a page's references, read top down
        self, text: str, data: bytes, document: str, refs: list[RefSpan], direct: bool
    ) -> Prepared | None:
        """:meth:`prepare` for a page rewritten with the manifest's hosts; None when
        it loads a file the manifest does not place."""
        sharder = self.sharder
        prefix = self.settings.url_prefix
        keep_cors = self.settings.cors_assets == "origin"
        keys = self._keys
        hosts: dict[str, str] = {}
        links: dict[str, None] = {}
        styles: set[str] = set()
        cors: set[str] = set()
        crossorigin: list[tuple[int, str]] = []
        replacements: list[tuple[int, int, str, str, int]] = []
        for start, end, key, path, suffix, in_cors, at in refs:
            found = keys.get(key)
            if found is None:
                found = keys[key] = self._classify(key)
            host, is_style = found
            if is_style:
                styles.add(key)
            if in_cors and keep_cors:
                # cors_assets: origin keeps it where it is, wherever else it is loaded.
                cors.add(key)
                links[key] = None
                continue
            if host is None:
                return None  # a new or missing file: the end of the build places or reports it
            if not host:
                links[key] = None  # a page or an excluded file: never sharded
                continue
            hosts[key] = host
            if in_cors:
                cors.add(key)
            if at >= 0:
                crossorigin.append(reference_at(text, start, end))
            replacements.append((start, end, shard_url(prefix, host, path, suffix), host, at))
        edits, count = sharder.edits(text, document, replacements)
        temp = ""
        undo: Undo | None = None
        size = len(data)
        new_text = text
        if count:  # as pass two, which writes a page only when a URL changed
            new_text = apply_edits(text, edits)
            new_data = new_text.encode("utf-8")
            if direct and len(edits) <= self.undo_budget:
                self.undo_budget -= len(edits)
                undo = undo_edits(text, edits, self._texts)
            else:
                target = self.output_dir / document
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    temp = write_temporary(target, data if direct else new_data, sync=False)
                except OSError:
                    return None, text  # the end of the build reads it from disk, and says why
            if direct:
                size = len(new_data)
        record = PageRecord(
            hosts,
            count,
            size,
            temp,
            undo,
            tuple(links),
            tuple(sorted(styles)),
            tuple(sorted(cors)),
            tuple(crossorigin),
        )
        return record, (new_text if direct else text)

    def _scanned(self, text: str, size: int, refs: list[RefSpan]) -> ScannedPage | None:
        """The page's references, to stand in for pass one (within the budget)."""
        if len(refs) > self.scan_budget:
            return None
        self.scan_budget -= len(refs)
        located = {start: reference_at(text, start, end) for start, end, *_, at in refs if at >= 0}
        return ScannedPage(size, tuple(refs), located)

    def _classify(self, key: str) -> tuple[str | None, bool]:
        """(the host to use: '' for a reference that is never sharded, None for one
        that must wait for the end of the build; whether it names a stylesheet)."""
        if is_page(key) or self.sharder.is_excluded(key) or kept_stylesheet(self.settings, key):
            return "", is_stylesheet(key)
        return self.hosts.get(key), is_stylesheet(key)


#: A page's record (None when pass one reads it) and the text the generator writes.
Prepared = tuple["PageRecord | ScannedPage | None", str]

#: References kept per process for pages scanned but not rewritten (about 170 bytes
#: each): past it, pages are read back in pass one as usual.
SCAN_BUDGET = 250_000


#: Edits kept to undo pages written directly (24 bytes each): past it, a page's
#: original text goes to a temporary file, so memory stays bounded on any site.
UNDO_BUDGET = 500_000


class InMemoryPages:
    """Pages prepared as the generator hands them over, confirmed at the end.

    Create it when the build starts, while holding the manifest's lock (see
    :func:`shard_assets.files.manifest_lock`); give it each page with
    :meth:`hand_over`, and write the text that returns, if any; call :meth:`drain`
    when the generator has written its pages and before anything reads them; pass it
    to :func:`shard_assets.build.pipeline.shard_site` at the end, which confirms the
    prepared pages only after every check has passed, and gives the generator's text
    back otherwise.

    With ``jobs`` above 1, worker processes take the pages while the generator goes
    on building: deferred, ``jobs`` of them prepare the pages; ``direct``, one worker
    prepares each page and writes it in the generator's place, in the order they
    were handed over. Otherwise each page is prepared at once. See the module
    docstring.
    """

    def __init__(
        self, settings: Settings, output_dir: Path, jobs: int = 1, *, direct: bool = False
    ) -> None:
        self.settings = settings
        self.output_dir = output_dir
        self.direct = direct
        #: Worker processes (0: pages are prepared at once, in this process).
        self.workers = 0 if jobs <= 1 else 1 if direct else jobs
        self.previous: Manifest | None = read_manifest(settings.manifest)
        self.reason = cannot_stand(self.previous, settings)
        self.preparer = PagePreparer(settings, output_dir, self.previous, not self.reason)
        self.pages: dict[str, PageRecord | ScannedPage | None] = {}
        self._seen: set[str] = set()
        self._twice: set[str] = set()
        self._batch: list[tuple[str, str, bool]] = []
        self._batch_size = 0
        self._pending: deque[Future[list[tuple[str, PageRecord | ScannedPage | None]]]] = deque()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def sharder(self) -> Sharder:
        """The sharder made for the build's settings and manifest."""
        return self.preparer.sharder

    @property
    def active(self) -> bool:
        """True when pages may be rewritten in memory in this build (otherwise they
        are only scanned)."""
        return not self.reason

    def hand_over(self, text: str, document: str) -> str | None:
        """Take ``text``, the page at output-relative path ``document`` that the
        generator is about to write, and return what it writes: ``text``; or,
        ``direct``, the rewritten page, or None when a worker writes it."""
        twice = document in self._seen
        if twice:  # written twice: let the end of the build shard it
            self._twice.add(document)
            self._forget(document)
        self._seen.add(document)
        if self.workers:
            # A page written twice goes to the worker too, to be written in order.
            self._batch.append((text, document, not twice))
            self._batch_size += len(text)
            if len(self._batch) >= _BATCH_PAGES or self._batch_size >= _BATCH_CHARS:
                self._send()
            return None if self.direct else text
        if twice:
            return text
        self.pages[document], text = self.preparer.prepare(text, document, direct=self.direct)
        return text

    def drain(self) -> None:
        """Wait until the workers have done every page handed over (and, ``direct``,
        written it); pages handed over after this are prepared at once."""
        self._send()
        while self._pending:
            self._receive()
        self.close()
        self.workers = 0

    def scanned(self, inventory: Inventory) -> dict[str, ScannedPage]:
        """The pages of ``inventory`` scanned but not rewritten (pass one checks that
        each file still has the size recorded, as it stats it for its stamp)."""
        documents = set(inventory.documents)
        return {
            document: record
            for document, record in self.pages.items()
            if isinstance(record, ScannedPage) and document in documents
        }

    def _send(self) -> None:
        """Send the pages gathered so far to a worker (a few at a time: each task costs)."""
        if not self._batch:
            return
        if self._pool is None:
            self._pool = start_pool(self.workers, _set_worker, (self.preparer, self.direct))
        self._pending.append(self._pool.submit(_prepare_all, self._batch))
        self._batch = []
        self._batch_size = 0
        while len(self._pending) > self.workers * 4:  # a bounded number of pages in flight
            self._receive()

    def finished(self, inventory: Inventory, sharder: Sharder) -> dict[str, PageRecord]:
        """The pages prepared whose file is as it was written, whose assets are all
        assets of the finished output, and whose other links all exist in it. The
        others are given back (:meth:`release`): pass one reads them from disk."""
        self.drain()
        documents = set(inventory.documents)
        files = inventory.files
        records = {d: r for d, r in self.pages.items() if isinstance(r, PageRecord)}
        assets = {key for record in records.values() for key in record.hosts}
        not_assets = {key for key in assets if not sharder.is_asset(key, files)}
        links = {key for record in records.values() for key in record.links}
        missing = {key for key in links if key not in files and not is_folder(key, files)}
        done: dict[str, PageRecord] = {}
        for document, record in records.items():
            if (
                document in documents
                and self._intact(document, record)
                and not_assets.isdisjoint(record.hosts)
                and missing.isdisjoint(record.links)
            ):
                done[document] = record
        self.release(records.keys() - done.keys())
        return done

    def release(self, documents: Iterable[str]) -> int:
        """Give up the prepared forms of ``documents``: each page is (again) as the
        generator made it, unless something else changed it since it was written.

        Returns how many pages written directly could not be put back (a full disk):
        they stay sharded with the manifest's hosts, each one whole."""
        failed = 0
        for document in sorted(documents):
            record = self.pages.pop(document, None)
            if not isinstance(record, PageRecord):
                continue
            if self.direct and self._intact(document, record):
                try:
                    self._put_back(document, record)
                except OSError:
                    failed += 1
            if record.temp:
                with contextlib.suppress(OSError):
                    os.unlink(record.temp)
        return failed

    def commit(self, documents: Mapping[str, int], staged: StagedFiles) -> None:
        """Confirm the prepared pages of ``documents`` (each to be put in place by
        ``staged``, with the build's other files) and give up the others
        (:meth:`release`)."""
        for document in sorted(self.pages.keys() & documents.keys()):
            record = self.pages.pop(document)
            if not isinstance(record, PageRecord) or not record.temp:
                continue  # nothing changed, or the undo record is dropped with it
            if self.direct:  # the page is in place: the generator's text is not needed
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(record.temp)
            else:
                staged.add(record.temp, self.output_dir / document)
        self.release(list(self.pages))

    def discard(self) -> int:
        """Give up every prepared page: the build failed or was interrupted, the pages
        stay (or are put back) as generated, and the temporary files beside every page
        handed over are removed (a page's record may never have come back). Returns how
        many could not be put back (see :meth:`release`).

        Deferred, the pages no worker has taken yet are dropped at once: the generator
        wrote them itself. Direct, every page handed over is written first: the
        generator opened its file, which is empty until a worker writes it.
        """
        if self.direct:
            with contextlib.suppress(Exception):  # a worker's failure was raised already
                self._send()
        else:
            self._batch = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=not self.direct)
            self._pool = None
        while self._pending:
            with contextlib.suppress(Exception):  # dropped, or a failure raised already
                self._receive()
        self.workers = 0
        failed = self.release(list(self.pages))
        remove_temporaries(self.output_dir, self._seen)
        return failed

    def _put_back(self, document: str, record: PageRecord) -> None:
        """Put the generator's text of a page written directly back in place."""
        path = self.output_dir / document
        if record.temp:
            os.replace(record.temp, path)
        elif record.undo is not None:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
            atomic_write(path, undone(text, record.undo).encode("utf-8", "surrogateescape"))

    def _intact(self, document: str, record: PageRecord | ScannedPage) -> bool:
        """Whether the file on disk is still the size it had when it was written."""
        try:
            return (self.output_dir / document).stat().st_size == record.size
        except OSError:
            return False

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _receive(self) -> None:
        try:
            done = self._pending.popleft().result()
        except OSError as error:  # a worker could not write a page (direct): a full disk
            raise fault(error, PAGES_WRITTEN_SO_FAR) from None
        for document, record in done:
            self.pages[document] = record
            if document in self._twice:
                self._forget(document)

    def _forget(self, document: str) -> None:
        """A page written a second time: its preparation no longer counts."""
        record = self.pages.pop(document, None)
        if isinstance(record, PageRecord) and record.temp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record.temp)


#: A worker's preparer, and whether it writes the pages (direct).
_WORKER: tuple[PagePreparer, bool] | None = None


def _set_worker(worker: tuple[PagePreparer, bool], parent: int) -> None:
    global _WORKER  # noqa: PLW0603 (one per worker process, set once)
    _WORKER = worker
    die_with_parent(parent)


def _prepare_all(
    batch: list[tuple[str, str, bool]],
) -> list[tuple[str, PageRecord | ScannedPage | None]]:
    """Prepare each (text, document, whether to prepare it) of ``batch``; direct,
    write each page as the generator would have, whatever happens."""
    assert _WORKER is not None
    preparer, direct = _WORKER
    done: list[tuple[str, PageRecord | ScannedPage | None]] = []
    for text, document, prepare in batch:
        record: PageRecord | ScannedPage | None = None
        written = text
        try:
            if prepare:
                record, written = preparer.prepare(text, document, direct=direct)
        finally:
            if direct:
                write_as_generated(preparer.output_dir / document, written)
        done.append((document, record))
    return done


def write_as_generated(path: Path, text: str) -> None:
    """Write a page the way Pelican's and MkDocs' writers do (UTF-8, not atomic)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


#: Pages gathered before they are sent to a worker: at most this many, or characters.
_BATCH_PAGES = 16
_BATCH_CHARS = 1 << 20
