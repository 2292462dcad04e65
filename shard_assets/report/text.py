"""The report as text (a table for terminals and CI logs) and as JSON (the same
numbers for tools); the numbers come from :func:`shard_assets.report.model.build_report`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from ..manifest import json_number
from .model import LISTED_CHANGES, REASONS, WORST_PAGES, Report


def byte_size(n: float) -> str:
    """``n`` bytes in B, KiB or MiB, as the report's tables show them."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def percent(part: float, whole: float) -> str:
    """``part`` as a share of ``whole`` ("-" for none of nothing)."""
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
        f"shard-assets report: {report.total_assets} assets, {byte_size(report.total_bytes)} "
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
                percent(h.assets, report.total_assets),
                f"{float(h.fair_assets):.1f}",
                str(h.cap),
                byte_size(h.bytes),
                percent(h.bytes, report.total_bytes),
                byte_size(float(h.fair_bytes)),
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
            rows.append(
                [
                    page.page,
                    str(page.requests),
                    *(str(n) for n in page.spread.by_host),
                    f"{short[[h.host for h in report.hosts].index(page.host)]} ({page.on_host})",
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
                "assets": p.requests,
                "hosts": dict(report.page_counts(p)),
                "busiest": p.host,
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
