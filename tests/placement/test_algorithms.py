"""Rendezvous and jump hashing: pinned vectors, consistency, weights, preference orders."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shard_assets.placement.algorithms import (
    Jump,
    Rendezvous,
    hash64,
    jump_hash,
    jump_moved_share,
    jump_renumbering,
    make_placement,
)
from shard_assets.placement.ring import Host

HOSTS = [Host(f"cdn{i}.example.com") for i in range(1, 5)]
KEYS = [f"img/{i % 97}/photo-{i}.jpg" for i in range(10_000)]

# From the C extension of the `jump-consistent-hash` package (3.6.0), an independent
# implementation of Lamping and Veach's algorithm, for buckets 1, 2, 3, 5, 8, 16, 100, 1000.
JUMP_VECTORS = {
    0: [0, 0, 0, 0, 0, 0, 0, 0],
    1: [0, 0, 0, 0, 6, 6, 55, 549],
    2: [0, 0, 0, 3, 6, 15, 62, 338],
    0xFF: [0, 1, 1, 4, 7, 7, 63, 521],
    0x100: [0, 1, 2, 3, 3, 3, 16, 520],
    0xFFFFFFFF: [0, 0, 2, 2, 5, 5, 74, 875],
    0x100000000: [0, 1, 2, 2, 2, 2, 62, 937],
    0x7FFFFFFFFFFFFFFF: [0, 0, 2, 2, 7, 8, 97, 972],
    0x8000000000000000: [0, 1, 1, 4, 5, 12, 84, 453],
    0xFFFFFFFFFFFFFFFF: [0, 1, 2, 2, 7, 10, 92, 313],
    0x0123456789ABCDEF: [0, 0, 0, 0, 0, 13, 57, 194],
    0xDEADBEEFCAFEBABE: [0, 1, 1, 4, 4, 15, 89, 144],
}
# sha256 of "b2,b4,b8,b16" lines for KEYS, computed with that C extension from
# blake2b(key, digest_size=8) read little-endian: pins hash64 and jump_hash together.
JUMP_KEYS_DIGEST = "486372683a63e15ea248d399bc8cd908c4d1e2b361f74b918cddce5a7d41db35"


@pytest.mark.parametrize(("key", "buckets"), JUMP_VECTORS.items())
def test_jump_hash_matches_an_independent_implementation(key: int, buckets: list[int]) -> None:
    assert [jump_hash(key, n) for n in (1, 2, 3, 5, 8, 16, 100, 1000)] == buckets


def test_jump_over_string_keys_is_pinned() -> None:
    lines = (",".join(str(jump_hash(hash64(k.encode()), n)) for n in (2, 4, 8, 16)) for k in KEYS)
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == JUMP_KEYS_DIGEST


def test_hash64_is_blake2b_8_little_endian() -> None:
    digest = hashlib.blake2b(b"img/a.png", digest_size=8).digest()
    assert hash64(b"img/a.png") == int.from_bytes(digest, "little")


def test_rendezvous_is_the_weighted_hrw_formula() -> None:
    hosts = [Host("a.example.com", Fraction(3)), Host("b.example.com"), Host("c.example.com")]
    placement = Rendezvous(hosts)
    for key in KEYS[:200]:
        scores = []
        for host in hosts:
            x = hash64(host.name.encode() + b"\x00" + key.encode()) >> 11
            scores.append(float(host.weight) / -math.log((x + 0.5) / 2**53))
        assert placement.first(key) == scores.index(max(scores))


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("img/a.png", "cdn3.example.com"),
        ("css/site.css", "cdn1.example.com"),
        ("js/app.js", "cdn1.example.com"),
        ("fonts/x.woff2", "cdn1.example.com"),
    ],
)
def test_rendezvous_known_vectors(key: str, host: str) -> None:
    placement = Rendezvous(HOSTS)
    assert placement.hosts[placement.first(key)].name == host


def test_equal_weights_take_the_integer_path_with_the_same_order() -> None:
    doubled = Rendezvous([Host(h.name, Fraction(2)) for h in HOSTS])
    plain = Rendezvous(HOSTS)
    assert [doubled.preference(k) for k in KEYS[:500]] == [plain.preference(k) for k in KEYS[:500]]
    # The float formula orders them the same way.
    skewed = Rendezvous([*HOSTS[:3], Host(HOSTS[3].name, Fraction(1000001, 1000000))])
    agree = sum(skewed.first(k) == plain.first(k) for k in KEYS)
    assert agree >= len(KEYS) - 5


@pytest.mark.parametrize("algorithm", ["rendezvous", "jump"])
def test_adding_a_host_at_the_end_moves_about_one_in_n_plus_one_only_to_it(
    algorithm: str,
) -> None:
    before = make_placement(algorithm, HOSTS)
    five = [*HOSTS, Host("cdn5.example.com")]
    after = make_placement(algorithm, five)
    moved = [k for k in KEYS if before.first(k) != after.first(k)]
    assert {after.first(k) for k in moved} == {4}
    assert 0.17 <= len(moved) / len(KEYS) <= 0.23


def test_rendezvous_removing_any_host_moves_only_its_keys() -> None:
    before = Rendezvous(HOSTS)
    for removed in range(4):
        remaining = [h for i, h in enumerate(HOSTS) if i != removed]
        after = Rendezvous(remaining)
        for key in KEYS[:2000]:
            if before.first(key) != removed:
                assert remaining[after.first(key)] == HOSTS[before.first(key)]


def test_jump_removing_a_middle_host_moves_most_keys() -> None:
    names = [h.name for h in HOSTS]
    without_second = [names[0], *names[2:]]
    assert jump_moved_share(KEYS, names, names[:3]) == pytest.approx(0.25, abs=0.02)
    assert jump_moved_share(KEYS, names, without_second) > 0.5


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ("abcd", "abc", None),
        ("abcd", "abcde", None),
        ("abc", "abcde", None),
        ("abcd", "acd", "b was removed from the middle of the host list"),
        ("abcd", "ad", "b, c were removed from the middle of the host list"),
        ("abcd", "bacd", "the hosts were reordered"),
        ("abcd", "abdc", "the hosts were reordered"),
    ],
)
def test_jump_renumbering(before: str, after: str, reason: str | None) -> None:
    assert jump_renumbering(list(before), list(after)) == reason


@pytest.mark.parametrize("weights", [(1, 1, 1, 1), (3, 1, 1, 1), (1, 2, 3, 4)])
def test_rendezvous_honours_weights(weights: tuple[int, ...]) -> None:
    hosts = [Host(h.name, Fraction(w)) for h, w in zip(HOSTS, weights, strict=True)]
    counts = Counter(Rendezvous(hosts).first(k) for k in KEYS)
    for i, weight in enumerate(weights):
        assert counts[i] / len(KEYS) == pytest.approx(weight / sum(weights), abs=0.02)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["ring", "rendezvous", "jump"]),
    st.integers(min_value=1, max_value=12),
    st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=20),
)
def test_preference_lists_every_host_once_starting_with_first(
    algorithm: str, count: int, keys: list[str]
) -> None:
    placement = make_placement(algorithm, [Host(f"h{i}.example.com") for i in range(count)])
    for key in keys:
        order = list(placement.preference(key))
        assert sorted(order) == list(range(count))
        assert order[0] == placement.first(key)


def test_jump_preference_spreads_overflow() -> None:
    # The second choice of the keys whose first choice is host 0 is not always host 1.
    placement = Jump([Host(f"h{i}.example.com") for i in range(8)])
    seconds = Counter(list(placement.preference(k))[1] for k in KEYS if placement.first(k) == 0)
    assert len(seconds) == 7
    assert max(seconds.values()) < 2 * min(seconds.values())


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown algorithm 'hrw'"):
        make_placement("hrw", HOSTS)
