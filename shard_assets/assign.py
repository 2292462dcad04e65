"""Assigning hosts to assets: the manifest first, then the ring with bounded loads.

The rules, in order:

1. The manifest is authoritative: an asset it lists keeps its host while that host
   is still configured. Those assets count against the caps.
2. When hosts were added since the manifest was written, assets move onto the new
   hosts and only onto them: first those the plain ring now places on a new host
   (about 1/N of them), then, while an old host is above its cap, as many of its
   assets as needed. No asset moves between two old hosts.
3. New assets, and assets whose host was removed, are placed in a fixed order (key
   hash, then path): each goes to the first host clockwise from its key that is
   below its cap ("Consistent hashing with bounded loads", Mirrokni, Thorup and
   Zadimoghaddam). A fresh assignment therefore always passes the gate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from .balance import caps
from .ring import Host, Ring, key_hash


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


def placement_order(assets: Iterable[str]) -> list[str]:
    """Assets sorted by ketama key hash, then by path: the fixed order of the pass."""
    return sorted(assets, key=lambda a: (key_hash(a), a))


def assign_hosts(
    assets: Iterable[str],
    hosts: Sequence[Host],
    max_imbalance: Fraction,
    previous: Mapping[str, str] | None = None,
    previous_hosts: Iterable[str] | None = None,
) -> Assignment:
    """Give every asset in ``assets`` a host.

    ``previous`` is the manifest's asset -> host mapping and ``previous_hosts`` the
    hosts it was written for (used to tell which hosts are new); both may be None
    for a first build.
    """
    wanted = sorted(set(assets))
    ring = Ring(hosts)
    names = [h.name for h in hosts]
    configured = set(names)
    limit = caps(len(wanted), hosts, max_imbalance)
    load: Counter[str] = Counter()
    result: dict[str, str] = {}
    pending: list[str] = []
    old = dict(previous or {})

    for asset in wanted:
        host = old.get(asset)
        if host in configured:
            assert host is not None
            result[asset] = host
            load[host] += 1
        else:
            pending.append(asset)
    still_wanted = set(wanted)
    dropped = tuple(sorted(a for a in old if a not in still_wanted))

    moves: list[Move] = []
    if previous_hosts is not None and result:
        new_hosts = [n for n in names if n not in set(previous_hosts)]
        if new_hosts:
            moves = _move_to_new_hosts(ring, result, load, limit, set(new_hosts))

    for asset in placement_order(pending):
        host = _first_with_room(ring, asset, load, limit)
        result[asset] = host
        load[host] += 1
        if asset in old:
            moves.append(Move(asset, old[asset], host, "its host was removed"))

    return Assignment(
        hosts_by_asset=dict(sorted(result.items())),
        kept=sum(1 for a, h in result.items() if old.get(a) == h),
        placed=tuple(a for a in pending if a not in old),
        moves=tuple(sorted(moves, key=lambda m: m.asset)),
        dropped=dropped,
    )


def _first_with_room(ring: Ring, asset: str, load: Counter[str], limit: Mapping[str, int]) -> str:
    names = [h.name for h in ring.hosts]
    for index in ring.preference(asset):
        if load[names[index]] < limit[names[index]]:
            return names[index]
    # Unreachable while the caps add up to at least the number of assets, which
    # caps() guarantees; kept as a safe answer rather than an exception.
    return names[ring.preference(asset)[0]]


def _move_to_new_hosts(
    ring: Ring,
    result: dict[str, str],
    load: Counter[str],
    limit: Mapping[str, int],
    new_hosts: set[str],
) -> list[Move]:
    names = [h.name for h in ring.hosts]
    moves: list[Move] = []

    def new_host_with_room(asset: str) -> str | None:
        for index in ring.preference(asset):
            name = names[index]
            if name in new_hosts and load[name] < limit[name]:
                return name
        return None

    def move(asset: str, target: str, reason: str) -> None:
        moves.append(Move(asset, result[asset], target, reason))
        load[result[asset]] -= 1
        load[target] += 1
        result[asset] = target

    for asset in placement_order(result):
        if ring.lookup(asset) in new_hosts:
            target = new_host_with_room(asset)
            if target is not None:
                move(asset, target, "the ring now places it on a new host")

    for host in names:
        if host in new_hosts or load[host] <= limit[host]:
            continue
        for asset in placement_order(a for a, h in result.items() if h == host):
            if load[host] <= limit[host]:
                break
            target = new_host_with_room(asset)
            if target is None:
                break
            move(asset, target, f"{host} was above its cap")
    return moves


def rebalance_assignment(
    assignment: Assignment, hosts: Sequence[Host], max_imbalance: Fraction
) -> Assignment:
    """Move the fewest assets needed to bring every host within its cap.

    Exactly ``sum(load - cap)`` over the hosts above their caps move. From each such
    host, assets that the plain ring would not put there go first (they were passed
    on by the bounded pass, or placed by hand), then the rest in placement order;
    each goes to the first host with room clockwise from its key.
    """
    ring = Ring(hosts)
    result = dict(assignment.hosts_by_asset)
    limit = caps(len(result), hosts, max_imbalance)
    load: Counter[str] = Counter(result.values())
    moves = list(assignment.moves)
    for host in (h.name for h in hosts):
        if load[host] <= limit[host]:
            continue
        mine = placement_order(a for a, h in result.items() if h == host)
        mine.sort(key=lambda a: ring.lookup(a) == host)  # stable: misplaced ones first
        for asset in mine:
            if load[host] <= limit[host]:
                break
            target = _first_with_room(ring, asset, load, limit)
            if target == host:
                continue
            moves.append(Move(asset, host, target, f"rebalance: {host} was above its cap"))
            load[host] -= 1
            load[target] += 1
            result[asset] = target
    return replace(
        assignment,
        hosts_by_asset=dict(sorted(result.items())),
        moves=tuple(sorted(moves, key=lambda m: m.asset)),
        kept=assignment.kept - (len(moves) - len(assignment.moves)),
    )
