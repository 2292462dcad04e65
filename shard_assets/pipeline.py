"""The build: plan (read the output and the manifest, work out the assignment),
check (the gate and the other checks), apply (rewrite the documents, write the
manifest), each step on top of the leaf modules (see docs/architecture.md).

Nothing is written before the checks pass, so a failed build leaves the output and
the manifest exactly as they were.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from .assign import Assignment, assign_hosts, rebalance_assignment, resolve_pins
from .balance import (
    BalanceReport,
    PageSpread,
    balance_report,
    gate_message,
    page_excess,
    page_gate_message,
)
from .config import Settings
from .errors import BalanceError, LockedError, ManifestError, MissingAssetError
from .files import manifest_lock
from .inventory import Inventory, take_inventory
from .manifest import Manifest, read_manifest, write_manifest
from .messages import (
    jump_warnings,
    locked_message,
    manifest_changes,
    missing_message,
    placement_notes,
)
from .parallel import run_each
from .results import BuildResult, MissingRef
from .rewrite import Rewrite, RewriteContext, Sharder, rewrite_document, shard_url
from .scan import (
    Collected,
    PageRecord,
    Progress,
    ScannedPage,
    _Context,
    _Merge,
    asset_loads,
    collect,
    page_spreads,
    scan_document,
)


class HandedOver(Protocol):
    """The pages a generator handed over during the build, as the pipeline sees them
    (:class:`shard_assets.handover.InMemoryPages` is the one implementation)."""

    @property
    def previous(self) -> Manifest | None:
        """The manifest as it was read when the build started (under the lock)."""
        ...

    @property
    def sharder(self) -> Sharder:
        """The sharder made for the build's settings and that manifest."""
        ...

    def finished(self, inventory: Inventory, sharder: Sharder) -> dict[str, PageRecord]:
        """The pages rewritten in memory that may stand in for reading them."""
        ...

    def scanned(self, inventory: Inventory) -> dict[str, ScannedPage]:
        """The pages only scanned, whose references may stand in for reading them."""
        ...

    def release(self, documents: Iterable[str]) -> None:
        """Give up the rewritten forms of ``documents`` (the generator's text stays)."""

    def commit(self, documents: Mapping[str, int]) -> None:
        """Confirm the rewritten forms of ``documents``, give up the others."""

    def discard(self) -> None:
        """Give up every page: the build failed."""


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
    #: What pass one found: the references to missing files, the documents skipped
    #: (undecodable), the CORS assets and added ``crossorigin``, and for pass two.
    collected: Collected
    pages: tuple[PageSpread, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    in_memory: HandedOver | None = None

    @property
    def missing(self) -> tuple[MissingRef, ...]:
        """References to files that are not in the output."""
        return self.collected.missing

    def manifest_changes(self) -> list[str]:
        """How the manifest on disk would change, one line each (empty: it would not)."""
        return manifest_changes(
            self.previous, self.manifest, self.assignment, self.settings.manifest
        )


def plan_build(
    output_dir: Path,
    settings: Settings,
    *,
    rebalance: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
    in_memory: HandedOver | None = None,
) -> Plan:
    """Read the output and the manifest and work out the assignment.

    Writes no file of its own. With ``in_memory``, a page whose hosts the assignment
    does not confirm is given back (:meth:`HandedOver.release`): a page the generator
    wrote sharded is put back as it made it, and then read from disk.

    ``rebalance`` moves the fewest assets needed to bring every host within its cap
    (the way out when the gate fails on a kept manifest, bounded or not).
    ``jobs`` processes read and scan the documents.

    ``in_memory`` holds the pages a generator plugin prepared as it handed them over,
    with the manifest's hosts (see :mod:`shard_assets.handover`), and the manifest it
    read when the build started. Those pages are not read again, but their assets
    count; :func:`apply_plan` puts them in place.
    """
    previous = in_memory.previous if in_memory else read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    # The generator plugin's sharder was made for the same settings and manifest.
    sharder = (
        in_memory.sharder
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
        pages=page_spreads(collected, assignment, settings),
        warnings=jump_warnings(previous, settings, collected.assets),
        notes=placement_notes(previous, settings, report),
        collected=collected,
        in_memory=in_memory,
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
        raise MissingAssetError(missing_message(plan.missing))
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
            raise LockedError(locked_message(settings.manifest, changes))
    _check_writable(settings.manifest)


def apply_plan(plan: Plan, *, jobs: int = 1, progress: Progress | None = None) -> BuildResult:
    """Rewrite the documents and write the manifest, each file atomically.

    Only documents with asset references are opened again, and their URLs are put
    in at the spans pass one found; ``jobs`` processes do that and write them. The
    manifest is written last, by this process.
    """
    collected = plan.collected
    if plan.in_memory is not None:
        plan.in_memory.commit(collected.in_memory)
    for stale in plan.inventory.stale:
        with contextlib.suppress(FileNotFoundError):
            (plan.output_dir / stale).unlink()
    hosts_by_asset = plan.assignment.hosts_by_asset
    prefix = plan.settings.url_prefix
    urls = [
        None
        if (host := hosts_by_asset.get(key)) is None
        else (shard_url(prefix, host, path, suffix), host)
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

    context = RewriteContext(plan.output_dir, plan.sharder, hosts_by_asset)
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
        missing=collected.missing,
        undecodable=collected.skipped,
        manifest=plan.settings.manifest,
        manifest_changed=changed,
        cors=tuple(sorted(collected.cors)),
        crossorigin=collected.crossorigin,
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
    in_memory: HandedOver | None = None,
) -> BuildResult:
    """Shard every site-local asset reference in ``output_dir`` and write the manifest.

    Holds a lock on the manifest for the whole build (with ``in_memory``, whose
    creator holds it since the build started). Raises :class:`BalanceError`,
    :class:`MissingAssetError` (``strict``), :class:`LockedError` (``locked``) or
    :class:`ManifestError` before any file is written. ``jobs`` processes scan and
    rewrite the documents; the output is the same for any number.
    """
    lock = contextlib.nullcontext() if in_memory else manifest_lock(settings.manifest)
    with lock:
        try:
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
