"""A report on how a built site's assets are spread over its shard hosts.

:func:`build_report` reads a manifest and the output folder it describes and counts,
per host, the assets and their bytes against the host's fair share, the gate's
verdict (:func:`shard_assets.balance.balance_report`), how each page's own assets
are spread (found with the build's :class:`Sharder`; after a build, ``report: true``
takes them from the build) and, given an earlier manifest, which assets moved and why.
:func:`render_text` is a table for terminals and CI logs, :func:`render_json` the same
numbers for tools, and :mod:`shard_assets.report_html` the self-contained HTML page.

Everything is sorted, and the output holds no clock time: the same manifest and
output give the same bytes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

from .balance import BalanceReport, balance_report, shares
from .balance import PageSpread as BalanceSpread
from .config import Settings, load_settings
from .errors import ConfigError, ShardAssetsError
from .files import atomic_write, decode_document
from .inventory import is_page, take_inventory
from .manifest import Manifest, json_number, read_manifest
from .rewrite import Sharder

REPORT_NAME = "shard-report.html"
FORMATS = ("html", "text", "json")
# How many of the least evenly spread pages the HTML and text show (JSON has all).
WORST_PAGES = 10
# How many changes the HTML and text list one by one (JSON has all).
LISTED_CHANGES = 200

NEW = "new asset"
DROPPED = "dropped: no longer referenced"
HOST_REMOVED = "moved: its host was removed"
TO_NEW_HOST = "moved to a new host"
BETWEEN_KEPT = "moved between kept hosts: a hand edit? (shard-assets never does this)"
# Each reason and its short label, in the order the report lists them.
REASONS = {
    NEW: "new",
    DROPPED: "dropped",
    HOST_REMOVED: "host removed",
    TO_NEW_HOST: "to a new host",
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
class PageSpread:
    """How the assets one page references directly are spread over the hosts.

    ``counts`` follows the manifest's host order. ``excess`` is how many more assets
    the busiest host carries than an even split of this page would give it
    (``ceil`` of its weighted share): 0 is as even as the page allows.
    """

    page: str
    counts: tuple[tuple[str, int], ...]
    excess: int

    @property
    def assets(self) -> int:
        """The page's distinct sharded assets."""
        return sum(n for _, n in self.counts)

    @property
    def busiest(self) -> tuple[str, int]:
        """The host with the most of this page's assets (first in host order on a tie)."""
        return max(self.counts, key=lambda item: item[1])


@dataclass(frozen=True)
class Change:
    """An asset whose host differs from the earlier manifest's, and why."""

    asset: str
    old: str | None
    new: str | None
    reason: str


@dataclass(frozen=True)
class Report:
    """Everything the renderers show."""

    manifest: str
    output_dir: str
    balance: BalanceReport
    hosts: tuple[HostShare, ...]
    pages: tuple[PageSpread, ...]
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

    def change_counts(self) -> dict[str, int]:
        """How many changes of each reason, in :data:`REASONS` order."""
        counts = Counter(c.reason for c in self.changes or ())
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
    pages: Sequence[BalanceSpread] | None = None,
) -> Report:
    """Read the manifest at ``manifest_path`` and the built site in ``output_dir``.

    ``settings`` (default: from the manifest) decides which references count;
    ``since`` is an earlier manifest to compare with, named ``since_path``. ``pages``
    is each page's own assets by host as the build that wrote the manifest found
    them (:attr:`shard_assets.results.BuildResult.direct_pages`): then the pages
    are not read again.
    """
    if not output_dir.is_dir():
        raise ConfigError(f"{output_dir}: no such folder; give the built site's output folder")
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
    if pages is None:
        spreads, stale = _page_spreads(output_dir, settings, manifest, assets)
    else:  # the build just pointed every reference at its manifest host
        names = [h.name for h in manifest.hosts]
        found = [(p.page, dict(zip(names, p.by_host, strict=True))) for p in pages if p.requests]
        spreads, stale = _sorted_spreads(found, manifest), 0
    return Report(
        manifest=str(manifest_path),
        output_dir=str(output_dir),
        balance=balance,
        hosts=hosts,
        pages=spreads,
        missing=tuple(missing),
        stale=stale,
        since=since_path if since is not None else None,
        changes=diff_manifests(since, manifest) if since is not None else None,
        balance_by=manifest.balance_by,
    )


def _page_spreads(
    output_dir: Path, settings: Settings, manifest: Manifest, assets: Mapping[str, str]
) -> tuple[tuple[PageSpread, ...], int]:
    """Every page's spread, least even first, and how many references do not name
    the manifest's host (the output is older or newer than the manifest)."""
    sharder = Sharder(settings, [h.name for h in manifest.hosts])
    found: list[tuple[str, Mapping[str, int]]] = []
    stale = 0
    for document in take_inventory(output_dir).documents:
        if not is_page(document):
            continue
        decoded = decode_document((output_dir / document).read_bytes(), False)
        if decoded is None:
            continue
        text = decoded.text
        keys: set[str] = set()
        for ref in sharder.find_refs(text, document):
            host = assets.get(ref.key)
            if host is None:
                continue
            keys.add(ref.key)
            if _url_host(text[ref.start : ref.end]) != host.lower():
                stale += 1
        if keys:
            found.append((document, Counter(assets[k] for k in keys)))
    return _sorted_spreads(found, manifest), stale


def _sorted_spreads(
    pages: Iterable[tuple[str, Mapping[str, int]]], manifest: Manifest
) -> tuple[PageSpread, ...]:
    """Each page's spread from its assets per host, least even first."""
    names = [h.name for h in manifest.hosts]
    host_shares = list(zip(names, shares(manifest.hosts), strict=True))
    spreads: list[PageSpread] = []
    for document, counts in pages:
        total = sum(counts.values())
        excess = max(counts.get(name, 0) - math.ceil(total * share) for name, share in host_shares)
        by_host = tuple((n, counts.get(n, 0)) for n in names)
        spreads.append(PageSpread(document, by_host, max(0, excess)))
    spreads.sort(key=lambda p: (-p.excess, -p.busiest[1], p.page))
    return tuple(spreads)


def _url_host(url: str) -> str | None:
    netloc = urlsplit(url.strip()).netloc
    return netloc.rpartition("@")[2].partition(":")[0].lower() or None


def diff_manifests(old: Manifest, new: Manifest) -> tuple[Change, ...]:
    """What changed from ``old`` to ``new``, asset by asset, sorted by asset."""
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


# ---------------------------------------------------------------------------- text


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def verdict(report: Report) -> str:
    """One sentence: did the gate pass, and how loaded is the busiest host."""
    b = report.balance
    limit = f"max_imbalance {float(b.max_imbalance):.0%}"
    if report.balance_by != "count":
        # The report counts assets; the build's gate weighs them by bytes or requests.
        limit += f", counting assets; builds balance by {report.balance_by}"
    if not b.total:
        return f"gate passed ({limit}): the manifest lists no assets"
    if b.ok:
        return (
            f"gate passed ({limit}): every host is within its cap; the busiest carries "
            f"{b.peak_to_fair:.2f}x its fair share"
        )
    over = ", ".join(f"{h.host} (+{h.over_by})" for h in report.hosts if h.over_by)
    return f"gate FAILED ({limit}): over the cap: {over}"


def _short_names(hosts: Sequence[str]) -> list[str]:
    """Column labels: each host's first label when those are unique, else #1..#N."""
    first = [h.split(".")[0] for h in hosts]
    return first if len(set(first)) == len(first) else [f"#{i}" for i in range(1, len(hosts) + 1)]


def _table(rows: Sequence[Sequence[str]], right: Iterable[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    aligned = set(right)
    return [
        "  "
        + "  ".join(
            cell.rjust(widths[i]) if i in aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def render_text(report: Report) -> str:
    """A plain-text report for terminals and CI logs."""
    lines = [
        f"shard-assets report: {report.total_assets} assets, {_size(report.total_bytes)} "
        f"over {len(report.hosts)} hosts",
        f"  manifest: {report.manifest}",
        f"  output:   {report.output_dir}",
        verdict(report),
        "",
    ]
    rows = [["host", "assets", "share", "fair", "cap", "bytes", "share", "fair"]]
    for h in report.hosts:
        rows.append(
            [
                h.host,
                str(h.assets),
                _pct(h.assets, report.total_assets),
                f"{float(h.fair_assets):.1f}",
                str(h.cap),
                _size(h.bytes),
                _pct(h.bytes, report.total_bytes),
                _size(float(h.fair_bytes)),
            ]
        )
    lines += _table(rows, range(1, 8))
    over = [h for h in report.hosts if h.over_by]
    lines += [f"  {h.host} is over its cap by {h.over_by}" for h in over]
    if report.missing:
        n = len(report.missing)
        lines.append(f"  {n} manifest {'asset is' if n == 1 else 'assets are'} not in the output:")
        lines += [f"    {key}" for key in report.missing[:20]]
    if report.stale:
        lines.append(
            f"  {report.stale} references in the pages do not name the manifest's host: "
            "rebuild the site, or give the manifest this output was built with"
        )

    shown = min(WORST_PAGES, len(report.pages))
    lines += ["", f"least evenly spread pages ({shown} of {len(report.pages)}, least even first):"]
    if report.pages:
        short = _short_names([h.host for h in report.hosts])
        rows = [["page", "assets", *short, "busiest", "over even"]]
        for page in report.pages[:WORST_PAGES]:
            host, count = page.busiest
            rows.append(
                [
                    page.page,
                    str(page.assets),
                    *(str(n) for _, n in page.counts),
                    f"{short[[h.host for h in report.hosts].index(host)]} ({count})",
                    f"+{page.excess}",
                ]
            )
        lines += _table(rows, [1, *range(2, 2 + len(short)), len(short) + 3])
    else:
        lines.append("  no page references a sharded asset")

    if report.changes is not None:
        counts = report.change_counts()
        summary = ", ".join(f"{n} {REASONS[reason]}" for reason, n in counts.items() if n)
        lines += ["", f"changes since {report.since}: {summary or 'none'}"]
        for change in report.changes[:LISTED_CHANGES]:
            lines.append(
                f"  {change.asset}: {change.old or '-'} -> {change.new or '-'}  ({change.reason})"
            )
        if len(report.changes) > LISTED_CHANGES:
            lines.append(f"  ... and {len(report.changes) - LISTED_CHANGES} more")
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    """The report's numbers as JSON (sorted keys, 2-space indent, trailing newline)."""
    data = {
        "version": 1,
        "manifest": report.manifest,
        "output_dir": report.output_dir,
        "gate": {
            "ok": report.balance.ok,
            "max_imbalance": json_number(report.balance.max_imbalance),
            "peak_to_fair": round(report.balance.peak_to_fair, 4),
            "verdict": verdict(report),
        },
        "total_assets": report.total_assets,
        "total_bytes": report.total_bytes,
        "hosts": [
            {
                "host": h.host,
                "weight": json_number(h.weight),
                "assets": h.assets,
                "bytes": h.bytes,
                "fair_assets": round(float(h.fair_assets), 4),
                "fair_bytes": round(float(h.fair_bytes), 1),
                "cap": h.cap,
                "over_by": h.over_by,
            }
            for h in report.hosts
        ],
        "missing": list(report.missing),
        "stale_references": report.stale,
        "pages": [
            {
                "page": p.page,
                "assets": p.assets,
                "hosts": dict(p.counts),
                "busiest": p.busiest[0],
                "excess": p.excess,
            }
            for p in report.pages
        ],
        "since": report.since,
        "changes": None
        if report.changes is None
        else [
            {"asset": c.asset, "old": c.old, "new": c.new, "reason": c.reason}
            for c in report.changes
        ],
        "change_counts": None if report.changes is None else report.change_counts(),
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
