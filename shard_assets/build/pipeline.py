"""The build: plan (read the output and the manifest, work out the assignment),
check (the gate and the other checks), apply (rewrite the documents, write the
manifest), each step on top of the leaf modules (see docs/architecture.md).

Nothing is written before the checks pass, so a failed build leaves the output and
the manifest exactly as they were; and nothing is replaced before every new file was
written (:class:`shard_assets.build.commit.StagedFiles`), so a fault of the machine (a full
disk, a file that cannot be replaced) or an interrupt leaves them as they were too.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import Settings
from ..documents.inventory import Inventory, take_inventory
from ..errors import (
    BalanceError,
    LockedError,
    MissingAssetError,
    MissingFolderError,
)
from ..files import manifest_lock
from ..kept import kept_assets, with_kept
from ..manifest import Manifest, check_writable, manifest_update, read_manifest
from ..messages import (
    gate_message,
    jump_warnings,
    locked_message,
    manifest_changes,
    missing_folder_message,
    missing_message,
    origin_ref_warnings,
    page_gate_message,
    placement_notes,
)
from ..parallel import run_each
from ..placement.assign import Assignment, assign_hosts, rebalance_assignment, resolve_pins
from ..placement.balance import (
    BalanceReport,
    PageSpread,
    balance_report,
    pages_over,
)
from ..results import BuildResult, MissingRef
from .commit import build_state, staged_writes
from .handover import Handover
from .measures import asset_loads, page_spreads
from .rewrite import (
    RewriteContext,
    Sharder,
    UrlRules,
    origin_refs,
    rewrite_document,
    rewrite_tasks,
    target_urls,
)
from .scan import Collected, Progress, collect, scan_again, without_assets
from .scan_cache import ScanCache
from .unsharded_copy import UnshardedCopy, twin_folder


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
    #: The gate's verdict on the hosts' loads (the balance table).
    balance: BalanceReport
    #: What pass one found: the references to missing files, the documents skipped
    #: (undecodable), the CORS assets and added ``crossorigin``, and for pass two.
    collected: Collected
    pages: tuple[PageSpread, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: The pages the generator handed over (a plugin's build), or None.
    handover: Handover | None = None
    #: The assets kept on the origin (``cors_assets`` and ``stylesheets``: ``origin``).
    kept: frozenset[str] = frozenset()
    #: Stylesheets on a shard host naming a file kept on the origin by a URL that would
    #: resolve against that host: pass two writes its origin URL (rewrite.origin_refs).
    restyled: frozenset[str] = frozenset()
    #: The unsharded copy the build writes as it goes, or None.
    twin: UnshardedCopy | None = None
    #: The scan cache pass one used and kept this build's entries in, or None.
    cache: ScanCache | None = None

    @property
    def missing(self) -> tuple[MissingRef, ...]:
        """References to files that are not in the output."""
        return self.collected.missing

    @property
    def in_memory(self) -> Handover | None:
        """Deprecated: the old name of :attr:`handover`."""
        warnings.warn("Plan.in_memory is now Plan.handover", DeprecationWarning, stacklevel=2)
        return self.handover

    @property
    def report(self) -> BalanceReport:
        """Deprecated: the old name of :attr:`balance`."""
        warnings.warn("Plan.report is now Plan.balance", DeprecationWarning, stacklevel=2)
        return self.balance

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
    handover: Handover | None = None,
    twin: UnshardedCopy | None = None,
) -> Plan:
    """Read the output and the manifest and work out the assignment.

    Writes no file of its own, but for ``twin``, the unsharded copy (its work
    folder), when given: pass one writes the twin of each document that holds shard
    URLs already, :func:`apply_plan` the others'. With ``handover``, a page whose
    hosts the assignment does not confirm is given back (:meth:`Handover.release`):
    a page the generator wrote sharded is put back as it made it, and then read from
    disk.

    ``rebalance`` moves the fewest assets needed to bring every host within its cap
    (the way out when the gate fails on a kept manifest, bounded or not).
    ``jobs`` processes read and scan the documents.

    ``handover`` holds the pages a generator plugin prepared as it handed them over,
    with the manifest's hosts (see :mod:`shard_assets.build.handover`), and the manifest it
    read when the build started. Those pages are not read again, but their assets
    count; :func:`apply_plan` puts them in place.
    """
    previous = handover.previous if handover else read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    # The generator plugin's sharder was made for the same settings and manifest.
    sharder = handover.sharder if handover else Sharder.for_build(UrlRules.of(settings), previous)
    handed_over = handover.finished(inventory) if handover else {}
    # The scan cache: the handover's holds the entries of the pages handed over.
    cache = handover.cache if handover else ScanCache.open(settings.manifest, sharder)
    if cache is not None:
        for page in handed_over.values():
            cache.keep(page.scan.cache_key, page.scan.cache_refs)
    collected = collect(
        sharder,
        output_dir,
        inventory,
        jobs=jobs,
        progress=progress,
        handed_over={document: page.scan for document, page in handed_over.items()},
        twin=twin,
        cache=cache,
    )
    kept = kept_assets(
        collected.assets,
        collected.cors,
        cors_assets=settings.cors_assets,
        stylesheets=settings.stylesheets,
    )
    collected = without_assets(collected, kept)
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
    placed = with_kept(hosts_by_asset, kept)
    sharded = {d: page.hosts for d, page in handed_over.items() if page.hosts is not None}
    confirmed = {
        document: handed_over[document].references
        for document, hosts in sharded.items()
        if all(placed.get(key) == host for key, host in hosts.items())
    }
    if len(confirmed) < len(sharded):
        assert handover is not None
        again = sharded.keys() - confirmed.keys()
        handover.release(again)  # as the generator wrote them
        collected = scan_again(collected, sharder, output_dir, inventory, again, twin)
    collected = replace(
        collected,
        sharded_at_handover=confirmed,
        scanned_at_handover=len(handed_over) - len(sharded),
    )
    moved = origin_refs(collected.origin_refs, sharder, hosts_by_asset, kept)
    balance = balance_report(
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
        balance=balance,
        pages=page_spreads(
            collected, assignment.hosts_by_asset, settings.host_names, assignment.pinned
        ),
        warnings=jump_warnings(previous, settings, collected.assets)
        + (() if sharder.origin else origin_ref_warnings(moved, cors=kept)),
        notes=placement_notes(previous, settings, balance, kept),
        collected=collected,
        handover=handover,
        kept=kept,
        restyled=frozenset(document for document, *_ in moved) if sharder.origin else frozenset(),
        twin=twin,
        cache=cache,
    )


def check_plan(plan: Plan, *, locked: bool = False) -> None:
    """Raise the error that must stop this build, if any, before a file is written."""
    settings = plan.settings
    if settings.strict and plan.missing:
        raise MissingAssetError(missing_message(plan.missing))
    if not plan.balance.ok:
        raise BalanceError(gate_message(plan.balance, str(settings.manifest)), plan.balance)
    if settings.max_page_imbalance is not None:
        limit = settings.max_page_imbalance
        excesses = pages_over(plan.pages, settings.hosts, limit)
        if excesses:
            raise BalanceError(page_gate_message(excesses, limit), excesses)
    if locked:
        changes = plan.manifest_changes()
        if changes:
            raise LockedError(locked_message(settings.manifest, changes))
    check_writable(settings.manifest)


def apply_plan(plan: Plan, *, jobs: int = 1, progress: Progress | None = None) -> BuildResult:
    """Rewrite the documents and write the manifest, in two phases: every new file is
    written to a temporary file first, and they are renamed into place, the manifest
    last, only when all were written (:class:`shard_assets.build.commit.StagedFiles`).

    Only documents with asset references are opened again, and their URLs are put
    in at the spans pass one found; ``jobs`` processes do that and write them, and
    rename them. A fault raises :class:`shard_assets.errors.FaultError`, saying what
    state the files are in (an interrupt carries it as a note); one before the
    renames leaves every file as it was.
    """
    collected = plan.collected
    hosts_by_asset = with_kept(plan.assignment.hosts_by_asset, plan.kept)
    urls = target_urls(plan.sharder, hosts_by_asset, collected.targets)
    tasks = rewrite_tasks(urls, collected.spans, plan.restyled)
    context = RewriteContext(plan.output_dir, plan.sharder, hosts_by_asset, urls, plan.twin)
    at_handover = sum(1 for count in collected.sharded_at_handover.values() if count)
    rewritten = at_handover
    references = sum(collected.sharded_at_handover.values())
    total = len(collected.spans) + len(plan.restyled - collected.spans.keys())
    manifest = plan.settings.manifest
    output = str(plan.output_dir)
    with staged_writes(
        plan.output_dir,
        plan.inventory.documents,
        discard=plan.handover.discard if plan.handover is not None else None,
        needs=lambda: sum(stamp[0] for stamp, _ in collected.spans.values()),
    ) as staged:
        with contextlib.closing(
            run_each(rewrite_document, tasks, context, jobs, count=total)
        ) as results:
            for done, (document, count, temp) in enumerate(results, 1):
                if temp:
                    staged.add(temp, os.path.join(output, document))  # a str: 100k Paths weigh
                if count:
                    rewritten += 1
                    references += count
                if progress is not None:
                    progress("rewrite", done, total)
        data = manifest_update(manifest, plan.manifest)
        if data is not None:
            staged.stage(manifest, data, sync=True, last=True)
        if plan.handover is not None:
            plan.handover.commit(collected.sharded_at_handover, staged)
        staged.commit(jobs)
    # A killed build's temporary files go once this build's own (listed too) are in place.
    for stale in plan.inventory.stale:
        with contextlib.suppress(OSError):
            (plan.output_dir / stale).unlink()
    return BuildResult(
        assignment=plan.assignment,
        balance=plan.balance,
        documents=len(plan.inventory.documents),
        rewritten=rewritten,
        references=references,
        missing=collected.missing,
        undecodable=collected.skipped,
        manifest=manifest,
        manifest_changed=data is not None,
        cors=tuple(sorted(collected.cors - plan.kept)),
        # An element that would get crossorigin is fetched in CORS mode: kept too.
        crossorigin=() if plan.settings.cors_assets == "origin" else collected.crossorigin,
        pages=plan.pages,
        warnings=plan.warnings,
        notes=plan.notes,
        rewritten_at_handover=at_handover,
        scanned_at_handover=collected.scanned_at_handover,
    )


def shard_site(
    output_dir: Path,
    settings: Settings,
    *,
    rebalance: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
    handover: Handover | None = None,
) -> BuildResult:
    """Shard every site-local asset reference in ``output_dir`` and write the manifest.

    Holds a lock on the manifest for the whole build (with ``handover``, whose
    creator holds it since the build started). Raises :class:`MissingFolderError`,
    :class:`BalanceError`, :class:`MissingAssetError` (``strict``),
    :class:`LockedError` (``locked``) or :class:`ManifestError` before any file is
    written, and :class:`FaultError` when the machine fails the build (a full disk, a
    file that cannot be replaced), saying what state the files are in; an interrupt
    carries that state as a note. ``jobs`` processes scan and
    rewrite the documents; the output is the same for any number. With
    ``unsharded_copy``, the twin of the documents is written as the passes go, into
    a new folder swapped in last (:mod:`shard_assets.build.unsharded_copy`).
    """
    if not output_dir.is_dir():
        if handover is not None:
            handover.discard()
        raise MissingFolderError(missing_folder_message(output_dir))
    lock = contextlib.nullcontext() if handover else manifest_lock(settings.manifest)
    with build_state() as written, lock:
        twin = None
        try:
            twin_folder(output_dir, settings.unsharded_copy)  # a mistake stops the build now
            # The handover's twin holds the pages handed over already.
            twin = (
                handover.twin
                if handover is not None
                else UnshardedCopy.begin(output_dir, settings.unsharded_copy)
            )
            plan = plan_build(
                output_dir,
                settings,
                rebalance=rebalance,
                jobs=jobs,
                progress=progress,
                handover=handover,
                twin=twin,
            )
            check_plan(plan, locked=settings.locked)
        except BaseException:
            if handover is not None:
                handover.discard()  # its twin too
            elif twin is not None:
                twin.discard()
            raise
        try:
            result = apply_plan(plan, jobs=jobs, progress=progress)  # notes its own faults
            written.done = True
            if plan.cache is not None:
                plan.cache.save()
            if settings.verify:
                from ..verify import verify_or_raise  # noqa: PLC0415 (loads BeautifulSoup)

                verify_or_raise(output_dir, settings)
            if twin is not None:
                twin.swap_in()
        except BaseException:
            if twin is not None:
                twin.discard()
            raise
        return result
