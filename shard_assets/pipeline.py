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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .assign import Assignment, assign_hosts, rebalance_assignment
from .balance import BalanceReport, balance_report, gate_message
from .config import Settings
from .css import find_css_refs
from .errors import BalanceError, LockedError, ManifestError, MissingAssetError
from .files import TEMP_FILE, Decoded, atomic_write, decode_document, manifest_lock
from .html import HtmlScanner, preconnect_point
from .manifest import Manifest, read_manifest, render_manifest, write_manifest
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


@dataclass
class Collected:
    """What pass one found in the documents."""

    assets: set[str] = field(default_factory=set)
    missing: list[MissingRef] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: Assets the browser fetches in CORS mode: the CDN must send CORS headers.
    cors: set[str] = field(default_factory=set)
    #: References that get ``crossorigin="anonymous"`` because of ``integrity``.
    crossorigin: list[Located] = field(default_factory=list)


def collect(sharder: Sharder, output_dir: Path, inventory: Inventory) -> Collected:
    """Pass one: referenced assets, references to missing files, skipped documents."""
    found = Collected()
    for document in inventory.documents:
        decoded = _read(output_dir, document)
        if decoded is None:
            found.skipped.append(document)
            continue
        text = decoded.text
        lines = _Lines(text)
        for ref in sharder.find_refs(text, document):
            if sharder.is_asset(ref.key, inventory.files):
                found.assets.add(ref.key)
                if ref.cors:
                    found.cors.add(ref.key)
                if ref.crossorigin_at >= 0:
                    url = text[ref.start : ref.end]
                    found.crossorigin.append(Located(document, lines.of(ref.start), url))
            elif ref.key not in inventory.files and not _is_folder(ref.key, inventory.files):
                url = text[ref.start : ref.end]
                found.missing.append(MissingRef(document, lines.of(ref.start), url))
    return found


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


def plan_build(output_dir: Path, settings: Settings, *, rebalance: bool = False) -> Plan:
    """Read the output and the manifest and work out the assignment; writes nothing.

    ``rebalance`` moves the fewest assets needed to bring every host within its cap.
    """
    previous = read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
    found = collect(sharder, output_dir, inventory)
    assets, missing, skipped = found.assets, found.missing, found.skipped
    assignment = assign_hosts(
        assets,
        settings.hosts,
        settings.max_imbalance,
        previous.assets if previous else None,
        [h.name for h in previous.hosts] if previous else None,
    )
    if rebalance:
        assignment = rebalance_assignment(assignment, settings.hosts, settings.max_imbalance)
    report = balance_report(assignment.hosts_by_asset, settings.hosts, settings.max_imbalance)
    return Plan(
        output_dir=output_dir,
        settings=settings,
        sharder=sharder,
        inventory=inventory,
        previous=previous,
        manifest=Manifest(assignment.hosts_by_asset, settings.hosts, settings.max_imbalance),
        assignment=assignment,
        report=report,
        missing=tuple(missing),
        skipped=tuple(skipped),
        cors=tuple(sorted(found.cors)),
        crossorigin=tuple(found.crossorigin),
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
            *cross_origin_notes(result),
        ]
    )


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
