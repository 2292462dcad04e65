"""Helpers for tests that fault the machine under a build: a small tmpfs, immutable
and read-only files and folders, and a build in its own process group."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli_command(site: Path, manifest: Path, hosts: list[str], *extra: str) -> list[str]:
    """The ``shard-assets build`` command line, run by this checkout's Python."""
    args = [sys.executable, "-m", "shard_assets.cli", "build", str(site), "--quiet"]
    args += ["--manifest", str(manifest), *extra]
    for host in hosts:
        args += ["--host", host]
    return args


def child_env() -> dict[str, str]:
    """The environment for a child that imports this checkout."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}"}


@contextlib.contextmanager
def tmpfs(mount: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted on ``mount`` (root only; skips otherwise)."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8) (CI runs as root)")
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def resize(mount: Path, size: int) -> None:
    """Give the tmpfs on ``mount`` ``size`` bytes."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem of ``folder`` with a file of zeros until about ``leave``
    bytes are free; returns the file (delete it to free the space)."""
    filler = folder / "filler"
    info = os.statvfs(folder)
    todo = info.f_bavail * info.f_frsize - leave
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as handle:
        while todo > 0:
            handle.write(chunk[: min(todo, len(chunk))])
            todo -= len(chunk)
    return filler


def blocks(files: dict[str, bytes], size: int = 4096) -> int:
    """The bytes ``files`` take on a filesystem of ``size``-byte blocks."""
    return sum(-(-len(data) // size) * size for data in files.values())


def can_chattr(tmp: Path) -> bool:
    """Whether ``chattr +i`` works here (root, chattr(1), a filesystem with the flag)."""
    if not IS_ROOT or shutil.which("chattr") is None:
        return False
    probe = tmp / "chattr-probe"
    probe.write_bytes(b"")
    try:
        return chattr("+i", probe, check=False) == 0 and chattr("-i", probe) == 0
    finally:
        probe.unlink()


def chattr(flags: str, path: Path, *, check: bool = True) -> int:
    """Run ``chattr flags path``; its exit status."""
    return subprocess.run(["chattr", flags, str(path)], capture_output=True, check=check).returncode


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[str]:
    """``folder`` made read-only for this process: immutable (``chattr +i``) as root,
    whom permission bits do not stop, ``chmod 555`` otherwise. Yields how."""
    if IS_ROOT:
        if not can_chattr(folder.parent):
            pytest.skip("as root only chattr +i makes a folder read-only, and it is not available")
        chattr("+i", folder)
        try:
            yield "chattr +i"
        finally:
            chattr("-i", folder)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield "chmod 555"
        finally:
            folder.chmod(mode)


def wait_until(
    until: Callable[[], bool],
    process: subprocess.Popen[str],
    timeout: float = 30,
    pause: float = 0,
) -> bool:
    """Poll ``until()`` while ``process`` runs, ``pause`` seconds apart; whether it came
    true (not: the process ended, or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if until():
            return True
        time.sleep(pause)
    return False


def group_gone(pgid: int) -> bool:
    """Whether no process of the process group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
