"""Where a profiled build spent shard-assets' time: the package's functions from a
cProfile file, by cumulative time.

Run as ``python -m benchmarks.profiles OUT MODULE ARGS...``, it runs ``python -m
MODULE ARGS...`` under cProfile with the process's CPU time as the clock (on a busy
machine a wall-clock profile charges other processes' time to whatever was running)
and writes the statistics to OUT however the module exits. Worker processes are not
profiled: profile with ``jobs: 1`` to see the whole pass.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import time
from pathlib import Path

from benchmarks.timing import table

#: Functions shown per profile.
TOP = 25


def summary(profile: Path, package: str = "shard_assets") -> str:
    """The whole run's CPU time and ``package``'s functions by cumulative time."""
    stats = pstats.Stats(str(profile))
    total = stats.total_tt  # type: ignore[attr-defined]
    found = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if f"/{package}/" in filename:
            where = filename.split(f"/{package}/", 1)[1]
            found.append((cumulative, own, calls, f"{where}:{line} {name}"))
    found.sort(reverse=True)
    body = [
        [function, f"{calls:,}", f"{own:.3f}", f"{cumulative:.3f}"]
        for cumulative, own, calls, function in found[:TOP]
    ]
    return f"whole run: {total:.2f} s of CPU (cProfile's own overhead included)\n\n" + table(
        ["function", "calls", "own s", "cumulative s"], body
    )


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
