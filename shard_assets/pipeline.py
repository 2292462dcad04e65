"""The one place that walks an output folder and writes files.

Data flows one way: settings -> collect assets -> assign hosts (manifest first, ring
for the rest) -> gate -> rewrite files -> write manifest -> report. Nothing is
written before the gate and the other checks pass, so a failed build leaves the
output and the manifest exactly as they were.
"""

from __future__ import annotations

import bisect
import contextlib
import fnmatch
import os
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .algorithms import jump_moved_share, jump_renumbering
from .assign import Assignment, assign_hosts, rebalance_assignment, resolve_pins
from .balance import (
    BalanceReport,
    PageSpread,
    balance_report,
    gate_message,
    most_uneven_page,
    page_excess,
    page_gate_message,
)
from .config import Settings
from .cors import ORIGIN, kept_on_origin, without
from .css import find_css_refs
from .errors import BalanceError, LockedError, ManifestError, MissingAssetError
from .files import TEMP_FILE, Decoded, atomic_write, decode_document, manifest_lock
from .html import HtmlScanner, RefSpan, preconnect_point
from .manifest import Manifest, read_manifest, render_manifest, write_manifest
from .parallel import run_each
from .ring import Host
from .urls import Ref, url_host

if TYPE_CHECKING:
    from .memory import InMemoryPages, PageRecord, ScannedPage

PAGE_SUFFIXES = (".html", ".htm")
DOCUMENT_SUFFIXES = (*PAGE_SUFFIXES, ".css")

#: Pass one keeps where each asset reference is (four integers each) so that pass
#: two splices without scanning again; past this many integers in all, the rest of
#: the documents are scanned again instead, so memory stays bounded on any site.
SPAN_BUDGET = 2_000_000

#: Called as ``progress(phase, done, total)`` after each document of a pass.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Located:
    """A URL as written in a document, and where."""

    document: str
    line: int
    url: str


class MissingRef(Located):
    """A site-local reference to a file that is not in the output."""

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.url} is not in the output"


@dataclass(frozen=True)
class Inventory:
    """What an output folder holds: every file, and the documents to rewrite."""

    files: frozenset[str]
    documents: tuple[str, ...]
    stale: tuple[str, ...] = ()

    @property
    def stylesheets(self) -> frozenset[str]:
        """The CSS documents."""
        return frozenset(d for d in self.documents if is_stylesheet(d))


@dataclass(frozen=True)
class BuildResult:
    """What a build did, for the front ends to report."""

    assignment: Assignment
    report: BalanceReport
    documents: int
    rewritten: int
    references: int
    missing: tuple[MissingRef, ...]
    undecodable: tuple[str, ...]
    manifest: Path
    manifest_changed: bool
    cors: tuple[str, ...] = ()
    crossorigin: tuple[Located, ...] = ()
    pages: tuple[PageSpread, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    in_memory: int = 0
    scanned: int = 0
    direct_pages: tuple[PageSpread, ...] | None = None
    """Each page's own assets (not through its stylesheets) by host, for ``report``
    (None when it is off)."""


def is_page(key: str) -> bool:
    """Pages are documents people navigate to, never assets."""
    return key.lower().endswith(PAGE_SUFFIXES)


def is_stylesheet(key: str) -> bool:
    """CSS documents are scanned as CSS; everything else as HTML."""
    return key.lower().endswith(".css")


def take_inventory(output_dir: Path) -> Inventory:
    """List the output folder. Symlinked folders are not entered and symlinked
    documents are never rewritten (they may point outside the output)."""
    files: set[str] = set()
    documents: list[str] = []
    stale: list[str] = []
    root = str(output_dir)
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        relative = os.path.relpath(folder, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in sorted(names):
            key = prefix + name
            if TEMP_FILE.fullmatch(name):
                stale.append(key)  # left by a build that was killed mid-write
                continue
            files.add(key)
            if name.lower().endswith(DOCUMENT_SUFFIXES) and not os.path.islink(
                os.path.join(folder, name)
            ):
                documents.append(key)
    return Inventory(frozenset(files), tuple(documents), tuple(stale))


class Sharder:
    """Finds references in documents and rewrites them, for one site and settings."""

    def __init__(self, settings: Settings, shard_hosts: Iterable[str] = ()) -> None:
        self.settings = settings
        self.scanner = HtmlScanner(settings.attributes)
        # URLs already on a shard host are references too: that makes a second run
        # over sharded output a no-op, and lets it re-point assets whose host changed.
        hosts = {h.lower() for h in (*settings.host_names, *shard_hosts)}
        self.site = replace(settings.site, origins=settings.site.origins | hosts)
        #: Lower-cased: the configured hosts and those the manifest named.
        self.shard_hosts = frozenset(hosts)

    def find_refs(self, text: str, document: str) -> Iterator[Ref]:
        """All site-local references in ``text``, the content of ``document``."""
        site = self.site
        if is_stylesheet(document):
            return find_css_refs(text, site.document_path(document), site)
        return self.scanner.find_refs(text, document, site)

    def references(self, text: str, document: str) -> list[RefSpan]:
        """:meth:`find_refs` as tuples (the fields of :class:`Ref`), by start."""
        site = self.site
        if is_stylesheet(document):
            found = [
                (r.start, r.end, r.key, r.path, r.suffix, r.cors, r.crossorigin_at)
                for r in find_css_refs(text, site.document_path(document), site)
            ]
        else:
            found = self.scanner.references(text, document, site)
        found.sort(key=_start)
        return found

    def is_asset(self, key: str, files: frozenset[str]) -> bool:
        """A referenced key is sharded when it is an existing, non-page, non-excluded file."""
        return key in files and not is_page(key) and not self.is_excluded(key)

    def is_excluded(self, key: str) -> bool:
        """Whether ``key`` matches an ``exclude`` pattern."""
        exclude = self.settings.exclude
        return bool(exclude) and any(fnmatch.fnmatchcase(key, p) for p in exclude)

    def rewrite(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> tuple[str, int]:
        """``text`` with every assigned reference pointed at its host, and how many changed.

        Besides the URLs, the only edits are ``crossorigin="anonymous"`` on an element
        with ``integrity`` that moves to a shard host, and, with ``preconnect``, one
        ``<link rel="preconnect">`` per shard host the page uses.
        """
        replacements = [
            (start, end, self.url(host, path, suffix), host, crossorigin_at)
            for start, end, key, path, suffix, _, crossorigin_at in self.references(text, document)
            if (host := hosts_by_asset.get(key)) is not None
        ]
        return self.splice(text, document, replacements)

    def url(self, host: str, path: str, suffix: str) -> str:
        """The URL of ``path`` (and ``suffix``) on ``host``; root-relative on the site's
        origin when ``host`` is :data:`~shard_assets.cors.ORIGIN`."""
        return f"{self.settings.url_prefix}{host}{path}{suffix}" if host else path + suffix

    def splice(
        self, text: str, document: str, replacements: Iterable[Replacement]
    ) -> tuple[str, int]:
        """``text`` with each ``(start, end, url, host, crossorigin_at)`` in place (in
        order, a span overlapping the one before is left), and how many URLs changed.

        The work of :meth:`rewrite` once the hosts are known; pass two calls it with
        the spans pass one found, without scanning again.
        """
        edits, count = self.edits(text, document, replacements)
        if not edits:
            return text, 0
        return apply_edits(text, edits), count

    def edits(
        self, text: str, document: str, replacements: Iterable[Replacement]
    ) -> tuple[list[Edit], int]:
        """What :meth:`splice` changes in ``text``, in order, and how many URLs change."""
        edits: list[Edit] = []
        used: set[str] = set()
        last = 0
        count = 0
        for start, end, url, host, crossorigin_at in replacements:
            if start < last:
                continue
            last = end
            if host == ORIGIN:
                # Kept on the origin: only a URL a build put on a shard host goes back.
                if url_host(text[start:end]) not in self.shard_hosts:
                    continue
            else:
                used.add(host)
            if text[start:end] == url:
                continue
            edits.append((start, end, url))
            if crossorigin_at >= 0 and host != ORIGIN:
                edits.append((crossorigin_at, crossorigin_at, ' crossorigin="anonymous"'))
            count += 1
        if self.settings.preconnect and used and is_page(document):
            edits += self._preconnect(text, used)
        edits.sort(key=_edit_order)
        return edits, count

    def _preconnect(self, text: str, used: set[str]) -> list[tuple[int, int, str]]:
        at, present = preconnect_point(text)
        if at < 0:
            return []
        prefix = self.settings.url_prefix
        links = "".join(
            f'<link rel="preconnect" href="{prefix}{host}">'
            for host in self.settings.host_names
            if host in used and host.lower() not in present
        )
        return [(at, at, links)] if links else []


#: A URL to put in place: (start, end, new URL, its host, where crossorigin goes or -1).
Replacement = tuple[int, int, str, str, int]

#: One change to a text: (start, end, what replaces text[start:end]).
Edit = tuple[int, int, str]


def _edit_order(edit: Edit) -> tuple[int, int]:
    return edit[0], edit[1]


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with each edit made (in order, none overlapping)."""
    pieces: list[str] = []
    last = 0
    for start, end, replacement in edits:
        pieces += (text[last:start], replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


#: A document's size and modification time when pass one read it.
Stamp = tuple[int, int]

#: An asset reference's target: (asset key, new path, query and fragment as written).
Target = tuple[str, str, str]

#: How pass one classifies a referenced key.
ASSET, MISSING, OTHER = range(3)


def _read(output_dir: Path, document: str) -> tuple[Decoded | None, Stamp]:
    with open(output_dir / document, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read()
    decoded = decode_document(data, is_stylesheet(document))
    return decoded, (info.st_size, info.st_mtime_ns)


def _start(ref: RefSpan) -> int:
    return ref[0]


@dataclass(frozen=True, slots=True)
class Scan:
    """What pass one found in one document; small, so workers can send it back.

    ``spans`` holds ``start, end, index into targets, crossorigin_at`` for each
    reference to an asset, in order; ``missing`` and ``crossorigin`` hold (line,
    URL) pairs; ``styles`` the stylesheets it references; ``css_size`` the size of a
    stylesheet with its asset URLs written root-relative (-1 for a page).
    """

    document: str
    decodable: bool
    stamp: Stamp = (0, 0)
    targets: tuple[Target, ...] = ()
    spans: array[int] = field(default_factory=lambda: array("q"))
    missing: tuple[tuple[int, str], ...] = ()
    styles: tuple[str, ...] = ()
    cors: tuple[str, ...] = ()
    crossorigin: tuple[tuple[int, str], ...] = ()
    css_size: int = -1


@dataclass(frozen=True)
class _Context:
    """What the workers of a pass share (inherited when forked, else sent once)."""

    output_dir: Path
    sharder: Sharder
    files: frozenset[str]
    stylesheets: frozenset[str]
    hosts_by_asset: Mapping[str, str] = field(default_factory=dict)
    #: key -> ASSET, MISSING or OTHER, worked out once per key in each process.
    kinds: dict[str, int] = field(default_factory=dict, compare=False)

    @classmethod
    def of(
        cls,
        output_dir: Path,
        sharder: Sharder,
        inventory: Inventory,
        hosts_by_asset: Mapping[str, str] | None = None,
    ) -> _Context:
        """The context for a pass over ``inventory``'s documents."""
        return cls(
            output_dir, sharder, inventory.files, inventory.stylesheets, hosts_by_asset or {}
        )


def scan_document(context: _Context, document: str) -> Scan:
    """Pass one for one document (see :class:`Scan`)."""
    decoded, stamp = _read(context.output_dir, document)
    if decoded is None:
        return Scan(document, decodable=False)
    text = decoded.text
    lines = _Lines(text)
    refs = context.sharder.references(text, document)
    scan = scan_refs(context, document, stamp, refs, lambda s, e: (lines.of(s), text[s:e]))
    assert scan is not None  # the text is at hand: every reference can be located
    if not is_page(document) and document in context.stylesheets:
        assets = {key for key, _, _ in scan.targets}
        css_size = len(decoded.encode(_root_relative(text, refs, assets)))
        scan = replace(scan, css_size=css_size)
    return scan


def scan_refs(
    context: _Context,
    document: str,
    stamp: Stamp,
    refs: Iterable[RefSpan],
    locate: Callable[[int, int], tuple[int, str] | None],
) -> Scan | None:
    """Pass one for one document from its references (see :class:`Scan`).

    ``locate(start, end)`` gives a reference's line and text, for the ones a message
    names (a missing file, an added ``crossorigin``); None when it cannot, and then
    this returns None (the document must be read).
    """
    kinds = context.kinds
    stylesheets = context.stylesheets
    targets: dict[Target, int] = {}
    spans = array("q")
    missing: list[tuple[int, str]] = []
    styles: set[str] = set()
    cors: set[str] = set()
    crossorigin: list[tuple[int, str]] = []
    for start, end, key, path, suffix, in_cors, crossorigin_at in refs:
        if key in stylesheets:
            styles.add(key)
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _kind(context, key)
        if kind == ASSET:
            target = (key, path, suffix)
            spans.extend((start, end, targets.setdefault(target, len(targets)), crossorigin_at))
            if in_cors:
                cors.add(key)
            if crossorigin_at >= 0:
                if (located := locate(start, end)) is None:
                    return None
                crossorigin.append(located)
        elif kind == MISSING:
            if (located := locate(start, end)) is None:
                return None
            missing.append(located)
    return Scan(
        document,
        True,
        stamp,
        tuple(targets),
        spans,
        tuple(missing),
        tuple(sorted(styles)),
        tuple(sorted(cors)),
        tuple(crossorigin),
    )


def _kind(context: _Context, key: str) -> int:
    files = context.files
    if context.sharder.is_asset(key, files):
        return ASSET
    if key not in files and not _is_folder(key, files):
        return MISSING
    return OTHER


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Pass two's work for one document: the URL to put at each span.

    ``replacements`` is None when pass one kept no spans (past :data:`SPAN_BUDGET`):
    the document is scanned again.
    """

    document: str
    stamp: Stamp
    replacements: tuple[Replacement, ...] | None


def rewrite_document(context: _Context, task: Rewrite) -> int:
    """Pass two for one document: put the new URLs in and write it if one changed.

    Returns how many URLs changed. A document that changed since pass one read it is
    scanned again, with the assignment made for the build.
    """
    decoded, stamp = _read(context.output_dir, task.document)
    if decoded is None:
        return 0
    sharder = context.sharder
    if task.replacements is None or stamp != task.stamp:
        text, count = sharder.rewrite(decoded.text, task.document, context.hosts_by_asset)
    else:
        text, count = sharder.splice(decoded.text, task.document, task.replacements)
    if count:
        # Atomic, not fsynced: the generator that just wrote the page did not sync it
        # either, and a rename keeps every reader, and a killed build, to old or new.
        atomic_write(context.output_dir / task.document, decoded.encode(text), sync=False)
    return count


class _Lines:
    """Line numbers for offsets in one text, computed once and only when needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks: list[int] | None = None

    def of(self, offset: int) -> int:
        if self.breaks is None:
            self.breaks = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self.breaks, offset) + 1


@dataclass(frozen=True)
class Collected:
    """What pass one found.

    ``assets`` are the sharded assets, indexed by id; ``pages`` pairs each page with
    the ids of the assets it loads, directly or through its stylesheets (4 bytes per
    page and asset, never the document). ``css_sizes`` holds the size of each CSS
    document with its asset URLs written root-relative, which is the same before and
    after sharding, so ``balance_by: bytes`` sees the same loads on a second run.
    ``cors`` are the assets the browser fetches in CORS mode (the CDN must send CORS
    headers), ``crossorigin`` the references that get ``crossorigin="anonymous"``
    because of ``integrity``.

    For pass two, ``spans`` maps each document with asset references to its stamp
    and spans (``start, end, index into targets, crossorigin_at``; None past
    :data:`SPAN_BUDGET`, when pass two scans it again), and ``in_memory`` maps the
    pages a generator plugin already rewrote in memory to their count of changed
    URLs: pass two skips them. ``scanned`` counts the documents whose references
    came from the generator's text, not from reading them. ``direct`` holds, for
    each page in ``pages``, the ids of the assets it references itself.
    """

    assets: tuple[str, ...]
    pages: tuple[tuple[str, array[int]], ...]
    css_sizes: Mapping[str, int]
    missing: tuple[MissingRef, ...]
    skipped: tuple[str, ...]
    cors: frozenset[str] = frozenset()
    crossorigin: tuple[Located, ...] = ()
    targets: tuple[Target, ...] = ()
    spans: Mapping[str, tuple[Stamp, array[int] | None]] = field(default_factory=dict)
    in_memory: Mapping[str, int] = field(default_factory=dict)
    scanned: int = 0
    direct: tuple[array[int], ...] = ()


class _Merge:
    """Pass one's per-document results, merged in document order, so that everything
    merged is the same for any number of worker processes."""

    def __init__(self, stylesheets: frozenset[str]) -> None:
        self.stylesheets = stylesheets
        self.ids: dict[str, int] = {}
        self.missing: list[MissingRef] = []
        self.skipped: list[str] = []
        self.cors: set[str] = set()
        self.crossorigin: list[Located] = []
        self.css_refs: dict[str, tuple[array[int], tuple[str, ...]]] = {}
        self.css_sizes: dict[str, int] = {}
        self.page_refs: list[tuple[str, array[int], tuple[str, ...]]] = []
        self.targets: dict[Target, int] = {}
        self.spans: dict[str, tuple[Stamp, array[int] | None]] = {}
        self.kept = 0

    def add(self, scan: Scan) -> None:
        document = scan.document
        if not scan.decodable:
            self.skipped.append(document)
            return
        self.missing += (MissingRef(document, line, url) for line, url in scan.missing)
        ids = self.ids
        found = {ids.setdefault(key, len(ids)) for key, _, _ in scan.targets}
        self.cors.update(scan.cors)
        self.crossorigin += (Located(document, line, url) for line, url in scan.crossorigin)
        self._entry(document, found, scan.styles)
        if scan.css_size >= 0:
            self.css_sizes[document] = scan.css_size
        if scan.spans:
            self.add_spans(scan)

    def add_page(self, document: str, page: PageRecord) -> None:
        """A page rewritten in memory: what pass one would have found in it."""
        ids = self.ids
        found = {ids.setdefault(key, len(ids)) for key in page.hosts}
        self.cors.update(page.cors)
        self.crossorigin += (Located(document, line, url) for line, url in page.crossorigin)
        styles = tuple(sorted(s for s in page.styles if s in self.stylesheets))
        self._entry(document, found, styles)

    def add_spans(self, scan: Scan) -> None:
        """Keep ``scan``'s spans for pass two (within :data:`SPAN_BUDGET`)."""
        ids = [self.targets.setdefault(target, len(self.targets)) for target in scan.targets]
        spans: array[int] | None = None
        if self.kept + len(scan.spans) <= SPAN_BUDGET:
            spans = array("q", scan.spans)
            for i in range(2, len(spans), 4):
                spans[i] = ids[spans[i]]
            self.kept += len(spans)
        self.spans[scan.document] = (scan.stamp, spans)

    def _entry(self, document: str, found: set[int], styles: tuple[str, ...]) -> None:
        entry = (array("I", sorted(found)), styles)
        if is_page(document):
            self.page_refs.append((document, *entry))
        elif document in self.stylesheets:
            self.css_refs[document] = entry

    def result(self) -> Collected:
        css_refs = self.css_refs
        loaded: dict[str, frozenset[int]] = {}

        def through(stylesheet: str) -> frozenset[int]:
            """The assets a stylesheet loads, following ``@import`` (cycles included)."""
            if stylesheet not in loaded:
                result: set[int] = set()
                queue, seen = [stylesheet], {stylesheet}
                while queue:
                    own, imports = css_refs.get(queue.pop(), (array("I"), ()))
                    result.update(own)
                    queue += [i for i in imports if i not in seen]
                    seen.update(imports)
                loaded[stylesheet] = frozenset(result)
            return loaded[stylesheet]

        pages: list[tuple[str, array[int]]] = []
        for page, own, linked in self.page_refs:
            ids_loaded = set(own)
            for stylesheet in linked:
                ids_loaded |= through(stylesheet)
            pages.append((page, array("I", sorted(ids_loaded))))
        return Collected(
            assets=tuple(self.ids),
            pages=tuple(pages),
            direct=tuple(own for _, own, _ in self.page_refs),
            css_sizes=self.css_sizes,
            missing=tuple(self.missing),
            skipped=tuple(self.skipped),
            cors=frozenset(self.cors),
            crossorigin=tuple(self.crossorigin),
            targets=tuple(self.targets),
            spans=self.spans,
        )


def collect(
    sharder: Sharder,
    output_dir: Path,
    inventory: Inventory,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    in_memory: Mapping[str, PageRecord] | None = None,
    scanned: Mapping[str, ScannedPage] | None = None,
) -> Collected:
    """Pass one: the referenced assets, which pages load them, references to missing
    files, skipped documents, and where each asset reference is.

    ``jobs`` processes read and scan the documents; the results are merged in
    document order. The pages in ``in_memory`` are not read: their records stand in;
    nor are those in ``scanned`` whose references are enough (see
    :class:`shard_assets.memory.ScannedPage`).
    """
    done = in_memory or {}
    context = _Context.of(output_dir, sharder, inventory)
    from_records: dict[str, Scan] = {}
    for document, record in (scanned or {}).items():
        if document not in done and (scan := _scan_record(context, document, record)) is not None:
            from_records[document] = scan
    to_scan = [d for d in inventory.documents if d not in done and d not in from_records]
    scans = run_each(scan_document, to_scan, context, jobs, count=len(to_scan))
    merge = _Merge(context.stylesheets)
    read = 0
    for document in inventory.documents:
        page = done.get(document)
        if page is not None:
            merge.add_page(document, page)
            continue
        scan = from_records.get(document)
        if scan is None:
            scan = next(scans)
            read += 1
            if progress is not None:
                progress("scan", read, len(to_scan))
        merge.add(scan)
    return replace(merge.result(), scanned=len(from_records))


def _scan_record(context: _Context, document: str, page: ScannedPage) -> Scan | None:
    """Pass one for a page from the references recorded as the generator handed it
    over; None when the page must be read (its size changed, or a message needs a
    line the record does not keep)."""
    if not is_page(document):
        return None
    try:
        info = (context.output_dir / document).stat()
    except OSError:
        return None
    if info.st_size != page.size:
        return None
    stamp = (info.st_size, info.st_mtime_ns)
    return scan_refs(context, document, stamp, page.refs, lambda s, e: page.located.get(s))


def _root_relative(text: str, refs: Iterable[RefSpan], assets: Iterable[str]) -> str:
    """``text`` with every asset URL written as its root-relative path (and suffix)."""
    keys = set(assets)
    pieces: list[str] = []
    last = 0
    for start, end, key, path, suffix, _, _ in refs:
        if key in keys and start >= last:
            pieces += (text[last:start], path + suffix)
            last = end
    pieces.append(text[last:])
    return "".join(pieces)


def asset_loads(measure: str, collected: Collected, output_dir: Path) -> dict[str, int] | None:
    """Each asset's load for ``balance_by``: None for ``count`` (one each), the file
    size for ``bytes``, the number of pages that load it for ``requests``."""
    if measure == "bytes":
        return {
            key: collected.css_sizes.get(key, (output_dir / key).stat().st_size)
            for key in collected.assets
        }
    if measure == "requests":
        per_id: Counter[int] = Counter()
        for _, ids in collected.pages:
            per_id.update(ids)
        return {key: per_id[i] for i, key in enumerate(collected.assets)}
    return None


def _is_folder(key: str, files: frozenset[str]) -> bool:
    return f"{key}/index.html" in files


@dataclass(frozen=True)
class Plan:
    """Everything a build will do, worked out before anything is written."""

    output_dir: Path
    settings: Settings
    sharder: Sharder
    inventory: Inventory
    previous: Manifest | None
    manifest: Manifest
    assignment: Assignment
    report: BalanceReport
    missing: tuple[MissingRef, ...]
    skipped: tuple[str, ...]
    cors: tuple[str, ...] = ()
    crossorigin: tuple[Located, ...] = ()
    pages: tuple[PageSpread, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    collected: Collected | None = None
    in_memory: InMemoryPages | None = None
    #: The CORS-mode assets kept on the origin (``cors_assets: origin``).
    on_origin: frozenset[str] = frozenset()

    def manifest_changes(self) -> list[str]:
        """How the manifest on disk would change, one line each (empty: it would not)."""
        old = self.previous
        if old is None:
            return [f"the manifest {self.settings.manifest} does not exist yet"]
        if (
            render_manifest(old) == render_manifest(self.manifest)
            and old.assets == self.manifest.assets
        ):
            return []
        changes: list[str] = []
        old_hosts = {h.name: h.weight for h in old.hosts}
        new_hosts = {h.name: h.weight for h in self.manifest.hosts}
        for name in sorted(old_hosts.keys() | new_hosts.keys()):
            if name not in new_hosts:
                changes.append(f"host removed: {name}")
            elif name not in old_hosts:
                changes.append(f"host added: {name}")
            elif old_hosts[name] != new_hosts[name]:
                changes.append(
                    f"host weight changed: {name} {old_hosts[name]} -> {new_hosts[name]}"
                )
        if old.max_imbalance != self.manifest.max_imbalance:
            changes.append(
                f"max_imbalance changed: {old.max_imbalance} -> {self.manifest.max_imbalance}"
            )
        for name in ("algorithm", "bounded", "balance_by"):
            before, after = getattr(old, name), getattr(self.manifest, name)
            if before != after:
                changes.append(f"{name} changed: {before} -> {after}")
        a = self.assignment
        changes += [f"new asset: {asset} -> {a.hosts_by_asset[asset]}" for asset in a.placed]
        changes += [f"moved: {m.asset} {m.old} -> {m.new} ({m.reason})" for m in a.moves]
        changes += [f"dropped (no longer referenced): {asset}" for asset in a.dropped]
        return changes or ["the manifest file's formatting would change"]


def plan_build(
    output_dir: Path,
    settings: Settings,
    *,
    rebalance: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
    in_memory: InMemoryPages | None = None,
) -> Plan:
    """Read the output and the manifest and work out the assignment; writes nothing.

    ``rebalance`` moves the fewest assets needed to bring every host within its cap
    (the way out when the gate fails on a kept manifest, bounded or not).
    ``jobs`` processes read and scan the documents.

    ``in_memory`` holds the pages a generator plugin prepared as it handed them over,
    with the manifest's hosts (see :mod:`shard_assets.memory`), and the manifest it
    read when the build started. Those pages are not read again, but their assets
    count; :func:`apply_plan` puts them in place. A page whose hosts the assignment
    does not confirm is scanned from disk (as the generator wrote it) after all.
    """
    previous = in_memory.previous if in_memory else read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    # The generator plugin's sharder was made for the same settings and manifest.
    sharder = (
        in_memory.preparer.sharder
        if in_memory
        else Sharder(settings, [h.name for h in previous.hosts] if previous else ())
    )
    done = in_memory.finished(inventory, sharder) if in_memory else {}
    collected = collect(
        sharder,
        output_dir,
        inventory,
        jobs=jobs,
        progress=progress,
        in_memory=done,
        scanned=in_memory.scanned(inventory) if in_memory else None,
    )
    on_origin = kept_on_origin(settings, collected.cors.intersection(collected.assets))
    collected = without(collected, on_origin)
    loads = asset_loads(settings.balance_by, collected, output_dir)
    assignment = assign_hosts(
        collected.assets,
        settings.hosts,
        settings.max_imbalance,
        previous.assets if previous else None,
        previous.hosts if previous else None,
        algorithm=settings.algorithm,
        bounded=settings.bounded,
        loads=loads,
        pins=resolve_pins(collected.assets, settings.pins),
    )
    if rebalance:
        assignment = rebalance_assignment(
            assignment,
            settings.hosts,
            settings.max_imbalance,
            algorithm=settings.algorithm,
            loads=loads,
        )
    hosts_by_asset = assignment.hosts_by_asset
    confirmed = {
        document: page.references
        for document, page in done.items()
        if all(hosts_by_asset.get(key) == host for key, host in page.hosts.items())
    }
    if len(confirmed) < len(done):
        assert in_memory is not None
        in_memory.release(done.keys() - confirmed.keys())  # as the generator wrote them
        collected = _scan_again(collected, sharder, output_dir, inventory, done, confirmed)
    collected = replace(collected, in_memory=confirmed)
    report = balance_report(
        assignment.hosts_by_asset,
        settings.hosts,
        settings.max_imbalance,
        loads=loads,
        pinned=assignment.pinned,
        measure=settings.balance_by,
        bounded=settings.bounded,
    )
    return Plan(
        output_dir=output_dir,
        settings=settings,
        sharder=sharder,
        inventory=inventory,
        previous=previous,
        manifest=Manifest(
            assignment.hosts_by_asset,
            settings.hosts,
            settings.max_imbalance,
            algorithm=settings.algorithm,
            bounded=settings.bounded,
            balance_by=settings.balance_by,
        ),
        assignment=assignment,
        report=report,
        missing=collected.missing,
        skipped=collected.skipped,
        cors=tuple(sorted(collected.cors - on_origin)),
        # An element that would get crossorigin is fetched in CORS mode: kept too.
        crossorigin=() if settings.cors_assets == "origin" else collected.crossorigin,
        pages=page_spreads(collected, assignment, settings),
        warnings=_warnings(previous, settings, collected.assets),
        notes=_notes(previous, settings, report, len(on_origin)),
        collected=collected,
        in_memory=in_memory,
        on_origin=on_origin,
    )


def _scan_again(
    collected: Collected,
    sharder: Sharder,
    output_dir: Path,
    inventory: Inventory,
    done: Mapping[str, PageRecord],
    confirmed: Mapping[str, int],
) -> Collected:
    """The spans of the pages prepared in memory whose hosts changed (rare: the
    assignment moved one of their assets), read from disk as the generator wrote
    them. Their assets, stylesheets and notes came from the records."""
    context = _Context.of(output_dir, sharder, inventory)
    merge = _Merge(context.stylesheets)
    merge.targets = dict(zip(collected.targets, range(len(collected.targets)), strict=True))
    merge.spans = dict(collected.spans)
    merge.kept = sum(len(spans) for _, spans in collected.spans.values() if spans is not None)
    for document in inventory.documents:
        if document in done and document not in confirmed:
            scan = scan_document(context, document)
            if scan.decodable and scan.spans:
                merge.add_spans(scan)
    return replace(collected, targets=tuple(merge.targets), spans=merge.spans)


def check_plan(plan: Plan, *, locked: bool = False) -> None:
    """Raise the error that must stop this build, if any, before a file is written."""
    settings = plan.settings
    if settings.strict and plan.missing:
        listed = "\n".join(f"  {m}" for m in plan.missing[:20])
        more = f"\n  ... and {len(plan.missing) - 20} more" if len(plan.missing) > 20 else ""
        raise MissingAssetError(
            f"shard-assets: {len(plan.missing)} site-local reference(s) name files that are "
            f"not in the output (strict is on, so this fails the build):\n{listed}{more}\n"
            "Fix the references or add the files; or set strict to false to only warn."
        )
    if not plan.report.ok:
        raise BalanceError(gate_message(plan.report, str(settings.manifest)), plan.report)
    if settings.max_page_imbalance is not None:
        limit = settings.max_page_imbalance
        excesses = [
            e for p in plan.pages if (e := page_excess(p, settings.hosts, limit)) is not None
        ]
        if excesses:
            raise BalanceError(page_gate_message(excesses, limit), excesses)
    if locked:
        changes = plan.manifest_changes()
        if changes:
            listed = "\n".join(f"  {c}" for c in changes[:50])
            more = f"\n  ... and {len(changes) - 50} more" if len(changes) > 50 else ""
            raise LockedError(
                f"shard-assets: locked mode: the manifest {settings.manifest} would change, "
                f"so nothing was written:\n{listed}{more}\n"
                "Run a build without locked (or --locked) to update the manifest, review and "
                "commit it, then run the locked build again."
            )
    _check_writable(settings.manifest)


def apply_plan(plan: Plan, *, jobs: int = 1, progress: Progress | None = None) -> BuildResult:
    """Rewrite the documents and write the manifest, each file atomically.

    Only documents with asset references are opened again, and their URLs are put
    in at the spans pass one found; ``jobs`` processes do that and write them. The
    manifest is written last, by this process.
    """
    collected = plan.collected or collect(plan.sharder, plan.output_dir, plan.inventory)
    if plan.in_memory is not None:
        plan.in_memory.commit(collected.in_memory)
    for stale in plan.inventory.stale:
        with contextlib.suppress(FileNotFoundError):
            (plan.output_dir / stale).unlink()
    hosts_by_asset: Mapping[str, str] = plan.assignment.hosts_by_asset
    if plan.on_origin:
        hosts_by_asset = {**hosts_by_asset, **dict.fromkeys(plan.on_origin, ORIGIN)}
    sharder = plan.sharder
    urls = [
        None
        if (host := hosts_by_asset.get(key)) is None
        else (sharder.url(host, path, suffix), host)
        for key, path, suffix in collected.targets
    ]

    def tasks() -> Iterator[Rewrite]:
        for document, (stamp, spans) in collected.spans.items():
            if spans is None:
                yield Rewrite(document, stamp, None)
                continue
            replacements = tuple(
                (spans[i], spans[i + 1], *url, spans[i + 3])
                for i in range(0, len(spans), 4)
                if (url := urls[spans[i + 2]]) is not None
            )
            if replacements:
                yield Rewrite(document, stamp, replacements)

    context = _Context.of(plan.output_dir, plan.sharder, plan.inventory, hosts_by_asset)
    in_memory = sum(1 for count in collected.in_memory.values() if count)
    rewritten = in_memory
    references = sum(collected.in_memory.values())
    total = len(collected.spans)
    counts = run_each(rewrite_document, tasks(), context, jobs, count=total)
    for done, count in enumerate(counts, 1):
        if count:
            rewritten += 1
            references += count
        if progress is not None:
            progress("rewrite", done, total)
    changed = write_manifest(plan.settings.manifest, plan.manifest)
    return BuildResult(
        assignment=plan.assignment,
        report=plan.report,
        documents=len(plan.inventory.documents),
        rewritten=rewritten,
        references=references,
        missing=plan.missing,
        undecodable=plan.skipped,
        manifest=plan.settings.manifest,
        manifest_changed=changed,
        cors=plan.cors,
        crossorigin=plan.crossorigin,
        pages=plan.pages,
        warnings=plan.warnings,
        notes=plan.notes,
        in_memory=in_memory,
        scanned=collected.scanned,
        direct_pages=(
            page_spreads(collected, plan.assignment, plan.settings, direct=True)
            if plan.settings.report
            else None
        ),
    )


def shard_site(
    output_dir: Path,
    settings: Settings,
    *,
    rebalance: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
    in_memory: InMemoryPages | None = None,
) -> BuildResult:
    """Shard every site-local asset reference in ``output_dir`` and write the manifest.

    Holds a lock on the manifest for the whole build (with ``in_memory``, whose
    creator holds it since the build started). Raises :class:`BalanceError`,
    :class:`MissingAssetError` (``strict``), :class:`LockedError` (``locked``) or
    :class:`ManifestError` before any file is written. ``jobs`` processes scan and
    rewrite the documents; the output is the same for any number. With
    ``unsharded_copy``, the twin of the documents is written last
    (:mod:`shard_assets.twin`).
    """
    from . import twin  # noqa: PLC0415 (twin builds on this module)

    lock = contextlib.nullcontext() if in_memory else manifest_lock(settings.manifest)
    with lock:
        try:
            twin.twin_folder(output_dir, settings)  # a mistake there stops the build now
            plan = plan_build(
                output_dir,
                settings,
                rebalance=rebalance,
                jobs=jobs,
                progress=progress,
                in_memory=in_memory,
            )
            check_plan(plan, locked=settings.locked)
        except BaseException:
            if in_memory is not None:
                in_memory.discard()
            raise
        result = apply_plan(plan, jobs=jobs, progress=progress)
        if settings.verify:
            from .verify import verify_or_raise  # noqa: PLC0415 (loads BeautifulSoup)

            verify_or_raise(output_dir, settings)
        twin.write_twin(output_dir, settings, plan.sharder, jobs=jobs)
        return result


def page_spreads(
    collected: Collected, assignment: Assignment, settings: Settings, *, direct: bool = False
) -> tuple[PageSpread, ...]:
    """How each page's asset requests split over the configured hosts (``direct``:
    only the assets the page references itself, not through its stylesheets)."""
    index = {name: i for i, name in enumerate(settings.host_names)}
    host_of = [index[assignment.hosts_by_asset[key]] for key in collected.assets]
    pinned = set(assignment.pinned)
    is_pinned = [key in pinned for key in collected.assets]
    spreads = []
    pages = collected.pages
    if direct:
        pages = tuple((page, own) for (page, _), own in zip(pages, collected.direct, strict=True))
    for page, ids in pages:
        by_host = [0] * len(index)
        pinned_by_host = [0] * len(index)
        for i in ids:
            by_host[host_of[i]] += 1
            if is_pinned[i]:
                pinned_by_host[host_of[i]] += 1
        spreads.append(PageSpread(page, tuple(by_host), tuple(pinned_by_host)))
    return tuple(spreads)


def _warnings(
    previous: Manifest | None, settings: Settings, assets: Iterable[str]
) -> tuple[str, ...]:
    if previous is None or settings.algorithm != "jump" or previous.algorithm != "jump":
        return ()
    before = [h.name for h in previous.hosts]
    reason = jump_renumbering(before, settings.host_names)
    if reason is None:
        return ()
    share = jump_moved_share(list(assets), before, settings.host_names)
    return (
        f"{reason}: jump hashing numbers hosts by position, so {share:.0%} of the assets "
        "now hash to another host than with the old list. The manifest keeps their hosts, "
        "but a run-time jump client, and any build without this manifest, will place them "
        "elsewhere. Add and remove jump hosts at the end of the list only, or use "
        "algorithm ring or rendezvous.",
    )


def _notes(
    previous: Manifest | None, settings: Settings, report: BalanceReport, on_origin: int = 0
) -> tuple[str, ...]:
    notes: list[str] = []
    if on_origin:
        notes.append(
            f"{on_origin} asset(s) fetched in CORS mode (web fonts, module scripts, "
            "crossorigin elements) stay on the origin (cors_assets: origin)"
        )
    if previous is not None and previous.algorithm != settings.algorithm:
        notes.append(
            f"the manifest was written with algorithm {previous.algorithm}: its assets keep "
            f"their hosts, and only new ones are placed with {settings.algorithm}"
        )
    for row in report.rows:
        if row.pinned_over_cap:
            notes.append(
                f"{row.host}'s pinned assets alone exceed its cap ({row.pinned} > {row.cap}): "
                "pins never move and never fail the gate; the other hosts share the rest"
            )
    return tuple(notes)


def _check_writable(manifest: Path) -> None:
    folder = manifest.parent
    if not folder.is_dir():
        raise ManifestError(
            f"{manifest}: the folder {folder} does not exist; create it or set 'manifest' "
            "to a path in an existing folder"
        )
    if not os.access(folder, os.W_OK) or (manifest.exists() and not os.access(manifest, os.W_OK)):
        raise ManifestError(
            f"{manifest}: cannot write the manifest there; make it writable or set "
            "'manifest' to another path"
        )


def describe_moves(assignment: Assignment, limit: int = 20) -> list[str]:
    """One line per moved asset (at most ``limit``), saying why it moved."""
    lines = [
        f"  moved {m.asset}: {m.old} -> {m.new} ({m.reason})" for m in assignment.moves[:limit]
    ]
    if len(assignment.moves) > limit:
        lines.append(f"  ... and {len(assignment.moves) - limit} more moves")
    return lines


def build_warnings(result: BuildResult) -> list[str]:
    """What a build warns about, one message each (the front ends print them as
    warnings, then :func:`summary`)."""
    return [
        *result.warnings,
        *(str(missing) for missing in result.missing),
        *(f"{doc}: binary or not decodable; left as it was" for doc in result.undecodable),
    ]


def summary(result: BuildResult) -> str:
    """A short human-readable account of a build, with the balance table."""
    a = result.assignment
    changed = "updated" if result.manifest_changed else "unchanged"
    return "\n".join(
        [
            f"shard-assets: {len(a.hosts_by_asset)} assets over {len(result.report.rows)} "
            f"hosts; {result.references} references rewritten in {result.rewritten} of "
            f"{result.documents} files",
            *_in_memory_line(result),
            f"  kept {a.kept}, placed {len(a.placed)} new, moved {len(a.moves)}, "
            f"dropped {len(a.dropped)} no longer referenced",
            *describe_moves(a),
            result.report.table(),
            *_pages_line(result),
            *(f"  note: {note}" for note in result.notes),
            f"  manifest: {result.manifest} ({changed})",
            *cross_origin_notes(result),
        ]
    )


def _in_memory_line(result: BuildResult) -> list[str]:
    lines = []
    if result.in_memory:
        lines.append(
            f"  {result.in_memory} of those files in memory, as the generator handed them over"
        )
    if result.scanned:
        lines.append(f"  {result.scanned} pages scanned as the generator handed them over")
    return lines


def _pages_line(result: BuildResult) -> list[str]:
    hosts = [Host(row.host, row.weight) for row in result.report.rows]
    worst = most_uneven_page(result.pages, hosts)
    if worst is None:
        return []
    return [
        f"  pages: the most uneven, {worst.page}, puts {worst.on_host} of its "
        f"{worst.requests} asset requests on {worst.host} "
        f"(fair share {float(worst.fair_share):.1f})"
    ]


def cross_origin_notes(result: BuildResult, limit: int = 10) -> list[str]:
    """What the CDN must do for files the browser fetches in CORS mode, said once."""
    lines: list[str] = []
    if result.cors:
        shown = ", ".join(result.cors[:limit])
        more = f" and {len(result.cors) - limit} more" if len(result.cors) > limit else ""
        lines += [
            f"  CORS: {len(result.cors)} asset(s) are fetched in CORS mode (web fonts, module "
            f"scripts, crossorigin elements): {shown}{more}.",
            "  The shard hosts must answer them with a CORS header, e.g. "
            "'Access-Control-Allow-Origin: *' (or your site's origin, with 'Vary: Origin').",
        ]
    if result.crossorigin:
        lines.append(
            f'  SRI: added crossorigin="anonymous" to {len(result.crossorigin)} element(s) with '
            "integrity, which browsers block from another origin without it:"
        )
        lines += [f"    {ref.document}:{ref.line}: {ref.url}" for ref in result.crossorigin[:limit]]
    return lines
