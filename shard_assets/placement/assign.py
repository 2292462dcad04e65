"""Assigning hosts to assets: pins first, then the manifest (authoritative), then the
placement algorithm with bounded loads, each asset aiming at its host's fair share
within the caps (:mod:`~shard_assets.placement.balance`). The five rules, in order,
and why new assets aim at the fair share: docs/algorithms.md (The bounded-load pass).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from .algorithms import Placement, make_placement
from .balance import caps, within_cap
from .ring import Host, key_hash


@dataclass(frozen=True)
class Move:
    """An asset that changed host, and why."""

    asset: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class Assignment:
    """The result: ``hosts_by_asset`` maps every asset to a hostname."""

    hosts_by_asset: Mapping[str, str]
    kept: int
    placed: tuple[str, ...]
    moves: tuple[Move, ...]
    dropped: tuple[str, ...]
    pinned: tuple[str, ...] = ()


def placement_order(assets: Iterable[str], loads: Mapping[str, int] | None = None) -> list[str]:
    """The fixed order of the pass: largest load first, then ketama key hash, then path.

    With unit loads (``balance_by: count``) that is key hash, then path.
    """
    return sorted(assets, key=lambda a: (-(loads.get(a, 1) if loads else 1), key_hash(a), a))


def resolve_pins(assets: Iterable[str], pins: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Asset -> host for the assets that a ``(glob, host)`` pin matches (first match wins).

    Globs are ``fnmatch`` patterns over the output-relative path; ``*`` crosses ``/``.
    """
    if not pins:
        return {}
    pinned: dict[str, str] = {}
    for asset in assets:
        for pattern, host in pins:
            if fnmatch.fnmatchcase(asset, pattern):
                pinned[asset] = host
                break
    return pinned


class _State:
    """Loads and placements while the rules run."""

    def __init__(
        self,
        placement: Placement,
        loads: Mapping[str, int] | None,
        limit: Mapping[str, int],
        target: Mapping[str, int],
    ) -> None:
        self.placement = placement
        self.names = [h.name for h in placement.hosts]
        self.loads = loads
        self.limit = limit  # the gate's caps: max_imbalance over the fair share
        self.target = target  # where placement aims: the fair share, rounded up
        self.load: Counter[str] = Counter()
        self.result: dict[str, str] = {}

    @classmethod
    def of(
        cls,
        algorithm: str,
        hosts: Sequence[Host],
        max_imbalance: Fraction,
        loads: Mapping[str, int] | None,
        assets: Iterable[str],
    ) -> _State:
        """An empty state for placing ``assets`` (their loads set the caps)."""
        total = sum(loads.get(a, 1) for a in assets) if loads else sum(1 for _ in assets)
        return cls(
            make_placement(algorithm, hosts),
            loads,
            caps(total, hosts, max_imbalance),
            caps(total, hosts, Fraction(0)),
        )

    def size(self, asset: str) -> int:
        return self.loads.get(asset, 1) if self.loads is not None else 1

    def put(self, asset: str, host: str) -> None:
        self.result[asset] = host
        self.load[host] += self.size(asset)

    def take(self, asset: str) -> str:
        host = self.result.pop(asset)
        self.load[host] -= self.size(asset)
        return host

    def fits(self, host: str, size: int) -> bool:
        return self.load[host] == 0 or self.load[host] + size <= self.target[host]

    def first_with_room(
        self,
        asset: str,
        allowed: set[str] | None = None,
        exclude: str | None = None,
        *,
        fallback: bool = True,
    ) -> str | None:
        """The first host in ``asset``'s preference where it fits under its fair share
        (or that is empty), else (with ``fallback``) the first still below its fair
        share, else the first below its cap; None when none exists among ``allowed``
        minus ``exclude``."""
        size = self.size(asset)
        walked: list[str] = []
        for index in self.placement.preference(asset):  # lazy for jump: stop at the first fit
            host = self.names[index]
            if host == exclude or (allowed is not None and host not in allowed):
                continue
            if self.fits(host, size):
                return host
            walked.append(host)
        if not fallback:
            return None
        for room in (self.target, self.limit):
            for candidate in walked:
                if self.load[candidate] < room[candidate]:
                    return candidate
        return None


def assign_hosts(
    assets: Iterable[str],
    hosts: Sequence[Host],
    max_imbalance: Fraction,
    previous: Mapping[str, str] | None = None,
    previous_hosts: Iterable[str | Host] | None = None,
    *,
    algorithm: str = "ring",
    bounded: bool = True,
    loads: Mapping[str, int] | None = None,
    pins: Mapping[str, str] | None = None,
) -> Assignment:
    """Give every asset in ``assets`` a host.

    ``previous`` is the manifest's asset -> host mapping and ``previous_hosts`` the
    hosts it was written for (names, or :class:`Host` with weights: used to tell which
    hosts are new or have a larger share); both may be None for a first build.
    ``loads`` gives each asset's load (1 when None), and ``pins``
    maps pinned assets to their hosts (see :func:`resolve_pins`).
    """
    wanted = sorted(set(assets))
    state = _State.of(algorithm, hosts, max_imbalance, loads, wanted)
    placement = state.placement
    names = state.names
    configured = set(names)
    old = dict(previous or {})
    pinned = {a: h for a, h in (pins or {}).items() if h in configured}
    moves: list[Move] = []
    pending: list[str] = []

    for asset in wanted:
        host = pinned.get(asset) or old.get(asset)
        if host in configured:
            assert host is not None
            state.put(asset, host)
            if asset in pinned and asset in old and old[asset] != host:
                moves.append(Move(asset, old[asset], host, f"it is pinned to {host}"))
        else:
            pending.append(asset)
    still_wanted = set(wanted)
    dropped = tuple(sorted(a for a in old if a not in still_wanted))

    new_hosts, grown = _new_and_grown(hosts, previous_hosts)
    if new_hosts:
        moves += _move_to_new_hosts(state, pinned, new_hosts, bounded)
    if grown and bounded:
        moves += _relieve_hosts_over_cap(state, pinned, grown, only_new=True)

    for asset in placement_order(pending, loads):
        if bounded:
            host = state.first_with_room(asset) or names[placement.first(asset)]
        else:
            host = names[placement.first(asset)]
        state.put(asset, host)
        if asset in old:
            moves.append(Move(asset, old[asset], host, "its host was removed"))

    result = state.result
    return Assignment(
        hosts_by_asset=dict(sorted(result.items())),
        kept=sum(1 for a, h in result.items() if old.get(a) == h),
        placed=tuple(a for a in wanted if a not in old),
        moves=tuple(sorted(moves, key=lambda m: m.asset)),
        dropped=dropped,
        pinned=tuple(sorted(pinned)),
    )


def _new_and_grown(
    hosts: Sequence[Host], previous_hosts: Iterable[str | Host] | None
) -> tuple[set[str], set[str]]:
    """The hosts added since the manifest, and those plus the hosts given a larger
    weight: only these take assets from hosts left above their caps (rule 4).

    Weights, not shares: removing a host raises every other host's share, and that
    must not let assets move between the hosts that stay.
    """
    if previous_hosts is None:
        return set(), set()
    listed = list(previous_hosts)
    old = {h.name if isinstance(h, Host) else h: h for h in listed}
    new = {h.name for h in hosts if h.name not in old}
    grown = {
        h.name
        for h in hosts
        if isinstance(before := old.get(h.name), Host) and h.weight > before.weight
    }
    return new, new | grown


def _move_to_new_hosts(
    state: _State, pinned: Mapping[str, str], new_hosts: set[str], bounded: bool
) -> list[Move]:
    """Rule 3: assets whose first choice is now a new host move there (if it has room)."""
    moves: list[Move] = []
    for asset in placement_order(state.result, state.loads):
        if asset in pinned or state.names[state.placement.first(asset)] not in new_hosts:
            continue
        if bounded:
            target = state.first_with_room(asset, allowed=new_hosts, fallback=False)
            if target is None:
                continue
        else:
            target = state.names[state.placement.first(asset)]
        old = state.take(asset)
        state.put(asset, target)
        moves.append(Move(asset, old, target, "its first choice is now a new host"))
    return moves


def _relieve_hosts_over_cap(
    state: _State, pinned: Mapping[str, str], new_hosts: set[str], *, only_new: bool = False
) -> list[Move]:
    """Each host outside the gate gives up the fewest assets needed (rule 4, and the
    ``rebalance`` command).

    From each such host, the assets the algorithm alone would not put there go first
    (the bounded pass or a hand edit put them there), then the rest, each group in
    placement order; each goes to the first host with room in its own preference
    order, new hosts first. With ``only_new``, only new hosts take them.
    """
    moves: list[Move] = []
    for index, host in enumerate(state.names):
        movable = sorted(
            placement_order(
                (a for a, h in state.result.items() if h == host and a not in pinned),
                state.loads,
            ),
            key=lambda a: state.placement.first(a) == index,  # stable: misplaced ones first
        )
        largest_from = [0] * (len(movable) + 1)  # largest load among movable[i:]
        for i in range(len(movable) - 1, -1, -1):
            largest_from[i] = max(largest_from[i + 1], state.size(movable[i]))
        for i, asset in enumerate(movable):
            if within_cap(state.load[host], state.limit[host], len(movable) - i, largest_from[i]):
                break
            # Added hosts first: only where the asset fits, unless only they may take it.
            target = (
                state.first_with_room(asset, allowed=new_hosts, exclude=host, fallback=only_new)
                if new_hosts
                else None
            )
            if target is None and not only_new:
                target = state.first_with_room(asset, exclude=host)
            if target is None:
                break
            state.take(asset)
            state.put(asset, target)
            moves.append(Move(asset, host, target, f"rebalance: {host} was above its cap"))
    return moves


def rebalance_assignment(
    assignment: Assignment,
    hosts: Sequence[Host],
    max_imbalance: Fraction,
    *,
    algorithm: str = "ring",
    loads: Mapping[str, int] | None = None,
) -> Assignment:
    """Move the fewest assets needed to bring every host within the gate (rule 4).

    This is the ``rebalance`` command: the way out when the gate fails on a kept
    manifest (a hand edit, many assets removed from the other hosts) or on the plain
    algorithm's spread with ``bounded: false``. Pinned assets never move.
    """
    state = _State.of(algorithm, hosts, max_imbalance, loads, assignment.hosts_by_asset)
    for asset, host in assignment.hosts_by_asset.items():
        state.put(asset, host)
    pinned = dict.fromkeys(assignment.pinned, "")
    moves = _relieve_hosts_over_cap(state, pinned, set())
    if not moves:
        return assignment
    all_moves = tuple(sorted((*assignment.moves, *moves), key=lambda m: m.asset))
    changed = set(assignment.placed) | {m.asset for m in all_moves}
    return replace(
        assignment,
        hosts_by_asset=dict(sorted(state.result.items())),
        moves=all_moves,
        kept=len(state.result) - len(changed),
    )
