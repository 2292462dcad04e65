"""Where a plugin build's CPU goes, process by process: the generator's own process
and the worker processes it started (the plugin's), side by side with the plain build.

    python benchmarks/processes.py --project /tmp/q21/mkdocs-1000 \\
        --plain mkdocs-plain.yml --sharded mkdocs-sharded.yml --repeat 4
    python benchmarks/processes.py --generator pelican --project /tmp/q21/pelican-1000

Each round runs the plain build and the sharded one, in turn, each in a fresh Python
process that builds in-process and then prints its own resource usage
(``getrusage(RUSAGE_SELF)``: the generator's process) and its children's
(``RUSAGE_CHILDREN``: the plugin's workers, which it waits for). Rows are printed as
they come. The project is one ``benchmarks/build_overhead.py --work DIR`` leaves behind:

- MkDocs: ``mkdocs build -q -f CONFIG``, CONFIG ``mkdocs-plain.yml`` and
  ``mkdocs-sharded.yml``;
- Pelican: ``pelican -q -s pelicanconf.py -o output`` with ``BENCH_SHARD=1`` (the
  benchmark's settings shard then), the plain build with ``-e PLUGINS=[]`` besides.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import compile_bytecode

#: Run in the child: the build in-process (``argv[1]``: the generator, the rest its
#: arguments), then its resource usage and its children's.
_CHILD = """
import resource, sys, time
if sys.argv[1] == "mkdocs":
    from mkdocs.__main__ import cli as build
else:
    from pelican import main as build
start = time.perf_counter()
try:
    build(sys.argv[2:])
except SystemExit as end:
    if end.code:
        raise
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
times = (wall, own.ru_utime, own.ru_stime, workers.ru_utime, workers.ru_stime)
print(" ".join(f"{value:.2f}" for value in times))
"""


def builds(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The plain build and the sharded one: a label and the generator's arguments."""
    if args.generator == "mkdocs":
        return [
            ("plain", ["build", "-q", "-f", args.plain]),
            ("sharded", ["build", "-q", "-f", args.sharded]),
        ]
    pelican = ["-q", "-s", "pelicanconf.py", "-o", "output"]
    return [("plain", [*pelican, "-e", "PLUGINS=[]"]), ("sharded", pelican)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=("mkdocs", "pelican"), default="mkdocs")
    parser.add_argument("--project", type=Path, required=True, help="the generator's project")
    parser.add_argument("--plain", default="mkdocs-plain.yml", help="MkDocs: config without")
    parser.add_argument("--sharded", default="mkdocs-sharded.yml", help="MkDocs: config with")
    parser.add_argument("--repeat", type=int, default=4, help="rounds (4)")
    args = parser.parse_args()
    # The scan cache of a rebuild: the build before's, in the project, never the user's.
    os.environ.setdefault("SHARD_ASSETS_CACHE_DIR", str(args.project / "scan-cache"))
    import shard_assets  # the copy the children import

    compile_bytecode(Path(shard_assets.__file__).parent)
    name = "MkDocs'" if args.generator == "mkdocs" else "Pelican's"
    print(f"| round | build | wall | {name} process: user, system | workers: user, system |")
    print("|---|---|---|---|---|")
    for round_ in range(1, args.repeat + 1):
        for label, arguments in builds(args):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, args.generator, *arguments],
                cwd=args.project,
                env={**os.environ, "BENCH_SHARD": "1"},
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
