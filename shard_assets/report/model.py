"""A report on how a built site's assets are spread over its shard hosts.

:func:`build_report` reads a manifest and the output folder it describes and counts,
per host, the assets and their bytes against the host's fair share, the gate's
verdict (:func:`shard_assets.placement.balance.balance_report`), how each page's asset
requests are spread and how uneven that is, as the build measures it (found by the
build's pass one; after a build, ``report: true`` takes them from the build) and,
given an earlier manifest, which assets moved and why.
:func:`render_text` is a table for terminals and CI logs, :func:`render_json` the same
numbers for tools (both in :mod:`shard_assets.report.text`), and
:mod:`shard_assets.report.html` the self-contained HTML page.

Everything is sorted, and the output holds no clock time: the same manifest and
output give the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..build.measures import page_spreads
from ..build.rewrite import Sharder, UrlRules
from ..build.scan import collect
from ..config import Settings, load_settings
from ..documents.inventory import is_page, take_inventory
from ..documents.text import decode_document
from ..documents.urls import normal_host, url_host
from ..errors import ConfigError, MissingFolderError, ShardAssetsError
from ..files import atomic_write
from ..manifest import Manifest, json_number, read_manifest
from ..messages import missing_folder_message
from ..placement.assign import Move, assign_hosts
from ..placement.balance import (
    BalanceReport,
    PageExcess,
    PageSpread,
    balance_report,
    least_even_first,
    shares,
)

REPORT_NAME = "shard-report.html"
# How many of the least evenly spread pages the HTML and text show (JSON has all).
WORST_PAGES = 10
# How many changes the HTML and text list one by one (JSON has all).
LISTED_CHANGES = 200

NEW = "new asset"
DROPPED = "dropped: no longer referenced"
HOST_REMOVED = "moved: its host was removed"
TO_NEW_HOST = "moved to a new host"
MOVED_BY_TOOL = "moved by shard-assets"
BETWEEN_KEPT = "moved between kept hosts: a hand edit? (no move shard-assets made)"
# Each reason and its short label, in the order the report lists them.
REASONS = {
    NEW: "new",
    DROPPED: "dropped",
    HOST_REMOVED: "host removed",
    TO_NEW_HOST: "to a new host",
    MOVED_BY_TOOL: "by shard-assets",
    BETWEEN_KEPT: "between kept hosts",
}


@dataclass(frozen=True)
class HostShare:
    """One host's load: assets and bytes against its fair share and the gate's cap."""

    host: str
    weight: Fraction
    assets: int
    bytes: int
    fair_assets: Fraction
    fair_bytes: Fraction
    cap: int

    over_by: int = 0
    """Assets above the cap, as the gate counts them (0 when within it)."""


@dataclass(frozen=True)
class Change:
    """An asset whose host differs from the earlier manifest's, and why."""

    asset: str
    old: str | None
    new: str | None
    reason: str
    #: The reason's entry in :data:`REASONS` when ``reason`` says more (a move
    #: shard-assets made, with the assignment's own reason).
    kind: str = ""

    @property
    def category(self) -> str:
        """The reason's entry in :data:`REASONS`."""
        return self.kind or self.reason


@dataclass(frozen=True)
class Report:
    """Everything the renderers show."""

    manifest: str
    output_dir: str
    balance: BalanceReport
    hosts: tuple[HostShare, ...]
    pages: tuple[PageExcess, ...]
    """Every page with a sharded asset and how uneven it is, least even first
    (:func:`shard_assets.placement.balance.least_even_first`)."""
    missing: tuple[str, ...]
    stale: int
    since: str | None
    changes: tuple[Change, ...] | None
    balance_by: str = "count"

    @property
    def total_assets(self) -> int:
        """Assets in the manifest."""
        return self.balance.total

    @property
    def total_bytes(self) -> int:
        """Bytes of the manifest's assets that are in the output."""
        return sum(h.bytes for h in self.hosts)

    def page_counts(self, page: PageExcess) -> tuple[tuple[str, int], ...]:
        """Each host and how many of ``page``'s requests it takes, in the manifest's order."""
        return tuple(zip((h.host for h in self.hosts), page.spread.by_host, strict=True))

    def change_counts(self) -> dict[str, int]:
        """How many changes of each reason, in :data:`REASONS` order."""
        counts = Counter(c.category for c in self.changes or ())
        return {reason: counts[reason] for reason in REASONS}


def load_manifest(path: Path, what: str = "manifest") -> Manifest:
    """Read ``path``; a missing file is a :class:`ConfigError` naming it."""
    manifest = read_manifest(path)
    if manifest is None:
        raise ConfigError(
            f"{path}: no such {what}; build the site first or give the manifest's path"
        )
    return manifest


def report_settings(
    manifest: Manifest,
    manifest_path: Path,
    site_url: str | None = None,
    attributes: Sequence[str] = (),
) -> Settings:
    """Settings that find references the way the build that wrote ``manifest`` did."""
    return load_settings(
        {
            "hosts": {h.name: json_number(h.weight) for h in manifest.hosts},
            "manifest": str(manifest_path),
            "max_imbalance": json_number(manifest.max_imbalance),
            "site_url": site_url,
            "attributes": list(attributes),
        },
        base_dir=manifest_path.parent,
        source="shard-assets report",
    )


def build_report(
    output_dir: Path,
    manifest_path: Path,
    *,
    settings: Settings | None = None,
    since: Manifest | None = None,
    since_path: str | None = None,
    pages: Sequence[PageSpread] | None = None,
    moves: Iterable[Move] | None = None,
) -> Report:
    """Read the manifest at ``manifest_path`` and the built site in ``output_dir``.

    ``settings`` (default: from the manifest) decides which references count;
    ``since`` is an earlier manifest to compare with, named ``since_path``. ``pages``
    is each page's spread as the build that wrote the manifest found it
    (:attr:`shard_assets.results.BuildResult.pages`): then the pages are not read
    again. ``moves`` are the moves the assignment made from ``since``
    (a build's own, for ``report: true``); without them, the moves the assignment
    makes from ``since`` to this manifest's hosts are replayed (new and grown hosts;
    not pins, which the manifest does not keep, nor ``rebalance``).
    """
    if not output_dir.is_dir():
        raise MissingFolderError(missing_folder_message(output_dir))
    manifest = load_manifest(manifest_path)
    settings = settings or report_settings(manifest, manifest_path)
    assets = dict(sorted(manifest.assets.items()))
    balance = balance_report(
        assets, manifest.hosts, manifest.max_imbalance, bounded=manifest.bounded
    )

    sizes: dict[str, int] = {}
    missing: list[str] = []
    for key in assets:
        path = output_dir / key
        if path.is_file():
            sizes[key] = path.stat().st_size
        else:
            missing.append(key)
    bytes_by_host: Counter[str] = Counter()
    for key, host in assets.items():
        bytes_by_host[host] += sizes.get(key, 0)
    total_bytes = sum(sizes.values())
    hosts = tuple(
        HostShare(
            host=row.host,
            weight=row.weight,
            assets=row.assets,
            bytes=bytes_by_host[row.host],
            fair_assets=row.fair_share,
            fair_bytes=total_bytes * share,
            cap=row.cap,
            over_by=row.over_by,
        )
        for row, share in zip(balance.rows, shares(manifest.hosts), strict=True)
    )
    stale = 0  # the build just pointed every reference at its manifest host
    if pages is None:
        pages, stale = _read_pages(output_dir, settings, manifest)
    return Report(
        manifest=str(manifest_path),
        output_dir=str(output_dir),
        balance=balance,
        hosts=hosts,
        pages=tuple(least_even_first(pages, manifest.hosts)),
        missing=tuple(missing),
        stale=stale,
        since=since_path if since is not None else None,
        changes=(
            None
            if since is None
            else diff_manifests(
                since, manifest, _replayed_moves(since, manifest) if moves is None else moves
            )
        ),
        balance_by=manifest.balance_by,
    )


def _read_pages(
    output_dir: Path, settings: Settings, manifest: Manifest
) -> tuple[tuple[PageSpread, ...], int]:
    """Every page's spread, found by the build's own pass one, and how many references
    in the pages do not name the manifest's host (the output is older or newer than
    the manifest)."""
    names = [h.name for h in manifest.hosts]
    sharder = Sharder.for_build(UrlRules.of(settings), manifest)
    inventory = take_inventory(output_dir)
    spreads = page_spreads(collect(sharder, output_dir, inventory), manifest.assets, names)
    stale = 0
    for document in inventory.documents:
        if not is_page(document):
            continue
        decoded = decode_document((output_dir / document).read_bytes(), False)
        if decoded is None:
            continue
        text = decoded.text
        for ref in sharder.find_refs(text, document):
            host = manifest.assets.get(ref.key)
            if host is not None and url_host(text[ref.start : ref.end]) != normal_host(host):
                stale += 1
    return spreads, stale


def _replayed_moves(since: Manifest, manifest: Manifest) -> tuple[Move, ...]:
    """The moves the assignment makes from ``since`` to ``manifest``'s hosts and
    placement settings, each asset weighing one (none when it cannot be replayed)."""
    try:
        assignment = assign_hosts(
            tuple(sorted(manifest.assets)),
            manifest.hosts,
            manifest.max_imbalance,
            since.assets,
            since.hosts,
            algorithm=manifest.algorithm,
            bounded=manifest.bounded,
        )
    except ShardAssetsError:
        return ()
    return assignment.moves


def diff_manifests(old: Manifest, new: Manifest, moves: Iterable[Move] = ()) -> tuple[Change, ...]:
    """What changed from ``old`` to ``new``, asset by asset, sorted by asset.

    A move between hosts both manifests have is one of ``moves`` (shard-assets' own,
    labelled with its reason) or else, as far as the tool knows, a hand edit.
    """
    made = {(m.asset, m.old, m.new): m.reason for m in moves}
    old_hosts = {h.name for h in old.hosts}
    new_hosts = {h.name for h in new.hosts}
    changes = []
    for asset in sorted(set(old.assets) | set(new.assets)):
        before, after = old.assets.get(asset), new.assets.get(asset)
        if before == after:
            continue
        if before is None:
            reason = NEW
        elif after is None:
            reason = DROPPED
        elif before not in new_hosts:
            reason = HOST_REMOVED
        elif after not in old_hosts:
            reason = TO_NEW_HOST
        elif (why := made.get((asset, before, after))) is not None:
            changes.append(Change(asset, before, after, f"{MOVED_BY_TOOL}: {why}", MOVED_BY_TOOL))
            continue
        else:
            reason = BETWEEN_KEPT
        changes.append(Change(asset, before, after, reason))
    return tuple(changes)


def default_report_path(manifest: Path) -> Path:
    """Where the HTML report goes unless told: beside the manifest."""
    return manifest.with_name(REPORT_NAME)


def write_report(
    path: Path, text: str, fix: str, error: type[ShardAssetsError] = ShardAssetsError
) -> None:
    """Write ``text`` to ``path`` atomically; a failure raises ``error``, naming the
    file and ``fix``."""
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as failure:
        raise error(f"{path}: cannot write the report ({failure.strerror}); {fix}") from None
