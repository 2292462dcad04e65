"""Assignment: the bounded-load pass, the manifest's authority, host changes."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from shard_assets.assign import assign_hosts
from shard_assets.balance import balance_report, caps
from shard_assets.ring import Host

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


def test_manifest_is_authoritative() -> None:
    previous = {a: "cdn2.example.com" for a in ASSETS[:10]}
    result = assign_hosts(ASSETS[:10], HOSTS, TENTH, previous, [h.name for h in HOSTS])
    assert result.hosts_by_asset == previous
    assert not balance_report(result.hosts_by_asset, HOSTS, TENTH).ok


def test_adding_a_host_moves_about_a_fifth_only_to_it() -> None:
    first = assign_hosts(ASSETS, HOSTS, TENTH)
    five = (*HOSTS, Host("cdn5.example.com"))
    second = assign_hosts(ASSETS, five, TENTH, first.hosts_by_asset, [h.name for h in HOSTS])
    moved = [a for a in ASSETS if first.hosts_by_asset[a] != second.hosts_by_asset[a]]
    assert {second.hosts_by_asset[a] for a in moved} == {"cdn5.example.com"}
    assert 0.15 <= len(moved) / len(ASSETS) <= 0.25
    assert balance_report(second.hosts_by_asset, five, TENTH).ok
    assert len(second.moves) == len(moved)


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
