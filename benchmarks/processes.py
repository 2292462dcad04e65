"""Where a plugin build's CPU goes, process by process: the generator's own process
and the worker processes it started (the plugin's), side by side with the plain build.

    python benchmarks/processes.py --project /tmp/q21/mkdocs-1000 \\
        --plain mkdocs-plain.yml --sharded mkdocs-sharded.yml --repeat 4

Each round runs ``mkdocs build -q -f CONFIG`` for the plain and the sharded config,
in turn, each in a fresh Python process that builds in-process and then prints its
own resource usage (``getrusage(RUSAGE_SELF)``: MkDocs' process) and its children's
(``RUSAGE_CHILDREN``: the plugin's workers, which it waits for). The project is one
``benchmarks/build_overhead.py --work DIR`` leaves behind (its MkDocs site, with
``mkdocs-plain.yml`` and ``mkdocs-sharded.yml``). Rows are printed as they come.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

#: Run in the child: the build in-process, then its resource usage and its children's.
_CHILD = """
import resource, sys, time
from mkdocs.__main__ import cli
start = time.perf_counter()
try:
    cli(["build", "-q", "-f", sys.argv[1]])
except SystemExit as end:
    if end.code:
        raise
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
times = (wall, own.ru_utime, own.ru_stime, workers.ru_utime, workers.ru_stime)
print(" ".join(f"{value:.2f}" for value in times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True, help="the MkDocs project")
    parser.add_argument("--plain", default="mkdocs-plain.yml", help="config without the plugin")
    parser.add_argument("--sharded", default="mkdocs-sharded.yml", help="config with it")
    parser.add_argument("--repeat", type=int, default=4, help="rounds (4)")
    args = parser.parse_args()
    print("| round | build | wall | MkDocs' process: user, system | workers: user, system |")
    print("|---|---|---|---|---|")
    for round_ in range(1, args.repeat + 1):
        for label, config in (("plain", args.plain), ("sharded", args.sharded)):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, config],
                cwd=args.project,
                capture_output=True,
                text=True,
                check=True,
            )
            wall, user, system, w_user, w_system = done.stdout.split()[-5:]
            print(
                f"| {round_} | {label} | {wall} s | {user} s, {system} s "
                f"| {w_user} s, {w_system} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
