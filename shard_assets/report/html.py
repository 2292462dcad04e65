"""The report's HTML page: one self-contained file (inline SVG and CSS: it loads
nothing, so it opens offline and from CI artifacts). Only markup; the numbers come
from :func:`shard_assets.report.model.build_report`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..manifest import json_number
from .model import LISTED_CHANGES, REASONS, WORST_PAGES, Report
from .text import byte_size, percent, render_json, render_text, verdict

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
            f"{byte_size(h.bytes)} (fair {byte_size(float(h.fair_bytes))})",
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
        f"<td class=n>{json_number(h.weight)}</td><td class=n>{h.assets}</td>"
        f"<td class=n>{percent(h.assets, report.total_assets)}</td>"
        f"<td class=n>{float(h.fair_assets):.1f}</td><td class=n>{h.cap}</td>"
        f"<td class=n>{byte_size(h.bytes)}</td>"
        f"<td class=n>{percent(h.bytes, report.total_bytes)}</td>"
        f"<td class=n>{byte_size(float(h.fair_bytes))}</td></tr>"
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
        f"<p class=note>Each page's asset requests (what it references and what its "
        f"stylesheets load), split by host. A browser opens at most 6 HTTP/1.1 connections "
        f"per host, so the busiest host sets the pace. The {len(worst)} least even of "
        f"{len(report.pages)} pages, by how far the busiest host is above an even split.</p>"
    )
    if not worst:
        return (
            '<section class="card" id="pages"><h2>Least evenly spread pages</h2>'
            "<p class=note>No page references a sharded asset.</p></section>"
        )
    top = max(p.requests for p in worst)
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
            f'<g class="page" data-page="{_e(page.page)}" data-assets="{page.requests}">'
            f'<text x="{label_width - 10}" y="{y + 18}" text-anchor="end">{_e(name)}'
            f"<title>{_e(page.page)}</title></text>"
        )
        x = float(label_width)
        for host, count in report.page_counts(page):
            if not count:
                continue
            width = round(bar_width * count / top, 1)
            parts.append(
                f'<rect class="seg" data-host="{_e(host)}" data-value="{count}" x="{x:.1f}" '
                f'y="{y + 3}" width="{width}" height="{_ROW - 12}" fill="{colours[host]}" '
                f'stroke="#fff" stroke-width="1"><title>{_e(host)}: {count}</title></rect>'
            )
            x += width
        parts.append(
            f'<text class="num" x="{x + 8:.1f}" y="{y + 18}">{page.requests} assets; '
            f"{_e(page.host.split('.')[0])} has {page.on_host} "
            f"(+{page.excess} over even)</text></g>"
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
        f'<div class="tile"><b>{byte_size(report.total_bytes)}</b><span>of assets</span></div>'
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


#: Each format of the report (``shard-assets report --format``) and its renderer.
RENDERERS: Mapping[str, Callable[[Report], str]] = {
    "html": render_html,
    "text": render_text,
    "json": render_json,
}
