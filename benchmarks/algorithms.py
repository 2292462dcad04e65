"""Placement algorithms side by side: balance, movement on host changes, speed.

    PYTHONPATH=. python benchmarks/algorithms.py            # the tables in docs/algorithms.md
    PYTHONPATH=. python benchmarks/algorithms.py --hosts 4  # one host count

For 4, 8 and 16 hosts and 10,000 generated asset paths (theme CSS and JS, hashed JS
chunks, fonts, responsive images under img/YYYY/MM/, icons, a few videos), each
algorithm, bounded and unbounded, and the baselines users would otherwise pick are
measured in one run:

- peak/mean: the busiest host's asset count over the mean (1.00 is perfect);
- CV: the coefficient of variation (standard deviation / mean) of the counts;
- moved +1: the share of assets on another host after adding host N+1 at the end;
- moved -mid: the same after removing host N/2 + 1 from the middle of the list;
- "with manifest" columns: the same through shard-assets' manifest (the assets keep
  their hosts unless a rule moves them), which is what a build does, with the
  peak/mean after adding the host (kept assets move only past max_imbalance 0.10);
- keys/s: assets assigned per second. For shard-assets this is a whole fresh
  ``assign_hosts`` call (sorting, the bounded pass), for the baselines one function
  call per key; best of five runs (the figure is the least noisy on a busy machine).

A second table weighs the same paths by generated, realistic file sizes and compares
``balance_by: count`` with ``balance_by: bytes`` (peak/mean of bytes per host).

Baselines: ``len(url) % N``, ``crc32(url) % N``, ``md5(url) % N``, a plain md5 ring
with 100 points per host (``int(md5("host-i"))``), and uhashring's default ring
(``HashRing(nodes)``). uhashring's ketama mode is not listed: it equals
``ring, unbounded`` key for key (the test suite checks every one of 10,000 keys).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import statistics
import sys
import time
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction

from shard_assets.placement.assign import assign_hosts
from shard_assets.placement.ring import Host

TENTH = Fraction(1, 10)
ASSETS = 10_000
Lookup = Callable[[str], str]


def asset_paths(count: int = ASSETS, seed: int = 7) -> tuple[list[str], dict[str, int]]:
    """``count`` realistic asset paths of a static site, and a plausible size for each."""
    rng = random.Random(seed)
    words = (  # noqa: SIM905 (a sentence reads better than 33 quoted words)
        "harbour night ferry copper field aurora lines paper satellites saltwater hymns "
        "spring tour glass choir static juno fenwick rowe mira okafor library tuning knob "
        "queue player wide narrow install overview callout header pattern"
    ).split()
    paths: dict[str, int] = {}

    def add(path: str, size: int) -> None:
        if len(paths) < count:
            paths.setdefault(path, size)

    for name in ("base", "layout", "print", "syntax", "search", "admonitions", "fonts"):
        add(f"theme/css/{name}.css", rng.randint(2_000, 60_000))
    for name in ("main", "search", "player", "vendor", "polyfills"):
        add(f"theme/js/{name}.js", rng.randint(5_000, 250_000))
    for family in ("inter", "source-serif", "jetbrains-mono", "merriweather"):
        for weight in (300, 400, 500, 600, 700, 800):
            for style in ("normal", "italic"):
                for ext in ("woff2", "woff"):
                    add(f"fonts/{family}-{weight}-{style}.{ext}", rng.randint(15_000, 90_000))
    for _ in range(400):
        digest = hashlib.sha1(rng.randbytes(8)).hexdigest()[:8]
        add(f"assets/js/chunk-{digest}.js", int(rng.lognormvariate(9.5, 1.2)))
    for _ in range(150):
        add(f"img/icons/{rng.choice(words)}-{rng.randint(1, 99)}.svg", rng.randint(300, 4_000))
    for _ in range(12):
        add(f"media/{rng.choice(words)}-{rng.randint(1, 999)}.mp4", rng.randint(2, 12) * 10**6)
    while len(paths) < count:
        year, month = rng.randint(2015, 2025), rng.randint(1, 12)
        slug = "-".join(rng.sample(words, rng.randint(2, 4)))
        for width in (320, 640, 1024, 1600):
            add(f"img/{year}/{month:02d}/{slug}-{width}w.jpg", width * rng.randint(40, 140))
        if rng.random() < 0.3:
            add(f"img/{year}/{month:02d}/{slug}.webp", rng.randint(20_000, 200_000))
    return list(paths), paths


def spread(hosts: Sequence[str], assignment: Sequence[str]) -> tuple[float, float]:
    """Peak-to-mean and coefficient of variation of the per-host counts."""
    counts = Counter(assignment)
    values = [counts.get(h, 0) for h in hosts]
    mean = statistics.fmean(values)
    return max(values) / mean, statistics.pstdev(values) / mean


def moved(before: dict[str, str], after: dict[str, str]) -> float:
    return sum(before[k] != after[k] for k in before) / len(before)


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


# --- baselines -------------------------------------------------------------------------


def by_length(hosts: Sequence[str]) -> Lookup:
    return lambda key: hosts[len(key) % len(hosts)]


def by_crc32(hosts: Sequence[str]) -> Lookup:
    return lambda key: hosts[zlib.crc32(key.encode()) % len(hosts)]


def by_md5(hosts: Sequence[str]) -> Lookup:
    return lambda key: hosts[int(hashlib.md5(key.encode()).hexdigest(), 16) % len(hosts)]


def md5_ring(hosts: Sequence[str], replicas: int = 100) -> Lookup:
    owner = {
        int(hashlib.md5(f"{host}-{i}".encode()).hexdigest(), 16): host
        for host in hosts
        for i in range(replicas)
    }
    points = sorted(owner)

    def lookup(key: str) -> str:
        pos = bisect_left(points, int(hashlib.md5(key.encode()).hexdigest(), 16))
        return owner[points[pos % len(points)]]

    return lookup


def uhashring_default(hosts: Sequence[str]) -> Lookup:
    from uhashring import HashRing

    ring = HashRing(nodes=list(hosts))
    return lambda key: str(ring.get_node(key))


BASELINES: dict[str, Callable[[Sequence[str]], Lookup]] = {
    "`len(url) % N`": by_length,
    "`crc32 % N`": by_crc32,
    "`md5 % N`": by_md5,
    "md5 ring, 100 points/host": md5_ring,
    "uhashring (default ring)": uhashring_default,
}


# --- measurements ----------------------------------------------------------------------


def host_lists(count: int) -> tuple[list[str], list[str], list[str]]:
    """The hosts, the hosts plus one at the end, and the hosts less one in the middle."""
    names = [f"cdn{i}.example.com" for i in range(1, count + 1)]
    middle = count // 2
    return names, [*names, f"cdn{count + 1}.example.com"], names[:middle] + names[middle + 1 :]


def ours(
    paths: list[str], count: int, algorithm: str, bounded: bool
) -> tuple[float, float, float, float, float, float, float, float]:
    names, grown, shrunk = host_lists(count)

    def assign(hosts: list[str], previous: dict[str, str] | None = None) -> dict[str, str]:
        result = assign_hosts(
            paths,
            [Host(h) for h in hosts],
            TENTH,
            previous,
            names if previous is not None else None,
            algorithm=algorithm,
            bounded=bounded,
        )
        return dict(result.hosts_by_asset)

    first = assign(names)
    peak, cv = spread(names, [first[p] for p in paths])
    add_fresh = moved(first, assign(grown))
    remove_fresh = moved(first, assign(shrunk))
    after_add = assign(grown, first)
    add_kept = moved(first, after_add)
    peak_after, _ = spread(grown, [after_add[p] for p in paths])
    remove_kept = moved(first, assign(shrunk, first))
    speed = len(paths) / best_of(5, lambda: assign(names))
    return peak, cv, add_fresh, remove_fresh, add_kept, peak_after, remove_kept, speed


def baseline(
    paths: list[str], count: int, make: Callable[[Sequence[str]], Lookup]
) -> tuple[float, float, float, float, float]:
    names, grown, shrunk = host_lists(count)
    lookup = make(names)
    first = {p: lookup(p) for p in paths}
    peak, cv = spread(names, list(first.values()))
    grown_lookup, shrunk_lookup = make(grown), make(shrunk)
    add = moved(first, {p: grown_lookup(p) for p in paths})
    remove = moved(first, {p: shrunk_lookup(p) for p in paths})
    speed = len(paths) / best_of(5, lambda: [lookup(p) for p in paths])
    return peak, cv, add, remove, speed


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def balance_table(paths: list[str], count: int) -> list[str]:
    rows = [
        f"### {count} hosts ({len(paths):,} assets; host {count + 1} added at the end, "
        f"host {count // 2 + 1} removed from the middle)",
        "",
        "| algorithm | peak/mean | CV | moved +1 | moved -mid "
        "| with manifest: moved +1 (peak/mean after) | with manifest: moved -mid | keys/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for algorithm in ("ring", "rendezvous", "jump"):
        for bounded in (True, False):
            peak, cv, add, remove, add_kept, peak_after, remove_kept, speed = ours(
                paths, count, algorithm, bounded
            )
            label = f"**{algorithm}**, {'bounded' if bounded else 'unbounded'}"
            if algorithm == "ring" and bounded:
                label += " (default)"
            rows.append(
                f"| {label} | {peak:.3f} | {cv:.3f} | {pct(add)} | {pct(remove)} "
                f"| {pct(add_kept)} ({peak_after:.3f}) | {pct(remove_kept)} | {speed:,.0f} |"
            )
    for name, make in BASELINES.items():
        peak, cv, add, remove, speed = baseline(paths, count, make)
        rows.append(
            f"| {name} | {peak:.3f} | {cv:.3f} | {pct(add)} | {pct(remove)} | - | - "
            f"| {speed:,.0f} |"
        )
    return rows


def bytes_table(paths: list[str], sizes: dict[str, int], counts: Sequence[int]) -> list[str]:
    rows = [
        "### Bytes per host: `balance_by: count` against `balance_by: bytes` (ring, bounded)",
        "",
        f"Total {sum(sizes.values()) / 1e6:,.0f} MB; the largest asset is "
        f"{max(sizes.values()) / 1e6:.0f} MB.",
        "",
        "| hosts | count: peak/mean bytes | count: CV bytes "
        "| bytes: peak/mean bytes | bytes: CV bytes |",
        "|---:|---:|---:|---:|---:|",
    ]
    for count in counts:
        names = [f"cdn{i}.example.com" for i in range(1, count + 1)]
        hosts = [Host(h) for h in names]
        cells = []
        for loads in (None, sizes):
            result = assign_hosts(paths, hosts, TENTH, loads=loads).hosts_by_asset
            per_host: Counter[str] = Counter()
            for path, host in result.items():
                per_host[host] += sizes[path]
            values = [per_host[h] for h in names]
            mean = statistics.fmean(values)
            cells += [f"{max(values) / mean:.3f}", f"{statistics.pstdev(values) / mean:.3f}"]
        rows.append(f"| {count} | " + " | ".join(cells) + " |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, action="append", help="host counts (default 4 8 16)")
    args = parser.parse_args(argv)
    counts = args.hosts or [4, 8, 16]
    paths, sizes = asset_paths()
    started = time.perf_counter()
    print(
        f"<!-- {time.strftime('%Y-%m-%d')}, Python {platform.python_version()} "
        f"on {platform.machine()}, {platform.system()} -->"
    )
    for count in counts:
        print("\n".join(balance_table(paths, count)))
        print()
    print("\n".join(bytes_table(paths, sizes, counts)))
    print(f"\n<!-- measured in {time.perf_counter() - started:.0f} s -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
