"""``shard-assets build`` on its own: large outputs (the scale run), peak memory, and
the unsharded copy on top, for benchmarks/build_overhead.py.

Each run shards a hard-linked copy of an unsharded output (made in ``work``, not timed):
shard-assets replaces the files it rewrites, so the original stays unsharded.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from benchmarks.profiles import summary
from benchmarks.sites import HOSTS, scale_output
from benchmarks.timing import (
    Build,
    Run,
    alternate,
    forget_scans,
    load_average,
    load_line,
    rows,
    run,
    table,
)

#: A child process's peak resident memory (KB: its own, its largest child's), printed
#: when it exits.
PEAK_RSS = (
    "import atexit, resource, runpy, sys; "
    "atexit.register(lambda: print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)); "
    "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)
HOST_ARGS = [arg for host in HOSTS for arg in ("--host", host)]


def fresh_copy(output: Path, work: Path) -> Path:
    """A hard-linked copy of ``output`` in ``work`` (the one before is removed)."""
    copy = work / "cli-run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(output, copy, copy_function=os.link)
    return copy


def cli(
    site: Path,
    manifest: Path,
    extra: Sequence[str] = (),
    profile: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Run:
    """``shard-assets build site`` (``--quiet``; ``--jobs`` at its default unless in
    ``extra``), with its peak RSS printed on a ``PEAK own child`` line of the log;
    ``env``: more environment (another tree's package)."""
    if profile is None:
        command = [sys.executable, "-c", PEAK_RSS, "shard_assets.cli"]
    else:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "shard_assets.cli"]
    command += ["build", str(site), *HOST_ARGS, "--manifest", str(manifest), "--quiet"]
    command += ["--site-url", "https://docs.example.org/", *extra]
    return run(command, site.parent, **(env or {}))


def peak(done: Run) -> tuple[int, int]:
    """The peak RSS (KB) of the process and of its largest worker."""
    line = next(line for line in done.log.splitlines() if line.startswith("PEAK"))
    _, own, child = line.split()
    return int(own), int(child)


def shard_copy(output: Path, work: Path, extra: Sequence[str] = ()) -> Run:
    """A first build (no manifest) on a fresh copy of ``output``."""
    manifest = work / "cli-run.json"
    manifest.unlink(missing_ok=True)
    forget_scans()  # a first build: no scan cache either
    return cli(fresh_copy(output, work), manifest, extra)


def _scale_builds(output: Path, work: Path, before: Mapping[str, str] | None = None) -> list[Build]:
    manifest = work / "scale.json"
    state: dict[str, Path] = {}

    def ready(first: bool) -> None:
        if first:
            manifest.unlink(missing_ok=True)
            forget_scans()  # a first build: no scan cache either
        state["site"] = fresh_copy(output, work)

    def shard(env: Mapping[str, str] | None) -> Callable[[], Run]:
        return lambda: cli(state["site"], manifest, env=env)

    trees: list[tuple[str, Mapping[str, str] | None]] = [("", None)]
    if before is not None:
        trees.append((", before", before))
    return [
        Build(key + tree, label + tree, shard(env), base=None, before=ready_for)
        for tree, env in trees
        for key, label, ready_for in (
            ("first", "first build (no manifest)", lambda: ready(True)),
            ("rebuild", "rebuild (manifest present)", lambda: ready(False)),
        )
    ]


def bench_scale(
    work: Path, pages: int, repeat: int, before: Mapping[str, str] | None = None
) -> str:
    """``shard-assets build`` (default ``--jobs``: the cores) on a ``pages`` output, a
    first build and a rebuild of a fresh copy, alternating; with peak memory. With
    ``before`` (another tree's environment), the same two with that tree, in the same
    rounds."""
    output = scale_output(work, pages)
    size = sum(p.stat().st_size for p in output.rglob("*.html")) / 1e6
    rounds = alternate(_scale_builds(output, work, before), repeat, progress="scale: ")
    body = rows(rounds)
    for row, build in zip(body, rounds.builds, strict=True):
        peaks = [peak(r) for r in rounds.runs[build.key]]
        row.append(f"{max(p[0] for p in peaks) / 1024:.0f} MB")
        row.append(f"{max(p[1] for p in peaks) / 1024:.0f} MB")
    header = ["shard-assets build", "wall, median (min-max)", "", "CPU, median (min-max)", ""]
    header += ["peak RSS, main", "largest worker"]
    body = [[r for i, r in enumerate(row) if i not in (2, 4)] for row in body]
    header = [h for i, h in enumerate(header) if i not in (2, 4)]
    shutil.rmtree(work / "cli-run", ignore_errors=True)
    return (
        f"{pages:,} pages, {size:.0f} MB of HTML, jobs: {os.cpu_count()} (the default)\n\n"
        f"{load_line(rounds.loads())}\n\n{table(header, body)}"
    )


def profile_scale(work: Path, pages: int, folder: Path) -> str:
    """The scale run's first build under cProfile with ``--jobs 1``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"scale-{pages}.prof"
    manifest = work / "scale-profile.json"
    manifest.unlink(missing_ok=True)
    forget_scans()  # a first build: no scan cache either
    cli(fresh_copy(scale_output(work, pages), work), manifest, ("--jobs", "1"), target)
    shutil.rmtree(work / "cli-run", ignore_errors=True)
    return f"### Profile: shard-assets build, {pages:,} pages, first build (--jobs 1)\n\n" + (
        summary(target)
    )


def bench_memory(work: Path, counts: Sequence[int]) -> str:
    """Peak RSS of a first build on outputs of ``counts`` pages, ``--jobs 1`` and the
    default (the cores)."""
    body = []
    loads = []
    for pages in counts:
        output = scale_output(work, pages)
        size = sum(p.stat().st_size for p in output.rglob("*.html")) / 1e6
        for jobs in ("1", str(os.cpu_count())):
            loads.append(load_average())
            done = shard_copy(output, work, ("--jobs", jobs))
            own, child = peak(done)
            body.append(
                [
                    f"{pages:,} pages, {size:.0f} MB",
                    f"--jobs {jobs}",
                    f"{own / 1024:.0f} MB",
                    f"{child / 1024:.0f} MB" if jobs != "1" else "-",
                    f"{done.wall:.2f} s",
                ]
            )
    shutil.rmtree(work / "cli-run", ignore_errors=True)
    header = ["output", "jobs", "peak RSS, main process", "largest worker", "wall"]
    return f"{load_line(loads)}\n\n{table(header, body)}\n"


def bench_cli_twin(
    output: Path, work: Path, repeat: int, before: dict[str, str] | None = None
) -> tuple[str, list[float]]:
    """``shard-assets build`` first builds of a fresh copy of ``output``, without and
    with ``--unsharded-copy``, alternating; with ``before`` (another tree's
    environment), the same two with that tree too."""
    twin = work / "cli-twin-h2"
    state: dict[str, Path] = {}
    manifest = work / "cli-twin.json"

    def ready() -> None:
        manifest.unlink(missing_ok=True)
        forget_scans()  # a first build: no scan cache either
        state["site"] = fresh_copy(output, work)

    builds = [
        Build(
            "cli",
            "shard-assets build, first build",
            lambda: cli(state["site"], manifest),
            base=None,
            before=ready,
        ),
        Build(
            "cli+twin",
            "the same, with --unsharded-copy",
            lambda: cli(state["site"], manifest, ("--unsharded-copy", str(twin))),
            base="cli",
            before=ready,
        ),
    ]
    if before is not None:
        builds += [
            Build(
                "cli, before",
                "before: shard-assets build, first build",
                lambda: cli(state["site"], manifest, env=before),
                base=None,
                before=ready,
            ),
            Build(
                "cli+twin, before",
                "before: the same, with --unsharded-copy",
                lambda: cli(state["site"], manifest, ("--unsharded-copy", str(twin)), env=before),
                base="cli, before",
                before=ready,
            ),
        ]
    rounds = alternate(builds, repeat, progress="cli twin: ")
    shutil.rmtree(twin, ignore_errors=True)
    shutil.rmtree(work / "cli-run", ignore_errors=True)
    from benchmarks.timing import HEADER

    return table(HEADER, rows(rounds)), rounds.loads()
