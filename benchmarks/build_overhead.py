"""What shard-assets adds to a real build (issues 4 and 21), measured side by side.

    python benchmarks/build_overhead.py [--pages 1000] [--repeat 7] [--only PART] [--work DIR]

Parts (``--only``, repeatable; all by default):

- ``pelican``, ``mkdocs``, ``sphinx`` (``builds``: all three): a ``--pages`` site
  (benchmarks/sites.py) built without and with shard-assets, alternating, ``--repeat``
  rounds: a first build (no manifest), a rebuild (manifest present), and the plain
  build and a rebuild into an empty output folder, as in CI, where the generator keeps
  its output (Pelican, Sphinx: MkDocs empties its site folder itself, and rebuilds once
  more with the scan cache emptied); Sphinx also rebuilds with one page changed (an
  incremental build: Sphinx writes that page, shard-assets goes over the whole
  output), then with another one (incremental again, as sphinx-autobuild's builds).
  The builds keep the scan cache (shard_assets/build/scan_cache.py) in the work
  folder: a first build and a CI-like rebuild start without one, as on a machine that
  never built the site; the other rebuilds find the build before's
  (``SHARD_ASSETS_CACHE_DIR=off`` measures every build without it).
- ``twin``: the same rebuilds with ``unsharded_copy`` on top, in each generator of
  ``--twin`` (all three), and
  ``shard-assets build`` without and with ``--unsharded-copy`` on the MkDocs output.
- ``rewriter``: the HTML rewriter on one core, the text in memory, on the pages of
  every site built in this run (MkDocs' when none), beside a read+write pass and a
  BeautifulSoup parse-and-serialize pass of the same files.
- ``jobs``: ``shard-assets build --jobs 1`` and ``--jobs 2`` on the MkDocs output.
- ``scale``: ``shard-assets build`` (``--jobs`` left at its default, the number of
  cores) on a ``--scale-pages`` output made without a generator (50,000 pages, about
  216 MB of HTML), a first build and a rebuild.
- ``memory``: peak memory (RSS) of ``shard-assets build`` on that kind of output at
  each of ``--memory-pages`` (1,000, 10,000 and 100,000 pages).

Every build runs in a child process with this checkout first on PYTHONPATH (checked),
after a ``sync`` (not timed). Each table gives medians and ranges (min-max) of wall
and CPU time (user + system, worker processes included) and, for a sharded build, the
median and range of its ratio to the plain build of the same round, with the machine's
load average while the part ran. ``--profile DIR`` also runs each sharded build once
more under cProfile (untimed), writes ``DIR/<site>-<build>.prof`` and prints where
shard-assets' time went (worker processes are not profiled).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import scale
from benchmarks.generators import SITES, Site
from benchmarks.rewriter import bench_rewriter
from benchmarks.scanners import export
from benchmarks.timing import (
    HEADER,
    ROOT,
    Rounds,
    alternate,
    check_child_imports,
    check_child_imports_this_checkout,
    load_line,
    rows,
    spread,
    table,
    use_scan_cache,
)

GENERATORS = ("pelican", "mkdocs", "sphinx")
PARTS = (*GENERATORS, "builds", "twin", "rewriter", "jobs", "scale", "memory")


def bench_site(
    site: Site, repeat: int, *, twin: bool, before: dict[str, str] | None = None
) -> tuple[str, Rounds]:
    """One generator's builds (or, with ``twin``, its rebuilds without and with the
    unsharded copy, and with ``before`` those of another tree too), alternating; the
    table and the rounds."""
    builds = site.twin_builds(before) if twin else site.builds()
    site.warm()
    rounds = alternate(builds, repeat, progress=f"{site.name}: ")
    site.verify()
    return table(HEADER, rows(rounds)), rounds


def bench_jobs(built: Path, work: Path, repeat: int) -> str:
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for jobs in (1, 2):
            times[jobs].append(scale.shard_copy(built, work, ("--jobs", str(jobs))).wall)
    one = statistics.median(times[1])
    body = [
        [
            f"--jobs {jobs}",
            spread(times[jobs]),
            f"{one / statistics.median(times[jobs]):.2f}x",
        ]
        for jobs in (1, 2)
    ]
    return table(["shard-assets build (first build)", "wall, median (min-max)", "speed-up"], body)


def main() -> None:  # noqa: PLR0912, PLR0915  one part after another, each optional
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages per site (1000)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds of each build (7)")
    parser.add_argument("--sample", type=int, default=50, help="pages per site, rewriter (50)")
    parser.add_argument("--work", type=Path, help="where to build (a temporary folder)")
    parser.add_argument("--only", choices=PARTS, action="append", help="a part (repeatable)")
    parser.add_argument("--theme", default="alabaster", help="the Sphinx site's theme (alabaster)")
    parser.add_argument("--scale-pages", type=int, default=50_000, help="scale run (50000)")
    parser.add_argument(
        "--memory-pages",
        default="1000,10000,100000",
        help="outputs of the memory part, in pages (1000,10000,100000)",
    )
    parser.add_argument(
        "--twin",
        type=lambda names: [n for n in names.split(",") if n],
        default=list(GENERATORS),
        help="the generators of the twin part (pelican,mkdocs,sphinx; '' for the CLI only)",
    )
    parser.add_argument("--profile", type=Path, help="also profile each sharded build here")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="twin and scale: also run their sharded builds with this git revision's "
        "shard_assets, in the same rounds (before and after side by side)",
    )
    args = parser.parse_args()
    only = set(args.only or PARTS)
    if "builds" in only:
        only |= set(GENERATORS)
    work = args.work or Path(tempfile.mkdtemp(prefix="shard-assets-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    use_scan_cache(work)
    check_child_imports_this_checkout()
    before = None
    if args.before:
        package = export(args.before, Path(tempfile.mkdtemp(prefix="shard-assets-before-")))
        before = {"PYTHONPATH": os.pathsep.join([str(package.parent), str(ROOT)])}
        check_child_imports(package, before)
    print(
        f"# shard-assets build overhead, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}\n"
        f"command: python benchmarks/build_overhead.py {' '.join(sys.argv[1:])}\n"
        + (f"before: {args.before}, its shard_assets in the same rounds\n" if before else ""),
        flush=True,
    )
    sites: dict[str, Site] = {}

    def site(name: str) -> Site:
        if name not in sites:
            sites[name] = SITES[name](work, args.pages, args.theme)
        return sites[name]

    for name in GENERATORS:
        if name in only:
            built = site(name)
            text, rounds = bench_site(built, args.repeat, twin=False)
            print(f"## {built.title} ({args.repeat} rounds)\n\n{load_line(rounds.loads())}\n")
            print(text + "\n", flush=True)
            if args.profile:
                print(built.profile(args.profile) + "\n", flush=True)
    if "twin" in only:
        for name in args.twin:
            built = site(name)
            text, rounds = bench_site(built, args.repeat, twin=True, before=before)
            print(
                f"## The unsharded copy on top: {built.title} ({args.repeat} rounds)\n\n"
                f"{load_line(rounds.loads())}\n\n{text}\n",
                flush=True,
            )
        mkdocs = site("mkdocs")
        text, loads = scale.bench_cli_twin(mkdocs.plain_output(), work, args.repeat, before)
        print("## The unsharded copy on top: shard-assets build on the MkDocs output\n")
        print(f"{load_line(loads)}\n\n{text}\n", flush=True)
    if "rewriter" in only:
        measured = list(sites.values()) or [site("mkdocs")]
        print(f"## The HTML rewriter (one core, median of {args.repeat})\n")
        for built in measured:
            output, manifest = built.plain_output(), built.manifest
            if not manifest.is_file():
                built.shard_once()
            print(f"### {built.title}\n")
            profile = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                profile = args.profile / f"rewriter-{built.name}.prof"
            text = bench_rewriter(output, manifest, args.sample, args.repeat, profile)
            print(text + "\n", flush=True)
    if "jobs" in only:
        print(f"## Worker processes (MkDocs output, median of {args.repeat})\n")
        print(bench_jobs(site("mkdocs").plain_output(), work, args.repeat) + "\n", flush=True)
    if "scale" in only:
        text = scale.bench_scale(work, args.scale_pages, args.repeat, before)
        print(f"## Scale: shard-assets build on {args.scale_pages:,} pages\n\n{text}\n", flush=True)
        if args.profile:
            print(scale.profile_scale(work, args.scale_pages, args.profile) + "\n", flush=True)
    if "memory" in only:
        counts = [int(n) for n in args.memory_pages.split(",")]
        print("## Peak memory of shard-assets build\n\n" + scale.bench_memory(work, counts))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
