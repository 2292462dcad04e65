"""SIGKILL at any moment of a build leaves every file old or new, never half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shard_assets.files import TEMP_FILE

from .conftest import HOSTS, make_site, snapshot

ROOT = Path(__file__).resolve().parent.parent


def _command(site: Path, manifest: Path, hosts: list[str]) -> list[str]:
    args = [sys.executable, "-m", "shard_assets.cli", "build", str(site), "--quiet"]
    args += ["--manifest", str(manifest)]
    for host in hosts:
        args += ["--host", host]
    return args


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_builds_leave_old_or_new_files(tmp_path: Path) -> None:
    original = make_site(tmp_path / "original", images=40, pages=500)
    old_manifest = tmp_path / "old.json"
    subprocess.run(_command(original, old_manifest, HOSTS[:3]), check=True, env=_env())
    original_files = snapshot(original)
    old_manifest_bytes = old_manifest.read_bytes()

    # The finished result of the build that will be interrupted: a host is added.
    finished = tmp_path / "finished"
    shutil.copytree(original, finished)
    shutil.copy(old_manifest, tmp_path / "finished.json")
    started = time.monotonic()
    subprocess.run(_command(finished, tmp_path / "finished.json", HOSTS), check=True, env=_env())
    duration = time.monotonic() - started
    new_files = snapshot(finished)
    new_manifest_bytes = (tmp_path / "finished.json").read_bytes()
    changed = {name for name in new_files if new_files[name] != original_files[name]}
    assert changed, "the host change must rewrite files"

    # Kill points spread over the build, and then, since every file is written before
    # any is renamed and the renames take a few milliseconds, kills as soon as the
    # first file was renamed, until one lands among the renames (up to a bound).
    points: list[float | None] = [0.2, 0.4, 0.6, 0.8, *[None] * 6]
    partial_runs = 0
    for i, fraction in enumerate(points):
        if fraction is None and partial_runs:
            break
        site = tmp_path / f"run{i}"
        shutil.copytree(original, site)
        manifest = tmp_path / f"run{i}.json"
        shutil.copy(old_manifest, manifest)
        first = site / "index.html"
        inode = first.stat().st_ino
        process = subprocess.Popen(
            _command(site, manifest, HOSTS),
            env=_env(),
            stdout=subprocess.DEVNULL,  # nothing killed may keep the test's output open
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if fraction is not None:
            time.sleep(duration * fraction)
        else:
            while process.poll() is None and first.stat().st_ino == inode:
                pass
        # The whole build at once, its worker processes too, as a crash or an OOM kill
        # would: the next build must not find a dying worker still holding the lock.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

        files = snapshot(site)
        leftovers = {name for name in files if TEMP_FILE.fullmatch(name.rsplit("/", 1)[-1])}
        for name in leftovers:
            del files[name]
        assert files.keys() == original_files.keys()
        rewritten = 0
        for name, data in files.items():
            assert data in (original_files[name], new_files[name]), f"{name} is half-written"
            rewritten += data != original_files[name]
        assert manifest.read_bytes() in (old_manifest_bytes, new_manifest_bytes)
        partial_runs += 0 < rewritten < len(changed)

        # The next build finishes the job and removes what the killed one left behind:
        # its temporary files, and its lock file (unlocked: the kernel released it).
        subprocess.run(_command(site, manifest, HOSTS), check=True, env=_env())
        assert snapshot(site) == new_files
        assert manifest.read_bytes() == new_manifest_bytes
        assert not manifest.with_name(f".{manifest.name}.lock").exists()
    assert partial_runs >= 1, "no kill landed while files were being replaced"
