"""A consistent-hash ring with the libketama point layout.

Each host gets ``floor(40 * N * weight / total_weight)`` md5 digests of the string
``"<host>-<i>"``; each digest gives four little-endian 32-bit points. A key is hashed
the same way (the first four digest bytes), and its host is the owner of the first
point at or after the key's hash, wrapping around. This is what libketama,
libmemcached's ketama mode and uhashring compute, so build-time placements match
run-time clients that use them.

Python's salted ``hash()`` is never used: the ring is the same in every process.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

DIGESTS_PER_HOST = 40
POINTS_PER_DIGEST = 4


@dataclass(frozen=True)
class Host:
    """A shard hostname and its relative weight (1 unless configured)."""

    name: str
    weight: Fraction = Fraction(1)


def key_hash(key: str) -> int:
    """The ketama hash of ``key``: md5, first four bytes read little-endian."""
    # surrogateescape: a key from a file name that is not valid UTF-8 hashes as its bytes.
    digest = hashlib.md5(key.encode("utf-8", "surrogateescape"), usedforsecurity=False).digest()
    return int.from_bytes(digest[0:4], "little")


def _points(host: str, digests: int) -> Iterator[int]:
    for i in range(digests):
        digest = hashlib.md5(f"{host}-{i}".encode(), usedforsecurity=False).digest()
        for j in range(POINTS_PER_DIGEST):
            yield int.from_bytes(digest[4 * j : 4 * j + 4], "little")


class Ring:
    """An immutable ketama ring over ``hosts``.

    ``points`` is sorted and ``owners[i]`` is the index into ``hosts`` that owns
    ``points[i]``. When two hosts produce the same point, the host listed later wins,
    as in uhashring (libketama leaves it to qsort).
    """

    __slots__ = ("_walks", "hosts", "owners", "points")

    def __init__(self, hosts: Sequence[Host]) -> None:
        if not hosts:
            raise ValueError("a ring needs at least one host")
        self.hosts: tuple[Host, ...] = tuple(hosts)
        total = sum((h.weight for h in self.hosts), Fraction(0))
        owner_of: dict[int, int] = {}
        for index, host in enumerate(self.hosts):
            digests = math.floor(DIGESTS_PER_HOST * len(self.hosts) * host.weight / total)
            for point in _points(host.name, digests):
                owner_of[point] = index
        ordered = sorted(owner_of)
        self.points: tuple[int, ...] = tuple(ordered)
        self.owners: tuple[int, ...] = tuple(owner_of[p] for p in ordered)
        # Never empty: the heaviest host has at least 1/N of the weight, so at least
        # DIGESTS_PER_HOST digests.
        assert self.points
        self._walks: dict[int, tuple[int, ...]] = {}

    def position(self, key: str) -> int:
        """Index of the first point at or after the key's hash (wrapping to 0)."""
        pos = bisect_left(self.points, key_hash(key))
        return 0 if pos == len(self.points) else pos

    def first(self, key: str) -> int:
        """Index of the host that the plain ring (no load bound) assigns to ``key``."""
        return self.owners[self.position(key)]

    def lookup(self, key: str) -> str:
        """The host that the plain ring (no load bound) assigns to ``key``."""
        return self.hosts[self.first(key)].name

    def preference(self, key: str) -> tuple[int, ...]:
        """Every host index once, in the order met walking clockwise from ``key``.

        Hosts with no points on the ring (a tiny weight) come last, in configured
        order, so a bounded-load pass can always find a host with room.
        """
        start = self.position(key)
        walk = self._walks.get(start)
        if walk is None:
            walk = self._walk_from(start)
            self._walks[start] = walk
        return walk

    def _walk_from(self, start: int) -> tuple[int, ...]:
        seen: dict[int, None] = {}
        count = len(self.points)
        for offset in range(count):
            seen.setdefault(self.owners[(start + offset) % count], None)
            if len(seen) == len(self.hosts):
                break
        for index in range(len(self.hosts)):
            seen.setdefault(index, None)
        return tuple(seen)
