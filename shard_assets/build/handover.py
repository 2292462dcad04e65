"""The handover: the pages a generator hands over as it builds (MkDocs'
``on_post_page``, Pelican's writer), each scanned as it comes and, when the
manifest's hosts stand, sharded at once (deferred: into a temporary file; direct:
written sharded, with how to undo it); the end of the build confirms the pages or
gives them back. How it stays exact, and why two ways: docs/handover.md.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import Settings
from ..documents.html import RefSpan
from ..documents.inventory import Inventory, Stamp, is_page
from ..documents.text import META_CHARSET, Decoded, reference_at
from ..errors import ConfigError, fault
from ..files import atomic_write, remove_temporaries, write_temporary
from ..kept import KEPT, kept_stylesheet
from ..manifest import cannot_stand, placed_on, read_manifest
from ..messages import PAGES_WRITTEN_SO_FAR
from ..parallel import PipeWorker, Workers, forks
from ..placement.assign import assign_hosts, resolve_pins
from .commit import StagedFiles
from .rewrite import (
    Edit,
    Sharder,
    Undo,
    UrlRules,
    apply_edits,
    span_replacements,
    target_urls,
    undo_edits,
    undone,
)
from .scan import Kinds, Scan, ScanContext, kinds_hold, scan_refs
from .scan_cache import ScanCache, references_of
from .unsharded_copy import UnshardedCopy

_UTF8 = frozenset({"utf-8", "utf-16", "utf-32"})


@dataclass(frozen=True)
class HandedOverPage:
    """A page as the generator handed it over.

    ``scan`` is what pass one finds in it, the files it names assumed to exist (see
    :class:`shard_assets.build.scan.Kinds`); ``size`` how many bytes the file on disk
    has once the generator wrote it. When the page was sharded with the manifest's
    hosts, ``hosts`` maps each asset it references to the host used
    (:data:`~shard_assets.kept.KEPT` for one kept on the origin), in the order first
    referenced (None: the page was only scanned), and ``references`` is how many
    URLs changed; ``temp`` the temporary file beside it ('' when nothing changed)
    that holds the sharded page (deferred) or the generator's (direct); ``undo``,
    direct, instead of that file, how to get the generator's text back from the
    sharded one (see :func:`~shard_assets.build.rewrite.undo_edits`). The scan of a
    sharded page keeps no spans: pass two never rewrites it from them.
    """

    scan: Scan
    size: int
    hosts: Mapping[str, str] | None = None
    references: int = 0
    temp: str = ""
    undo: Undo | None = None


@dataclass(frozen=True)
class PageFiles:
    """How a generator writes a page's text to its file, so that a worker writing a
    page in its place (direct) writes the same bytes: the ``errors`` handler of the
    UTF-8 encoding, and the ``newline`` of :func:`open` (``""``: none translated).
    The defaults are Pelican's writer: a file opened in text mode."""

    errors: str = "strict"
    newline: str | None = None


#: A page written to a file opened in text mode, UTF-8 (Pelican's writer).
TEXT_MODE = PageFiles()


class PagePreparer:
    """Scans one page's text and, when that is exact, shards it with the manifest's
    hosts and keeps one of the two texts in a temporary file beside it (see
    docs/handover.md). Small and picklable: worker processes get a copy."""

    def __init__(
        self,
        sharder: Sharder,
        output_dir: Path,
        hosts: Mapping[str, str] | None,
        twin: UnshardedCopy | None = None,
        cache: ScanCache | None = None,
    ) -> None:
        self.sharder = sharder
        self.output_dir = output_dir
        #: The unsharded copy, if the build writes one: each page recorded has its twin.
        self.twin = twin
        #: The scan cache, if the build has one: each record's scan carries its entry.
        self.cache = cache
        #: The manifest's host of each asset it places on a configured host; None
        #: when it cannot stand as it is: pages are then only scanned.
        self.hosts = hosts
        #: Pass one before the output is complete: the kinds of the keys are assumed.
        self.context = ScanContext(output_dir, sharder, Kinds(sharder))
        #: Each asset's host when the page does not load it in CORS mode: the
        #: manifest's, KEPT for a kept stylesheet, None for a file it does not place.
        self._placed: dict[str, str | None] = {}
        #: Each original URL text once, however many pages' undo records hold it.
        self._texts: dict[str, str] = {}
        self.undo_budget = UNDO_BUDGET
        self.scan_budget = SCAN_BUDGET

    def prepare(self, text: str, document: str, *, direct: bool = False) -> Prepared:
        """The record of ``text`` (the page at output-relative path ``document``) and
        the text the generator writes: ``text`` itself, with the sharded page in the
        record's temporary file; or, ``direct``, the sharded page, with the record's
        ``undo`` (or, past :data:`UNDO_BUDGET`, a temporary file) to get ``text``
        back. When the page cannot be sharded (see :attr:`hosts`) a record without
        hosts, and ``text``. No record (and ``text``) when the page is not exactly
        what the end of the build reads back, or past :data:`SCAN_BUDGET`."""
        data = _as_read_back(text) if is_page(document) else None
        if data is None:
            return None, text
        refs, key, fresh = references_of(self.cache, self.sharder, text, document)
        if self.hosts is None and len(refs) > self.scan_budget:
            return None, text
        scan = scan_refs(
            self.context,
            document,
            (0, 0),
            refs,
            lambda s, e: reference_at(text, s, e),
            cache_entry=(key, fresh),
        )
        if self.hosts is not None:
            sharded = self._sharded(text, data, scan, self.hosts, direct, refs)
            if sharded is not None:
                return sharded
        if len(refs) > self.scan_budget:
            return None, text
        if not self._twin(text, document, refs):
            return self._unrecorded(text, document)
        self.scan_budget -= len(refs)
        return HandedOverPage(scan, len(data)), text

    def _twin(
        self,
        text: str,
        document: str,
        refs: Sequence[RefSpan],
        edits: list[Edit] | None = None,
        new_text: str = "",
    ) -> bool:
        """Write the twin of the page handed over (of ``new_text``, made with
        ``edits``, when it was sharded); False when that failed (a full disk)."""
        if self.twin is None:
            return True
        decoded = Decoded(text, "utf-8")
        try:
            if edits is None:
                self.twin.read(self.sharder, document, decoded, refs)
            else:
                self.twin.rewritten(self.sharder, document, decoded, edits, new_text)
        except OSError:
            return False
        return True

    def _unrecorded(self, text: str, document: str) -> Prepared:
        """No record for the page: the end of the build reads it from disk (and says
        why if that fails too), and writes its twin then."""
        if self.twin is not None:
            with contextlib.suppress(OSError):
                self.twin.forget(document)
        return None, text

    def _sharded(
        self,
        text: str,
        data: bytes,
        scan: Scan,
        manifest: Mapping[str, str],
        direct: bool,
        refs: Sequence[RefSpan],
    ) -> Prepared | None:
        """:meth:`prepare` for a page sharded with the ``manifest``'s hosts (``refs``:
        its references); None when it loads a file the manifest does not place."""
        rules = self.sharder.rules
        hosts: dict[str, str] = {}
        cors = frozenset(scan.cors) if rules.cors_assets == "origin" else ()
        placed = self._placed
        for key, _, _ in scan.targets:
            if key in cors:
                hosts[key] = KEPT  # an asset keeps one URL, wherever else it is loaded
                continue
            if key not in placed:
                kept = kept_stylesheet(key, stylesheets=rules.stylesheets)
                placed[key] = KEPT if kept else manifest.get(key)
            host = placed[key]
            if host is None:
                return None  # a new or missing file: the end of the build places or reports it
            hosts[key] = host
        sharder = self.sharder
        document = scan.document
        replacements = span_replacements(scan.spans, target_urls(sharder, hosts, scan.targets))
        edits, count = sharder.edits(text, document, replacements)
        temp = ""
        undo: Undo | None = None
        size = len(data)
        new_text = text
        if count:  # as pass two, which writes a page only when a URL changed
            new_text = apply_edits(text, edits)
            new_data = new_text.encode("utf-8")
        if not self._twin(text, document, refs, edits if count else None, new_text):
            return self._unrecorded(text, document)
        if count:
            if direct and len(edits) <= self.undo_budget:
                self.undo_budget -= len(edits)
                undo = undo_edits(text, edits, self._texts)
            else:
                target = self.output_dir / document
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    temp = write_temporary(target, data if direct else new_data, sync=False)
                except OSError:
                    return self._unrecorded(text, document)
            if direct:
                size = len(new_data)
        page = HandedOverPage(replace(scan, spans=array("q")), size, hosts, count, temp, undo)
        return page, (new_text if direct else text)


def _as_read_back(text: str) -> bytes | None:
    """The bytes of ``text`` written as UTF-8, when the end of the build reads them
    back as ``text`` (no NUL bytes, no other declared charset); else None."""
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
    return data


#: A page's record (None when pass one reads it) and the text the generator writes.
Prepared = tuple["HandedOverPage | None", str]

#: References kept per process for pages scanned but not sharded: past it, pages are
#: read back in pass one as usual.
SCAN_BUDGET = 250_000


#: Edits kept to undo pages written directly (24 bytes each): past it, a page's
#: original text goes to a temporary file, so memory stays bounded on any site.
UNDO_BUDGET = 500_000


class Handover:
    """The pages a generator hands over during one build, prepared as they come and
    confirmed (or given back) at the end.

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
    were handed over, the way ``files`` says the generator writes. Otherwise each
    page is prepared at once. See docs/handover.md.
    """

    def __init__(
        self,
        settings: Settings,
        output_dir: Path,
        jobs: int = 1,
        *,
        direct: bool = False,
        files: PageFiles = TEXT_MODE,
    ) -> None:
        self.output_dir = output_dir
        self.direct = direct
        previous = self.previous = read_manifest(settings.manifest)
        self.reason = cannot_stand(
            previous,
            settings.hosts,
            settings.max_imbalance,
            algorithm=settings.algorithm,
            bounded=settings.bounded,
            balance_by=settings.balance_by,
        )
        sharder = Sharder.for_build(UrlRules.of(settings), previous)
        hosts = placed_on(previous, settings.hosts) if previous and not self.reason else None
        twin = None
        with contextlib.suppress(ConfigError):  # the final build stops on it, as without
            twin = UnshardedCopy.begin(output_dir, settings.unsharded_copy)
        cache = ScanCache.open(settings.manifest, sharder)
        self.preparer = PagePreparer(sharder, output_dir, hosts, twin, cache)
        self.settings = settings
        #: Whether the hosts pages are sharded with are a first build's guess
        #: (:meth:`guess`), not the manifest's.
        self.guessed = False
        self.pages: dict[str, HandedOverPage | None] = {}
        #: Pages written directly that could not be put back (a full disk), so far.
        self.not_put_back = 0
        self._seen: set[str] = set()
        self._twice: set[str] = set()
        #: The worker processes (None: pages are prepared at once, in this process).
        #: Direct, one worker writes the pages in order; where it is forked, through a
        #: pipe, with no thread in the generator's process (see PipeWorker).
        self.workers: (
            Workers[_Worker, _Page, _Prepared] | PipeWorker[_Worker, _Page, _Prepared] | None
        ) = None
        if jobs > 1:
            worker = _Worker(self.preparer, direct, files)
            if direct and forks():
                self.workers = PipeWorker(_prepare_page, worker)
            else:
                self.workers = Workers(_prepare_page, worker, 1 if direct else jobs)

    @property
    def sharder(self) -> Sharder:
        """The sharder made for the build's settings and manifest."""
        return self.preparer.sharder

    @property
    def cache(self) -> ScanCache | None:
        """The scan cache of the build (the pages' scans carry their entries)."""
        return self.preparer.cache

    @property
    def twin(self) -> UnshardedCopy | None:
        """The unsharded copy this build writes, if any: the twin of every page
        recorded is in it (see :meth:`finished`)."""
        return self.preparer.twin

    @property
    def active(self) -> bool:
        """True when pages may be sharded at handover in this build (otherwise they
        are only scanned)."""
        return self.preparer.hosts is not None

    @property
    def may_guess(self) -> bool:
        """Whether :meth:`guess` would shard the pages with a guess: only with no
        manifest and ``balance_by: count`` (the other measures need the pages' loads),
        and before any page was handed over (the worker processes copy the hosts). A
        rebuild then spares listing the generator's files."""
        return (
            self.previous is None
            and self.preparer.hosts is None
            and not self._seen
            and self.settings.balance_by == "count"
        )

    def guess(self, files: Iterable[str]) -> bool:
        """On a first build, before the first page is handed over: shard the pages
        with the assignment ``files`` would get, the files the generator will write
        that are not pages (its static and theme files), as if every one that can be an
        asset were referenced (see :func:`first_build_hosts`). The end of the build
        confirms a page only when the real assignment gives each of its assets the
        host used, as on a rebuild, so a wrong guess costs time, never bytes.

        Returns whether pages will be sharded with the guess (see :attr:`may_guess`)."""
        if not self.may_guess:
            return False
        self.preparer.hosts = first_build_hosts(self.settings, self.sharder, files)
        self.guessed = True
        return True

    def hand_over(self, text: str, document: str) -> str | None:
        """Take ``text``, the page at output-relative path ``document`` that the
        generator is about to write, and return what it writes: ``text``; or,
        ``direct``, the rewritten page, or None when a worker writes it."""
        twice = document in self._seen
        if twice:  # written twice: let the end of the build shard it
            self._twice.add(document)
            self._forget(document)
        self._seen.add(document)
        if self.workers is not None:
            # A page written twice goes to the worker too, to be written in order.
            with _page_faults():
                self._received(self.workers.submit((text, document, not twice), len(text)))
            return None if self.direct else text
        if twice:
            return text
        self.pages[document], text = self.preparer.prepare(text, document, direct=self.direct)
        return text

    def drain(self) -> None:
        """Wait until the workers have done every page handed over (and, ``direct``,
        written it); pages handed over after this are prepared at once."""
        if self.workers is not None:
            with _page_faults():
                self._received(self.workers.results())
        self.close()

    def finished(self, inventory: Inventory) -> dict[str, HandedOverPage]:
        """The pages handed over that stand in for reading them from ``inventory``, the
        finished output: each file is as it was written, and pass one would find in
        it what its scan assumed (:func:`~shard_assets.build.scan.kinds_hold`); the scan
        of a page only scanned carries the file's stamp. The other pages sharded at
        handover are given back (:meth:`release`): pass one reads them from disk."""
        self.drain()
        documents = set(inventory.documents)
        kinds = Kinds(self.sharder, inventory.files, inventory.stylesheets)
        pages = {d: page for d, page in self.pages.items() if page is not None and d in documents}
        holding = kinds_hold(kinds, (page.scan for page in pages.values()))
        done: dict[str, HandedOverPage] = {}
        for document, page in pages.items():
            if document not in holding or (stamp := self._stamp(document, page)) is None:
                if self.twin is not None and page.hosts is None:
                    self.twin.forget(document)  # pass one reads it (a sharded one: release)
                continue
            # Pass two rewrites a page only scanned from its scan's spans, if unchanged.
            scanned = page.hosts is None
            done[document] = (
                replace(page, scan=replace(page.scan, stamp=stamp)) if scanned else page
            )
        self.release(
            document
            for document, page in self.pages.items()
            if page is not None and page.hosts is not None and document not in done
        )
        return done

    def release(self, documents: Iterable[str]) -> None:
        """Give up the prepared forms of ``documents``: each page is (again) as the
        generator made it, unless something else changed it since it was written.

        A page written directly that cannot be put back (a full disk) stays sharded
        as it was handed over, whole, and is counted in :attr:`not_put_back`."""
        failed = 0
        for document in sorted(documents):
            record = self.pages.pop(document, None)
            if record is None or record.hosts is None:
                continue
            if self.twin is not None:
                with contextlib.suppress(OSError):
                    self.twin.forget(document)  # pass one, or pass two, writes it again
            if self.direct and self._stamp(document, record) is not None:
                try:
                    self._put_back(document, record)
                except OSError:
                    failed += 1
            if record.temp:
                with contextlib.suppress(OSError):
                    os.unlink(record.temp)
        self.not_put_back += failed

    def commit(self, documents: Mapping[str, int], staged: StagedFiles) -> None:
        """Confirm the prepared pages of ``documents`` (each to be put in place by
        ``staged``, with the build's other files) and give up the others
        (:meth:`release`)."""
        for document in sorted(self.pages.keys() & documents.keys()):
            record = self.pages.pop(document)
            if record is None or not record.temp:
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
        many could not be put back in this build (see :meth:`release`).

        Deferred, the pages no worker has taken yet are dropped at once: the generator
        wrote them itself. Direct, every page handed over is written first: the
        generator opened its file (Pelican) or left it to the worker (MkDocs), and it is
        empty or missing until the worker writes it.
        """
        if self.workers is not None:
            self._received(self.workers.stop(finish=self.direct))
            self.workers = None
        self.release(list(self.pages))
        remove_temporaries(self.output_dir, self._seen)
        if self.twin is not None:
            self.twin.discard()
        return self.not_put_back

    def _put_back(self, document: str, record: HandedOverPage) -> None:
        """Put the generator's text of a page written directly back in place."""
        path = self.output_dir / document
        if record.temp:
            os.replace(record.temp, path)
        elif record.undo is not None:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
            atomic_write(path, undone(text, record.undo).encode("utf-8", "surrogateescape"))

    def _stamp(self, document: str, record: HandedOverPage) -> Stamp | None:
        """The file's stamp, when it is still the size it had when it was written."""
        try:
            info = (self.output_dir / document).stat()
        except OSError:
            return None
        return (info.st_size, info.st_mtime_ns) if info.st_size == record.size else None

    def close(self) -> None:
        """Stop the worker processes, if any: pages handed over after this are
        prepared at once."""
        if self.workers is not None:
            self.workers.close()
            self.workers = None

    def _received(self, done: Iterable[_Prepared]) -> None:
        """Keep the records of pages the workers prepared."""
        for document, record in done:
            self.pages[document] = record
            if document in self._twice:
                self._forget(document)

    def _forget(self, document: str) -> None:
        """A page written a second time: its preparation no longer counts."""
        record = self.pages.pop(document, None)
        if record is not None and record.temp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record.temp)
        if record is not None and self.twin is not None:
            with contextlib.suppress(OSError):
                self.twin.forget(document)


def first_build_hosts(settings: Settings, sharder: Sharder, files: Iterable[str]) -> dict[str, str]:
    """A first build's assignment guessed before its pages are written: the one the
    build gets if its assets are exactly ``files`` that are neither pages, excluded
    nor kept on the origin (stylesheets with ``stylesheets: origin``; fonts with
    ``cors_assets: origin``, which browsers always fetch in CORS mode), nor source
    maps (named by a comment in a script or stylesheet, which no page loads).

    The placement depends on the whole asset set (the bounded-load pass fills each
    host to its share in a fixed order), so it is exact when every such file is
    referenced and no other; a file never referenced, or a new one, can move others.
    """
    rules = sharder.rules
    assets = sorted(
        {
            key
            for key in files
            if not is_page(key)
            and not sharder.is_excluded(key)
            and not kept_stylesheet(key, stylesheets=rules.stylesheets)
            and not key.endswith(".map")
            and not (rules.cors_assets == "origin" and key.lower().endswith(FONTS))
        }
    )
    assignment = assign_hosts(
        assets,
        settings.hosts,
        settings.max_imbalance,
        algorithm=settings.algorithm,
        bounded=settings.bounded,
        pins=resolve_pins(assets, settings.pins),
    )
    return dict(assignment.hosts_by_asset)


#: Font files: a browser fetches a font in CORS mode whatever loads it (@font-face,
#: a preload), so with ``cors_assets: origin`` none is placed on a shard host.
FONTS = (".woff2", ".woff", ".ttf", ".otf", ".eot")


@dataclass(frozen=True)
class _Worker:
    """What a worker process prepares pages with, whether it writes them (direct), and how."""

    preparer: PagePreparer
    direct: bool
    files: PageFiles


#: A page for a worker: its text, its document, and whether to prepare it (a page
#: written twice is only written).
_Page = tuple[str, str, bool]
#: A page's document and its record.
_Prepared = tuple[str, "HandedOverPage | None"]


def _prepare_page(worker: _Worker, page: _Page) -> _Prepared:
    """Prepare a page; direct, write it as the generator would have, whatever happens."""
    text, document, prepare = page
    record: HandedOverPage | None = None
    written = text
    try:
        if prepare:
            record, written = worker.preparer.prepare(text, document, direct=worker.direct)
    finally:
        if worker.direct:
            write_as_generated(worker.preparer.output_dir / document, written, worker.files)
    return document, record


@contextlib.contextmanager
def _page_faults() -> Iterator[None]:
    """A worker that could not write a page (direct: a full disk) fails the build."""
    try:
        yield
    except OSError as error:
        raise fault(error, PAGES_WRITTEN_SO_FAR) from None


def write_as_generated(path: Path, text: str, files: PageFiles = TEXT_MODE) -> None:
    """Write a page the way the generator's writer does (UTF-8, not atomic), creating
    its folder when it has none yet (MkDocs creates it as it writes)."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", errors=files.errors, newline=files.newline) as handle:
        handle.write(text)
