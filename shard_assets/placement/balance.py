"""How evenly assets are spread over hosts, how uneven each page is, and the gates
that fail a build.

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

A page is measured by one formula, :func:`page_excess`, for the per-page gate, the
build summary and ``shard-assets report`` (docs/algorithms.md, "Per-page spread").

Arithmetic is exact (``Fraction``): with floats, ``1.1 * 40 / 4`` is
``11.000000000000002`` and its ceiling would wrongly be 12.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
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


@dataclass(frozen=True)
class PageSpread:
    """How one page's asset requests split over the hosts (in configured order).

    A page requests every sharded asset it references and, through the stylesheets it
    loads (and their ``@import``s), every one those reference; each asset counts once,
    pinned or not, since the browser fetches it all the same. Assets kept on the
    origin are not on a shard host and do not count. ``pinned`` says how many of each
    host's requests a pin holds there.
    """

    page: str
    by_host: tuple[int, ...]
    pinned: tuple[int, ...]

    @property
    def requests(self) -> int:
        """The asset requests the page makes to the shard hosts."""
        return sum(self.by_host)


@dataclass(frozen=True)
class PageExcess:
    """How uneven one page is: its host furthest over its allowance.

    ``allowed`` is ``ceil((1 + imbalance) * fair_share)`` of the page's requests,
    ``fair_share`` the host's weighted share of them; with no imbalance (the build
    summary's and the report's figure) that is an even split. ``excess`` is
    ``on_host - allowed``: 0 or less when the page is within it.
    """

    spread: PageSpread
    host: str
    on_host: int
    fair_share: Fraction
    allowed: int

    @property
    def page(self) -> str:
        """The page, as an output-relative path."""
        return self.spread.page

    @property
    def requests(self) -> int:
        """All the page's asset requests."""
        return self.spread.requests

    @property
    def excess(self) -> int:
        """Requests on :attr:`host` above its allowance."""
        return self.on_host - self.allowed


class _Measure:
    """The one measure of a page's unevenness for ``hosts`` and an imbalance, with each
    host's ``(1 + imbalance) * share`` as integers: a site has many pages."""

    def __init__(self, hosts: Sequence[Host], imbalance: Fraction) -> None:
        self.hosts = hosts
        self.shares = shares(hosts)
        self.terms = [((1 + imbalance) * share).as_integer_ratio() for share in self.shares]

    def worst(self, spread: PageSpread, *, gate: bool = False) -> tuple[int, int] | None:
        """The index and allowance of ``spread``'s host furthest over its allowance
        (the first in host order on a tie); ``gate``: only among the hosts over it
        that the gate judges, None when there is none."""
        total = sum(spread.by_host)
        worst: tuple[int, int] | None = None
        most = 0
        for i, ((num, den), on_host) in enumerate(zip(self.terms, spread.by_host, strict=True)):
            allowed = -(-total * num // den)
            # The host gate's rule, for one page: pins are the user's choice, so a
            # host whose requests are all pinned is never over.
            if gate and within_cap(on_host, allowed, on_host - spread.pinned[i], 1):
                continue
            if worst is None or on_host - allowed > most:
                worst, most = (i, allowed), on_host - allowed
        return worst

    def excess(self, spread: PageSpread, i: int, allowed: int) -> PageExcess:
        """The :class:`PageExcess` of ``spread``'s host ``i``."""
        fair = spread.requests * self.shares[i]
        return PageExcess(spread, self.hosts[i].name, spread.by_host[i], fair, allowed)


def page_excess(
    spread: PageSpread, hosts: Sequence[Host], imbalance: Fraction = Fraction(0)
) -> PageExcess:
    """How uneven ``spread`` is: the one formula behind the per-page gate, the build
    summary and ``shard-assets report`` (see :class:`PageExcess`)."""
    measure = _Measure(hosts, imbalance)
    found = measure.worst(spread)
    assert found is not None  # there is at least one host
    return measure.excess(spread, *found)


#: A page is judged by ``max_page_imbalance`` only with this many requests per host.
JUDGED_PER_HOST = 2


def pages_over(
    spreads: Iterable[PageSpread], hosts: Sequence[Host], max_page_imbalance: Fraction
) -> list[PageExcess]:
    """The per-page gate: each page with a host over its allowance, and that host.

    Only pages with at least ``2 x hosts`` requests are judged (a smaller page is
    uneven by chance more often than not); a host is over by the host gate's rule
    (:func:`within_cap`), so one that carries only pinned requests of the page is not.
    """
    measure = _Measure(hosts, max_page_imbalance)
    judged = JUDGED_PER_HOST * len(hosts)
    found = []
    for spread in spreads:
        if spread.requests >= judged and (worst := measure.worst(spread, gate=True)):
            found.append(measure.excess(spread, *worst))
    return found


#: A page in the order of :func:`least_even_first`: its sort key, spread, worst host
#: and that host's allowance.
_Ranked = tuple[tuple[int, int, str], PageSpread, int, int]


def _ranked(spreads: Iterable[PageSpread], measure: _Measure) -> Iterator[_Ranked]:
    """Each page with a request, with its worst host, its allowance and its place in
    the order: by requests over an even split, then on that host, then by name."""
    for spread in spreads:
        if spread.requests:
            found = measure.worst(spread)
            assert found is not None
            i, allowed = found
            on_host = spread.by_host[i]
            yield (allowed - on_host, -on_host, spread.page), spread, i, allowed


def least_even_first(spreads: Iterable[PageSpread], hosts: Sequence[Host]) -> list[PageExcess]:
    """Every page with a request, least even first: by requests over an even split,
    then by requests on that host, then by name."""
    measure = _Measure(hosts, Fraction(0))
    ranked = sorted(_ranked(spreads, measure), key=_first)
    return [measure.excess(spread, i, allowed) for _, spread, i, allowed in ranked]


def most_uneven_page(spreads: Iterable[PageSpread], hosts: Sequence[Host]) -> PageExcess | None:
    """The first page of :func:`least_even_first` (None when no page makes a request)."""
    measure = _Measure(hosts, Fraction(0))
    best = min(_ranked(spreads, measure), key=_first, default=None)
    return None if best is None else measure.excess(*best[1:])


def _first(item: _Ranked) -> tuple[int, int, str]:
    return item[0]
