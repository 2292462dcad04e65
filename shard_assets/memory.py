"""Pages sharded from memory as a generator hands them over (MkDocs' ``on_post_page``,
Pelican's writer), put in place only when the build's checks have passed.

A host depends on the whole asset set (the bounded-load pass), which is known only
when the build ends. But in the steady state, every rebuild after the first, the
manifest already gives every asset a host, and those hosts do not change. So a page
is prepared as it is handed over, and its sharded form written to a temporary file
beside it, only when:

- the manifest exists, names exactly the configured hosts and weights and the same
  placement settings, and passes the gate on its own (checked once, when the build
  starts);
- every asset the page references has a host in that manifest and is a file in the
  output already, and every other reference names a page, an excluded file or a file
  that exists: a page with a reference to a missing or new file waits for the end;
- the page's text is exactly what the end of the build would read back from disk
  (UTF-8, no other declared charset, no NUL bytes).

Each prepared page is recorded: the host used for each asset, the size the generator
writes, the temporary file. At the end, :func:`shard_assets.pipeline.plan_build`
counts those assets without reading the pages, computes the assignment as always,
and uses a prepared page only when the assignment gives every one of its assets the
host used and the file on disk still has the recorded size; any other page is read
and sharded from disk like any other document. The prepared pages are renamed into
place only after every check has passed (:meth:`InMemoryPages.commit`), and deleted
when one fails (:meth:`InMemoryPages.discard`). With several ``jobs``, worker
processes prepare the pages while the generator goes on building.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .balance import balance_report
from .config import Settings
from .files import META_CHARSET, write_temporary
from .manifest import Manifest, read_manifest
from .parallel import die_with_parent, start_pool

if TYPE_CHECKING:
    from .pipeline import Inventory, Sharder

_UTF8 = frozenset({"utf-8", "utf-16", "utf-32"})


@dataclass(frozen=True)
class PageRecord:
    """A page prepared as the generator handed it over, and what pass one would have
    found in it.

    ``hosts`` maps each asset it references to the host used, in the order first
    referenced; ``references`` is how many URLs changed; ``size`` how many bytes the
    generator writes (the page as it made it); ``temp`` the temporary file beside it
    that holds the rewritten page ('' when nothing changed); ``styles`` the ``.css``
    keys it references; ``cors`` and ``crossorigin`` as in
    :class:`shard_assets.pipeline.Collected`, with (line, URL).
    """

    hosts: Mapping[str, str]
    references: int
    size: int
    temp: str = ""
    styles: tuple[str, ...] = ()
    cors: tuple[str, ...] = ()
    crossorigin: tuple[tuple[int, str], ...] = ()


class PagePreparer:
    """Rewrites one page's text with the manifest's hosts, when that is exact, into a
    temporary file beside it. Small and picklable: worker processes get a copy."""

    def __init__(self, settings: Settings, output_dir: Path, previous: Manifest | None) -> None:
        from .pipeline import Sharder  # noqa: PLC0415 (pipeline imports this module)

        self.settings = settings
        self.output_dir = output_dir
        self.sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
        self.hosts: dict[str, str] = {}
        if previous is not None:
            configured = set(settings.host_names)
            self.hosts = {k: h for k, h in previous.assets.items() if h in configured}
        self._exists: dict[str, bool] = {}
        self._keys: dict[str, tuple[str | None, bool]] = {}

    def prepare(self, text: str, document: str) -> PageRecord | None:
        """The record of ``text`` (the page at output-relative path ``document``), its
        rewritten form written to a temporary file; None when that would not be exact."""
        if "\0" in text[:8192]:
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the generator escapes them
            return None
        declared = META_CHARSET.search(data[:1024])
        if declared and not data.startswith(codecs.BOM_UTF8):
            try:
                charset = codecs.lookup(declared.group(1).decode("ascii")).name
            except LookupError:
                charset = "utf-8"
            if charset not in _UTF8:
                return None
        sharder = self.sharder
        prefix = self.settings.url_prefix
        keys = self._keys
        hosts: dict[str, str] = {}
        styles: set[str] = set()
        cors: set[str] = set()
        crossorigin: list[tuple[int, str]] = []
        replacements: list[tuple[int, int, str, str, int]] = []
        for start, end, key, path, suffix, in_cors, at in sharder.references(text, document):
            found = keys.get(key)
            if found is None:
                found = keys[key] = self._classify(key)
            host, is_style = found
            if is_style:
                styles.add(key)
            if host is None:
                return None  # a new or missing file: the end of the build places or reports it
            if not host:
                continue  # a page or an excluded file, which exists: never sharded
            hosts[key] = host
            if in_cors:
                cors.add(key)
            if at >= 0:
                crossorigin.append((text.count("\n", 0, start) + 1, text[start:end]))
            replacements.append((start, end, f"{prefix}{host}{path}{suffix}", host, at))
        new_text, count = sharder.splice(text, document, replacements)
        temp = ""
        if count:  # as pass two, which writes a page only when a URL changed
            target = self.output_dir / document
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = write_temporary(target, new_text.encode("utf-8"), sync=False)
        return PageRecord(
            hosts,
            count,
            len(data),
            temp,
            tuple(sorted(styles)),
            tuple(sorted(cors)),
            tuple(crossorigin),
        )

    def _classify(self, key: str) -> tuple[str | None, bool]:
        """(the host to use: '' for a reference that is never sharded, None for one
        that must wait for the end of the build; whether it names a stylesheet)."""
        from .pipeline import is_page, is_stylesheet  # noqa: PLC0415 (pipeline imports this)

        is_style = is_stylesheet(key)
        if is_page(key) or self.sharder.is_excluded(key):
            exists = self._in_output(key) or self._in_output(f"{key}/index.html")
            return ("" if exists else None), is_style
        host = self.hosts.get(key)
        return (host if host is not None and self._in_output(key) else None), is_style

    def _in_output(self, key: str) -> bool:
        """Whether the build's walk of the output will find ``key`` (symlinked folders
        are not entered)."""
        found = self._exists.get(key)
        if found is None:
            path = self.output_dir / key
            found = path.is_file() and not any(
                parent.is_symlink()
                for parent in path.parents
                if parent != self.output_dir and self.output_dir in parent.parents
            )
            self._exists[key] = found
        return found


class InMemoryPages:
    """Pages prepared as the generator hands them over, put in place at the end.

    Create it when the build starts, while holding the manifest's lock (see
    :func:`shard_assets.files.manifest_lock`); give it each page with
    :meth:`hand_over`; pass it to :func:`shard_assets.pipeline.shard_site` at the end,
    which renames the prepared pages over the generator's only after every check has
    passed, and deletes them otherwise. With ``jobs`` above 1, worker processes
    prepare the pages while the generator goes on building.
    """

    def __init__(self, settings: Settings, output_dir: Path, jobs: int = 1) -> None:
        self.settings = settings
        self.output_dir = output_dir
        self.jobs = jobs
        self.previous: Manifest | None = read_manifest(settings.manifest)
        self.reason = _why_not(settings, self.previous)
        self.preparer = PagePreparer(settings, output_dir, self.previous)
        self.pages: dict[str, PageRecord | None] = {}
        self._seen: set[str] = set()
        self._twice: set[str] = set()
        self._batch: list[tuple[str, str]] = []
        self._batch_size = 0
        self._pending: deque[Future[list[tuple[str, PageRecord | None]]]] = deque()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def active(self) -> bool:
        """True when pages may be prepared in memory in this build."""
        return not self.reason

    def hand_over(self, text: str, document: str) -> None:
        """Prepare ``text``, the page at output-relative path ``document`` that the
        generator is about to write as it is (on a worker when there are several)."""
        if not self.active:
            return
        if document in self._seen:  # written twice: let the end of the build shard it
            self._twice.add(document)
            self._forget(document)
            return
        self._seen.add(document)
        if self.jobs <= 1:
            self.pages[document] = self.preparer.prepare(text, document)
            return
        self._batch.append((text, document))
        self._batch_size += len(text)
        if len(self._batch) >= _BATCH_PAGES or self._batch_size >= _BATCH_CHARS:
            self._send()

    def _send(self) -> None:
        """Send the pages gathered so far to a worker (a few at a time: each task costs)."""
        if not self._batch:
            return
        if self._pool is None:
            self._pool = start_pool(self.jobs, _set_preparer, self.preparer)
        self._pending.append(self._pool.submit(_prepare_all, self._batch))
        self._batch = []
        self._batch_size = 0
        while len(self._pending) > self.jobs * 4:  # a bounded number of pages in flight
            self._receive()

    def finished(self, inventory: Inventory, sharder: Sharder) -> dict[str, PageRecord]:
        """The pages prepared whose file is as the generator handed it over, and whose
        assets are all assets of the finished output."""
        self._send()
        while self._pending:
            self._receive()
        self.close()
        documents = set(inventory.documents)
        files = inventory.files
        records = {d: r for d, r in self.pages.items() if r is not None}
        assets = {key for record in records.values() for key in record.hosts}
        not_assets = {key for key in assets if not sharder.is_asset(key, files)}
        done: dict[str, PageRecord] = {}
        for document, record in records.items():
            if document not in documents:
                continue
            try:
                size = (self.output_dir / document).stat().st_size
            except OSError:
                continue
            if size == record.size and not_assets.isdisjoint(record.hosts):
                done[document] = record
        return done

    def commit(self, documents: Mapping[str, int]) -> None:
        """Put the prepared pages of ``documents`` in place (each atomically) and
        delete the other prepared files."""
        for document, record in self.pages.items():
            if record is None or not record.temp:
                continue
            if document in documents:
                os.replace(record.temp, self.output_dir / document)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(record.temp)
        self.pages.clear()

    def discard(self) -> None:
        """Delete every prepared file: the build failed, the pages stay as generated."""
        self._send()
        while self._pending:
            self._receive()
        self.close()
        self.commit({})

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _receive(self) -> None:
        for document, record in self._pending.popleft().result():
            self.pages[document] = record
            if document in self._twice:
                self._forget(document)

    def _forget(self, document: str) -> None:
        """A page written a second time: its preparation no longer counts."""
        record = self.pages.pop(document, None)
        if record is not None and record.temp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record.temp)


_PREPARER: PagePreparer | None = None


def _set_preparer(preparer: PagePreparer, parent: int) -> None:
    global _PREPARER  # noqa: PLW0603 (one per worker process, set once)
    _PREPARER = preparer
    die_with_parent(parent)


def _prepare_all(batch: list[tuple[str, str]]) -> list[tuple[str, PageRecord | None]]:
    assert _PREPARER is not None
    return [(document, _PREPARER.prepare(text, document)) for text, document in batch]


#: Pages gathered before they are sent to a worker: at most this many, or characters.
_BATCH_PAGES = 16
_BATCH_CHARS = 1 << 20


def _why_not(settings: Settings, previous: Manifest | None) -> str:
    """Why pages cannot be rewritten in memory in this build ('' when they can)."""
    if previous is None:
        return "no manifest yet (the first build)"
    if {(h.name, h.weight) for h in previous.hosts} != {(h.name, h.weight) for h in settings.hosts}:
        return "the hosts differ from the manifest's"
    placement = ("algorithm", "bounded", "balance_by")
    if any(getattr(previous, name) != getattr(settings, name) for name in placement):
        return "the placement settings differ from the manifest's"
    if settings.balance_by == "count":
        configured = set(settings.host_names)
        hosts = {k: h for k, h in previous.assets.items() if h in configured}
        report = balance_report(
            hosts, settings.hosts, settings.max_imbalance, bounded=settings.bounded
        )
        if not report.ok:
            return "the manifest does not pass the gate"
    return ""
