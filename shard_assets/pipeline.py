"""The build: plan (read the output and the manifest, work out the assignment),
check (the gate and the other checks), apply (rewrite the documents, write the
manifest), each step on top of the leaf modules (see docs/architecture.md).

Nothing is written before the checks pass, so a failed build leaves the output and
the manifest exactly as they were; and nothing is replaced before every new file was
written (:class:`shard_assets.files.StagedFiles`), so a fault of the machine (a full
disk, a file that cannot be replaced) or an interrupt leaves them as they were too.
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
from .cors import ORIGIN, kept_on_origin
from .errors import (
    BalanceError,
    LockedError,
    MissingAssetError,
    MissingFolderError,
    ShardAssetsError,
    fault,
)
from .files import NOTHING_WRITTEN, StagedFiles, manifest_lock, remove_temporaries
from .inventory import Inventory, take_inventory
from .manifest import Manifest, check_writable, manifest_update, read_manifest
from .messages import (
    ALL_WRITTEN,
    abandoned_state,
    jump_warnings,
    locked_message,
    manifest_changes,
    missing_folder_message,
    missing_message,
    origin_ref_warnings,
    placement_notes,
)
from .parallel import run_each
from .results import BuildResult, MissingRef
from .rewrite import Rewrite, RewriteContext, Sharder, rewrite_document
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
    without_assets,
)
from .twin import twin_folder, write_twin


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

    def release(self, documents: Iterable[str]) -> int:
        """Give up the rewritten forms of ``documents`` (the generator's text stays);
        how many could not be put back."""
        ...

    def commit(self, documents: Mapping[str, int], staged: StagedFiles) -> None:
        """Confirm the rewritten forms of ``documents`` (to be put in place by
        ``staged``), give up the others."""
        ...

    def discard(self) -> int:
        """Give up every page: the build failed. How many could not be put back."""
        ...


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
    #: The CORS-mode assets kept on the origin (``cors_assets: origin``).
    on_origin: frozenset[str] = frozenset()
    #: The stylesheets on a shard host that name a file staying on the origin by a
    #: URL that would resolve against that host: pass two scans them again and
    #: writes that file's absolute URL on the origin (see :func:`origin_refs`).
    restyled: frozenset[str] = frozenset()

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
    on_origin = kept_on_origin(settings, collected.cors.intersection(collected.assets))
    collected = without_assets(collected, on_origin)
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
    moved = origin_refs(collected, sharder, hosts_by_asset, on_origin)
    cors_only = {key for key in on_origin if not sharder.is_excluded(key)}
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
        warnings=jump_warnings(previous, settings, collected.assets)
        + (() if sharder.origin else origin_ref_warnings(moved, cors=cors_only)),
        notes=placement_notes(previous, settings, report, len(on_origin)),
        collected=collected,
        in_memory=in_memory,
        on_origin=on_origin,
        restyled=frozenset(document for document, *_ in moved) if sharder.origin else frozenset(),
    )


def origin_refs(
    collected: Collected,
    sharder: Sharder,
    hosts_by_asset: Mapping[str, str],
    on_origin: frozenset[str],
) -> list[tuple[str, str, str, int, str]]:
    """(stylesheet, its host, key, line, URL) for each reference in a stylesheet on a
    shard host to a file that stays on the origin (excluded, or in ``on_origin``)
    written so that it resolves against the stylesheet's host, in document order.

    A relative URL resolves against the stylesheet's URL, a root-relative one against
    its host: either way the shard host, and ``exclude`` (or ``cors_assets: origin``)
    would be silently lost. Pages never move, so only stylesheets are concerned.
    """
    return [
        (document, host, key, line, url)
        for document, refs in collected.kept.items()
        if (host := hosts_by_asset.get(document)) is not None
        for key, line, url in refs
        if key in on_origin or sharder.is_excluded(key)
    ]


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
    check_writable(settings.manifest)


def apply_plan(plan: Plan, *, jobs: int = 1, progress: Progress | None = None) -> BuildResult:
    """Rewrite the documents and write the manifest, in two phases: every new file is
    written to a temporary file first, and they are renamed into place, the manifest
    last, only when all were written (:class:`shard_assets.files.StagedFiles`).

    Only documents with asset references are opened again, and their URLs are put
    in at the spans pass one found; ``jobs`` processes do that and write them, and
    rename them. A fault raises :class:`shard_assets.errors.FaultError`, saying what
    state the files are in (an interrupt carries it as a note); one before the
    renames leaves every file as it was.
    """
    collected = plan.collected
    for stale in plan.inventory.stale:
        with contextlib.suppress(OSError):
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
            if spans is None or document in plan.restyled:
                yield Rewrite(document, stamp, None)
                continue
            replacements = tuple(
                (spans[i], spans[i + 1], *url, spans[i + 3])
                for i in range(0, len(spans), 4)
                if (url := urls[spans[i + 2]]) is not None
            )
            if replacements:
                yield Rewrite(document, stamp, replacements)
        for document in sorted(plan.restyled - collected.spans.keys()):
            yield Rewrite(document, (0, 0), None)  # only URLs that stay on the origin

    context = RewriteContext(plan.output_dir, plan.sharder, hosts_by_asset)
    in_memory = sum(1 for count in collected.in_memory.values() if count)
    rewritten = in_memory
    references = sum(collected.in_memory.values())
    total = len(collected.spans) + len(plan.restyled - collected.spans.keys())
    staged = StagedFiles()
    manifest = plan.settings.manifest
    try:
        with contextlib.closing(
            run_each(rewrite_document, tasks(), context, jobs, count=total)
        ) as results:
            for done, (document, count, temp) in enumerate(results, 1):
                if temp:
                    staged.add(temp, plan.output_dir / document)
                if count:
                    rewritten += 1
                    references += count
                if progress is not None:
                    progress("rewrite", done, total)
        data = manifest_update(manifest, plan.manifest)
        if data is not None:
            staged.stage(manifest, data, sync=True, last=True)
        if plan.in_memory is not None:
            plan.in_memory.commit(collected.in_memory, staged)
        staged.commit(jobs)
    except BaseException as error:
        state = _abandon(plan, staged)
        if isinstance(error, OSError):
            needs = sum(stamp[0] for stamp, _ in collected.spans.values())
            raise fault(error, state, needs=needs) from None
        error.add_note(state)
        raise
    return BuildResult(
        assignment=plan.assignment,
        report=plan.report,
        documents=len(plan.inventory.documents),
        rewritten=rewritten,
        references=references,
        missing=collected.missing,
        undecodable=collected.skipped,
        manifest=manifest,
        manifest_changed=data is not None,
        cors=tuple(sorted(collected.cors - plan.on_origin)),
        # An element that would get crossorigin is fetched in CORS mode: kept too.
        crossorigin=() if plan.settings.cors_assets == "origin" else collected.crossorigin,
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


def _abandon(plan: Plan, staged: StagedFiles) -> str:
    """Clean up after a build that failed or was interrupted while it wrote, and say
    what state the output and the manifest are in."""
    kept = plan.in_memory.discard() if plan.in_memory is not None else 0
    staged.discard()
    # Worker processes may have written temporary files the build never heard of.
    folders = {os.path.dirname(document) for document in plan.inventory.documents}
    remove_temporaries(plan.output_dir / folder for folder in sorted(folders))
    return abandoned_state(
        committing=staged.committing,
        replaced=staged.replaced,
        total=len(staged),
        manifest_staged=staged.has_last,
        kept=kept,
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
    creator holds it since the build started). Raises :class:`MissingFolderError`,
    :class:`BalanceError`, :class:`MissingAssetError` (``strict``),
    :class:`LockedError` (``locked``) or :class:`ManifestError` before any file is
    written, and :class:`FaultError` when the machine fails the build (a full disk, a
    file that cannot be replaced), saying what state the files are in; an interrupt
    carries that state as a note. ``jobs`` processes scan and
    rewrite the documents; the output is the same for any number. With
    ``unsharded_copy``, the twin of the documents is written last
    (:mod:`shard_assets.twin`).
    """
    if not output_dir.is_dir():
        if in_memory is not None:
            in_memory.discard()
        raise MissingFolderError(missing_folder_message(output_dir))
    lock = contextlib.nullcontext() if in_memory else manifest_lock(settings.manifest)
    written = False
    try:
        with lock:
            try:
                twin_folder(output_dir, settings)  # a mistake there stops the build now
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
            result = apply_plan(plan, jobs=jobs, progress=progress)  # notes its own faults
            written = True
            if settings.verify:
                from .verify import verify_or_raise  # noqa: PLC0415 (loads BeautifulSoup)

                verify_or_raise(output_dir, settings)
            write_twin(output_dir, settings, plan.sharder, jobs=jobs)
            return result
    except ShardAssetsError:
        raise
    except BaseException as error:
        state = ALL_WRITTEN if written else NOTHING_WRITTEN
        if isinstance(error, OSError):
            raise fault(error, state) from None
        if not getattr(error, "__notes__", None):
            error.add_note(state)
        raise
