"""How evenly assets are spread over hosts, and the gates that fail a build.

Balance is measured in *load*: one per asset (``balance_by: count``), the asset's
size in bytes (``bytes``), or the number of pages that load it (``requests``). A
host's *fair share* is ``total_load * weight / total_weight`` and its *cap* is
``ceil((1 + max_imbalance) * fair share)``.

A host is within the gate when its load is at most its cap, or when it would be
below its cap without its largest movable asset (the split cannot be finer than one
asset), or when it carries only pinned assets (pins are the user's choice and never
move). For ``count`` this is exactly "at most ``cap`` assets", and the caps add up to
at least the total, so the gate never fails the best possible split: 5 assets on 4
hosts gives caps of 2, and 2-1-1-1 passes.

Arithmetic is exact (``Fraction``): with floats, ``1.1 * 40 / 4`` is
``11.000000000000002`` and its ceiling would wrongly be 12.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .ring import Host

MEASURES = ("count", "bytes", "requests")
_UNITS = {"count": "assets", "bytes": "bytes", "requests": "requests"}


def exact(value: float | int | Fraction) -> Fraction:
    """``value`` as the exact decimal the user wrote (0.1 is 1/10, not 0.1000000000000000055)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def shares(hosts: Sequence[Host]) -> list[Fraction]:
    """Each host's share of the load, in order: its weight over all the weights."""
    weight_sum = sum((h.weight for h in hosts), Fraction(0))
    return [h.weight / weight_sum for h in hosts]


def caps(total: int, hosts: Sequence[Host], max_imbalance: Fraction) -> dict[str, int]:
    """The most load each host may carry when ``total`` load (assets, bytes...) is placed."""
    return {
        h.name: math.ceil((1 + max_imbalance) * total * share)
        for h, share in zip(hosts, shares(hosts), strict=True)
    }


def within_cap(load: int, cap: int, movable: int, largest_movable: int) -> bool:
    """The gate's rule for one host (see the module docstring)."""
    return load <= cap or movable == 0 or load - largest_movable < cap


@dataclass(frozen=True)
class HostLoad:
    """One row of the balance table. ``load`` is in the report's measure."""

    host: str
    weight: Fraction
    assets: int
    fair_share: Fraction
    cap: int
    load: int
    pinned: int = 0
    movable: int = 0
    largest_movable: int = 0

    @property
    def ok(self) -> bool:
        """True when the host is within the gate."""
        return within_cap(self.load, self.cap, self.movable, self.largest_movable)

    @property
    def over_by(self) -> int:
        """How much load above the cap when the host fails the gate (else 0)."""
        return 0 if self.ok else self.load - self.cap

    @property
    def pinned_over_cap(self) -> bool:
        """True when the host's pinned assets alone exceed its cap."""
        return self.pinned > self.cap


@dataclass(frozen=True)
class BalanceReport:
    """Loads per host against their fair shares and caps."""

    rows: tuple[HostLoad, ...]
    total: int
    max_imbalance: Fraction
    measure: str = "count"
    bounded: bool = True

    @property
    def ok(self) -> bool:
        """True when every host is within the gate."""
        return all(row.ok for row in self.rows)

    @property
    def peak_to_fair(self) -> float:
        """The largest ``load / fair share`` over hosts (1.0 is perfect)."""
        ratios = [row.load / row.fair_share for row in self.rows if row.fair_share]
        return float(max(ratios, default=Fraction(1)))

    def smallest_passing_imbalance(self) -> Fraction:
        """A ``max_imbalance`` (in hundredths) under which every host's load is within its cap."""
        need = Fraction(0)
        for row in self.rows:
            if row.fair_share and row.movable:
                need = max(need, row.load / row.fair_share - 1)
        return Fraction(math.ceil(need * 100), 100)

    def table(self) -> str:
        """A fixed-width table: host, assets, (load), share, fair share, cap, verdict."""
        count = self.measure == "count"
        unit = _UNITS[self.measure]
        width = max([len("host"), *(len(r.host) for r in self.rows)])
        load_width = max([len(unit), *(len(str(r.load)) for r in self.rows)])
        fair = [
            f"{float(r.fair_share):.1f}" if count else str(round(r.fair_share)) for r in self.rows
        ]
        fair_width = max([6, *(len(f) for f in fair)])
        cap_width = max([4, *(len(str(r.cap)) for r in self.rows)])
        load_head = "" if count else f"  {unit:>{load_width}}"
        lines = [
            f"  {'host':<{width}}  {'assets':>6}{load_head}  {'share':>6}  "
            f"{'fair':>{fair_width}}  {'cap':>{cap_width}}",
        ]
        for r, fair_text in zip(self.rows, fair, strict=True):
            share = f"{100 * r.load / self.total:.1f}%" if self.total else "-"
            if r.over_by:
                verdict = f"  over cap by {r.over_by}"
            elif r.pinned_over_cap:
                verdict = "  over cap by its pins (allowed)"
            else:
                verdict = ""
            load = "" if count else f"  {r.load:>{load_width}}"
            lines.append(
                f"  {r.host:<{width}}  {r.assets:>6}{load}  {share:>6}  "
                f"{fair_text:>{fair_width}}  {r.cap:>{cap_width}}{verdict}"
            )
        return "\n".join(lines)


def balance_report(
    assignment: Mapping[str, str],
    hosts: Sequence[Host],
    max_imbalance: Fraction,
    *,
    loads: Mapping[str, int] | None = None,
    pinned: Collection[str] = (),
    measure: str = "count",
    bounded: bool = True,
) -> BalanceReport:
    """Add up each host's load in ``assignment`` and compare it with the caps.

    ``loads`` gives each asset's load (1 when missing or when ``loads`` is None);
    ``pinned`` lists the assets that pins hold in place.
    """
    load: Counter[str] = Counter()
    count: Counter[str] = Counter()
    pin_load: Counter[str] = Counter()
    movable: Counter[str] = Counter()
    largest: dict[str, int] = {}
    pinned_set = set(pinned)
    for asset, host in assignment.items():
        size = loads.get(asset, 1) if loads is not None else 1
        load[host] += size
        count[host] += 1
        if asset in pinned_set:
            pin_load[host] += size
        else:
            movable[host] += 1
            largest[host] = max(largest.get(host, 0), size)
    total = sum(load.values())
    host_caps = caps(total, hosts, max_imbalance)
    rows = tuple(
        HostLoad(
            host=h.name,
            weight=h.weight,
            assets=count[h.name],
            fair_share=total * share,
            cap=host_caps[h.name],
            load=load[h.name],
            pinned=pin_load[h.name],
            movable=movable[h.name],
            largest_movable=largest.get(h.name, 0),
        )
        for h, share in zip(hosts, shares(hosts), strict=True)
    )
    return BalanceReport(
        rows=rows, total=total, max_imbalance=max_imbalance, measure=measure, bounded=bounded
    )


def gate_message(report: BalanceReport, manifest: str) -> str:
    """The text a failed gate prints: what is wrong, the table, and what to do."""
    over = [r for r in report.rows if r.over_by]
    names = ", ".join(r.host for r in over)
    pct = f"{float(report.max_imbalance):.0%}"
    unit = "assets" if report.measure == "count" else f"load ({report.measure})"
    head = (
        f"shard-assets: the {unit} {'are' if report.measure == 'count' else 'is'} spread too "
        f"unevenly over the hosts: {names} {'carries' if len(over) == 1 else 'carry'} more "
        f"than the fair share plus max_imbalance ({pct}).\n\n{report.table()}\n\n"
        "Nothing was rewritten and the manifest was left as it was. To fix it, either:\n"
    )
    suggestion = report.smallest_passing_imbalance()
    if not report.bounded:
        return head + (
            "  - set bounded to true (CLI: drop --no-bounded); it places new assets only, so "
            "delete the manifest too if every asset should be placed again within the caps;\n"
            "  - or run 'shard-assets rebalance OUTPUT_DIR' with the same settings: it moves "
            "the fewest assets needed and lists them;\n"
            f"  - or raise max_imbalance to {float(suggestion):g} or more: with bounded false "
            "the placement is the plain hash, whose spread over few hosts is uneven."
        )
    return head + (
        "  - run 'shard-assets rebalance OUTPUT_DIR' with the same settings: it moves the "
        "fewest assets needed and lists them ('--dry-run' shows them first);\n"
        f"  - or remove the over-loaded hosts' entries from {manifest} (or delete the file) "
        "so those assets are placed again;\n"
        f"  - or raise max_imbalance (to {float(suggestion):g} for this spread) if it is "
        "acceptable."
    )


@dataclass(frozen=True)
class PageSpread:
    """How one page's asset requests split over the hosts (in configured order).

    A page requests every asset it references and, through the stylesheets it loads
    (and their ``@import``s), the assets those reference; each asset counts once.
    """

    page: str
    by_host: tuple[int, ...]
    pinned: tuple[int, ...]

    @property
    def requests(self) -> int:
        """Asset requests the page makes, pins included."""
        return sum(self.by_host)

    def movable(self) -> tuple[int, ...]:
        """Requests per host that are not pinned: what placement decides."""
        return tuple(a - p for a, p in zip(self.by_host, self.pinned, strict=True))


@dataclass(frozen=True)
class PageExcess:
    """A page that puts more of its requests on one host than ``max_page_imbalance`` allows."""

    page: str
    host: str
    requests: int
    on_host: int
    fair_share: Fraction
    allowed: int


def page_excess(
    spread: PageSpread, hosts: Sequence[Host], max_page_imbalance: Fraction
) -> PageExcess | None:
    """The page's worst host when it exceeds its allowance, else None.

    Only pages with at least ``2 x hosts`` unpinned requests are judged; pinned
    requests are left out (pins are the user's choice). A host may carry
    ``ceil((1 + max_page_imbalance) * fair share)`` of the page's requests.
    """
    movable = spread.movable()
    total = sum(movable)
    if total < 2 * len(hosts):
        return None
    worst: PageExcess | None = None
    for host, share, on_host in zip(hosts, shares(hosts), movable, strict=True):
        fair = total * share
        allowed = math.ceil((1 + max_page_imbalance) * fair)
        if on_host > allowed and (
            worst is None or on_host / fair > worst.on_host / worst.fair_share
        ):
            worst = PageExcess(spread.page, host.name, total, on_host, fair, allowed)
    return worst


def most_uneven_page(spreads: Iterable[PageSpread], hosts: Sequence[Host]) -> PageExcess | None:
    """The judged page (``2 x hosts`` requests or more) whose busiest host is furthest over
    its fair share, described as if its allowance were the fair share itself."""
    # on_host / fair share = on_host / (total * share): compared as integer
    # fractions (one per page and host, so no Fraction objects in the loop).
    scales = shares(hosts)
    numerators = [s.denominator for s in scales]
    denominators = [s.numerator for s in scales]
    worst: tuple[str, int, int, int] | None = None  # page, host index, total, on_host
    best_num, best_den = 0, 1
    for spread in spreads:
        movable = spread.movable()
        total = sum(movable)
        if total < 2 * len(hosts):
            continue
        for i, on_host in enumerate(movable):
            num, den = on_host * numerators[i], total * denominators[i]
            if worst is None or num * best_den > best_num * den:
                best_num, best_den = num, den
                worst = (spread.page, i, total, on_host)
    if worst is None:
        return None
    page, i, total, on_host = worst
    fair = total * scales[i]
    return PageExcess(page, hosts[i].name, total, on_host, fair, math.ceil(fair))


def page_gate_message(excesses: Sequence[PageExcess], max_page_imbalance: Fraction) -> str:
    """The text a failed per-page gate prints."""
    pct = f"{float(max_page_imbalance):.0%}"
    listed = "\n".join(
        f"  {e.page}: {e.on_host} of its {e.requests} requests on {e.host} "
        f"(fair share {float(e.fair_share):.1f}, allowed {e.allowed})"
        for e in excesses[:20]
    )
    more = f"\n  ... and {len(excesses) - 20} more" if len(excesses) > 20 else ""
    return (
        f"shard-assets: {len(excesses)} page(s) put more than their fair share plus "
        f"max_page_imbalance ({pct}) of their asset requests on one host:\n{listed}{more}\n\n"
        "Nothing was rewritten and the manifest was left as it was. Per-page spread follows "
        "from the hash, not from the bounded-load pass, so a page with few assets is often "
        "uneven: raise max_page_imbalance, or unset it to only report the spread."
    )
