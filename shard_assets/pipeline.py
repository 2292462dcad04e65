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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

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
from .css import find_css_refs
from .errors import BalanceError, LockedError, ManifestError, MissingAssetError
from .files import TEMP_FILE, Decoded, atomic_write, decode_document, manifest_lock
from .html import HtmlScanner, preconnect_point
from .manifest import Manifest, read_manifest, render_manifest, write_manifest
from .ring import Host
from .urls import Ref

PAGE_SUFFIXES = (".html", ".htm")
DOCUMENT_SUFFIXES = (*PAGE_SUFFIXES, ".css")


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

    def is_asset(self, key: str, files: frozenset[str]) -> bool:
        """A referenced key is sharded when it is an existing, non-page, non-excluded file."""
        return (
            key in files
            and not is_page(key)
            and not any(fnmatch.fnmatchcase(key, p) for p in self.settings.exclude)
        )

    def rewrite(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> tuple[str, int]:
        """``text`` with every assigned reference pointed at its host, and how many changed.

        Besides the URLs, the only edits are ``crossorigin="anonymous"`` on an element
        with ``integrity`` that moves to a shard host, and, with ``preconnect``, one
        ``<link rel="preconnect">`` per shard host the page uses.
        """
        prefix = self.settings.url_prefix
        edits: list[tuple[int, int, str]] = []
        used: set[str] = set()
        last = 0
        count = 0
        for ref in sorted(self.find_refs(text, document), key=lambda r: r.start):
            host = hosts_by_asset.get(ref.key)
            if host is None or ref.start < last:
                continue
            used.add(host)
            last = ref.end
            url = f"{prefix}{host}{ref.path}{ref.suffix}"
            if text[ref.start : ref.end] == url:
                continue
            edits.append((ref.start, ref.end, url))
            if ref.crossorigin_at >= 0:
                edits.append((ref.crossorigin_at, ref.crossorigin_at, ' crossorigin="anonymous"'))
            count += 1
        if self.settings.preconnect and used and is_page(document):
            edits += self._preconnect(text, used)
        if not edits:
            return text, 0
        pieces: list[str] = []
        last = 0
        for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
            pieces += (text[last:start], replacement)
            last = end
        pieces.append(text[last:])
        return "".join(pieces), count

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


def _read(output_dir: Path, document: str) -> Decoded | None:
    data = (output_dir / document).read_bytes()
    return decode_document(data, document.lower().endswith(".css"))


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
    """

    assets: tuple[str, ...]
    pages: tuple[tuple[str, array[int]], ...]
    css_sizes: Mapping[str, int]
    missing: tuple[MissingRef, ...]
    skipped: tuple[str, ...]
    cors: frozenset[str] = frozenset()
    crossorigin: tuple[Located, ...] = ()


def collect(sharder: Sharder, output_dir: Path, inventory: Inventory) -> Collected:
    """Pass one: the referenced assets, which pages load them, references to missing
    files, and skipped documents."""
    ids: dict[str, int] = {}
    missing: list[MissingRef] = []
    skipped: list[str] = []
    cors: set[str] = set()
    crossorigin: list[Located] = []
    stylesheets = {d: d for d in inventory.documents if d.lower().endswith(".css")}
    css_refs: dict[str, tuple[array[int], tuple[str, ...]]] = {}
    css_sizes: dict[str, int] = {}
    page_refs: list[tuple[str, array[int], tuple[str, ...]]] = []
    for document in inventory.documents:
        decoded = _read(output_dir, document)
        if decoded is None:
            skipped.append(document)
            continue
        text = decoded.text
        lines = _Lines(text)
        found: set[int] = set()
        styles: set[str] = set()
        refs = sorted(sharder.find_refs(text, document), key=lambda r: r.start)
        for ref in refs:
            if ref.key in stylesheets:
                styles.add(stylesheets[ref.key])
            if sharder.is_asset(ref.key, inventory.files):
                found.add(ids.setdefault(ref.key, len(ids)))
                if ref.cors:
                    cors.add(ref.key)
                if ref.crossorigin_at >= 0:
                    url = text[ref.start : ref.end]
                    crossorigin.append(Located(document, lines.of(ref.start), url))
            elif ref.key not in inventory.files and not _is_folder(ref.key, inventory.files):
                url = text[ref.start : ref.end]
                missing.append(MissingRef(document, lines.of(ref.start), url))
        entry = (array("I", sorted(found)), tuple(sorted(styles)))
        if is_page(document):
            page_refs.append((document, *entry))
        elif document in stylesheets:
            css_refs[document] = entry
            css_sizes[document] = len(decoded.encode(_root_relative(text, refs, ids)))

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
    for page, own, linked in page_refs:
        ids_loaded = set(own)
        for stylesheet in linked:
            ids_loaded |= through(stylesheet)
        pages.append((page, array("I", sorted(ids_loaded))))
    return Collected(
        assets=tuple(ids),
        pages=tuple(pages),
        css_sizes=css_sizes,
        missing=tuple(missing),
        skipped=tuple(skipped),
        cors=frozenset(cors),
        crossorigin=tuple(crossorigin),
    )


def _root_relative(text: str, refs: Iterable[Ref], assets: Mapping[str, int]) -> str:
    """``text`` with every asset URL written as its root-relative path (and suffix)."""
    pieces: list[str] = []
    last = 0
    for ref in refs:
        if ref.key in assets and ref.start >= last:
            pieces += (text[last : ref.start], ref.path + ref.suffix)
            last = ref.end
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


def plan_build(output_dir: Path, settings: Settings, *, rebalance: bool = False) -> Plan:
    """Read the output and the manifest and work out the assignment; writes nothing.

    ``rebalance`` moves the fewest assets needed to bring every host within its cap
    (a bounded assignment already is; with ``bounded: false`` this is how to fix it).
    """
    previous = read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
    collected = collect(sharder, output_dir, inventory)
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
        cors=tuple(sorted(collected.cors)),
        crossorigin=collected.crossorigin,
        pages=page_spreads(collected, assignment, settings),
        warnings=_warnings(previous, settings, collected.assets),
        notes=_notes(previous, settings, report),
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


def apply_plan(plan: Plan) -> BuildResult:
    """Rewrite the documents and write the manifest, each file atomically."""
    for stale in plan.inventory.stale:
        with contextlib.suppress(FileNotFoundError):
            (plan.output_dir / stale).unlink()
    rewritten = 0
    references = 0
    hosts_by_asset = plan.assignment.hosts_by_asset
    for document in plan.inventory.documents:
        decoded = _read(plan.output_dir, document)
        if decoded is None:
            continue
        text, count = plan.sharder.rewrite(decoded.text, document, hosts_by_asset)
        if count:
            atomic_write(plan.output_dir / document, decoded.encode(text))
            rewritten += 1
            references += count
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
    )


def shard_site(output_dir: Path, settings: Settings, *, rebalance: bool = False) -> BuildResult:
    """Shard every site-local asset reference in ``output_dir`` and write the manifest.

    Holds a lock on the manifest for the whole build. Raises :class:`BalanceError`,
    :class:`MissingAssetError` (``strict``), :class:`LockedError` (``locked``) or
    :class:`ManifestError` before any file is written.
    """
    with manifest_lock(settings.manifest):
        plan = plan_build(output_dir, settings, rebalance=rebalance)
        check_plan(plan, locked=settings.locked)
        result = apply_plan(plan)
        if settings.verify:
            from .verify import verify_or_raise  # noqa: PLC0415 (loads BeautifulSoup)

            verify_or_raise(output_dir, settings)
        return result


def page_spreads(
    collected: Collected, assignment: Assignment, settings: Settings
) -> tuple[PageSpread, ...]:
    """How each page's asset requests split over the configured hosts."""
    index = {name: i for i, name in enumerate(settings.host_names)}
    host_of = [index[assignment.hosts_by_asset[key]] for key in collected.assets]
    pinned = set(assignment.pinned)
    is_pinned = [key in pinned for key in collected.assets]
    spreads = []
    for page, ids in collected.pages:
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


def _notes(previous: Manifest | None, settings: Settings, report: BalanceReport) -> tuple[str, ...]:
    notes: list[str] = []
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
            *_pages_line(result),
            *(f"  note: {note}" for note in result.notes),
            f"  manifest: {result.manifest} ({changed})",
            *cross_origin_notes(result),
        ]
    )


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
