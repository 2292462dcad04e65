"""What shard-assets adds to a real build (issue #4), measured side by side.

    python benchmarks/build_overhead.py [--pages 1000] [--repeat 3] [--work DIR]

1. Builds: a ``--pages`` Pelican site and MkDocs site (benchmarks/sites.py), each
   built without and with shard-assets, alternating, ``--repeat`` times; the sharded
   builds are a first build (no manifest) and a rebuild (manifest present: pages are
   rewritten in memory). Pelican keeps its output folder between builds, so it is
   also built into an empty one, without and with shard-assets (a rebuild), as in
   CI; MkDocs empties its site folder itself. Medians and the ratio to the plain
   build. Everything written is flushed to disk before each build (``sync``, not
   timed), so no build pays for the writeback of the one before it.
2. The HTML rewriter on one core, on the MkDocs pages, beside a BeautifulSoup
   parse-and-serialize pass and a plain read+write pass of the same files.
3. ``shard-assets build --jobs 1`` and ``--jobs 2`` on the built MkDocs output.
4. Peak memory of ``shard-assets build`` on the MkDocs output and on a four times
   larger one (the pages copied into three more sets of sections).
5. The unsharded twin (``unsharded_copy``, for HTTP/2 visitors): MkDocs rebuilds
   and ``shard-assets build --jobs 2`` without and with it, alternating.

Every build runs in a child process with this checkout first on PYTHONPATH (checked).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.sites import HOSTS, ROOT, mkdocs_project, pelican_project

HOST_ARGS = [arg for host in HOSTS for arg in ("--host", host)]
# A child process's peak resident memory, printed when it exits.
PEAK_RSS = (
    "import atexit, resource, runpy, sys; "
    "atexit.register(lambda: print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)); "
    "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def child_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "SOURCE_DATE_EPOCH": "1700000000", **extra}


def check_child_imports_this_checkout() -> None:
    found = subprocess.run(
        [sys.executable, "-c", "import shard_assets; print(shard_assets.__file__)"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(ROOT):
        raise SystemExit(f"child processes import {found}, not this checkout ({ROOT})")


#: The CPU time (user + system) of the last :func:`run`, its worker processes included.
LAST_CPU = [0.0]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], cwd: Path, **env: str) -> tuple[float, str]:
    """Run ``command``; its wall time and output (its CPU time in ``LAST_CPU``)."""
    os.sync()
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=child_env(**env), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    LAST_CPU[0] = _children_cpu() - cpu
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout + done.stderr


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def html_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.html")) / 1e6


# --- 1. builds ----------------------------------------------------------------------


def bench_pelican(work: Path, pages: int, repeat: int) -> list[str]:
    project = pelican_project(work, pages)
    command = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output"]
    manifest = project / "shard-manifest.json"
    output = project / "output"
    times: Times = {name: ([], []) for name in (*BUILDS, *EMPTY_BUILDS)}
    run(command, project)  # warm the file cache
    for _ in range(repeat):
        _record(times["plain"], run(command, project)[0])
        manifest.unlink(missing_ok=True)
        _record(times["first"], run(command, project, BENCH_SHARD="1")[0])
        _record(times["rebuild"], run(command, project, BENCH_SHARD="1")[0])
        shutil.rmtree(output)
        _record(times["plain, empty"], run(command, project)[0])
        shutil.rmtree(output)
        _record(times["rebuild, empty"], run(command, project, BENCH_SHARD="1")[0])
    # Not timed: check that rebuilds rewrite the pages in memory, from an empty folder too.
    for empty in (False, True):
        if empty:
            shutil.rmtree(output)
        _, log = run([*command, "--verbose"], project, BENCH_SHARD="1")
        if "of those files in memory" not in " ".join(log.split()):
            raise SystemExit(f"the Pelican rebuild did not rewrite pages in memory:\n{log[-3000:]}")
    size = html_megabytes(output)
    site = f"Pelican, {pages} articles ({size:.0f} MB of HTML)"
    return _build_rows(site, times, BUILDS) + _build_rows(site, times, EMPTY_BUILDS)


def bench_mkdocs(work: Path, pages: int, repeat: int) -> tuple[list[str], Path]:
    plain = mkdocs_project(work, pages, sharded=False)
    sharded = mkdocs_project(work, pages, sharded=True)
    project = plain.parent
    manifest = project / "shard-manifest.json"

    def build(config: Path) -> tuple[float, str]:
        return run([sys.executable, "-m", "mkdocs", "build", "-f", str(config)], project)

    times: Times = {name: ([], []) for name in BUILDS}
    build(plain)
    for _ in range(repeat):
        _record(times["plain"], build(plain)[0])
        manifest.unlink(missing_ok=True)
        seconds, log = build(sharded)
        if "in memory" in log:
            raise SystemExit("the first build (no manifest) must not rewrite in memory")
        _record(times["first"], seconds)
        seconds, log = build(sharded)
        if "of those files in memory" not in log:
            raise SystemExit(f"the rebuild did not rewrite pages in memory:\n{log[-3000:]}")
        _record(times["rebuild"], seconds)
    size = html_megabytes(project / "site-plain")
    return _build_rows(f"MkDocs, {pages} pages ({size:.0f} MB of HTML)", times, BUILDS), project


#: Wall and CPU times of each kind of build.
Times = dict[str, tuple[list[float], list[float]]]

#: The builds of a site, the plain one first (the others are compared with it).
BUILDS = {
    "plain": "without shard-assets",
    "first": "with, first build (no manifest)",
    "rebuild": "with, rebuild (manifest present)",
}
#: Pelican into an empty output folder, as in CI.
EMPTY_BUILDS = {
    "plain, empty": "without, into an empty output folder",
    "rebuild, empty": "with, rebuild into an empty output folder",
}


def _record(into: tuple[list[float], list[float]], wall: float) -> None:
    into[0].append(wall)
    into[1].append(LAST_CPU[0])


def _build_rows(site: str, times: Times, builds: dict[str, str]) -> list[str]:
    """A row per build, each compared with the first of ``builds``."""
    base = next(iter(builds))
    wall_base, cpu_base = (median(values) for values in times[base])
    rows = []
    for name, label in builds.items():
        wall, cpu = (median(values) for values in times[name])
        added = "" if name == base else f"{(wall / wall_base - 1) * 100:+.1f}%"
        cpu_added = "" if name == base else f"{(cpu / cpu_base - 1) * 100:+.1f}%"
        runs = " ".join(f"{t:.2f}" for t in times[name][0])
        rows.append([site, label, f"{wall:.2f} s", added, f"{cpu:.2f} s", cpu_added, runs])
    return ["|".join(row) for row in rows]


# --- 2. the rewriter -------------------------------------------------------------------


def bench_rewriter(site: Path, manifest: Path, sample: int, repeat: int) -> str:
    from bs4 import BeautifulSoup

    from shard_assets.build.rewrite import Sharder
    from shard_assets.config import load_settings
    from shard_assets.documents.text import decode_document
    from shard_assets.manifest import read_manifest

    pages = sorted(site.rglob("*.html"))
    step = max(1, len(pages) // sample)
    files = pages[::step][:sample]
    documents = [(p, p.relative_to(site).as_posix(), p.read_bytes()) for p in files]
    texts = [(document, data.decode("utf-8")) for _, document, data in documents]
    size = sum(len(data) for _, _, data in documents) / 1e6
    settings = load_settings(
        {"hosts": HOSTS, "manifest": str(manifest), "site_url": "https://docs.example.org/"},
        base_dir=site,
        source="benchmark",
    )
    found = read_manifest(manifest)
    assert found is not None
    hosts = dict(found.assets)
    sharder = Sharder(settings)
    out = Path(tempfile.mkdtemp(prefix="rewriter-"))

    def read_write() -> None:
        for path, _, _ in documents:
            data = path.read_bytes()
            decoded = decode_document(data, False)
            assert decoded is not None
            (out / "page.html").write_bytes(decoded.encode(decoded.text))

    def rewrite_only() -> None:
        for document, text in texts:
            sharder.rewrite(text, document, hosts)

    def shard_assets_pass() -> None:
        for path, document, _ in documents:
            decoded = decode_document(path.read_bytes(), False)
            assert decoded is not None
            text, _ = sharder.rewrite(decoded.text, document, hosts)
            (out / "page.html").write_bytes(decoded.encode(text))

    def beautifulsoup() -> None:
        for path, _, _ in documents:
            soup = BeautifulSoup(path.read_bytes().decode("utf-8"), "html.parser")
            (out / "page.html").write_bytes(str(soup).encode("utf-8"))

    passes: list[tuple[str, Callable[[], None], int]] = [
        ("read + decode + encode + write (the floor)", read_write, repeat),
        ("shard-assets rewrite, text in memory (scan + splice)", rewrite_only, repeat),
        ("shard-assets: read + rewrite + write", shard_assets_pass, repeat),
        ('BeautifulSoup(html, "html.parser") + str(), read + write', beautifulsoup, 1),
    ]
    rewrite_only()  # the per-run memory of resolved URLs and tags, as in a build
    times = {name: [] for name, _, _ in passes}
    for i in range(repeat):
        for name, function, runs in passes:
            if i < runs:
                started = time.process_time()
                function()
                times[name].append(time.process_time() - started)
    shutil.rmtree(out)
    soup = size / median(times[passes[3][0]])
    rows = []
    for name, _, _ in passes:
        rate = size / median(times[name])
        rows.append([name, f"{rate:,.0f} MB/s", f"{rate / soup:.0f}x"])
    return (
        f"{len(documents)} MkDocs pages, {size:.1f} MB, CPU time of this process (one core), "
        f"median of {repeat} (BeautifulSoup: 1 run)\n\n"
        + table(["pass", "throughput", "vs BeautifulSoup"], rows)
    )


# --- 3. jobs, 4. memory ---------------------------------------------------------------


def shard_cli(site: Path, manifest: Path, jobs: int, *extra: str) -> tuple[float, int, int]:
    """Time and peak RSS (KB: this process, its largest worker) of one CLI build."""
    command = [sys.executable, "-c", PEAK_RSS, "shard_assets.cli", "build", str(site)]
    command += [*HOST_ARGS, "--manifest", str(manifest), "--quiet", "--jobs", str(jobs), *extra]
    command += ["--site-url", "https://docs.example.org/"]
    seconds, log = run(command, site.parent)
    peak = next(line for line in log.splitlines() if line.startswith("PEAK"))
    _, own, child = peak.split()
    return seconds, int(own), int(child)


def bench_jobs(built: Path, work: Path, repeat: int) -> str:
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for jobs in (1, 2):
            site = work / f"jobs-{jobs}"
            shutil.rmtree(site, ignore_errors=True)
            shutil.copytree(built, site, copy_function=os.link)
            manifest = work / f"jobs-{jobs}.json"
            manifest.unlink(missing_ok=True)
            times[jobs].append(shard_cli(site, manifest, jobs)[0])
            shutil.rmtree(site)
    one = median(times[1])
    rows = [
        [
            f"--jobs {jobs}",
            f"{median(times[jobs]):.2f} s",
            f"{one / median(times[jobs]):.2f}x",
            " ".join(f"{t:.2f}" for t in times[jobs]),
        ]
        for jobs in (1, 2)
    ]
    return table(["shard-assets build (first build)", "median", "speed-up", "runs"], rows)


def bench_twin(project: Path, work: Path, repeat: int) -> str:
    """The unsharded twin's cost (issue 13), alternating, wall and CPU time (user +
    system, workers included: it depends less on what else the machine runs):

    - ``mkdocs build`` rebuilds (manifest present) without and with
      ``unsharded_copy``, what a MkDocs user pays;
    - ``shard-assets build --jobs 2`` first builds on a copy of the plain output,
      without and with ``--unsharded-copy``, the twin against the sharding alone.
    """
    sharded = project / "mkdocs-sharded.yml"
    with_twin = project / "mkdocs-twin.yml"
    with_twin.write_text(sharded.read_text() + "      unsharded_copy: site-h2\n")
    run([sys.executable, "-m", "mkdocs", "build", "-f", str(sharded)], project)
    kinds = ("mkdocs", "mkdocs+twin", "cli", "cli+twin")
    times: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in kinds}
    for _ in range(repeat):
        for config, kind in ((sharded, "mkdocs"), (with_twin, "mkdocs+twin")):
            command = [sys.executable, "-m", "mkdocs", "build", "-f", str(config)]
            _record(times[kind], run(command, project)[0])
        for kind in ("cli", "cli+twin"):
            site = work / "twin-site"
            shutil.rmtree(site, ignore_errors=True)
            shutil.copytree(project / "site-plain", site, copy_function=os.link)
            manifest = work / "twin.json"
            manifest.unlink(missing_ok=True)
            extra = ["--unsharded-copy", str(work / "twin-h2")] if kind == "cli+twin" else []
            _record(times[kind], shard_cli(site, manifest, 2, *extra)[0])
            shutil.rmtree(site)
    written = sum(1 for p in (project / "site-h2").rglob("*") if p.is_file())
    shutil.rmtree(work / "twin-h2")
    labels = {
        "mkdocs": "mkdocs build, rebuild with shard-assets",
        "mkdocs+twin": "the same, with unsharded_copy",
        "cli": "shard-assets build --jobs 2, first build",
        "cli+twin": "the same, with --unsharded-copy",
    }
    rows = []
    for kind in kinds:
        walls, cpus = times[kind]
        base_walls, base_cpus = times[kind.removesuffix("+twin")]
        twin = kind.endswith("+twin")
        rows.append(
            [
                labels[kind],
                f"{median(walls):.2f} s",
                f"{median(walls) / median(base_walls) - 1:+.1%}" if twin else "",
                f"{median(cpus):.2f} s",
                f"{median(cpus) / median(base_cpus) - 1:+.1%}" if twin else "",
                " ".join(f"{t:.2f}" for t in walls),
            ]
        )
    header = ["build", "wall", "added", "CPU", "added", "wall, each run (s)"]
    return table(header, rows) + f"\n\nThe twin holds {written} documents."


def bench_memory(built: Path, work: Path) -> str:
    rows = []
    for copies in (1, 4):
        site = work / f"memory-{copies}"
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(built, site, copy_function=os.link)
        for n in range(1, copies):
            for section in sorted(built.glob("section-*")):
                shutil.copytree(section, site / f"{section.name}-{n}", copy_function=os.link)
        pages = sum(1 for _ in site.rglob("*.html"))
        size = html_megabytes(site)
        for jobs in (1, 2):
            manifest = work / f"memory-{copies}-{jobs}.json"
            manifest.unlink(missing_ok=True)
            copy = work / "memory-run"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(site, copy, copy_function=os.link)
            seconds, own, child = shard_cli(copy, manifest, jobs)
            shutil.rmtree(copy)
            worker = f"{child / 1024:.0f} MB" if jobs > 1 else "-"
            rows.append(
                [
                    f"{pages} pages, {size:.0f} MB",
                    f"--jobs {jobs}",
                    f"{own / 1024:.0f} MB",
                    worker,
                    f"{seconds:.2f} s",
                ]
            )
        shutil.rmtree(site)
    return table(["output", "jobs", "peak RSS, main process", "largest worker", "time"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages per site (1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each build (3)")
    parser.add_argument("--sample", type=int, default=50, help="pages for the rewriter pass")
    parser.add_argument("--work", type=Path, help="where to build (a temporary folder)")
    parts = ["builds", "rewriter", "jobs", "memory", "twin"]
    parser.add_argument("--only", choices=parts, action="append")
    args = parser.parse_args()
    only = set(args.only or parts)
    work = args.work or Path(tempfile.mkdtemp(prefix="shard-assets-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    check_child_imports_this_checkout()
    print(
        f"# shard-assets build overhead, {time.strftime('%Y-%m-%d')}\n\n"
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}\n"
        f"command: python benchmarks/build_overhead.py --pages {args.pages} "
        f"--repeat {args.repeat} --sample {args.sample}\n"
    )
    mkdocs_rows, project = [], None
    if "builds" in only:
        pelican_rows = bench_pelican(work, args.pages, args.repeat)
        mkdocs_rows, project = bench_mkdocs(work, args.pages, args.repeat)
        print(
            f"## Builds (median of {args.repeat}, alternating; CPU: user + system time "
            "of the build and its worker processes)\n"
        )
        rows = [line.split("|") for line in pelican_rows + mkdocs_rows]
        header = ["site", "build", "wall", "added", "CPU", "added", "wall, each run (s)"]
        print(table(header, rows) + "\n")
    if project is None:
        # Both configurations: --only without builds used to run mkdocs-plain.yml
        # without writing it.
        mkdocs_project(work, args.pages, sharded=False)
        project = mkdocs_project(work, args.pages, sharded=True).parent
        if not (project / "site-sharded").is_dir():
            run([sys.executable, "-m", "mkdocs", "build", "-f", "mkdocs-sharded.yml"], project)
        if not (project / "site-plain").is_dir():
            run([sys.executable, "-m", "mkdocs", "build", "-f", "mkdocs-plain.yml"], project)
    if "rewriter" in only:
        print("## The HTML rewriter\n")
        manifest = project / "shard-manifest.json"
        print(bench_rewriter(project / "site-plain", manifest, args.sample, args.repeat) + "\n")
    if "jobs" in only:
        print(f"## Worker processes (MkDocs output, median of {args.repeat})\n")
        print(bench_jobs(project / "site-plain", work, args.repeat) + "\n")
    if "twin" in only:
        print(f"## The unsharded twin (MkDocs output, median of {args.repeat})\n")
        print(bench_twin(project, work, args.repeat) + "\n")
    if "memory" in only:
        print("## Peak memory of shard-assets build (MkDocs output)\n")
        print(bench_memory(project / "site-plain", work) + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
