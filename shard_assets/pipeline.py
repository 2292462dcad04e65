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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .assign import Assignment, assign_hosts, rebalance_assignment
from .balance import BalanceReport, balance_report, gate_message
from .config import Settings
from .css import find_css_refs
from .errors import BalanceError, LockedError, ManifestError, MissingAssetError
from .files import TEMP_FILE, Decoded, atomic_write, decode_document, manifest_lock
from .html import HtmlScanner, RefSpan
from .manifest import Manifest, read_manifest, render_manifest, write_manifest
from .parallel import run_each
from .urls import Ref

if TYPE_CHECKING:
    from .memory import InMemoryPages

PAGE_SUFFIXES = (".html", ".htm")
DOCUMENT_SUFFIXES = (*PAGE_SUFFIXES, ".css")

#: Pass one keeps where each asset reference is (three integers each) so that pass
#: two splices without scanning again; past this many integers in all, the rest of
#: the documents are scanned again instead, so memory stays bounded on any site.
SPAN_BUDGET = 6_000_000

#: Called as ``progress(phase, done, total)`` after each document of a pass.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MissingRef:
    """A site-local reference to a file that is not in the output."""

    document: str
    line: int
    url: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.url} is not in the output"


@dataclass(frozen=True)
class Inventory:
    """What an output folder holds: every file, and the documents to rewrite."""

    files: frozenset[str]
    documents: tuple[str, ...]
    stale: tuple[str, ...] = ()


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
    in_memory: int = 0


def is_page(key: str) -> bool:
    """Pages are documents people navigate to, never assets."""
    return key.lower().endswith(PAGE_SUFFIXES)


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

    def find_refs(self, text: str, document: str) -> Iterator[Ref]:
        """All site-local references in ``text``, the content of ``document``."""
        site = self.site
        if document.lower().endswith(".css"):
            return find_css_refs(text, site.document_path(document), site)
        return self.scanner.find_refs(text, document, site)

    def references(self, text: str, document: str) -> list[RefSpan]:
        """:meth:`find_refs` as ``(start, end, key, path, suffix)`` tuples, by start."""
        site = self.site
        if document.lower().endswith(".css"):
            found = [
                (r.start, r.end, r.key, r.path, r.suffix)
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
        return any(fnmatch.fnmatchcase(key, p) for p in self.settings.exclude)

    def rewrite(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> tuple[str, int]:
        """``text`` with every assigned reference pointed at its host, and how many changed."""
        prefix = self.settings.url_prefix
        pieces: list[str] = []
        last = 0
        count = 0
        for start, end, key, path, suffix in self.references(text, document):
            host = hosts_by_asset.get(key)
            if host is None or start < last:
                continue
            url = f"{prefix}{host}{path}{suffix}"
            if text[start:end] == url:
                continue
            pieces += (text[last:start], url)
            last = end
            count += 1
        if not count:
            return text, 0
        pieces.append(text[last:])
        return "".join(pieces), count


def _read(output_dir: Path, document: str) -> tuple[Decoded | None, Stamp]:
    with open(output_dir / document, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read()
    return decode_document(data, document.lower().endswith(".css")), (
        info.st_size,
        info.st_mtime_ns,
    )


#: A document's size and modification time when pass one read it.
Stamp = tuple[int, int]

#: An asset reference's target: (asset key, new path, query and fragment as written).
Target = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Scan:
    """What pass one found in one document; small, so workers can send it back.

    ``spans`` holds ``start, end, index into targets`` for each reference to an
    asset, in order; ``missing`` holds (line, URL) for references to missing files.
    """

    document: str
    decodable: bool
    stamp: Stamp = (0, 0)
    targets: tuple[Target, ...] = ()
    spans: array[int] = field(default_factory=lambda: array("q"))
    missing: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class _Context:
    """What the workers of a pass share (inherited when forked, else sent once)."""

    output_dir: Path
    sharder: Sharder
    files: frozenset[str]
    hosts_by_asset: Mapping[str, str] = field(default_factory=dict)
    #: key -> ASSET, MISSING or OTHER, worked out once per key in each process.
    kinds: dict[str, int] = field(default_factory=dict, compare=False)


ASSET, MISSING, OTHER = range(3)


def scan_document(context: _Context, document: str) -> Scan:
    """Pass one for one document: its asset references and its references to missing files."""
    decoded, stamp = _read(context.output_dir, document)
    if decoded is None:
        return Scan(document, decodable=False)
    text = decoded.text
    kinds = context.kinds
    lines: _Lines | None = None
    targets: dict[Target, int] = {}
    spans = array("q")
    missing: list[tuple[int, str]] = []
    for start, end, key, path, suffix in context.sharder.references(text, document):
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _kind(context, key)
        if kind == ASSET:
            target = (key, path, suffix)
            spans.extend((start, end, targets.setdefault(target, len(targets))))
        elif kind == MISSING:
            lines = lines or _Lines(text)
            missing.append((lines.of(start), text[start:end]))
    return Scan(document, True, stamp, tuple(targets), spans, tuple(missing))


def _kind(context: _Context, key: str) -> int:
    files = context.files
    if context.sharder.is_asset(key, files):
        return ASSET
    if key not in files and not _is_folder(key, files):
        return MISSING
    return OTHER


def _start(ref: RefSpan) -> int:
    return ref[0]


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Pass two's work for one document: each span and the URL to put there.

    ``replacements`` is None when pass one kept no spans (over :data:`SPAN_BUDGET`):
    the document is scanned again.
    """

    document: str
    stamp: Stamp
    replacements: tuple[tuple[int, int, str], ...] | None


def rewrite_document(context: _Context, task: Rewrite) -> int:
    """Pass two for one document: splice the new URLs in and write it if it changed.

    Returns the number of references changed. A document that changed since pass
    one read it is scanned again, with the assignment made for the build.
    """
    path = context.output_dir / task.document
    decoded, stamp = _read(context.output_dir, task.document)
    if decoded is None:
        return 0
    if task.replacements is None or stamp != task.stamp:
        text, count = context.sharder.rewrite(decoded.text, task.document, context.hosts_by_asset)
    else:
        text, count = splice(decoded.text, task.replacements)
    if count:
        atomic_write(path, decoded.encode(text))
    return count


def splice(text: str, replacements: Iterable[tuple[int, int, str]]) -> tuple[str, int]:
    """``text`` with each (start, end, url) put in place, and how many changed.

    The same rule as :meth:`Sharder.rewrite`: in order, a span that overlaps one
    already replaced is left, and a URL that is already right is not counted.
    """
    pieces: list[str] = []
    last = 0
    count = 0
    for start, end, url in replacements:
        if start < last or text[start:end] == url:
            continue
        pieces += (text[last:start], url)
        last = end
        count += 1
    if not count:
        return text, 0
    pieces.append(text[last:])
    return "".join(pieces), count


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
    """What pass one found in the whole output.

    ``spans`` maps each document with asset references to its stamp and its spans
    (``start, end, index into targets``; None past :data:`SPAN_BUDGET`, when pass
    two scans it again). ``in_memory`` maps the pages a generator plugin already
    rewrote in memory (and that pass two skips) to their number of references.
    """

    assets: frozenset[str]
    missing: tuple[MissingRef, ...]
    skipped: tuple[str, ...]
    targets: tuple[Target, ...] = ()
    spans: Mapping[str, tuple[Stamp, array[int] | None]] = field(default_factory=dict)
    in_memory: Mapping[str, int] = field(default_factory=dict)


class _Merge:
    """Pass one's results, merged in document order (so the same for any ``jobs``)."""

    def __init__(self) -> None:
        self.assets: set[str] = set()
        self.missing: list[MissingRef] = []
        self.skipped: list[str] = []
        self.targets: dict[Target, int] = {}
        self.spans: dict[str, tuple[Stamp, array[int] | None]] = {}
        self.kept = 0

    def add(self, scan: Scan) -> None:
        if not scan.decodable:
            self.skipped.append(scan.document)
            return
        self.missing += (MissingRef(scan.document, line, url) for line, url in scan.missing)
        if not scan.spans:
            return
        ids = [self.targets.setdefault(target, len(self.targets)) for target in scan.targets]
        self.assets.update(key for key, _, _ in scan.targets)
        spans: array[int] | None = None
        if self.kept + len(scan.spans) <= SPAN_BUDGET:
            spans = array("q", scan.spans)
            for i in range(2, len(spans), 3):
                spans[i] = ids[spans[i]]
            self.kept += len(spans)
        self.spans[scan.document] = (scan.stamp, spans)

    def result(self, in_memory: Mapping[str, int]) -> Collected:
        return Collected(
            assets=frozenset(self.assets),
            missing=tuple(self.missing),
            skipped=tuple(self.skipped),
            targets=tuple(self.targets),
            spans=self.spans,
            in_memory=in_memory,
        )


def collect(
    sharder: Sharder,
    output_dir: Path,
    inventory: Inventory,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    skip: Iterable[str] = (),
) -> Collected:
    """Pass one: the referenced assets, references to missing files, skipped documents,
    and where each asset reference is. Documents in ``skip`` are not read."""
    skipped = set(skip)
    documents = [d for d in inventory.documents if d not in skipped]
    context = _Context(output_dir, sharder, inventory.files)
    merge = _Merge()
    scans = run_each(scan_document, documents, context, jobs, count=len(documents))
    for done, scan in enumerate(scans, 1):
        merge.add(scan)
        if progress is not None:
            progress("scan", done, len(documents))
    return merge.result({})


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
    collected: Collected | None = None

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

    ``rebalance`` moves the fewest assets needed to bring every host within its cap.
    ``jobs`` processes read and scan the documents. ``in_memory`` holds the pages a
    generator plugin already rewrote with the manifest's hosts: they are not read
    again, but their assets count; a page whose hosts the assignment does not
    confirm is read and scanned from disk after all, so pass two re-points it.
    """
    previous = in_memory.previous if in_memory else read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
    done = in_memory.finished(output_dir, inventory) if in_memory else {}
    collected = collect(sharder, output_dir, inventory, jobs=jobs, progress=progress, skip=done)
    assets = collected.assets.union(*(page.hosts for page in done.values()))
    assignment = assign_hosts(
        assets,
        settings.hosts,
        settings.max_imbalance,
        previous.assets if previous else None,
        [h.name for h in previous.hosts] if previous else None,
    )
    if rebalance:
        assignment = rebalance_assignment(assignment, settings.hosts, settings.max_imbalance)
    hosts_by_asset = assignment.hosts_by_asset
    confirmed = {
        document: page.references
        for document, page in done.items()
        if all(hosts_by_asset.get(key) == host for key, host in page.hosts.items())
    }
    if len(confirmed) < len(done):
        # Rare (the hosts changed since the manifest was read): scan those pages as
        # they are on disk, with the manifest's hosts in them, like a second run.
        again = Inventory(
            inventory.files,
            tuple(d for d in inventory.documents if d in done and d not in confirmed),
        )
        extra = collect(sharder, output_dir, again, jobs=jobs)
        collected = _combine(collected, extra)
    collected = replace(collected, in_memory=confirmed)
    report = balance_report(hosts_by_asset, settings.hosts, settings.max_imbalance)
    return Plan(
        output_dir=output_dir,
        settings=settings,
        sharder=sharder,
        inventory=inventory,
        previous=previous,
        manifest=Manifest(hosts_by_asset, settings.hosts, settings.max_imbalance),
        assignment=assignment,
        report=report,
        missing=collected.missing,
        skipped=collected.skipped,
        collected=collected,
    )


def _combine(first: Collected, second: Collected) -> Collected:
    """Two passes-one over disjoint documents, as one (spans re-indexed)."""
    targets = dict(zip(first.targets, range(len(first.targets)), strict=True))
    ids = [targets.setdefault(target, len(targets)) for target in second.targets]
    spans = dict(first.spans)
    for document, (stamp, found) in second.spans.items():
        moved = None if found is None else array("q", found)
        if moved is not None:
            for i in range(2, len(moved), 3):
                moved[i] = ids[moved[i]]
        spans[document] = (stamp, moved)
    return Collected(
        assets=first.assets | second.assets,
        missing=first.missing + second.missing,
        skipped=first.skipped + second.skipped,
        targets=tuple(targets),
        spans=spans,
    )


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

    Only documents with asset references are opened again; ``jobs`` processes
    splice and write them. The manifest is written last, by this process.
    """
    for stale in plan.inventory.stale:
        with contextlib.suppress(FileNotFoundError):
            (plan.output_dir / stale).unlink()
    collected = plan.collected or collect(plan.sharder, plan.output_dir, plan.inventory)
    hosts_by_asset = plan.assignment.hosts_by_asset
    prefix = plan.settings.url_prefix
    urls = [
        None if (host := hosts_by_asset.get(key)) is None else f"{prefix}{host}{path}{suffix}"
        for key, path, suffix in collected.targets
    ]

    def tasks() -> Iterator[Rewrite]:
        for document, (stamp, spans) in collected.spans.items():
            if spans is None:
                yield Rewrite(document, stamp, None)
                continue
            replacements = tuple(
                (spans[i], spans[i + 1], url)
                for i in range(0, len(spans), 3)
                if (url := urls[spans[i + 2]]) is not None
            )
            if replacements:
                yield Rewrite(document, stamp, replacements)

    total = len(collected.spans)
    context = _Context(plan.output_dir, plan.sharder, plan.inventory.files, hosts_by_asset)
    rewritten = len(collected.in_memory)
    references = sum(collected.in_memory.values())
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
        in_memory=len(collected.in_memory),
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

    Holds a lock on the manifest for the whole build (``in_memory`` holds it already,
    since the manifest was read when the generator started). Raises
    :class:`BalanceError`, :class:`MissingAssetError` (``strict``),
    :class:`LockedError` (``locked``) or :class:`ManifestError` before any file is
    written. ``jobs`` processes scan and rewrite the documents; the output is the
    same for any number.
    """
    lock = contextlib.nullcontext() if in_memory else manifest_lock(settings.manifest)
    with lock:
        plan = plan_build(
            output_dir,
            settings,
            rebalance=rebalance,
            jobs=jobs,
            progress=progress,
            in_memory=in_memory,
        )
        check_plan(plan, locked=settings.locked)
        result = apply_plan(plan, jobs=jobs, progress=progress)
        if settings.verify:
            from .verify import verify_or_raise  # noqa: PLC0415 (loads BeautifulSoup)

            verify_or_raise(output_dir, settings)
        return result


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


def summary(result: BuildResult) -> str:
    """A short human-readable account of a build, with the balance table."""
    a = result.assignment
    changed = "updated" if result.manifest_changed else "unchanged"
    return "\n".join(
        [
            f"shard-assets: {len(a.hosts_by_asset)} assets over {len(result.report.rows)} "
            f"hosts; {result.references} references rewritten in {result.rewritten} of "
            f"{result.documents} files",
            f"  kept {a.kept}, placed {len(a.placed)} new, moved {len(a.moves)}, "
            f"dropped {len(a.dropped)} no longer referenced",
            *describe_moves(a),
            result.report.table(),
            f"  manifest: {result.manifest} ({changed})",
        ]
    )
