"""Faults of the machine in the middle of a build, really injected: a full disk, a
page that cannot be replaced, a read-only manifest folder, the output folder removed,
Ctrl-C and SIGTERM.

Each test checks the message (no traceback), the exit status, that no temporary file
or lock is left, that every file and the manifest are old or new, and that running
the build again gives the bytes of a clean build.

A full disk is faulted two ways: a small tmpfs that really fills up (root only, as
CI runs; skipped otherwise, with the reason) and a fault at the OS boundary
(``os.write`` fails with ENOSPC once a few temporary files are written), which always
runs. The test ids say which is which.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shard_assets import shard_site
from shard_assets.cli import main
from shard_assets.config import Settings, load_settings
from shard_assets.errors import FaultError, MissingFolderError
from shard_assets.files import TEMP_FILE

from .conftest import HOSTS, make_site, snapshot
from .faults import (
    IS_ROOT,
    blocks,
    can_chattr,
    chattr,
    child_env,
    cli_command,
    fill,
    group_gone,
    read_only_folder,
    resize,
    tmpfs,
    wait_until,
)
from .generators import (
    SPHINX_OWN_DIFFERENCE,
    configure,
    copy_mkdocs,
    copy_pelican,
    copy_sphinx,
    mkdocs_build,
    pelican_build,
    set_option,
    sphinx_build,
    sphinx_output,
)

OLD_HOSTS = HOSTS[:3]


def settings(manifest: Path, hosts: list[str]) -> Settings:
    return load_settings(
        {"hosts": hosts, "manifest": str(manifest)}, base_dir=manifest.parent, source="test"
    )


@dataclass
class Scenario:
    """A site built with three hosts (the old state), and what a build that adds a
    fourth host makes of it (the new state, from a clean build of a copy)."""

    site: Path
    manifest: Path
    old: dict[str, bytes]
    old_manifest: bytes
    new: dict[str, bytes]
    new_manifest: bytes

    def args(self, *extra: str) -> list[str]:
        """The CLI arguments of the build that moves to the new state."""
        args = ["build", str(self.site), "-q", "--manifest", str(self.manifest), *extra]
        for host in HOSTS:
            args += ["--host", host]
        return args

    def left(self, *, lock_file_may_stay: bool = False) -> int:
        """Check what a failed or interrupted build left, and return how many files
        are new: no temporary file, no lock held (nor its file, unless its folder is
        read-only), every file and the manifest old or new."""
        files = snapshot(self.site)
        assert not [name for name in files if TEMP_FILE.fullmatch(name.rsplit("/", 1)[-1])]
        assert not [p for p in self.manifest.parent.iterdir() if TEMP_FILE.fullmatch(p.name)]
        lock = self.manifest.with_name(f".{self.manifest.name}.lock")
        if lock_file_may_stay and lock.exists():
            with open(lock) as handle:  # not held: the next build can take it
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            assert not lock.exists()
        assert files.keys() == self.old.keys()
        for name, data in files.items():
            assert data in (self.old[name], self.new[name]), f"{name} is half-written"
        assert self.manifest.read_bytes() in (self.old_manifest, self.new_manifest)
        return sum(data != self.old[name] for name, data in files.items())

    def finish(self) -> None:
        """The next build finishes the job: the bytes of a clean build."""
        assert main(self.args()) == 0
        assert snapshot(self.site) == self.new
        assert self.manifest.read_bytes() == self.new_manifest

    def reset(self) -> None:
        """Put the old state back."""
        shutil.rmtree(self.site, ignore_errors=True)
        for name, data in self.old.items():
            path = self.site / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.manifest.write_bytes(self.old_manifest)


def scenario(
    tmp_path: Path, pages: int, where: Path | None = None, manifests: Path | None = None
) -> Scenario:
    site = make_site(where or tmp_path / "site", images=40, pages=pages)
    if manifests is not None:
        manifests.mkdir()
    manifest = (manifests or site.parent) / "shard-manifest.json"
    shard_site(site, settings(manifest, OLD_HOSTS))
    old, old_manifest = snapshot(site), manifest.read_bytes()
    clean = tmp_path / "clean"
    shutil.copytree(site, clean)
    shutil.copy(manifest, tmp_path / "clean.json")
    shard_site(clean, settings(tmp_path / "clean.json", HOSTS))
    new = snapshot(clean)
    assert sum(new[name] != old[name] for name in old) > pages // 2
    return Scenario(site, manifest, old, old_manifest, new, (tmp_path / "clean.json").read_bytes())


def one_message(err: str, *parts: str) -> None:
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


# -- a full disk --------------------------------------------------------------------------


def test_disk_full_tmpfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tmpfs(tmp_path / "disk", 2 << 20) as disk:
        case = scenario(tmp_path, pages=100, where=disk / "site")
        filler = fill(disk, leave=200 << 10)
        assert main(case.args("-j", "2")) == 1
        one_message(
            capsys.readouterr().err,
            ".html: no space left on device.",
            "Nothing was replaced: the output and the manifest are as they were",
            "Free space on that disk (the build needs about 294.5 KB for new copies of the files",
            "run the build again: it finishes the job.",
        )
        assert case.left() == 0
        filler.unlink()
        case.finish()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_disk_full_os_write(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    jobs: str,
) -> None:
    case = scenario(tmp_path, pages=100)
    real_write = os.write
    written = [0]

    def write(fd: int, data: bytes) -> int:
        # The 21st write to a temporary file of the build, in each process, finds the
        # disk full.
        if ".shard-assets-" in os.readlink(f"/proc/self/fd/{fd}"):
            written[0] += 1
            if written[0] > 20:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", write)
        assert main(case.args("-j", jobs)) == 1
    assert written[0] > 20 or jobs == "2"  # a worker's count is its own
    one_message(
        capsys.readouterr().err,
        ".html: no space left on device.",
        "Nothing was replaced: the output and the manifest are as they were",
        "Free space on that disk",
    )
    assert case.left() == 0
    case.finish()


# -- permissions --------------------------------------------------------------------------


def test_an_immutable_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not can_chattr(tmp_path):
        pytest.skip("needs chattr +i, which needs root (CI runs as root)")
    case = scenario(tmp_path, pages=20)
    page = case.site / "blog" / "post-7.html"
    chattr("+i", page)
    try:
        assert main(case.args()) == 1
        one_message(
            capsys.readouterr().err,
            f"{page}: operation not permitted.",
            "Nothing was replaced",
            "chattr -i if it is immutable",
        )
        assert case.left() == 0
    finally:
        chattr("-i", page)
    case.finish()


def test_a_read_only_page_is_replaced_and_stays_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Replacing a file needs its folder to be writable, not the file: no fault here.
    case = scenario(tmp_path, pages=5)
    page = case.site / "blog" / "post-3.html"
    page.chmod(0o444)
    case.finish()
    assert page.stat().st_mode & 0o777 == 0o444


def test_a_read_only_manifest_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = scenario(tmp_path, pages=5, manifests=tmp_path / "manifests")
    with read_only_folder(case.manifest.parent) as how:
        assert main(case.args()) == 1
        reason = "operation not permitted" if how == "chattr +i" else "permission denied"
        one_message(
            capsys.readouterr().err,
            f".shard-manifest.json.lock: {reason}.",
            "Nothing was written: the output and the manifest are as they were",
            "Make it writable",
        )
        assert case.left() == 0
    case.finish()


def on_phase(phase: str, at: int, action: Callable[[], None]) -> Callable[[str, int, int], None]:
    """A progress callback that runs ``action`` once ``phase`` reaches document ``at``."""

    def progress(name: str, done: int, total: int) -> None:
        if name == phase and done == at:
            action()

    return progress


def test_the_manifest_folder_turns_read_only_during_the_build(tmp_path: Path) -> None:
    if IS_ROOT and not can_chattr(tmp_path):
        pytest.skip("as root only chattr +i makes a folder read-only, and it is not available")
    case = scenario(tmp_path, pages=20, manifests=tmp_path / "manifests")
    folder = case.manifest.parent

    def lock_up() -> None:  # as root, permission bits stop nothing
        chattr("+i", folder) if IS_ROOT else folder.chmod(0o555)

    try:
        with pytest.raises(FaultError) as raised:
            shard_site(
                case.site, settings(case.manifest, HOSTS), progress=on_phase("rewrite", 5, lock_up)
            )
        error = raised.value
        assert error.path == str(case.manifest)
        assert error.state.startswith("Nothing was replaced")
        assert case.left(lock_file_may_stay=True) == 0
    finally:
        chattr("-i", folder) if IS_ROOT else folder.chmod(0o755)
    case.finish()


@pytest.mark.parametrize("phase", ["scan", "rewrite"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_output_folder_removed_during_the_build(tmp_path: Path, phase: str, jobs: int) -> None:
    case = scenario(tmp_path, pages=100)

    def remove() -> None:  # at once, as rm -rf of a folder no build writes to would
        os.rename(case.site, tmp_path / "removed")
        # A worker's temporary file created just before the rename can still appear in
        # the removed folder while rmtree empties it ("directory not empty"): again.
        for _ in range(100):
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp_path / "removed")
            if not (tmp_path / "removed").exists():
                return
            time.sleep(0.01)

    with pytest.raises(FaultError) as raised:
        shard_site(
            case.site,
            settings(case.manifest, HOSTS),
            jobs=jobs,
            progress=on_phase(phase, 10, remove),
        )
    message = str(raised.value)
    assert "no such file or directory" in message
    assert "It disappeared during the build" in message
    states = ["Nothing was written"] if phase == "scan" else ["Nothing was replaced"]
    if phase == "scan" and jobs > 1:
        # Two workers may have scanned every document before the parent, at its tenth,
        # removes the folder: the read that fails is then pass two's, before any rename.
        states.append("Nothing was replaced")
    assert any(state in message for state in states), message
    assert case.manifest.read_bytes() == case.old_manifest
    assert not case.site.exists()  # no temporary file recreated a folder
    case.reset()  # the generator builds the site again
    assert case.left() == 0
    case.finish()


def test_shard_site_on_a_missing_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "shard-manifest.json"
    with pytest.raises(MissingFolderError, match="no such folder"):
        shard_site(tmp_path / "nope", settings(manifest, HOSTS))
    assert not manifest.exists()
    assert not list(tmp_path.iterdir())


# -- Ctrl-C and SIGTERM -------------------------------------------------------------------


def _temporary_exists(site: Path) -> bool:
    for folder in (site, site / "blog"):
        with os.scandir(folder) as entries:
            if any(TEMP_FILE.fullmatch(entry.name) for entry in entries):
                return True
    return False


def _waiter(point: str, case: Scenario) -> Callable[[], bool]:
    """When the build has reached ``point``: scanning (it holds the lock), writing
    temporary files, or renaming them (the first page was replaced)."""
    lock = case.manifest.with_name(f".{case.manifest.name}.lock")
    first = case.site / "index.html"
    inode = first.stat().st_ino
    if point == "scan":
        return lock.exists
    if point == "write":
        return lambda: _temporary_exists(case.site)
    return lambda: first.stat().st_ino != inode


#: What the message says about the files, by where the build was stopped.
STATES = {
    "scan": "Nothing was written: the output and the manifest are as they were.",
    "write": "Nothing was replaced: the output and the manifest are as they were, and the "
    "temporary files were removed.",
    "rename": "files were replaced before it stopped, each one whole, and the others are as "
    "they were; the manifest is the old one.",
}


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A 500-page scenario, shared: each test starts with :meth:`Scenario.reset`."""
    return scenario(tmp_path_factory.mktemp("big"), pages=500)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_builds(big_case: Scenario, signum: int) -> None:
    case = big_case
    name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else "SIGTERM"
    for point in ("scan", "write", "rename"):
        # A late signal may find the build done; the rename phase is short, so try again.
        for _ in range(5):
            case.reset()
            process = subprocess.Popen(
                cli_command(case.site, case.manifest, HOSTS, "-j", "2"),
                env=child_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            if wait_until(_waiter(point, case), process):
                if signum == signal.SIGINT:  # Ctrl-C: a terminal signals the whole group
                    os.killpg(process.pid, signum)
                else:  # kill PID
                    process.send_signal(signum)
            _, err = process.communicate(timeout=60)
            assert group_gone(process.pid), "a worker outlived the build"
            if process.returncode == 0:
                assert snapshot(case.site) == case.new
                continue
            assert process.returncode == 128 + signum, err
            one_message(err, f"shard-assets: interrupted by {name}.", STATES[point])
            assert err.endswith("Run the build again: it finishes the job.\n")
            replaced = case.left()
            if point == "rename":
                assert 0 < replaced < sum(case.new[n] != case.old[n] for n in case.old)
            else:
                assert replaced == 0
            case.finish()
            break
        else:
            pytest.fail(f"no {name} landed while the build was at {point}")


@pytest.fixture
def no_signal_handlers() -> Iterator[None]:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    assert {s: signal.getsignal(s) for s in before} == before


def test_the_cli_puts_the_signal_handlers_back(tmp_path: Path, no_signal_handlers: None) -> None:
    case = scenario(tmp_path, pages=3)
    case.finish()


# -- the generator plugins ---------------------------------------------------------------


def _no_temporaries(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if TEMP_FILE.fullmatch(p.name)]


def _failed_on_a_full_disk(
    failed: subprocess.CompletedProcess[str], output: Path, manifest: Path, *parts: str
) -> None:
    """A generator's build on a full disk (the output on a tmpfs): status 1, the one
    message (and ``parts``, the generator's own), nothing left, no manifest written."""
    assert failed.returncode == 1
    one_message(
        failed.stdout + failed.stderr,
        ": no space left on device.",
        "Nothing was replaced: the output and the manifest are as they were",
        "Free space on that disk",
        *parts,
    )
    _no_temporaries(output)
    assert not manifest.exists()
    assert not manifest.with_name(".shard-manifest.json.lock").exists()


def _failed_on_a_read_only_folder(
    failed: subprocess.CompletedProcess[str], how: str, output: Path, folder: Path, *parts: str
) -> None:
    """A generator's build whose manifest ``folder`` was made read-only ``how``: status
    1, the one message (and ``parts``), nothing written there, no temporary file."""
    assert failed.returncode == 1
    reason = "operation not permitted" if how == "chattr +i" else "permission denied"
    one_message(
        failed.stdout + failed.stderr,
        f".shard-manifest.json.lock: {reason}.",
        "Nothing was written: the output and the manifest are as they were",
        *parts,
    )
    assert not list(folder.iterdir())
    _no_temporaries(output)


@pytest.fixture
def mkdocs_project(tmp_path: Path) -> Path:
    pytest.importorskip("mkdocs")
    return copy_mkdocs(tmp_path / "docs-project")


@pytest.fixture
def pelican_project(tmp_path: Path) -> Path:
    pytest.importorskip("pelican")
    return copy_pelican(tmp_path / "blog")


def test_mkdocs_disk_full_tmpfs(mkdocs_project: Path) -> None:
    project, site = mkdocs_project, mkdocs_project / "site"
    manifest = project / "shard-manifest.json"
    assert mkdocs_build(project).returncode == 0
    clean, clean_manifest = snapshot(site), manifest.read_bytes()
    manifest.unlink()
    shutil.rmtree(site)
    # Room for what MkDocs writes (less than the sharded pages), not for new copies.
    with tmpfs(site, blocks(clean) + 2 * 4096):
        failed = mkdocs_build(project)
        _failed_on_a_full_disk(failed, site, manifest, "Aborted with a BuildError!")
        # Workers wrote the pages once, sharded with the hosts guessed for this first
        # build, which the theme's unreferenced scripts make wrong: with no room to put
        # them back, they stay as the workers wrote them, and the message says so.
        assert re.search(r"/site/\S+: no space left on device\.", failed.stderr)
        assert "8 page(s) the generator wrote could not be put back" in failed.stderr
        pages = {n: d for n, d in snapshot(site).items() if n.endswith("index.html")}
        assert len(pages) == 8 and all(b"</html>" in data for data in pages.values())
        resize(site, 16 << 20)
        assert mkdocs_build(project).returncode == 0
        assert snapshot(site) == clean
        assert manifest.read_bytes() == clean_manifest


def test_mkdocs_read_only_manifest_folder(mkdocs_project: Path) -> None:
    project, site = mkdocs_project, mkdocs_project / "site"
    set_option(project, "manifest: shard-manifest.json", "manifest: manifests/shard-manifest.json")
    folder = project / "manifests"
    folder.mkdir()
    assert mkdocs_build(project).returncode == 0
    clean, clean_manifest = snapshot(site), (folder / "shard-manifest.json").read_bytes()
    (folder / "shard-manifest.json").unlink()
    with read_only_folder(folder) as how:
        failed = mkdocs_build(project)
        _failed_on_a_read_only_folder(failed, how, site, folder, "Aborted with a BuildError!")
        assert ".shard-manifest.json.lock: " in failed.stderr
    assert mkdocs_build(project).returncode == 0
    assert snapshot(site) == clean
    assert (folder / "shard-manifest.json").read_bytes() == clean_manifest


def test_pelican_disk_full_tmpfs(pelican_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # Pelican's log wraps lines at 80 otherwise
    project, output = pelican_project, pelican_project / "output"
    manifest = project / "shard-manifest.json"
    assert pelican_build(project).returncode == 0
    clean, clean_manifest = snapshot(output), manifest.read_bytes()
    manifest.unlink()
    shutil.rmtree(output)
    with tmpfs(output, blocks(clean) + 2 * 4096):
        _failed_on_a_full_disk(pelican_build(project), output, manifest)
        resize(output, 16 << 20)
        assert pelican_build(project).returncode == 0
        assert snapshot(output) == clean
        assert manifest.read_bytes() == clean_manifest


def test_pelican_read_only_manifest_folder(
    pelican_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # Pelican's log wraps lines at 80 otherwise
    project, output = pelican_project, pelican_project / "output"
    folder = project / "manifests"
    folder.mkdir()
    options = {"hosts": HOSTS, "manifest": str(folder / "shard-manifest.json")}
    assert pelican_build(project, SHARD_ASSETS=options).returncode == 0
    clean, clean_manifest = snapshot(output), (folder / "shard-manifest.json").read_bytes()
    (folder / "shard-manifest.json").unlink()
    with read_only_folder(folder) as how:
        failed = pelican_build(project, SHARD_ASSETS=options)
        _failed_on_a_read_only_folder(failed, how, output, folder)
    assert pelican_build(project, SHARD_ASSETS=options).returncode == 0
    assert snapshot(output) == clean
    assert (folder / "shard-manifest.json").read_bytes() == clean_manifest


#: Where the Sphinx tests keep the manifest: in a folder of its own, which one test
#: makes read-only. Every test has the same conf.py, so the clean build is shared
#: (Sphinx's .buildinfo records a checksum of the configuration).
SPHINX_MANIFEST = "manifests/shard-manifest.json"
#: How Sphinx shows the extension's failure: a logged error, of its own type.
SPHINX_FAILED = ("ERROR: shard-assets: ", "[shard_assets.failed]")


def _sphinx_sample(target: Path) -> Path:
    project = copy_sphinx(target)
    configure(project, f'shard_assets["manifest"] = "{SPHINX_MANIFEST}"')
    (project / SPHINX_MANIFEST).parent.mkdir()
    return project


@pytest.fixture(scope="module")
def sphinx_clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], bytes]:
    """The sample Sphinx project built once, clean: its output and its manifest, what
    the build after each Sphinx fault must give again."""
    pytest.importorskip("sphinx")
    pytest.importorskip("pydata_sphinx_theme")
    project = _sphinx_sample(tmp_path_factory.mktemp("sphinx-clean") / "docs")
    assert sphinx_build(project).returncode == 0
    return snapshot(project / "_build" / "html"), (project / SPHINX_MANIFEST).read_bytes()


@pytest.fixture
def sphinx_project(tmp_path: Path) -> Path:
    """A fresh copy of the sample Sphinx project, not built."""
    return _sphinx_sample(tmp_path / "docs")


def _sphinx_rebuilt_clean(project: Path, clean: dict[str, bytes]) -> None:
    """The build after a fault (a rebuild: Sphinx keeps its saved environment) gives
    the clean build's bytes, but for the searchindex.js Sphinx itself writes anew."""
    assert sphinx_build(project).returncode == 0
    assert sphinx_output(project) == {k: v for k, v in clean.items() if k != SPHINX_OWN_DIFFERENCE}


def test_sphinx_disk_full_tmpfs(
    sphinx_project: Path, sphinx_clean: tuple[dict[str, bytes], bytes]
) -> None:
    project, html = sphinx_project, sphinx_project / "_build" / "html"
    clean, clean_manifest = sphinx_clean
    manifest = project / SPHINX_MANIFEST
    # Room for what Sphinx writes (less than the sharded pages) and new copies of a
    # few pages (about 20 KB each), not of all (over 500 KB): some are staged when the
    # disk fills up, and must be removed.
    with tmpfs(html, blocks(clean) + 64 * 1024):
        failed = sphinx_build(project)
        _failed_on_a_full_disk(failed, html, manifest, *SPHINX_FAILED)
        assert ".html: no space left on device." in failed.stderr
        assert all(b"cdn1.example.com" not in data for data in snapshot(html).values())
        resize(html, 16 << 20)
        _sphinx_rebuilt_clean(project, clean)
        assert manifest.read_bytes() == clean_manifest


def test_sphinx_read_only_manifest_folder(
    sphinx_project: Path, sphinx_clean: tuple[dict[str, bytes], bytes]
) -> None:
    project, html = sphinx_project, sphinx_project / "_build" / "html"
    clean, clean_manifest = sphinx_clean
    folder = (project / SPHINX_MANIFEST).parent
    with read_only_folder(folder) as how:
        failed = sphinx_build(project)
        _failed_on_a_read_only_folder(failed, how, html, folder, *SPHINX_FAILED)
        assert ".shard-manifest.json.lock: " in failed.stderr
        assert all(b"cdn1.example.com" not in data for data in snapshot(html).values())
    _sphinx_rebuilt_clean(project, clean)
    assert (folder / "shard-manifest.json").read_bytes() == clean_manifest


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_pelican_rebuild_fault_puts_pelicans_pages_back(
    pelican_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pelican import Pelican
    from pelican.settings import read_settings

    project, output = pelican_project, pelican_project / "output"
    manifest = project / "shard-manifest.json"
    assert pelican_build(project).returncode == 0
    sharded, sharded_manifest = snapshot(output), manifest.read_bytes()
    assert pelican_build(project, "-o", str(tmp_path / "plain"), PLUGINS=[]).returncode == 0
    plain = {k: v for k, v in snapshot(tmp_path / "plain").items() if k.endswith(".html")}

    # A rebuild writes Pelican's pages sharded at once (the manifest places every
    # asset); the theme's CSS, copied afresh, is sharded at the end, and there the
    # disk is full: Pelican's pages must be put back as Pelican wrote them.
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".shard-assets-" in name and ".css." in name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.chdir(project)
    settings = read_settings(str(project / "pelicanconf.py"), override={"OUTPUT_PATH": str(output)})
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", write)
        with pytest.raises(FaultError) as raised:
            Pelican(settings).run()
    error = raised.value
    assert error.path.endswith(".css")
    assert error.reason == "no space left on device"
    assert error.state.startswith("Nothing was replaced: the output and the manifest are as")
    pages = {k: v for k, v in snapshot(output).items() if k.endswith(".html")}
    assert pages == plain
    _no_temporaries(output)
    assert manifest.read_bytes() == sharded_manifest
    assert not manifest.with_name(".shard-manifest.json.lock").exists()
    assert pelican_build(project).returncode == 0
    assert snapshot(output) == sharded


def test_pelican_page_write_fault_on_the_worker(
    pelican_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild with two jobs: one worker process writes Pelican's pages, sharded. The
    # fifth page it writes (of 9) finds the disk full (forked, the worker has this patch).
    from pelican import Pelican
    from pelican.settings import read_settings

    from shard_assets.build import handover

    project, output = pelican_project, pelican_project / "output"
    manifest = project / "shard-manifest.json"
    assert pelican_build(project).returncode == 0
    sharded, sharded_manifest = snapshot(output), manifest.read_bytes()
    real_write = handover.write_as_generated
    count = [0]

    def write(path: Path, text: str, files: handover.PageFiles) -> None:
        count[0] += 1
        if count[0] == 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, text, files)

    monkeypatch.chdir(project)
    options = {"hosts": HOSTS, "manifest": str(manifest), "jobs": 2}
    settings = read_settings(
        str(project / "pelicanconf.py"),
        override={"OUTPUT_PATH": str(output), "SHARD_ASSETS": options},
    )
    with monkeypatch.context() as patch:
        patch.setattr(handover, "write_as_generated", write)
        with pytest.raises(FaultError) as raised:
            Pelican(settings).run()
    error = raised.value
    assert error.path.endswith(".html")
    assert error.reason == "no space left on device"
    assert error.state.startswith("The manifest is as it was, and each page written so far")
    _no_temporaries(output)
    assert manifest.read_bytes() == sharded_manifest
    assert not manifest.with_name(".shard-manifest.json.lock").exists()
    assert pelican_build(project).returncode == 0
    assert snapshot(output) == sharded
