"""A report on how a built site's assets are spread over its shard hosts.

:func:`build_report` reads a manifest and the output folder it describes and counts,
per host, the assets and their bytes against the host's fair share, the gate's
verdict (:func:`shard_assets.balance.balance_report`), how each page's own assets
are spread (found with the pipeline's :class:`Sharder`, so the report sees exactly
what a build rewrites; after a build, ``report: true`` takes them from the build
instead of reading the pages again) and, given an earlier manifest, which assets
moved and why.
:func:`render_html` makes one self-contained file (inline SVG and CSS: it loads
nothing, so it opens offline and from CI artifacts); :func:`render_text` is a table
for terminals and CI logs, and :func:`render_json` the same numbers for tools.

Everything is sorted, and the output holds no clock time: the same manifest and
output give the same bytes.
"""

from __future__ import annotations

import html
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
from .manifest import Manifest, read_manifest
from .results import BuildResult
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
            "hosts": {h.name: _number(h.weight) for h in manifest.hosts},
            "manifest": str(manifest_path),
            "max_imbalance": _number(manifest.max_imbalance),
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


def write_build_report(
    output_dir: Path, settings: Settings, previous: Manifest | None, result: BuildResult
) -> Path:
    """After a build: write the HTML report beside the manifest; return its path.

    ``previous`` is the manifest as it was before the build (None on a first build);
    ``result`` the build's, whose page spreads spare reading the pages again.
    """
    report = build_report(
        output_dir,
        settings.manifest,
        settings=settings,
        since=previous,
        since_path="the previous build" if previous is not None else None,
        pages=result.direct_pages,
    )
    path = default_report_path(settings.manifest)
    write_report(
        path, render_html(report), "make the manifest's folder writable or set 'report' to false"
    )
    return path


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


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


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
            "max_imbalance": _number(report.balance.max_imbalance),
            "peak_to_fair": round(report.balance.peak_to_fair, 4),
            "verdict": verdict(report),
        },
        "total_assets": report.total_assets,
        "total_bytes": report.total_bytes,
        "hosts": [
            {
                "host": h.host,
                "weight": _number(h.weight),
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


# ---------------------------------------------------------------------------- HTML

# Tableau 10 less its red, which marks a host over its cap; a host keeps its colour
# in every chart.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6474; --line: #d9dde5;
  --ok: #1f7a4d; --ok-bg: #e6f4ec; --bad: #b3261e; --bad-bg: #fbe9e7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f6f7f9; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
.card > h2:first-child { margin-top: 0; }
.meta { color: var(--muted); margin: 0; font-size: 13px; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px;
  margin-top: 16px; }
.verdict { display: flex; gap: 14px; align-items: center; font-size: 16px; }
.verdict .badge { font-weight: 700; padding: 4px 12px; border-radius: 999px; white-space: nowrap; }
.verdict.ok { background: var(--ok-bg); border-color: #b7dfc8; }
.verdict.ok .badge { background: var(--ok); color: #fff; }
.verdict.fail { background: var(--bad-bg); border-color: #f1b8b2; }
.verdict.fail .badge { background: var(--bad); color: #fff; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-top: 16px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.tile b { display: block; font-size: 22px; }
.tile span { color: var(--muted); font-size: 13px; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: var(--ink); }
svg .num { fill: var(--muted); }
svg .fair { stroke: var(--ink); stroke-width: 2; stroke-dasharray: 4 3; }
svg .cap { stroke: var(--bad); stroke-width: 2; }
svg .over { stroke: var(--bad); stroke-width: 3; }
.key { color: var(--muted); font-size: 13px; margin: 4px 0 8px; }
.key i { display: inline-block; width: 18px; height: 0; vertical-align: middle;
  margin: 0 4px 0 12px; }
.key .k-fair { border-top: 2px dashed var(--ink); }
.key .k-cap { border-top: 2px solid var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 13px; margin: 4px 0 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  vertical-align: -1px; margin-right: 5px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.over td { color: var(--bad); font-weight: 600; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin: 4px 0 12px; }
.chip { border: 1px solid var(--line); border-radius: 999px; padding: 2px 12px; background: #fff; }
.chip b { margin-right: 4px; }
.note { color: var(--muted); font-size: 13px; }
.warn { color: var(--bad); }
"""

_CHART_WIDTH = 900
_LABEL_WIDTH = 210
_BAR_WIDTH = 460
_ROW = 34


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class _Bar:
    host: str
    colour: str
    value: float
    fair: float
    cap: float | None
    over: bool
    label: str


def _bar_chart(chart_id: str, title: str, bars: Sequence[_Bar]) -> str:
    """Horizontal bars, one per host, with the fair share (dashed) and cap (red) marked."""
    top = max([1.0, *(b.value for b in bars), *(b.fair for b in bars)])
    top = max([top, *(b.cap for b in bars if b.cap is not None)]) * 1.05
    height = _ROW * len(bars) + 8

    def x(value: float) -> float:
        return round(_LABEL_WIDTH + _BAR_WIDTH * value / top, 1)

    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {_CHART_WIDTH} {height}" '
        f'role="img" aria-label="{_e(title)}">'
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * _ROW
        width = round(x(bar.value) - _LABEL_WIDTH, 1)
        parts.append(
            f'<text x="{_LABEL_WIDTH - 10}" y="{y + 18}" text-anchor="end">{_e(bar.host)}</text>'
            f'<rect class="bar{" over" if bar.over else ""}" data-host="{_e(bar.host)}" '
            f'data-value="{bar.value:g}" data-fair="{bar.fair:.4g}" '
            f'x="{_LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{_ROW - 12}" rx="3" '
            f'fill="{bar.colour}"><title>{_e(bar.host)}: {_e(bar.label)}</title></rect>'
            f'<line class="fair" x1="{x(bar.fair)}" x2="{x(bar.fair)}" y1="{y}" '
            f'y2="{y + _ROW - 6}"/>'
        )
        if bar.cap is not None:
            parts.append(
                f'<line class="cap" x1="{x(bar.cap)}" x2="{x(bar.cap)}" y1="{y}" '
                f'y2="{y + _ROW - 6}"/>'
            )
        parts.append(
            f'<text class="num" x="{max(x(bar.value), x(bar.fair), x(bar.cap or 0)) + 8}" '
            f'y="{y + 18}">{_e(bar.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _host_charts(report: Report) -> str:
    colours = {h.host: _colour(i) for i, h in enumerate(report.hosts)}
    asset_bars = [
        _Bar(
            h.host,
            colours[h.host],
            h.assets,
            float(h.fair_assets),
            h.cap,
            h.over_by > 0,
            f"{h.assets} (fair {float(h.fair_assets):.1f}, cap {h.cap})"
            + (f" +{h.over_by} over" if h.over_by else ""),
        )
        for h in report.hosts
    ]
    byte_bars = [
        _Bar(
            h.host,
            colours[h.host],
            h.bytes,
            float(h.fair_bytes),
            None,
            False,
            f"{_size(h.bytes)} (fair {_size(float(h.fair_bytes))})",
        )
        for h in report.hosts
    ]
    key = (
        '<p class="key">bar: the host\'s load<i class="k-fair"></i>fair share (by weight)'
        '<i class="k-cap"></i>cap, the most the gate allows</p>'
    )
    return (
        '<section class="card" id="hosts"><h2>Assets per host</h2>'
        + key
        + _bar_chart("assets-chart", "Assets per host", asset_bars)
        + "<h2>Bytes per host</h2>"
        + '<p class="key">bar: bytes of the host\'s assets<i class="k-fair"></i>'
        "fair share of all bytes (the gate counts assets, not bytes)</p>"
        + _bar_chart("bytes-chart", "Bytes per host", byte_bars)
        + _host_table(report)
        + "</section>"
    )


def _host_table(report: Report) -> str:
    head = (
        "<tr><th>host</th><th class=n>weight</th><th class=n>assets</th><th class=n>share</th>"
        "<th class=n>fair</th><th class=n>cap</th><th class=n>bytes</th>"
        "<th class=n>share</th><th class=n>fair bytes</th></tr>"
    )
    rows = [
        f"<tr{' class=over' if h.over_by else ''}><td>{_e(h.host)}</td>"
        f"<td class=n>{_number(h.weight)}</td><td class=n>{h.assets}</td>"
        f"<td class=n>{_pct(h.assets, report.total_assets)}</td>"
        f"<td class=n>{float(h.fair_assets):.1f}</td><td class=n>{h.cap}</td>"
        f"<td class=n>{_size(h.bytes)}</td><td class=n>{_pct(h.bytes, report.total_bytes)}</td>"
        f"<td class=n>{_size(float(h.fair_bytes))}</td></tr>"
        for h in report.hosts
    ]
    return f'<table id="host-table">{head}{"".join(rows)}</table>'


def _pages_section(report: Report) -> str:
    colours = {h.host: _colour(i) for i, h in enumerate(report.hosts)}
    legend = "".join(
        f'<span><i style="background:{colours[h.host]}"></i>{_e(h.host)}</span>'
        for h in report.hosts
    )
    worst = report.pages[:WORST_PAGES]
    intro = (
        f"<p class=note>Each page's own asset references (HTML only: what its CSS loads "
        f"is not counted), split by host. A browser opens at most 6 HTTP/1.1 connections "
        f"per host, so the busiest host sets the pace. The {len(worst)} least even of "
        f"{len(report.pages)} pages, by how far the busiest host is above an even split.</p>"
    )
    if not worst:
        return (
            '<section class="card" id="pages"><h2>Least evenly spread pages</h2>'
            "<p class=note>No page references a sharded asset.</p></section>"
        )
    top = max(p.assets for p in worst)
    label_width = 300
    bar_width = _CHART_WIDTH - label_width - 280
    height = _ROW * len(worst) + 8
    parts = [
        f'<svg id="pages-chart" class="chart" viewBox="0 0 {_CHART_WIDTH} {height}" role="img" '
        'aria-label="Assets per host on the least evenly spread pages">'
    ]
    for i, page in enumerate(worst):
        y = 4 + i * _ROW
        name = page.page if len(page.page) <= 40 else "\u2026" + page.page[-39:]
        parts.append(
            f'<g class="page" data-page="{_e(page.page)}" data-assets="{page.assets}">'
            f'<text x="{label_width - 10}" y="{y + 18}" text-anchor="end">{_e(name)}'
            f"<title>{_e(page.page)}</title></text>"
        )
        x = float(label_width)
        for host, count in page.counts:
            if not count:
                continue
            width = round(bar_width * count / top, 1)
            parts.append(
                f'<rect class="seg" data-host="{_e(host)}" data-value="{count}" x="{x:.1f}" '
                f'y="{y + 3}" width="{width}" height="{_ROW - 12}" fill="{colours[host]}" '
                f'stroke="#fff" stroke-width="1"><title>{_e(host)}: {count}</title></rect>'
            )
            x += width
        host, count = page.busiest
        parts.append(
            f'<text class="num" x="{x + 8:.1f}" y="{y + 18}">{page.assets} assets; '
            f"{_e(host.split('.')[0])} has {count} (+{page.excess} over even)</text></g>"
        )
    parts.append("</svg>")
    return (
        '<section class="card" id="pages"><h2>Least evenly spread pages</h2>'
        + intro
        + f'<div class="legend">{legend}</div>'
        + "".join(parts)
        + "</section>"
    )


def _changes_section(report: Report) -> str:
    if report.changes is None:
        return (
            '<section class="card" id="changes"><h2>What moved</h2><p class=note>'
            "No earlier manifest to compare with (give one with <code>--since OLD.json</code>)."
            "</p></section>"
        )
    chips = "".join(
        f'<span class="chip" data-reason="{_e(reason)}" title="{_e(reason)}"><b>{n}</b>'
        f"{_e(REASONS[reason])}</span>"
        for reason, n in report.change_counts().items()
    )
    listed = report.changes[:LISTED_CHANGES]
    rows = "".join(
        f"<tr><td>{_e(c.asset)}</td><td>{_e(c.old or '-')}</td><td>{_e(c.new or '-')}</td>"
        f"<td>{_e(c.reason)}</td></tr>"
        for c in listed
    )
    more = (
        f"<p class=note>... and {len(report.changes) - len(listed)} more (see --format json).</p>"
        if len(report.changes) > len(listed)
        else ""
    )
    table = (
        f'<table id="changes-table"><tr><th>asset</th><th>was on</th><th>now on</th>'
        f"<th>why</th></tr>{rows}</table>"
        if listed
        else "<p class=note>Nothing moved.</p>"
    )
    return (
        f'<section class="card" id="changes"><h2>What moved since {_e(report.since)}</h2>'
        f'<div class="chips">{chips}</div>{table}{more}</section>'
    )


def render_html(report: Report) -> str:
    """One self-contained HTML page: inline CSS and SVG, no scripts, fonts or requests."""
    b = report.balance
    status = "ok" if b.ok else "fail"
    badge = "Gate passed" if b.ok else "Gate failed"
    sentence = verdict(report).partition(": ")[2] or verdict(report)
    warnings = []
    if report.missing:
        n = len(report.missing)
        warnings.append(
            f"{n} manifest {'asset is' if n == 1 else 'assets are'} not in the output folder "
            f"(first: {_e(report.missing[0])})."
        )
    if report.stale:
        warnings.append(
            f"{report.stale} references in the pages do not name the manifest's host: "
            "rebuild the site, or give the manifest this output was built with."
        )
    warn = "".join(f'<p class="warn">{w}</p>' for w in warnings)
    tiles = (
        f'<div class="tiles"><div class="tile"><b id="total-assets">{report.total_assets}</b>'
        f"<span>assets</span></div>"
        f'<div class="tile"><b>{_size(report.total_bytes)}</b><span>of assets</span></div>'
        f'<div class="tile"><b>{len(report.hosts)}</b><span>hosts</span></div>'
        f'<div class="tile"><b>{b.peak_to_fair:.2f}x</b><span>busiest host / fair share'
        f"</span></div></div>"
    )
    title = f"shard-assets report: {report.total_assets} assets over {len(report.hosts)} hosts"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request may leave this file: it is opened offline and from CI artifacts.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>shard-assets report</h1>"
        f'<p class="meta">manifest {_e(report.manifest)} &middot; output '
        f"{_e(report.output_dir)}</p>"
        f'<section class="card verdict {status}" id="verdict" data-ok="{str(b.ok).lower()}">'
        f'<span class="badge">{badge}</span><span>{_e(sentence)}</span></section>'
        f"{warn}{tiles}{_host_charts(report)}{_pages_section(report)}"
        f"{_changes_section(report)}</main></body></html>\n"
    )
