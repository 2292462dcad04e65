"""The ketama ring: pinned vectors, an independent oracle, and properties."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shard_assets.placement.ring import Host, Ring, key_hash

HOSTS = [Host(f"cdn{i}.example.com") for i in range(1, 5)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # md5("") = d41d8cd9...: ketama reads the first four bytes little-endian.
        ("", 0xD98C1DD4),
        ("img/a.png", 3836355740),
        ("css/site.css", 3103998275),
        ("é/ü.png", 3506754275),  # the key's UTF-8 bytes
    ],
)
def test_key_hash_known_vectors(key: str, value: int) -> None:
    assert key_hash(key) == value


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


def test_lookup_is_the_same_in_another_process() -> None:
    """No per-process state (``hash()``, set order): a child with another hash seed
    places every key where this process does."""
    sample = [f"assets/{i}/image-{i}.png" for i in range(200)]
    code = (
        "import json, sys; from shard_assets.placement.ring import Host, Ring; "
        "hosts = [Host(f'cdn{i}.example.com') for i in range(1, 5)]; "
        "print(json.dumps([Ring(hosts).lookup(k) for k in json.load(sys.stdin)]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(child.stdout) == [Ring(HOSTS).lookup(k) for k in sample]


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
