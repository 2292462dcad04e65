"""The ketama ring: pinned vectors, an independent oracle, and properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shard_assets.ring import Host, Ring, key_hash

HOSTS = [Host(f"cdn{i}.example.com") for i in range(1, 5)]


def test_key_hash_is_ketama_md5_little_endian() -> None:
    # md5("img/a.png") starts with these four bytes; ketama reads them little-endian.
    import hashlib

    digest = hashlib.md5(b"img/a.png").digest()
    assert key_hash("img/a.png") == int.from_bytes(digest[:4], "little")


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("img/a.png", "cdn3.example.com"),
        ("css/site.css", "cdn3.example.com"),
        ("js/app.js", "cdn3.example.com"),
        ("fonts/x.woff2", "cdn1.example.com"),
    ],
)
def test_known_vectors_pin_the_algorithm(key: str, host: str) -> None:
    assert Ring(HOSTS).lookup(key) == host


def test_points_per_host_follow_ketama() -> None:
    ring = Ring(HOSTS)
    assert len(ring.points) == 4 * 40 * 4
    weighted = Ring([Host("a.example.com", Fraction(3)), Host("b.example.com")])
    owners = [weighted.hosts[i].name for i in weighted.owners]
    # floor(40 * 2 * 3/4) = 60 digests and floor(40 * 2 * 1/4) = 20 digests, 4 points each.
    assert owners.count("a.example.com") == 240
    assert owners.count("b.example.com") == 80


@pytest.mark.parametrize("count", [2, 4, 8, 16])
@pytest.mark.parametrize("weighted", [False, True])
def test_agrees_with_uhashring_ketama(count: int, weighted: bool) -> None:
    uhashring = pytest.importorskip("uhashring")
    names = [f"cdn{i}.example.com" for i in range(1, count + 1)]
    weights = {n: (i % 3) + 1 if weighted else 1 for i, n in enumerate(names)}
    ours = Ring([Host(n, Fraction(weights[n])) for n in names])
    theirs = uhashring.HashRing({n: {"weight": weights[n]} for n in names}, hash_fn="ketama")
    keys = [f"assets/{i % 97}/image-{i}.png" for i in range(10_000)]
    assert [ours.lookup(k) for k in keys] == [theirs.get_node(k) for k in keys]


keys = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=50, unique=True)


@settings(deadline=None)
@given(keys)
def test_lookup_is_deterministic_across_instances(sample: list[str]) -> None:
    assert [Ring(HOSTS).lookup(k) for k in sample] == [Ring(HOSTS).lookup(k) for k in sample]


@settings(deadline=None)
@given(keys, st.integers(min_value=0, max_value=3))
def test_removing_a_host_moves_only_its_keys(sample: list[str], removed: int) -> None:
    before = Ring(HOSTS)
    after = Ring([h for i, h in enumerate(HOSTS) if i != removed])
    for key in sample:
        if before.lookup(key) != HOSTS[removed].name:
            assert after.lookup(key) == before.lookup(key)


@settings(max_examples=50, deadline=None)
@given(keys)
def test_preference_lists_every_host_once_starting_with_lookup(sample: list[str]) -> None:
    ring = Ring(HOSTS)
    for key in sample:
        order = ring.preference(key)
        assert sorted(order) == [0, 1, 2, 3]
        assert ring.hosts[order[0]].name == ring.lookup(key)
