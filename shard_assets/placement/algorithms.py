"""The placement algorithms: each gives every key a preference order over the hosts.

Three algorithms share one small interface, :class:`Placement`:

- ``ring`` (:class:`~shard_assets.placement.ring.Ring`): the libketama ring, the default.
- ``rendezvous`` (:class:`Rendezvous`): highest random weight hashing. Each host
  scores ``weight / -ln(h)`` for ``h`` uniform in (0, 1), taken from a 64-bit hash of
  the host and the key; hosts are preferred by descending score. Weights are exact
  in expectation, and a host's removal or addition moves only the keys it loses or
  wins.
- ``jump`` (:class:`Jump`): Lamping and Veach's jump consistent hash, for a numbered
  host list that only grows or shrinks at the end. It has no weights.

``first(key)`` is the host the algorithm alone picks; ``preference(key)`` yields
every host index once, ``first(key)`` first, and is what the bounded-load pass walks
when a host is full. Every hash is fixed (md5 for the ring, BLAKE2b for the others),
never Python's salted ``hash()``, so placements are the same in every process.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from typing import Protocol

from .ring import Host, Ring

ALGORITHMS = ("ring", "rendezvous", "jump")
MASK64 = (1 << 64) - 1


class Placement(Protocol):
    """What the assignment needs from an algorithm."""

    @property
    def hosts(self) -> tuple[Host, ...]:
        """The hosts, in configured order; indices below refer to this tuple."""
        ...

    def first(self, key: str) -> int:
        """Index of the host the algorithm alone assigns to ``key``."""
        ...

    def preference(self, key: str) -> Iterator[int] | tuple[int, ...]:
        """Every host index once, ``first(key)`` first."""
        ...


def hash64(data: bytes) -> int:
    """A fixed 64-bit hash: BLAKE2b with an 8-byte digest, read little-endian."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash of the 64-bit ``key`` into ``buckets``.

    The reference C++ from "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014),
    with the same 64-bit linear congruential step and double-precision division.
    """
    if buckets < 1:
        raise ValueError("jump_hash needs at least one bucket")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Rendezvous:
    """Weighted rendezvous (highest random weight) hashing over ``hosts``.

    A host's score for a key is ``weight / -ln(h)`` with ``h = (x + 1/2) / 2**53`` and
    ``x`` the top 53 bits of ``hash64(host + NUL + key)``; ties go to the host listed
    first. With equal weights the order is by ``x`` alone, compared as integers, so
    no floating-point logarithm is involved.
    """

    __slots__ = ("_equal", "_prefixes", "hosts")

    def __init__(self, hosts: Sequence[Host]) -> None:
        if not hosts:
            raise ValueError("rendezvous hashing needs at least one host")
        self.hosts: tuple[Host, ...] = tuple(hosts)
        self._prefixes = tuple(h.name.encode("utf-8") + b"\x00" for h in self.hosts)
        self._equal = len({h.weight for h in self.hosts}) == 1

    def scores(self, key: str) -> list[float] | list[int]:
        """Each host's score for ``key``, in host order (higher is preferred)."""
        data = key.encode("utf-8")
        draws = [hash64(prefix + data) >> 11 for prefix in self._prefixes]
        if self._equal:
            return draws
        return [
            float(host.weight) / -math.log((x + 0.5) / 2**53)
            for host, x in zip(self.hosts, draws, strict=True)
        ]

    def preference(self, key: str) -> tuple[int, ...]:
        """Host indices by descending score."""
        scores = self.scores(key)
        return tuple(sorted(range(len(scores)), key=lambda i: (-scores[i], i)))

    def first(self, key: str) -> int:
        """The highest-scoring host's index."""
        scores = self.scores(key)
        return max(range(len(scores)), key=lambda i: (scores[i], -i))


class Jump:
    """Jump consistent hashing over ``hosts``, numbered in configured order.

    A key's 64-bit hash is ``hash64(key)``; its host is ``jump_hash(hash, N)``. When
    that host is full, the bounded-load pass tries ``jump_hash`` of further hashes
    derived from the key (splitmix64 steps), so overflow spreads over all hosts
    rather than piling onto a neighbour; hosts never drawn come last, in order.
    Weights are not supported (the settings refuse them).
    """

    __slots__ = ("hosts",)

    def __init__(self, hosts: Sequence[Host]) -> None:
        if not hosts:
            raise ValueError("jump hashing needs at least one host")
        self.hosts: tuple[Host, ...] = tuple(hosts)

    def first(self, key: str) -> int:
        """``jump_hash(hash64(key), N)``."""
        return jump_hash(hash64(key.encode("utf-8")), len(self.hosts))

    def preference(self, key: str) -> Iterator[int]:
        """The first choice, then further jump draws, then the hosts never drawn."""
        count = len(self.hosts)
        seed = hash64(key.encode("utf-8"))
        seen: set[int] = set()
        draw = seed
        for attempt in range(4 * count):
            bucket = jump_hash(draw, count)
            if bucket not in seen:
                seen.add(bucket)
                yield bucket
                if len(seen) == count:
                    return
            draw = _splitmix64(seed + attempt)
        yield from (i for i in range(count) if i not in seen)


def make_placement(algorithm: str, hosts: Sequence[Host]) -> Placement:
    """The placement for ``algorithm`` (one of :data:`ALGORITHMS`) over ``hosts``."""
    if algorithm == "ring":
        return Ring(hosts)
    if algorithm == "rendezvous":
        return Rendezvous(hosts)
    if algorithm == "jump":
        return Jump(hosts)
    raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")


def jump_renumbering(previous: Sequence[str], current: Sequence[str]) -> str | None:
    """Why ``current`` renumbers hosts of ``previous`` under jump hashing, or None.

    Jump hashing numbers hosts by position, so hosts may be added or removed at the
    end of the list only: removing one from the middle, or reordering, gives every
    host after it a new number.
    """
    kept = set(current)
    survivors = [h for h in previous if h in kept]
    if list(previous[: len(survivors)]) == survivors and list(current[: len(survivors)]) == (
        survivors
    ):
        return None
    last = max((i for i, h in enumerate(previous) if h in kept), default=-1)
    middle = [h for h in previous[: last + 1] if h not in kept]
    if middle:
        verb = "was" if len(middle) == 1 else "were"
        return f"{', '.join(middle)} {verb} removed from the middle of the host list"
    return "the hosts were reordered"


def jump_moved_share(keys: Sequence[str], previous: Sequence[str], current: Sequence[str]) -> float:
    """The share of ``keys`` whose jump host differs between the two host lists."""
    if not keys or not previous or not current:
        return 0.0
    moved = 0
    for key in keys:
        digest = hash64(key.encode("utf-8"))
        if previous[jump_hash(digest, len(previous))] != current[jump_hash(digest, len(current))]:
            moved += 1
    return moved / len(keys)
