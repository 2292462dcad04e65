"""What writing every file before renaming any costs (issue #12), measured side by side.

    python benchmarks/commit_order.py [--pages 1000] [--size 140000] [--repeat 7] [--work DIR]

A build's last step replaces the documents it rewrote. Two orders, on ``--pages``
existing files of ``--size`` bytes in ``--work`` (default: a temporary folder, on the
filesystem the build output would be on), each replaced with new bytes:

- ``one by one`` (before issue #12): each worker writes a temporary file and renames
  it over its target at once (``files.atomic_write``), so a full disk half-way
  leaves some files new and some old;
- ``all written, then renamed`` (now): the workers write every temporary file, and
  only then are they renamed (``build.commit.StagedFiles``), so a fault while writing leaves
  every file as it was; renamed by the build's process alone, or by the workers
  (what the build does).

Both run on ``--jobs`` worker processes (``parallel.run_each``, as the build does),
alternating, ``--repeat`` times; everything written is flushed (``sync``, not timed)
before each run. Medians and the ratio. The file sizes default to an average MkDocs
page of benchmarks/sites.py (142 MB over 1,001 pages).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shard_assets.build.commit import StagedFiles
from shard_assets.files import atomic_write, write_temporary
from shard_assets.parallel import run_each


def _replace_at_once(data: bytes, path: Path) -> str:
    atomic_write(path, data, sync=False)
    return ""


def _write_temporary(data: bytes, path: Path) -> str:
    return write_temporary(path, data, sync=False)


def one_by_one(paths: list[Path], data: bytes, jobs: int) -> None:
    for _ in run_each(_replace_at_once, paths, data, jobs, count=len(paths)):
        pass


def all_then_renamed(paths: list[Path], data: bytes, jobs: int, rename_jobs: int) -> None:
    staged = StagedFiles()
    for path, temp in zip(
        paths, run_each(_write_temporary, paths, data, jobs, count=len(paths)), strict=True
    ):
        staged.add(temp, path)
    staged.commit(rename_jobs)


def renamed_by_one_process(paths: list[Path], data: bytes, jobs: int) -> None:
    all_then_renamed(paths, data, jobs, 1)


def renamed_by_the_workers(paths: list[Path], data: bytes, jobs: int) -> None:
    all_then_renamed(paths, data, jobs, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=140_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        folder = Path(work)
        paths = [folder / f"page-{i:05d}.html" for i in range(args.pages)]
        for path in paths:
            path.write_bytes(b"a" * args.size)
        orders = {
            "one by one": one_by_one,
            "all written, then renamed by one process": renamed_by_one_process,
            "all written, then renamed by the workers": renamed_by_the_workers,
        }
        times: dict[str, list[float]] = {name: [] for name in orders}
        for round_ in range(args.repeat):
            for name, run in orders.items():
                subprocess.run(["sync"], check=True)
                data = bytes([97 + (round_ % 2)]) * args.size
                started = time.perf_counter()
                run(paths, data, args.jobs)
                times[name].append(time.perf_counter() - started)
        fs = os.statvfs(folder)
        print(
            f"{args.pages} files of {args.size:,} bytes replaced, --jobs {args.jobs}, "
            f"{args.repeat} alternating runs (block size {fs.f_bsize}) in {folder}"
        )
        base = statistics.median(times["one by one"])
        print("| order | median | ratio | runs (s) |")
        print("|---|---|---|---|")
        for name, runs in times.items():
            median = statistics.median(runs)
            listed = " ".join(f"{t:.3f}" for t in sorted(runs))
            print(f"| {name} | {median:.3f} s | {median / base:.2f}x | {listed} |")


if __name__ == "__main__":
    main()
