"""Ctrl-C and SIGTERM in the middle of a generator's build with the plugin, really sent.

A real ``mkdocs build``, ``pelican`` and ``sphinx-build`` (and a ``mkdocs serve``
rebuild) of a few hundred pages, with ``jobs: 2``, runs in its own process group; at
several points of the build, Ctrl-C goes to the whole group (as a terminal sends it)
or SIGTERM to the generator's process (as ``kill`` does). Then what is left is
checked: no temporary file of ours in the output or beside the manifest, no lock
file, no process of the group; the manifest old or new; every file old, new or as
the generator wrote it itself (but at most one, the one the generator was writing
when it stopped, cut short); and the generator's own ending, its status and its
words, as without the plugin. After the three points, the next build gives the bytes
of a clean build.

Each interrupted build prints what it left (``pytest -rP`` shows it): the figures in
docs/reliability.md come from there.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shard_assets.files import TEMP_FILE
from testing.servers import free_port

from .conftest import HOSTS, ROOT, SAMPLE_SITE, png, snapshot
from .faults import group_gone, wait_until
from .generators import SPHINX_OWN_DIFFERENCE

#: What a document a build sharded shows.
SHARDED = re.compile(rb"//cdn\d\.example\.com/")

#: The environment of every build: the same build date everywhere (MkDocs' sitemap),
#: Pelican's log on one line, no colours, and this checkout imported.
ENV = {
    "SOURCE_DATE_EPOCH": "1700000000",
    "NO_COLOR": "1",
    "COLUMNS": "1000",
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}

PAGES = 200
IMAGES = 120
#: How often the tests look at the build's files (a busy loop would take a core of two).
POLL = 0.002

#: A condition on the build's files, made afresh for each build.
Point = Callable[[], Callable[[], bool]]

each_signal = pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)


@dataclass
class Interruptible:
    """A generator's project, built, and every state an interrupted build may leave
    its files in."""

    name: str
    command: list[str]
    cwd: Path
    output: Path
    manifest: Path
    #: What the generator does with each signal itself: its exit status, and words
    #: it prints (None: nothing to look for).
    reactions: dict[int, tuple[int, str | None]]
    #: Whether the build ran to its end (from its status and what it printed).
    completed: Callable[[int, str], bool]
    #: Each file's possible states: old, new, the generator's own.
    states: dict[str, set[bytes]] = field(default_factory=dict)
    new: dict[str, bytes] = field(default_factory=dict)
    new_manifest: bytes = b""
    old_manifest: bytes = b""
    #: Folders put back before each interrupted build (and their copies).
    saved: list[tuple[Path, Path]] = field(default_factory=list)
    #: Files the generator itself writes differently in every build.
    ignore: frozenset[str] = frozenset()

    @property
    def lock(self) -> Path:
        return self.manifest.with_name(f".{self.manifest.name}.lock")

    def run(self, *extra: str) -> None:
        done = subprocess.run(
            [*self.command, *extra],
            cwd=self.cwd,
            env={**os.environ, **ENV},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def files(self, folder: Path | None = None) -> dict[str, bytes]:
        """The output's files (or ``folder``'s), but temporary and ignored ones."""
        return {
            name: data
            for name, data in snapshot(folder or self.output).items()
            if name not in self.ignore and not TEMP_FILE.fullmatch(name.rsplit("/", 1)[-1])
        }

    def built(self, folder: Path | None = None) -> dict[str, bytes]:
        """Note the files of a build as states they may be in; return them."""
        files = self.files(folder)
        for name, data in files.items():
            self.states.setdefault(name, set()).add(data)
        return files

    def save(self, *folders: Path) -> None:
        """Keep the manifest and copies of ``folders``: the old state, put back before
        each interrupted build (none where the old state is the new one: the build
        goes on from what the interrupted one before it left, as a user's would)."""
        for folder in folders:
            copy = folder.with_name(f"{folder.name}.old")
            shutil.copytree(folder, copy, symlinks=True)
            self.saved.append((folder, copy))
        self.old_manifest = self.manifest.read_bytes()

    def reset(self) -> None:
        """Put the old state back."""
        for folder, copy in self.saved:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(copy, folder, symlinks=True)
        self.manifest.write_bytes(self.old_manifest)
        for path in self.manifest.parent.iterdir():  # what the build before may have left
            if path == self.lock or TEMP_FILE.fullmatch(path.name):
                path.unlink()

    def interrupt(self, signum: int, until: Callable[[], bool]) -> tuple[int, str] | None:
        """Run the build and send it ``signum`` once ``until()`` holds: its status and
        what it printed, or None when the build ran to its end first."""
        log = self.cwd.parent / f"{self.cwd.name}.log"
        status, printed = stopped(self.command, self.cwd, ENV, signum, until, log)
        return None if self.completed(status, printed) else (status, printed)

    def left(self, label: str) -> list[str]:
        """What an interrupted build left that it should not have (and print what it left)."""
        temps = [p for p in self.output.rglob("*") if TEMP_FILE.fullmatch(p.name)]
        temps += [p for p in self.manifest.parent.iterdir() if TEMP_FILE.fullmatch(p.name)]
        size = sum(p.stat().st_size for p in temps)
        files = self.files()
        counts = {"new": 0, "old": 0, "the generator's own": 0}
        cut = []
        for name, data in files.items():
            if data == self.new.get(name):
                counts["new"] += 1
            elif data in self.states.get(name, ()):
                counts["old" if SHARDED.search(data) else "the generator's own"] += 1
            # The one the generator was writing when it stopped: the start of one of its states.
            elif any(state.startswith(data) for state in self.states.get(name, ())):
                cut.append(name)
            else:
                cut.append(f"{name} (in no state a build leaves)")
        manifest = self.manifest.read_bytes()
        print(
            f"{self.name}, {label}: {len(temps)} temporary files ({size:,} bytes), lock file "
            f"{'left' if self.lock.exists() else 'gone'}, manifest "
            f"{'new' if manifest == self.new_manifest else 'old'}; files: "
            + ", ".join(f"{count} {state}" for state, count in counts.items())
            + f", {len(cut)} cut short"
            + (f" ({', '.join(cut[:3])})" if cut else "")
        )
        problems = []
        if temps:
            problems.append(f"{len(temps)} temporary files ({size:,} bytes) left: {temps[:2]}")
        if self.lock.exists():
            problems.append(f"the lock file {self.lock} was left")
        if manifest not in (self.old_manifest, self.new_manifest):
            problems.append("the manifest is neither old nor new")
        if len(cut) > 1 or any(name.endswith(")") for name in cut):
            problems.append(f"files half-written: {cut[:5]}")
        return [f"{label}: {problem}" for problem in problems]


def stopped(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    signum: int,
    until: Callable[[], bool],
    log: Path,
) -> tuple[int, str]:
    """Run ``command`` in a process group of its own, printing to ``log``, and send it
    ``signum`` once ``until()`` holds (SIGINT to the group, as a terminal's Ctrl-C;
    SIGTERM to the process, as ``kill PID``). Its status and what it printed, once no
    process of the group is left."""
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            if wait_until(until, process, timeout=120, pause=POLL):
                if signum == signal.SIGINT:
                    os.killpg(process.pid, signum)
                else:
                    process.send_signal(signum)
            status = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    deadline = time.monotonic() + 5  # a worker the kernel kills with its parent
    while not group_gone(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_gone(process.pid), f"{command[2]}: a worker outlived the build"
    return status, log.read_text()


def interrupted_builds(case: Interruptible, signum: int, points: dict[str, Point]) -> None:
    """At each point, a build stopped there by ``signum`` and what it left; then the
    next build, which finishes the job. Each point is tried before the test fails."""
    problems: list[str] = []
    try:
        _stop_at(case, signum, points, problems)
    finally:
        case.run()  # the next build, from which the next test starts (when old is new)
    assert not problems, "\n".join(problems)
    assert case.files() == case.new, "the next build did not give a clean build's bytes"
    assert case.manifest.read_bytes() == case.new_manifest


def _stop_at(
    case: Interruptible, signum: int, points: dict[str, Point], problems: list[str]
) -> None:
    """Stop a build at each of ``points``, noting what is wrong in ``problems``."""
    name = signal.Signals(signum).name
    status, words = case.reactions[signum]
    for label, point in points.items():
        for attempt in range(1, 6):  # a late signal may find the build done; try again
            case.reset()
            stopped = case.interrupt(signum, point())
            if stopped is None:
                continue
            if stopped[0] != status or (words is not None and words not in stopped[1]):
                problems.append(f"{label}: status {stopped[0]}, not {status} and {words!r}")
            if "Traceback" in stopped[1]:
                problems.append(f"{label}: a traceback\n{stopped[1]}")
            problems += case.left(f"{name} {label} (attempt {attempt})")
            break
        else:
            problems.append(f"no {name} landed while {case.name} was {label}")


def temporary_in(folder: Path) -> Callable[[], bool]:
    """Whether one of our temporary files is in ``folder``."""

    def until() -> bool:
        try:
            return any(TEMP_FILE.fullmatch(name) for name in os.listdir(folder))
        except OSError:
            return False

    return until


def sharded_again(page: Path) -> Callable[[], bool]:
    """Whether ``page``, once the generator wrote it (unsharded), is sharded again."""
    written = False

    def until() -> bool:
        nonlocal written
        try:
            data = page.read_bytes()
        except OSError:
            return False
        if SHARDED.search(data) is None:
            written = True
            return False
        return written

    return until


def changed(path: Path) -> Callable[[], bool]:
    """Whether ``path`` was written since now (created, if it is not there now)."""
    try:
        before: int | None = path.stat().st_mtime_ns
    except FileNotFoundError:
        before = None  # an interrupted build before this one did not get to it

    def until() -> bool:
        try:
            return path.stat().st_mtime_ns != before
        except OSError:
            return False

    return until


def _images(folder: Path) -> None:
    folder.mkdir(parents=True)
    for n in range(IMAGES):
        (folder / f"i{n:03d}.png").write_bytes(png(rgb=(n, 100, 200)))


def _prose(n: int) -> str:
    return f"Page {n} of a site that is interrupted. " * 40


# -- MkDocs ----------------------------------------------------------------------------


def mkdocs_project(root: Path, pages: int = PAGES) -> Path:
    """``pages`` pages of six images each, in ten folders (only the home page in the
    nav: MkDocs' time goes to the pages, not to a navigation of every page on each)."""
    docs = root / "docs"
    _images(docs / "img")
    (docs / "index.md").write_text("# Home\n\nHello.\n")
    rng = random.Random(1)
    for p in range(pages):
        folder = docs / f"s{p % 10}"
        folder.mkdir(exist_ok=True)
        shots = "\n".join(f"![shot](../img/i{n:03d}.png)" for n in rng.sample(range(IMAGES), 6))
        (folder / f"p{p:03d}.md").write_text(f"# Page {p}\n\n{_prose(p)}\n\n{shots}\n")
    hosts = "".join(f"\n        - {host}" for host in HOSTS)
    (root / "mkdocs.yml").write_text(
        "site_name: Interrupted\nsite_url: https://docs.example.org/\nnav: [index.md]\n"
        "theme:\n  name: mkdocs\n  highlightjs: false\n"
        f"plugins:\n  - shard-assets:\n      hosts:{hosts}\n"
        "      manifest: shard-manifest.json\n      jobs: 2\n"
    )
    return root


@pytest.fixture(scope="module")
def mkdocs_case(tmp_path_factory: pytest.TempPathFactory) -> Interruptible:
    """A MkDocs site built once, so that its manifest places every asset: a rebuild
    hands its pages over to the workers (the old state and the new are the same)."""
    pytest.importorskip("mkdocs")
    project = mkdocs_project(tmp_path_factory.mktemp("mkdocs") / "project")
    case = Interruptible(
        name="mkdocs build",
        command=[sys.executable, "-m", "mkdocs", "build", "-q"],
        cwd=project,
        output=project / "site",
        manifest=project / "shard-manifest.json",
        reactions={signal.SIGINT: (1, "Aborted!"), signal.SIGTERM: (-signal.SIGTERM, None)},
        completed=lambda status, _: status == 0,
    )
    case.run()
    case.new, case.new_manifest = case.built(), case.manifest.read_bytes()
    # What MkDocs writes itself: the same site, the plugin off.
    config = project / "mkdocs.yml"
    plain = project / "mkdocs-plain.yml"
    plain.write_text(config.read_text() + "      enabled: false\n")
    case.run("-f", str(plain), "-d", str(project / "plain"))
    case.built(project / "plain")
    case.save()
    return case


def mkdocs_points(case: Interruptible) -> dict[str, Point]:
    first = case.output / "s0" / "p000" / "index.html"  # the first page with assets
    return {
        "reading the pages": lambda: case.lock.exists,
        # The plugin's on_post_page is the last: a worker writes each page, sharded.
        "handing pages over to the workers": lambda: changed(first),
        # The last page (MkDocs builds them in the order of their files) is written:
        # the workers are waited for, then the end of the build runs.
        "finishing the build": lambda: changed(case.output / "s9" / "p199" / "index.html"),
    }


@each_signal
def test_mkdocs_build_interrupted(mkdocs_case: Interruptible, signum: int) -> None:
    interrupted_builds(mkdocs_case, signum, mkdocs_points(mkdocs_case))


def test_mkdocs_serve_rebuild_interrupted(tmp_path: Path) -> None:
    """``enabled_on_serve: true``: Ctrl-C while a rebuild hands its pages over."""
    pytest.importorskip("mkdocs")
    project = mkdocs_project(tmp_path / "project", pages=100)  # one point: a smaller site
    config = project / "mkdocs.yml"
    config.write_text(config.read_text() + "      enabled_on_serve: true\n")
    lock = project / ".shard-manifest.json.lock"
    temp = tmp_path / "tmp"  # where serve's site folder goes
    temp.mkdir()
    env = {**ENV, "TMPDIR": str(temp)}
    build = [sys.executable, "-m", "mkdocs", "build", "-q"]
    subprocess.run(build, cwd=project, env={**os.environ, **env}, check=True)
    page = project / "docs" / "s0" / "p000.md"
    log = tmp_path / "serve.log"
    rebuilding: Callable[[], bool] | None = None

    def until() -> bool:
        """The server is up; then a page is changed, and its rebuild hands pages over."""
        nonlocal rebuilding
        if rebuilding is None:
            if "Serving on" not in log.read_text():
                return False
            (site,) = temp.iterdir()
            page.write_text(page.read_text() + "\nChanged.\n")
            rebuilding = changed(site / "s0" / "p000" / "index.html")
        return rebuilding()

    serve = [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{free_port()}"]
    status, printed = stopped(serve, project, env, signal.SIGINT, until, log)
    left = sorted(str(p.relative_to(temp)) for p in temp.rglob("*"))
    print(
        f"mkdocs serve, SIGINT while a rebuild hands pages over: status {status}, "
        f"lock file {'left' if lock.exists() else 'gone'}, {len(left)} files left in its "
        "site folder"
    )
    assert status == 0, printed
    assert "Shutting down..." in printed
    assert "Traceback" not in printed, printed
    assert not lock.exists()
    assert left == []  # serve removes its site folder, and nothing writes there afterwards


# -- Pelican ---------------------------------------------------------------------------


def pelican_project(root: Path, pages: int = PAGES) -> Path:
    """``pages`` articles of six images each, on the sample theme, and no pages but
    the articles and the index (no tag, category or author pages)."""
    shutil.copytree(SAMPLE_SITE / "pelican" / "theme", root / "theme")
    content = root / "content"
    _images(content / "images")
    (content / "posts").mkdir()
    rng = random.Random(1)
    for p in range(pages):
        chosen = rng.sample(range(IMAGES), 6)
        shots = "\n".join(f"![shot]({{static}}/images/i{n:03d}.png)" for n in chosen)
        (content / "posts" / f"p{p:03d}.md").write_text(
            f"Title: Page {p}\nDate: 2024-01-01 {p // 60:02d}:{p % 60:02d}\nSlug: p{p:03d}\n\n"
            f"{_prose(p)}\n\n{shots}\n"
        )
    unwritten = ("TAG", "TAGS", "CATEGORY", "CATEGORIES", "AUTHOR", "AUTHORS", "ARCHIVES")
    (root / "pelicanconf.py").write_text(
        'SITENAME = "Interrupted"\nSITEURL = "https://blog.example.org"\nPATH = "content"\n'
        'THEME = "theme"\nTIMEZONE = "UTC"\nARTICLE_PATHS = ["posts"]\n'
        'ARTICLE_URL = ARTICLE_SAVE_AS = "posts/{slug}.html"\nSTATIC_PATHS = ["images"]\n'
        'DIRECT_TEMPLATES = ["index"]\nFEED_ALL_ATOM = CATEGORY_FEED_ATOM = None\n'
        + "".join(f'{name}_SAVE_AS = ""\n' for name in unwritten)
        + 'PLUGINS = ["shard_assets.plugins.pelican"]\n'
        + f'SHARD_ASSETS = {{"hosts": {HOSTS!r}, "manifest": "shard-manifest.json", "jobs": 2}}\n'
    )
    return root


@pytest.fixture(scope="module")
def pelican_case(tmp_path_factory: pytest.TempPathFactory) -> Interruptible:
    """A Pelican blog built once: a rebuild writes its pages sharded from memory, one
    worker process writing them while Pelican renders the next (old and new are the
    same)."""
    pytest.importorskip("pelican")
    project = pelican_project(tmp_path_factory.mktemp("pelican") / "project")
    pelican = [sys.executable, "-m", "pelican", "-s", "pelicanconf.py", "-o"]
    case = Interruptible(
        name="pelican",
        command=[*pelican, "output"],
        cwd=project,
        output=project / "output",
        manifest=project / "shard-manifest.json",
        reactions={
            signal.SIGINT: (0, "Keyboard interrupt received. Exiting."),
            signal.SIGTERM: (-signal.SIGTERM, None),
        },
        completed=lambda _, printed: "Done: Processed" in printed,
    )
    case.run()
    case.new, case.new_manifest = case.built(), case.manifest.read_bytes()
    # What Pelican writes itself: the plugin off.
    case.run("-o", "plain", "-e", "PLUGINS=[]")
    case.built(project / "plain")
    case.save()
    return case


def pelican_points(case: Interruptible) -> dict[str, Point]:
    return {
        # The tenth page (the newest first): a batch handed over, not sent to the worker yet.
        "writing the pages": lambda: changed(case.output / "posts" / "p190.html"),
        "copying the theme": lambda: changed(case.output / "theme" / "css" / "main.css"),
        "sharding the theme": lambda: temporary_in(case.output / "theme" / "css"),
    }


@each_signal
def test_pelican_interrupted(pelican_case: Interruptible, signum: int) -> None:
    interrupted_builds(pelican_case, signum, pelican_points(pelican_case))


# -- Sphinx ----------------------------------------------------------------------------


def sphinx_project(root: Path, pages: int = PAGES) -> Path:
    """``pages`` pages of six images each, Sphinx's plain ``basic`` theme without
    sidebars (a navigation of every page on each would be most of the build)."""
    _images(root / "images")
    (root / "pages").mkdir()
    (root / "index.rst").write_text("Home\n====\n\n.. toctree::\n   :glob:\n\n   pages/*\n")
    rng = random.Random(1)
    for p in range(pages):
        chosen = rng.sample(range(IMAGES), 6)
        shots = "\n\n".join(f".. image:: /images/i{n:03d}.png" for n in chosen)
        (root / "pages" / f"p{p:03d}.rst").write_text(
            f"Page {p}\n========\n\n{_prose(p)}\n\n{shots}\n"
        )
    return root


def sphinx_conf(hosts: list[str], *, enabled: bool = True) -> str:
    return (
        'project = "Interrupted"\nextensions = ["shard_assets.plugins.sphinx"]\n'
        f'shard_assets = {{"hosts": {hosts!r}, "manifest": "shard-manifest.json", "jobs": 2, '
        f'"enabled": {enabled}}}\n'
        'html_theme = "basic"\nhtml_sidebars = {"**": []}\n'
        'html_baseurl = "https://docs.example.org/"\nexclude_patterns = ["_build"]\n'
    )


@pytest.fixture(scope="module")
def sphinx_case(tmp_path_factory: pytest.TempPathFactory) -> Interruptible:
    """A Sphinx project built with three hosts; the build interrupted adds a fourth,
    so Sphinx writes every page again and the extension shards them all at the end."""
    pytest.importorskip("sphinx")
    project = sphinx_project(tmp_path_factory.mktemp("sphinx") / "project")
    conf = project / "conf.py"
    conf.write_text(sphinx_conf(HOSTS[:3]))
    command = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-d", "_build/doctrees"]
    case = Interruptible(
        name="sphinx-build",
        command=[*command, ".", "_build/html"],
        cwd=project,
        output=project / "_build" / "html",
        manifest=project / "shard-manifest.json",
        reactions={signal.SIGINT: (2, "Interrupted!"), signal.SIGTERM: (-signal.SIGTERM, None)},
        completed=lambda status, _: status == 0,
        ignore=frozenset({SPHINX_OWN_DIFFERENCE}),
    )
    case.run()
    case.built()
    case.save(project / "_build")  # put back before each interrupted build
    # The new state: the build that adds the fourth host, not interrupted.
    conf.write_text(sphinx_conf(HOSTS))
    case.run()
    case.new, case.new_manifest = case.built(), case.manifest.read_bytes()
    # What Sphinx writes itself: the extension off (Sphinx writes every page again).
    conf.write_text(sphinx_conf(HOSTS, enabled=False))
    case.run()
    case.built()
    conf.write_text(sphinx_conf(HOSTS))
    return case


def sphinx_points(case: Interruptible) -> dict[str, Point]:
    pages = case.output / "pages"
    return {
        "scanning": lambda: case.lock.exists,
        "writing": lambda: temporary_in(pages),
        "renaming": lambda: sharded_again(pages / "p000.html"),
    }


@each_signal
def test_sphinx_build_interrupted(sphinx_case: Interruptible, signum: int) -> None:
    interrupted_builds(sphinx_case, signum, sphinx_points(sphinx_case))
