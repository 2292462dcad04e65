"""Pass one: find every document's asset references (a :class:`Scan` each) and merge
them in document order (with the ``@import`` closure of stylesheets); what they weigh
is in :mod:`.measures`.

A page's scan comes from reading it, or from the text the generator handed over
(:mod:`shard_assets.build.handover`), before the output is complete: then the kinds of
the files it names are assumed, and :func:`kinds_hold` checks them at the end.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Collection, ItemsView, Iterable, Iterator, Mapping, ValuesView
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from ..documents.html import RefSpan
from ..documents.inventory import (
    Inventory,
    Stamp,
    is_folder,
    is_page,
    is_stylesheet,
    read_document,
)
from ..documents.text import Lines
from ..kept import kept_stylesheet
from ..parallel import run_each
from ..results import Located, MissingRef
from .rewrite import Sharder, Unsharding
from .scan_cache import CachedRefs, ScanCache, references_of

#: Pass one keeps where each asset reference is (four integers each) so that pass
#: two splices without scanning again; past this many integers in all (16 MB), the
#: rest wait in a temporary file (:class:`KeptSpans`), so memory stays bounded on any
#: site and no document is scanned twice.
SPAN_BUDGET = 2_000_000


#: Called as ``progress(phase, done, total)`` after each document of a pass.
Progress = Callable[[str, int, int], None]


#: An asset reference's target: (asset key, new path, query and fragment as written).
Target = tuple[str, str, str]


#: How pass one classifies a referenced key: an asset (a file of the output that is
#: not a page and not excluded), a missing file, anything else (a page, an excluded
#: file, a folder, template markup); and, in a page handed over before the output is
#: complete, a key assumed to be one of those others, checked at the end
#: (see :class:`Kinds`).
ASSET, MISSING, OTHER, LINK = range(4)


@dataclass(frozen=True, slots=True)
class Scan:
    """What pass one found in one document; small, so workers can send it back.

    ``spans`` holds ``start, end, index into targets, crossorigin_at`` for each
    reference to an asset, in order; ``missing`` and ``crossorigin`` hold (line,
    URL) pairs; ``styles`` the stylesheets it references; ``links``, in a page handed
    over, the keys it names that are assumed not to be assets (:data:`LINK`);
    ``css_size`` the size of a stylesheet with its asset URLs written root-relative
    (-1 for a page); ``origin_refs``, in a stylesheet, the (key, line, URL) of each
    reference that does not name its file on the site's origin by an absolute URL, to
    an excluded file or (with ``cors_assets: origin``) to an asset that may stay on
    the origin: should the stylesheet move to a shard host, such a URL would resolve
    against that host.
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
    origin_refs: tuple[tuple[str, int, str], ...] = ()
    links: tuple[str, ...] = ()
    #: The document's entry in the scan cache (b"": none), and its references when
    #: they were found now, for the process that saves the cache.
    cache_key: bytes = b""
    cache_refs: CachedRefs | None = None


class Kinds:
    """The kind of each key documents reference (:data:`ASSET`, :data:`MISSING`,
    :data:`OTHER` or :data:`LINK`) and whether it names a stylesheet, worked out once
    per key in each process (:attr:`known`).

    Over the output's ``files`` (and ``stylesheets``, its CSS documents) the kinds are
    pass one's. Without them (a page handed over before the output is complete), a
    key is assumed to name an asset of the output unless it is a page, excluded or
    template markup (a :data:`LINK` then): :func:`kinds_hold` checks that at the end.
    """

    def __init__(
        self,
        sharder: Sharder,
        files: frozenset[str] | None = None,
        stylesheets: frozenset[str] | None = None,
    ) -> None:
        self.sharder = sharder
        self.files = files
        self.stylesheets = stylesheets
        self.known: dict[str, tuple[int, bool]] = {}

    def of(self, key: str) -> tuple[int, bool]:
        """``key``'s kind, and whether it names a stylesheet (see :attr:`known`)."""
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = (self._kind(key), self._stylesheet(key))
        return found

    def _kind(self, key: str) -> int:
        files = self.files
        if files is None:
            if is_page(key) or self.sharder.is_excluded(key) or _template_markup(key):
                return LINK
            return ASSET
        if self.sharder.is_asset(key, files):
            return ASSET
        if key not in files and not is_folder(key, files) and not _template_markup(key):
            return MISSING
        return OTHER

    def _stylesheet(self, key: str) -> bool:
        if self.stylesheets is None:
            return is_stylesheet(key)
        return key in self.stylesheets


@dataclass(frozen=True)
class ScanContext:
    """What the workers of a pass share (inherited when forked, else sent once);
    ``twin``, the unsharded copy, if the build writes one; ``cache``, the scan cache,
    if the build has one."""

    output_dir: Path
    sharder: Sharder
    kinds: Kinds
    twin: Unsharding | None = None
    cache: ScanCache | None = None

    @classmethod
    def of(
        cls,
        output_dir: Path,
        sharder: Sharder,
        inventory: Inventory,
        twin: Unsharding | None = None,
        cache: ScanCache | None = None,
    ) -> ScanContext:
        """The context for a pass over ``inventory``'s documents."""
        kinds = Kinds(sharder, inventory.files, inventory.stylesheets)
        return cls(output_dir, sharder, kinds, twin, cache)

    def is_stylesheet(self, document: str) -> bool:
        """Whether ``document`` is scanned as a stylesheet of the output."""
        return not is_page(document) and self.kinds.of(document)[1]


def kinds_hold(kinds: Kinds, scans: Iterable[Scan]) -> set[str]:
    """The documents of ``scans`` (pages handed over) to whose every key pass one over
    the finished output (``kinds``) gives the kind assumed: each key assumed to be an
    asset is one, and each other is not (a page or an excluded file it links to
    exists). Their scans are what pass one would find reading the pages."""
    scans = list(scans)
    assets = {key for scan in scans for key, _, _ in scan.targets}
    others: set[str] = set().union(*(scan.links for scan in scans))
    not_assets = {key for key in assets if kinds.of(key)[0] != ASSET}
    not_others = {key for key in others if kinds.of(key)[0] != OTHER}
    return {
        scan.document
        for scan in scans
        if not_others.isdisjoint(scan.links)
        and (not not_assets or not_assets.isdisjoint([key for key, _, _ in scan.targets]))
    }


def scan_document(context: ScanContext, document: str) -> Scan:
    """Pass one for one document (see :class:`Scan`)."""
    decoded, stamp = read_document(context.output_dir, document)
    if decoded is None:
        return Scan(document, decodable=False)
    text = decoded.text
    lines = Lines(text)
    refs, key, fresh = references_of(context.cache, context.sharder, text, document)
    if context.twin is not None:
        context.twin.read(context.sharder, document, decoded, refs)
    scan = scan_refs(
        context,
        document,
        stamp,
        refs,
        lambda s, e: (lines.of(s), text[s:e]),
        cache_entry=(key, fresh),
    )
    if context.is_stylesheet(document):
        assets = {key for key, _, _ in scan.targets}
        css_size = len(decoded.encode(_root_relative(text, refs, assets)))
        scan = replace(scan, css_size=css_size)
    return scan


def scan_refs(
    context: ScanContext,
    document: str,
    stamp: Stamp,
    refs: Iterable[RefSpan],
    locate: Callable[[int, int], tuple[int, str]],
    cache_entry: tuple[bytes, CachedRefs | None] = (b"", None),
) -> Scan:
    """Pass one for one document from its references (see :class:`Scan`).

    ``locate(start, end)`` gives a reference's line and text, for the ones a message
    names (a missing file, an added ``crossorigin``); ``cache_entry`` is the
    document's key in the scan cache and its entry if made now (see
    :func:`~shard_assets.build.scan_cache.references_of`).
    """
    kinds = context.kinds
    known = kinds.known
    targets: dict[Target, int] = {}
    spans: list[int] = []  # an array at the end: a list grows faster
    missing: list[tuple[int, str]] = []
    styles: set[str] = set()
    links: dict[str, None] = {}
    cors: set[str] = set()
    crossorigin: list[tuple[int, str]] = []
    origin_refs: list[tuple[str, int, str]] = []
    sharder = context.sharder
    # Only a stylesheet that may move to a shard host can name a file on the origin
    # by a URL that would then resolve against that host (stylesheets: origin keeps
    # every stylesheet where it is).
    rules = sharder.rules
    in_stylesheet = context.is_stylesheet(document) and not kept_stylesheet(
        document, stylesheets=rules.stylesheets
    )
    cors_origin = rules.cors_assets == "origin"
    for start, end, key, path, suffix, in_cors, crossorigin_at in refs:
        found = known.get(key)
        if found is None:
            found = kinds.of(key)
        kind, stylesheet = found
        if stylesheet:
            styles.add(key)
        if kind == ASSET:
            target = (key, path, suffix)
            spans += (start, end, targets.setdefault(target, len(targets)), crossorigin_at)
            if in_cors:
                cors.add(key)
            if crossorigin_at >= 0:
                crossorigin.append(locate(start, end))
        elif kind == MISSING:
            missing.append(locate(start, end))
        elif kind == LINK:
            links[key] = None
        if in_stylesheet and ((kind == ASSET and cors_origin) or sharder.is_excluded(key)):
            located = locate(start, end)
            if sharder.resolves_elsewhere(located[1]):
                origin_refs.append((key, *located))
    return Scan(
        document,
        True,
        stamp,
        tuple(targets),
        array("q", spans),
        tuple(missing),
        tuple(sorted(styles)),
        tuple(sorted(cors)),
        tuple(crossorigin),
        origin_refs=tuple(origin_refs),
        links=tuple(links),
        cache_key=cache_entry[0],
        cache_refs=cache_entry[1],
    )


def _template_markup(key: str) -> bool:
    """Whether ``key`` holds Jinja markup, so it names no file, missing or not: themes
    ship templates in their static folders, which a generator copies unrendered
    (pydata-sphinx-theme's ``webpack-macros.html``, ``{{ pathto(...) }}``)."""
    return "{{" in key or "{%" in key


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
    and spans (``start, end, index into targets, crossorigin_at``; a
    :class:`KeptSpans` holds them in memory within :data:`SPAN_BUDGET`, the rest in a
    temporary file), and ``sharded_at_handover``
    maps the pages a generator plugin sharded as it handed them over (and the
    assignment confirmed) to their count of changed URLs: pass two skips them.
    ``scanned_at_handover`` counts the pages whose references came from the text
    the generator handed over, not from reading them.
    """

    assets: tuple[str, ...]
    pages: tuple[tuple[str, array[int]], ...]
    css_sizes: Mapping[str, int]
    missing: tuple[MissingRef, ...]
    skipped: tuple[str, ...]
    cors: frozenset[str] = frozenset()
    crossorigin: tuple[Located, ...] = ()
    targets: tuple[Target, ...] = ()
    spans: Mapping[str, tuple[Stamp, array[int]]] = field(default_factory=dict)
    sharded_at_handover: Mapping[str, int] = field(default_factory=dict)
    scanned_at_handover: int = 0
    #: Each stylesheet's ``origin_refs`` (see :class:`Scan`).
    origin_refs: Mapping[str, tuple[tuple[str, int, str], ...]] = field(default_factory=dict)


class KeptSpans(Mapping[str, tuple[Stamp, "array[int]"]]):
    """Pass one's spans of each document with asset references, in the order kept,
    with the document's stamp: the first :data:`SPAN_BUDGET` integers in memory, the
    rest in a temporary file (deleted when this is), read back one document at a time
    as pass two goes. Documents are listed, not indexed: a lookup by name builds the
    index then (pass two only iterates)."""

    def __init__(self) -> None:
        self._documents: list[str] = []
        #: Each document's stamp, then where its spans are: (offset in the file or -1
        #: when in memory, count of integers).
        self._records = array("q")
        self._held: dict[int, array[int]] = {}
        self._file: IO[bytes] | None = None
        self._end = 0
        self._index: dict[str, int] | None = None
        #: Integers held in memory.
        self.held = 0

    def keep(self, document: str, stamp: Stamp, spans: array[int]) -> None:
        """Keep ``spans`` (``start, end, index into targets, crossorigin_at`` each,
        typecode ``q``) for ``document``, after those kept before."""
        position = len(self._documents)
        self._documents.append(document)
        if self._index is not None:
            self._index[document] = position
        if self.held + len(spans) <= SPAN_BUDGET:
            self._held[position] = spans
            self.held += len(spans)
            offset = -1
        else:
            if self._file is None:
                # Closed (and so deleted) with this object, not at the end of a block.
                self._file = tempfile.TemporaryFile(prefix="shard-assets-spans-")  # noqa: SIM115
                weakref.finalize(self, self._file.close)
            offset = self._end
            self._file.write(spans.tobytes())
            self._end += len(spans) * spans.itemsize
        self._records.extend((*stamp, offset, len(spans)))

    def _position(self, document: str) -> int:
        if self._index is None:
            self._index = {d: i for i, d in enumerate(self._documents)}
        return self._index.get(document, -1)

    def _entry(self, position: int) -> tuple[Stamp, array[int]]:
        size, mtime, offset, count = self._records[4 * position : 4 * position + 4]
        spans = self._held.get(position) if offset < 0 else None
        if spans is None:
            assert self._file is not None
            self._file.flush()
            spans = array("q")
            spans.frombytes(os.pread(self._file.fileno(), count * spans.itemsize, offset))
        return (size, mtime), spans

    def __getitem__(self, document: str) -> tuple[Stamp, array[int]]:
        position = self._position(document)
        if position < 0:
            raise KeyError(document)
        return self._entry(position)

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents)

    def __len__(self) -> int:
        return len(self._documents)

    def items(self) -> ItemsView[str, tuple[Stamp, array[int]]]:
        """(document, (stamp, spans)) in the order kept, read one at a time."""
        return _Items(self)

    def values(self) -> ValuesView[tuple[Stamp, array[int]]]:
        """(stamp, spans) in the order kept, read one at a time."""
        return _Values(self)

    def each(self) -> Iterator[tuple[str, tuple[Stamp, array[int]]]]:
        """What :meth:`items` iterates over."""
        for position, document in enumerate(self._documents):
            yield document, self._entry(position)


class _Items(ItemsView[str, tuple[Stamp, "array[int]"]]):
    _mapping: KeptSpans

    def __iter__(self) -> Iterator[tuple[str, tuple[Stamp, array[int]]]]:
        return self._mapping.each()


class _Values(ValuesView[tuple[Stamp, "array[int]"]]):
    _mapping: KeptSpans

    def __iter__(self) -> Iterator[tuple[Stamp, array[int]]]:
        return (entry for _, entry in self._mapping.each())


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
        self.spans = KeptSpans()
        self.origin_refs: dict[str, tuple[tuple[str, int, str], ...]] = {}

    def add(self, scan: Scan, document: str) -> None:
        """One document's scan, read from disk or handed over, in document order
        (``document``: its name in the inventory, the one string kept for it)."""
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
        if scan.origin_refs:
            self.origin_refs[document] = scan.origin_refs
        if scan.spans:
            self.add_spans(scan, document)

    def add_spans(self, scan: Scan, document: str) -> None:
        """Keep ``scan``'s spans for pass two (see :meth:`numbered`)."""
        self.spans.keep(document, scan.stamp, self.numbered(scan))

    def numbered(self, scan: Scan) -> array[int]:
        """``scan``'s spans, their targets numbered for the whole build."""
        ids = [self.targets.setdefault(target, len(self.targets)) for target in scan.targets]
        spans = array("q", scan.spans)
        for i in range(2, len(spans), 4):
            spans[i] = ids[spans[i]]
        return spans

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
            css_sizes=self.css_sizes,
            missing=tuple(self.missing),
            skipped=tuple(self.skipped),
            cors=frozenset(self.cors),
            crossorigin=tuple(self.crossorigin),
            targets=tuple(self.targets),
            spans=self.spans,
            origin_refs=self.origin_refs,
        )


def collect(
    sharder: Sharder,
    output_dir: Path,
    inventory: Inventory,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    handed_over: Mapping[str, Scan] | None = None,
    twin: Unsharding | None = None,
    cache: ScanCache | None = None,
) -> Collected:
    """Pass one: the referenced assets, which pages load them, references to missing
    files, skipped documents, and where each asset reference is.

    ``jobs`` processes read and scan the documents; the results are merged in
    document order. The pages in ``handed_over`` are not read: their scans, made from
    the text the generator handed over (and checked with :func:`kinds_hold`), stand
    in. Each document read is shown to ``twin``, the unsharded copy, if any, and its
    references kept in ``cache``, the scan cache, if any.
    """
    given = handed_over or {}
    context = ScanContext.of(output_dir, sharder, inventory, twin, cache)
    to_scan = [d for d in inventory.documents if d not in given]
    scans = run_each(scan_document, to_scan, context, jobs, count=len(to_scan))
    merge = _Merge(inventory.stylesheets)
    read = 0
    for document in inventory.documents:
        scan = given.get(document)
        if scan is None:
            scan = next(scans)
            read += 1
            if cache is not None:
                cache.keep(scan.cache_key, scan.cache_refs)
            if progress is not None:
                progress("scan", read, len(to_scan))
        merge.add(scan, document)
    return merge.result()


def scan_again(
    collected: Collected,
    sharder: Sharder,
    output_dir: Path,
    inventory: Inventory,
    documents: Collection[str],
    twin: Unsharding | None = None,
) -> Collected:
    """``collected`` with the spans of ``documents``, pages sharded at handover whose
    hosts changed (rare: the assignment moved one of their assets), read from disk as
    the generator wrote them (and shown to ``twin``). Their assets, stylesheets and
    notes came from their scans."""
    context = ScanContext.of(output_dir, sharder, inventory, twin)
    merge = _Merge(inventory.stylesheets)
    merge.targets = dict(zip(collected.targets, range(len(collected.targets)), strict=True))
    again: dict[str, tuple[Stamp, array[int]]] = {}
    for document in inventory.documents:
        if document in documents:
            scan = scan_document(context, document)
            if scan.decodable and scan.spans:
                again[document] = (scan.stamp, merge.numbered(scan))
    # Each in its place, as a dict update would put it: the others after the rest.
    for document, entry in collected.spans.items():
        merge.spans.keep(document, *again.pop(document, entry))
    for document, entry in again.items():
        merge.spans.keep(document, *entry)
    return replace(collected, targets=tuple(merge.targets), spans=merge.spans)


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


def without_assets(collected: Collected, kept: frozenset[str]) -> Collected:
    """``collected`` without the assets in ``kept`` (what
    :func:`shard_assets.kept.kept_assets` keeps on the origin): they get no
    host, count in no balance, and no page loads them from a shard host. Their
    references stay in ``spans``, so that a shard URL to one of them goes back to the
    origin."""
    if not kept:
        return collected
    new_id: list[int] = []
    assets: list[str] = []
    for key in collected.assets:
        new_id.append(-1 if key in kept else len(assets))
        if key not in kept:
            assets.append(key)

    def renumbered(ids: array[int]) -> array[int]:
        return array("I", [new_id[i] for i in ids if new_id[i] >= 0])

    return replace(
        collected,
        assets=tuple(assets),
        pages=tuple((page, renumbered(ids)) for page, ids in collected.pages),
    )
