"""Assignment: the bounded-load pass, the manifest's authority, host changes."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shard_assets.placement.assign import assign_hosts, rebalance_assignment, resolve_pins
from shard_assets.placement.balance import (
    PageSpread,
    balance_report,
    caps,
    least_even_first,
    most_uneven_page,
    page_excess,
    pages_over,
)
from shard_assets.placement.ring import Host

HOSTS = tuple(Host(f"cdn{i}.example.com") for i in range(1, 5))
TENTH = Fraction(1, 10)
ASSETS = [f"img/photo-{i:04d}.jpg" for i in range(1000)]


def test_fresh_assignment_is_within_every_cap() -> None:
    result = assign_hosts(ASSETS, HOSTS, TENTH)
    assert balance_report(result.hosts_by_asset, HOSTS, TENTH).ok
    assert (
        max(Counter(result.hosts_by_asset.values()).values())
        <= caps(1000, HOSTS, TENTH)["cdn1.example.com"]
    )


def test_the_best_possible_split_passes_the_gate() -> None:
    # 5 assets on 4 hosts: the fair share is 1.25, so a cap below 2 could never be met.
    assert caps(5, HOSTS, TENTH) == dict.fromkeys((h.name for h in HOSTS), 2)
    best = dict(zip(ASSETS[:5], [h.name for h in HOSTS] + ["cdn1.example.com"], strict=True))
    assert balance_report(best, HOSTS, TENTH).ok
    result = assign_hosts(ASSETS[:5], HOSTS, TENTH)
    assert max(Counter(result.hosts_by_asset.values()).values()) == 2


def test_manifest_is_authoritative_while_hosts_are_within_their_caps() -> None:
    # A split the ring would never make, but within every cap: nothing moves.
    previous = {a: HOSTS[i % 4].name for i, a in enumerate(ASSETS[:40])}
    result = assign_hosts(ASSETS[:40], HOSTS, TENTH, previous, [h.name for h in HOSTS])
    assert result.hosts_by_asset == previous
    assert result.moves == ()


def test_manifest_is_authoritative() -> None:
    previous = {a: "cdn2.example.com" for a in ASSETS[:10]}
    result = assign_hosts(ASSETS[:10], HOSTS, TENTH, previous, [h.name for h in HOSTS])
    assert result.hosts_by_asset == previous
    assert result.moves == ()
    assert not balance_report(result.hosts_by_asset, HOSTS, TENTH).ok


def test_rebalance_gives_up_the_fewest_assets() -> None:
    previous = {a: "cdn2.example.com" for a in ASSETS[:10]}
    kept = assign_hosts(ASSETS[:10], HOSTS, TENTH, previous, [h.name for h in HOSTS])
    result = rebalance_assignment(kept, HOSTS, TENTH)
    assert Counter(result.hosts_by_asset.values())["cdn2.example.com"] == 3  # the cap
    assert len(result.moves) == 7
    assert {m.reason for m in result.moves} == {"rebalance: cdn2.example.com was above its cap"}
    assert balance_report(result.hosts_by_asset, HOSTS, TENTH).ok


def test_unbounded_keeps_the_manifest_and_the_gate_judges_it() -> None:
    previous = {a: "cdn2.example.com" for a in ASSETS[:10]}
    result = assign_hosts(
        ASSETS[:10], HOSTS, TENTH, previous, [h.name for h in HOSTS], bounded=False
    )
    assert result.hosts_by_asset == previous
    assert not balance_report(result.hosts_by_asset, HOSTS, TENTH, bounded=False).ok


def test_placement_aims_at_the_fair_share_and_small_changes_move_nothing() -> None:
    first = assign_hosts(ASSETS, HOSTS, TENTH)
    assert sorted(Counter(first.hosts_by_asset.values()).values()) == [250, 250, 250, 250]
    remaining = ASSETS[8:]
    second = assign_hosts(remaining, HOSTS, TENTH, first.hosts_by_asset, [h.name for h in HOSTS])
    assert second.moves == ()


def test_a_host_at_its_cap_fails_the_gate_when_caps_shrink_and_rebalance_fixes_it() -> None:
    # A kept split with cdn1 at its cap (275 of 1,000); deleting 8 assets from the
    # other hosts lowers every cap to 273. The manifest stays authoritative, so the
    # gate fails, and rebalance moves exactly the 2 in excess.
    names = [h.name for h in HOSTS]
    previous = {a: names[0] if i < 275 else names[1 + i % 3] for i, a in enumerate(ASSETS)}
    gone = [a for a in ASSETS[275:]][:8]
    remaining = [a for a in ASSETS if a not in gone]
    second = assign_hosts(remaining, HOSTS, TENTH, previous, names)
    assert caps(len(remaining), HOSTS, TENTH)[names[0]] == 273
    assert second.moves == ()
    assert not balance_report(second.hosts_by_asset, HOSTS, TENTH).ok
    fixed = rebalance_assignment(second, HOSTS, TENTH)
    assert balance_report(fixed.hosts_by_asset, HOSTS, TENTH).ok
    assert [m.old for m in fixed.moves] == [names[0], names[0]]


def test_a_fresh_split_has_headroom_for_small_deletions() -> None:
    names = [h.name for h in HOSTS]
    first = assign_hosts(ASSETS, HOSTS, TENTH)
    on_others = [a for a, h in first.hosts_by_asset.items() if h != names[0]]
    remaining = [a for a in ASSETS if a not in set(on_others[:60])]  # 6% of the site
    second = assign_hosts(remaining, HOSTS, TENTH, first.hosts_by_asset, names)
    assert second.moves == ()
    assert balance_report(second.hosts_by_asset, HOSTS, TENTH).ok


def test_dropped_and_placed_are_reported() -> None:
    first = assign_hosts(ASSETS[:100], HOSTS, TENTH)
    second = assign_hosts(
        ASSETS[50:150], HOSTS, TENTH, first.hosts_by_asset, [h.name for h in HOSTS]
    )
    assert second.dropped == tuple(ASSETS[:50])
    assert set(second.placed) == set(ASSETS[100:150])
    assert second.kept == 50


weights = st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8)
names = st.lists(
    st.from_regex(r"[a-z]{1,8}/[a-z0-9]{1,8}\.png", fullmatch=True), max_size=200, unique=True
)
imbalance = st.sampled_from([Fraction(0), Fraction(1, 20), Fraction(1, 10), Fraction(1, 2)])


@settings(max_examples=60, deadline=None)
@given(weights, names, imbalance)
def test_bound_holds_for_any_weights(
    host_weights: list[int], assets: list[str], eps: Fraction
) -> None:
    hosts = tuple(Host(f"h{i}.example.com", Fraction(w)) for i, w in enumerate(host_weights))
    result = assign_hosts(assets, hosts, eps)
    assert set(result.hosts_by_asset) == set(assets)
    assert balance_report(result.hosts_by_asset, hosts, eps).ok


@settings(max_examples=40, deadline=None)
@given(names, st.integers(min_value=0, max_value=3))
def test_removing_a_host_moves_its_assets_and_only_those(assets: list[str], removed: int) -> None:
    first = assign_hosts(assets, HOSTS, TENTH)
    remaining = tuple(h for i, h in enumerate(HOSTS) if i != removed)
    second = assign_hosts(assets, remaining, TENTH, first.hosts_by_asset, [h.name for h in HOSTS])
    for asset in assets:
        if first.hosts_by_asset[asset] != HOSTS[removed].name:
            assert second.hosts_by_asset[asset] == first.hosts_by_asset[asset]
        else:
            assert second.hosts_by_asset[asset] != HOSTS[removed].name


@settings(max_examples=40, deadline=None)
@given(names)
def test_assignment_is_deterministic_and_order_free(assets: list[str]) -> None:
    assert assign_hosts(assets, HOSTS, TENTH) == assign_hosts(list(reversed(assets)), HOSTS, TENTH)


# --- algorithms, loads and pins -------------------------------------------------------

ALGORITHMS = ["ring", "rendezvous", "jump"]


@pytest.mark.parametrize("count", [2, 4, 8, 16])
@pytest.mark.parametrize("weighted", [False, True])
def test_unbounded_ring_assignment_agrees_with_uhashring_ketama(count: int, weighted: bool) -> None:
    uhashring = pytest.importorskip("uhashring")
    names = [f"cdn{i}.example.com" for i in range(1, count + 1)]
    weights = {n: (i % 3) + 1 if weighted else 1 for i, n in enumerate(names)}
    hosts = [Host(n, Fraction(weights[n])) for n in names]
    theirs = uhashring.HashRing({n: {"weight": weights[n]} for n in names}, hash_fn="ketama")
    keys = [f"assets/{i % 97}/image-{i}.png" for i in range(10_000)]
    ours = assign_hosts(keys, hosts, TENTH, bounded=False).hosts_by_asset
    assert all(ours[k] == theirs.get_node(k) for k in keys)


def test_unbounded_host_changes_stay_ketama_exact() -> None:
    uhashring = pytest.importorskip("uhashring")
    names = [h.name for h in HOSTS]
    first = assign_hosts(ASSETS, HOSTS, TENTH, bounded=False)
    for changed in (names[:3], [*names, "cdn5.example.com"]):
        hosts = [Host(n) for n in changed]
        second = assign_hosts(
            ASSETS, hosts, TENTH, first.hosts_by_asset, names, bounded=False
        ).hosts_by_asset
        ring = uhashring.HashRing(changed, hash_fn="ketama")
        assert all(second[a] == ring.get_node(a) for a in ASSETS)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_keeps_a_fresh_assignment_within_every_cap(algorithm: str) -> None:
    result = assign_hosts(ASSETS, HOSTS, TENTH, algorithm=algorithm)
    assert balance_report(result.hosts_by_asset, HOSTS, TENTH).ok
    assert max(Counter(result.hosts_by_asset.values()).values()) <= 275


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_adding_a_host_moves_only_onto_it_for_every_algorithm(algorithm: str) -> None:
    first = assign_hosts(ASSETS, HOSTS, TENTH, algorithm=algorithm)
    five = (*HOSTS, Host("cdn5.example.com"))
    second = assign_hosts(
        ASSETS, five, TENTH, first.hosts_by_asset, [h.name for h in HOSTS], algorithm=algorithm
    )
    moved = [a for a in ASSETS if first.hosts_by_asset[a] != second.hosts_by_asset[a]]
    assert {second.hosts_by_asset[a] for a in moved} == {"cdn5.example.com"}
    assert 0.15 <= len(moved) / len(ASSETS) <= 0.25
    assert balance_report(second.hosts_by_asset, five, TENTH).ok


def test_a_weight_change_moves_the_excess_and_passes_the_gate() -> None:
    first = assign_hosts(ASSETS, HOSTS, TENTH)
    heavier = (Host(HOSTS[0].name, Fraction(2)), *HOSTS[1:])
    second = assign_hosts(ASSETS, heavier, TENTH, first.hosts_by_asset, HOSTS)
    assert balance_report(second.hosts_by_asset, heavier, TENTH).ok
    # Only the shrunken caps shed assets, only onto the grown host, and far fewer than
    # a reshuffle would move.
    assert {m.old for m in second.moves} <= {h.name for h in HOSTS[1:]}
    assert {m.new for m in second.moves} == {HOSTS[0].name}
    assert len(second.moves) < len(ASSETS) / 4


SIZES = {a: (i * 7919) % 5000 + 1 for i, a in enumerate(ASSETS)}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bytes_are_balanced_within_the_byte_caps(algorithm: str) -> None:
    result = assign_hosts(ASSETS, HOSTS, TENTH, algorithm=algorithm, loads=SIZES)
    balance = balance_report(result.hosts_by_asset, HOSTS, TENTH, loads=SIZES, measure="bytes")
    assert balance.ok
    assert all(row.load <= row.cap for row in balance.rows)
    assert balance.total == sum(SIZES.values())


def test_an_asset_bigger_than_any_cap_goes_to_its_first_choice_alone() -> None:
    assets = ["video/intro.mp4", *ASSETS[:30]]
    loads = {"video/intro.mp4": 10_000, **dict.fromkeys(ASSETS[:30], 10)}
    result = assign_hosts(assets, HOSTS, TENTH, loads=loads)
    from shard_assets.placement.ring import Ring

    host = Ring(HOSTS).lookup("video/intro.mp4")
    assert result.hosts_by_asset["video/intro.mp4"] == host
    assert [a for a, h in result.hosts_by_asset.items() if h == host] == ["video/intro.mp4"]
    balance = balance_report(result.hosts_by_asset, HOSTS, TENTH, loads=loads, measure="bytes")
    assert balance.ok  # over its cap, but the best any split can do
    assert next(r for r in balance.rows if r.host == host).load > caps(10_300, HOSTS, TENTH)[host]


def test_the_best_possible_split_of_unequal_loads_passes() -> None:
    # Three assets of 5 on two hosts: some host carries 10, over its cap of 9; without
    # its largest asset it is under, so the gate accepts: no split could do better.
    hosts = HOSTS[:2]
    loads = {"a": 5, "b": 5, "c": 5}
    split = {"a": hosts[0].name, "b": hosts[0].name, "c": hosts[1].name}
    assert balance_report(split, hosts, TENTH, loads=loads, measure="bytes").ok
    lopsided = dict.fromkeys("abc", hosts[0].name)
    assert not balance_report(lopsided, hosts, TENTH, loads=loads, measure="bytes").ok


def test_pins_hold_count_in_the_balance_and_never_move() -> None:
    pins = {a: "cdn1.example.com" for a in ASSETS[:100]}
    first = assign_hosts(ASSETS, HOSTS, TENTH, pins=pins)
    assert all(first.hosts_by_asset[a] == "cdn1.example.com" for a in pins)
    counts = Counter(first.hosts_by_asset.values())
    assert counts["cdn1.example.com"] <= 275  # the pins took their share of cdn1's room
    assert first.pinned == tuple(sorted(pins))
    # Adding a host, or removing another, never moves a pinned asset.
    five = (*HOSTS, Host("cdn5.example.com"))
    names = [h.name for h in HOSTS]
    second = assign_hosts(ASSETS, five, TENTH, first.hosts_by_asset, names, pins=pins)
    third = assign_hosts(
        ASSETS, HOSTS[:1] + HOSTS[2:], TENTH, first.hosts_by_asset, names, pins=pins
    )
    for result in (second, third):
        assert all(result.hosts_by_asset[a] == "cdn1.example.com" for a in pins)
        assert not any(m.asset in pins for m in result.moves)


def test_pins_over_the_cap_stay_and_do_not_fail_the_gate() -> None:
    pins = {a: "cdn1.example.com" for a in ASSETS[:600]}
    previous = dict.fromkeys(ASSETS, "cdn1.example.com")  # and the rest too, by hand
    names = [h.name for h in HOSTS]
    kept = assign_hosts(ASSETS, HOSTS, TENTH, previous, names, pins=pins)
    assert not balance_report(kept.hosts_by_asset, HOSTS, TENTH, pinned=kept.pinned).ok
    result = rebalance_assignment(kept, HOSTS, TENTH)
    on_cdn1 = sorted(a for a, h in result.hosts_by_asset.items() if h == "cdn1.example.com")
    assert on_cdn1 == sorted(pins)  # every movable asset left the over-full host
    balance = balance_report(result.hosts_by_asset, HOSTS, TENTH, pinned=result.pinned)
    assert balance.ok
    row = balance.rows[0]
    assert row.pinned_over_cap and row.over_by == 0
    assert "over cap by its pins (allowed)" in balance.table()
    # The same split with one unpinned asset left on cdn1 fails.
    extra = dict(result.hosts_by_asset, **{ASSETS[700]: "cdn1.example.com"})
    assert not balance_report(extra, HOSTS, TENTH, pinned=result.pinned).ok


def test_pinning_an_asset_the_manifest_put_elsewhere_moves_it_once() -> None:
    first = assign_hosts(ASSETS[:40], HOSTS, TENTH)
    asset = next(a for a, h in first.hosts_by_asset.items() if h != "cdn4.example.com")
    names = [h.name for h in HOSTS]
    second = assign_hosts(
        ASSETS[:40], HOSTS, TENTH, first.hosts_by_asset, names, pins={asset: "cdn4.example.com"}
    )
    assert [m.asset for m in second.moves if "pinned" in m.reason] == [asset]
    assert second.hosts_by_asset[asset] == "cdn4.example.com"


def test_resolve_pins_first_matching_glob_wins() -> None:
    pins = resolve_pins(
        ["js/app.js", "js/vendor/x.js", "img/a.png", "css/site.css"],
        [("js/vendor/*", "b.example.com"), ("js/*", "a.example.com"), ("*.css", "c.example.com")],
    )
    assert pins == {
        "js/app.js": "a.example.com",
        "js/vendor/x.js": "b.example.com",
        "css/site.css": "c.example.com",
    }


loads = st.lists(st.integers(min_value=0, max_value=10_000), min_size=200, max_size=200)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ALGORITHMS), weights, names, imbalance, loads)
def test_bound_holds_for_any_algorithm_weights_and_loads(
    algorithm: str, host_weights: list[int], assets: list[str], eps: Fraction, sizes: list[int]
) -> None:
    if algorithm == "jump":
        host_weights = [1] * len(host_weights)
    hosts = tuple(Host(f"h{i}.example.com", Fraction(w)) for i, w in enumerate(host_weights))
    asset_loads = dict(zip(assets, sizes, strict=False))
    result = assign_hosts(assets, hosts, eps, algorithm=algorithm, loads=asset_loads)
    assert set(result.hosts_by_asset) == set(assets)
    balance = balance_report(result.hosts_by_asset, hosts, eps, loads=asset_loads, measure="bytes")
    assert balance.ok


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(ALGORITHMS), names, st.integers(min_value=0, max_value=3), loads)
def test_removing_a_host_moves_only_its_assets_for_any_algorithm_and_loads(
    algorithm: str, assets: list[str], removed: int, sizes: list[int]
) -> None:
    asset_loads = dict(zip(assets, sizes, strict=False))
    first = assign_hosts(assets, HOSTS, TENTH, algorithm=algorithm, loads=asset_loads)
    remaining = tuple(h for i, h in enumerate(HOSTS) if i != removed)
    second = assign_hosts(
        assets,
        remaining,
        TENTH,
        first.hosts_by_asset,
        [h.name for h in HOSTS],
        algorithm=algorithm,
        loads=asset_loads,
    )
    balance = balance_report(
        second.hosts_by_asset, remaining, TENTH, loads=asset_loads, measure="bytes"
    )
    assert balance.ok
    # The other hosts' caps only grew, so they keep every asset.
    for asset, host in first.hosts_by_asset.items():
        if host != HOSTS[removed].name:
            assert second.hosts_by_asset[asset] == host
        else:
            assert second.hosts_by_asset[asset] != host


def test_removing_a_host_never_moves_assets_between_the_hosts_that_stay() -> None:
    # cdn1 was hand-edited over its cap; removing cdn4 raises every share, but only
    # cdn4's assets may move, and the gate still fails on cdn1.
    names = [h.name for h in HOSTS]
    previous = {a: names[0] if i < 40 else names[1 + i % 3] for i, a in enumerate(ASSETS[:100])}
    second = assign_hosts(ASSETS[:100], HOSTS[:3], TENTH, previous, HOSTS)
    assert {m.old for m in second.moves} == {names[3]}
    assert all(second.hosts_by_asset[a] == h for a, h in previous.items() if h != names[3])


def _least_even_by_fractions(
    spreads: list[PageSpread], hosts: list[Host]
) -> list[tuple[str, str, int, Fraction]]:
    """The definition :func:`least_even_first` computes with integers: each page with
    a request, its first host with the most requests over ``ceil(fair share)``, least
    even first (by those requests, then by the host's requests, then by name)."""
    weight_sum = sum((h.weight for h in hosts), Fraction(0))
    found = []
    for spread in spreads:
        total = sum(spread.by_host)
        if not total:
            continue
        over = [
            (on_host - math.ceil(total * host.weight / weight_sum), -i)
            for i, (host, on_host) in enumerate(zip(hosts, spread.by_host, strict=True))
        ]
        excess, minus_i = max(over)
        fair = total * hosts[-minus_i].weight / weight_sum
        found.append((spread.page, hosts[-minus_i].name, excess, fair))
    by_host = {s.page: s.by_host for s in spreads}
    names = [h.name for h in hosts]
    found.sort(key=lambda f: (-f[2], -by_host[f[0]][names.index(f[1])], f[0]))
    return found


@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=4),
    st.lists(st.lists(st.integers(0, 12), min_size=4, max_size=4), max_size=12),
)
def test_the_least_even_page_is_the_one_furthest_over_an_even_split(
    weights: list[int], counts: list[list[int]]
) -> None:
    hosts = [Host(f"cdn{i}.example.com", Fraction(w, 3)) for i, w in enumerate(weights)]
    spreads = [
        PageSpread(f"page-{n}.html", tuple(c[: len(hosts)]), (0,) * len(hosts))
        for n, c in enumerate(counts)
    ]
    expected = _least_even_by_fractions(spreads, hosts)
    ranked = least_even_first(spreads, hosts)
    assert [(e.page, e.host, e.excess, e.fair_share) for e in ranked] == expected
    found = most_uneven_page(spreads, hosts)
    assert found == (ranked[0] if ranked else None)


_EQUAL = [Host(f"cdn{i}.example.com") for i in range(1, 5)]
_THREE_TO_ONE = [Host("cdn1.example.com", Fraction(3)), Host("cdn2.example.com")]


@pytest.mark.parametrize(
    ("hosts", "by_host", "pinned", "limit", "over"),
    [
        # 8 requests on 4 hosts: fair share 2, allowed ceil(1.5 x 2) = 3.
        (_EQUAL, (5, 1, 1, 1), (0, 0, 0, 0), "0.5", ("cdn1.example.com", 3)),
        (_EQUAL, (3, 3, 1, 1), (0, 0, 0, 0), "0.5", None),
        # Fewer than 2 x hosts requests: not judged.
        (_EQUAL, (4, 1, 1, 1), (0, 0, 0, 0), "0.5", None),
        # Pins count as requests; a host whose requests are all pinned is not over,
        # as in the host gate, but one with a movable request is judged as usual.
        (_EQUAL, (5, 1, 1, 1), (5, 0, 0, 0), "0.5", None),
        (_EQUAL, (5, 1, 1, 1), (4, 0, 0, 0), "0.5", ("cdn1.example.com", 3)),
        (_EQUAL, (7, 1, 0, 0), (6, 0, 0, 0), "0", ("cdn1.example.com", 2)),
        # Two hosts over by as much: the first in host order, unless it is all pins.
        (_EQUAL, (4, 4, 0, 0), (0, 0, 0, 0), "0.5", ("cdn1.example.com", 3)),
        (_EQUAL, (4, 4, 0, 0), (4, 0, 0, 0), "0.5", ("cdn2.example.com", 3)),
        # Weights: fair shares 6 and 2 of 8.
        (_THREE_TO_ONE, (6, 2), (0, 0), "0", None),
        (_THREE_TO_ONE, (5, 3), (0, 0), "0", ("cdn2.example.com", 2)),
        (_THREE_TO_ONE, (5, 3), (0, 0), "0.5", None),
    ],
)
def test_the_page_gate_judges_every_request_and_spares_hosts_of_pins_only(
    hosts: list[Host],
    by_host: tuple[int, ...],
    pinned: tuple[int, ...],
    limit: str,
    over: tuple[str, int] | None,
) -> None:
    spread = PageSpread("page.html", by_host, pinned)
    found = next(iter(pages_over([spread], hosts, Fraction(limit))), None)
    assert (None if found is None else (found.host, found.allowed)) == over
    if found is not None:
        assert found.excess > 0 and found.requests == sum(by_host)
    if found is not None and not any(pinned):
        # The one formula the summary and the report use, with the gate's limit.
        assert found == page_excess(spread, hosts, Fraction(limit))
