"""Timing child processes side by side: alternating rounds, medians, spreads, ratios
of pairs, and the machine's load while they ran.

A shared machine's speed changes from one minute to the next, so a figure means
something only beside the one it is compared with: each round runs every kind of
build once, in the same order, and a sharded build is compared with the plain build
of its own round (the ratio of the pair); the table gives the median of those ratios
and their range, beside the medians and ranges (min-max) of the times themselves.
"""

from __future__ import annotations

import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


#: The scan cache's environment variable (shard_assets.build.scan_cache): the
#: benchmarks keep the cache in their work folder (:func:`use_scan_cache`).
SCAN_CACHE = "SHARD_ASSETS_CACHE_DIR"


def use_scan_cache(work: Path) -> None:
    """Keep the builds' scan cache in ``work`` (never the user's), unless the caller's
    environment names a folder already (``off``: builds without the cache)."""
    os.environ.setdefault(SCAN_CACHE, str(work / "scan-cache"))


def forget_scans() -> None:
    """Empty the scan cache: the next build scans every document, as a build on a
    machine that never built the site (CI's fresh clone)."""
    folder = os.environ.get(SCAN_CACHE, "")
    if folder and folder.lower() != "off":
        shutil.rmtree(folder, ignore_errors=True)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with this checkout first on PYTHONPATH and a fixed
    SOURCE_DATE_EPOCH (generators put dates in pages)."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "SOURCE_DATE_EPOCH": "1700000000", **extra}


def check_child_imports_this_checkout() -> None:
    check_child_imports(ROOT)


def check_child_imports(package: Path, env: dict[str, str] | None = None) -> None:
    """Exit unless a child process (with ``env`` added) imports shard_assets from
    ``package`` (a folder it is in), then compile that package's bytecode (see
    :func:`compile_bytecode`)."""
    found = subprocess.run(
        [sys.executable, "-c", "import shard_assets; print(shard_assets.__file__)"],
        env=child_env(**(env or {})),
        cwd=package.parent,  # not this checkout's folder, first on sys.path
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(package.resolve()):
        raise SystemExit(f"child processes import {found}, not {package}")
    compile_bytecode(Path(found).parent)


def compile_bytecode(package: Path) -> None:
    """Write the ``__pycache__`` of ``package`` (a folder of modules), as pip does when
    it installs a wheel. Without it, a checkout run where PYTHONDONTWRITEBYTECODE is
    set (as on this project's machines) compiles every module from source in every
    build: about 0.05 s more per sharded build, which no user's installed copy pays,
    and which the plain build, importing nothing of it, never pays."""
    compileall.compile_dir(package, quiet=1)


@dataclass(frozen=True)
class Run:
    """One child process: wall and CPU time (user + system, its own children
    included), what it printed, and the 1-minute load average when it started."""

    wall: float
    cpu: float
    log: str
    load: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    """The machine's 1-minute load average."""
    return os.getloadavg()[0]


def run(command: Sequence[str], cwd: Path, **env: str) -> Run:
    """Run ``command`` after flushing what earlier runs wrote (``sync``, not timed);
    exits with its output when it fails."""
    os.sync()
    load = load_average()
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        list(command), cwd=cwd, env=child_env(**env), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    used = _children_cpu() - cpu
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return Run(wall, used, done.stdout + done.stderr, load)


@dataclass(frozen=True)
class Build:
    """One kind of build in a round: ``start`` runs it (timed), ``before`` readies the
    folder for it (not timed), ``check`` returns what is wrong with its log, or
    None. ``base`` is the key of the build it is compared with (None: it is a base)."""

    key: str
    label: str
    start: Callable[[], Run]
    base: str | None = "plain"
    before: Callable[[], None] = lambda: None
    check: Callable[[str], str | None] = lambda log: None


@dataclass
class Rounds:
    """The runs of each kind of build, round by round (index i of each list is round i)."""

    builds: list[Build]
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def loads(self) -> list[float]:
        return [r.load for runs in self.runs.values() for r in runs]


def alternate(builds: list[Build], repeat: int, progress: str = "") -> Rounds:
    """Run ``builds`` in order, ``repeat`` rounds; exits when a check fails."""
    rounds = Rounds(builds, {b.key: [] for b in builds})
    for n in range(repeat):
        for build in builds:
            build.before()
            done = build.start()
            problem = build.check(done.log)
            if problem:
                raise SystemExit(f"{progress}{build.label}: {problem}\n{done.log[-3000:]}")
            rounds.runs[build.key].append(done)
            if progress:
                print(
                    f"  {progress}round {n + 1}/{repeat}: {build.label}: {done.wall:.2f} s "
                    f"(CPU {done.cpu:.2f} s, load {done.load:.1f})",
                    file=sys.stderr,
                    flush=True,
                )
    return rounds


def spread(values: Sequence[float], unit: str = " s") -> str:
    """``median (min-max)``."""
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def added(values: Sequence[float]) -> str:
    """Ratios as what they add, ``+8.1% (+2.0..+12.5%)``: the median and the range."""
    return (
        f"{(statistics.median(values) - 1) * 100:+.1f}% "
        f"({(min(values) - 1) * 100:+.1f}..{(max(values) - 1) * 100:+.1f}%)"
    )


def pair_ratios(rounds: Rounds, key: str, base: str, what: str) -> list[float]:
    """Each round's ``key`` run over its ``base`` run, by wall or CPU time (``what``)."""
    pairs = zip(rounds.runs[key], rounds.runs[base], strict=True)
    return [getattr(run_, what) / getattr(plain, what) for run_, plain in pairs]


HEADER = [
    "build",
    "wall, median (min-max)",
    "added wall: pairs' median (range)",
    "CPU, median (min-max)",
    "added CPU: pairs' median (range)",
]


def rows(rounds: Rounds, site: str = "") -> list[list[str]]:
    """A table row per kind of build; a compared build's ratios are its pairs'."""
    out = []
    for build in rounds.builds:
        runs = rounds.runs[build.key]
        walls, cpus = [r.wall for r in runs], [r.cpu for r in runs]
        wall_added = cpu_added = ""
        if build.base is not None:
            wall_added = added(pair_ratios(rounds, build.key, build.base, "wall"))
            cpu_added = added(pair_ratios(rounds, build.key, build.base, "cpu"))
            if build.base != "plain":
                wall_added += f" over {build.base}"
                cpu_added += f" over {build.base}"
        label = f"{site}: {build.label}" if site else build.label
        out.append([label, spread(walls), wall_added, spread(cpus), cpu_added])
    return out


def load_line(loads: Sequence[float]) -> str:
    """The load average while a part ran, for its heading."""
    if not loads:
        return "load average: not sampled"
    return (
        f"load average (1 min, sampled before each run): median {statistics.median(loads):.1f}, "
        f"{min(loads):.1f}-{max(loads):.1f}, on {os.cpu_count()} cores"
    )


def table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)
