"""How evenly assets are spread over hosts, and the gate that fails a build.

A host's *fair share* is ``total * weight / total_weight``; its *cap* is
``ceil((1 + max_imbalance) * fair share)``. The caps always add up to at least the
total, so a distribution within every cap always exists: the gate never fails the
best possible split (5 assets on 4 hosts gives caps of 2, and 2-1-1-1 passes).

Arithmetic is exact (``Fraction``): with floats, ``1.1 * 40 / 4`` is
``11.000000000000002`` and its ceiling would wrongly be 12.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .ring import Host


def exact(value: float | int | Fraction) -> Fraction:
    """``value`` as the exact decimal the user wrote (0.1 is 1/10, not 0.1000000000000000055)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def caps(total: int, hosts: Sequence[Host], max_imbalance: Fraction) -> dict[str, int]:
    """The most assets each host may carry when ``total`` assets are placed."""
    weight_sum = sum((h.weight for h in hosts), Fraction(0))
    return {h.name: math.ceil((1 + max_imbalance) * total * h.weight / weight_sum) for h in hosts}


@dataclass(frozen=True)
class HostLoad:
    """One row of the balance table."""

    host: str
    weight: Fraction
    assets: int
    fair_share: Fraction
    cap: int

    @property
    def over_by(self) -> int:
        """How many assets above the cap (0 when within it)."""
        return max(0, self.assets - self.cap)


@dataclass(frozen=True)
class BalanceReport:
    """Loads per host against their fair shares and caps."""

    rows: tuple[HostLoad, ...]
    total: int
    max_imbalance: Fraction

    @property
    def ok(self) -> bool:
        """True when no host is above its cap."""
        return all(row.over_by == 0 for row in self.rows)

    @property
    def peak_to_fair(self) -> float:
        """The largest ``assets / fair share`` over hosts (1.0 is perfect)."""
        ratios = [row.assets / row.fair_share for row in self.rows if row.fair_share]
        return float(max(ratios, default=Fraction(1)))

    def table(self) -> str:
        """A fixed-width table: host, assets, share, fair share, cap, verdict."""
        width = max([len("host"), *(len(r.host) for r in self.rows)])
        lines = [
            f"  {'host':<{width}}  {'assets':>6}  {'share':>6}  {'fair':>6}  {'cap':>4}",
        ]
        for r in self.rows:
            share = f"{100 * r.assets / self.total:.1f}%" if self.total else "-"
            verdict = f"  over cap by {r.over_by}" if r.over_by else ""
            lines.append(
                f"  {r.host:<{width}}  {r.assets:>6}  {share:>6}  "
                f"{float(r.fair_share):>6.1f}  {r.cap:>4}{verdict}"
            )
        return "\n".join(lines)


def balance_report(
    assignment: Mapping[str, str], hosts: Sequence[Host], max_imbalance: Fraction
) -> BalanceReport:
    """Count assets per host in ``assignment`` and compare with the caps."""
    counts = Counter(assignment.values())
    total = len(assignment)
    host_caps = caps(total, hosts, max_imbalance)
    weight_sum = sum((h.weight for h in hosts), Fraction(0))
    rows = tuple(
        HostLoad(
            host=h.name,
            weight=h.weight,
            assets=counts.get(h.name, 0),
            fair_share=total * h.weight / weight_sum,
            cap=host_caps[h.name],
        )
        for h in hosts
    )
    return BalanceReport(rows=rows, total=total, max_imbalance=max_imbalance)


def gate_message(report: BalanceReport, manifest: str) -> str:
    """The text a failed gate prints: what is wrong, the table, and what to do."""
    over = [r for r in report.rows if r.over_by]
    names = ", ".join(r.host for r in over)
    pct = f"{float(report.max_imbalance):.0%}"
    return (
        f"shard-assets: the assets are spread too unevenly over the hosts: {names} "
        f"{'carries' if len(over) == 1 else 'carry'} more than the fair share plus "
        f"max_imbalance ({pct}).\n\n"
        f"{report.table()}\n\n"
        "Nothing was rewritten and the manifest was left as it was. To fix it, either:\n"
        f"  - remove the over-loaded hosts' entries from {manifest} (or delete the file) "
        "so those assets are placed again;\n"
        "  - or raise max_imbalance if this spread is acceptable."
    )


def hosts_summary(hosts: Iterable[Host]) -> str:
    """``a.example.com, b.example.com (weight 2)`` for messages."""
    return ", ".join(h.name if h.weight == 1 else f"{h.name} (weight {h.weight})" for h in hosts)
