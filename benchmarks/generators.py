"""Each generator's builds for benchmarks/build_overhead.py: the commands, the folders
readied before each build (not timed), and what a build's log must show.

The environment switches the plugin: ``BENCH_SHARD=1`` turns shard-assets on (Pelican
and Sphinx read it in their configuration; MkDocs has a configuration file per
variant), ``BENCH_TWIN=1`` adds ``unsharded_copy`` and ``BENCH_JOBS=N`` sets ``jobs``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks.profiles import summary
from benchmarks.sites import mkdocs_project, pelican_project, sphinx_project
from benchmarks.timing import Build, Run, forget_scans, run

SHARD = {"BENCH_SHARD": "1"}
EMPTY = ("without, into an empty output folder", "with, rebuild into an empty output folder")
INCREMENTAL = (
    "without, one page changed (incremental)",
    "with, rebuild, one page changed (incremental)",
)
#: The incremental build after an incremental build (sphinx-autobuild's every build
#: but the first): the scan cache holds the pages as the build before left them.
INCREMENTAL_AGAIN = (
    "without, another page changed (incremental again)",
    "with, another page changed (incremental again)",
)
#: What is wrong with a build's log, or None.
Check = Callable[[str], str | None]
TWIN = {"BENCH_SHARD": "1", "BENCH_TWIN": "1"}


def html_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.html")) / 1e6


def python(module: str, *args: str, profile: Path | None = None) -> list[str]:
    """``python -m module args``, under cProfile writing to ``profile`` if given."""
    wrap = ["-m", "cProfile", "-o", str(profile)] if profile else []
    return [sys.executable, *wrap, "-m", module, *args]


def _fine(log: str) -> str | None:
    return None


def in_memory(log: str) -> str | None:
    if "of those files in memory" not in " ".join(log.split()):
        return "the rebuild did not rewrite pages in memory"
    return None


class Site:
    """A generated project and how to build it; subclasses say which builds."""

    name = ""
    #: The folder of the project's configuration, the builds' working folder.
    project: Path
    manifest: Path
    #: Where ``BENCH_TWIN=1`` puts the unsharded copy.
    twin: Path
    size = ""

    def __init__(self, work: Path, pages: int, theme: str) -> None:
        self.pages = pages

    @property
    def title(self) -> str:
        return f"{self.label} ({self.size})" if self.size else self.label

    @property
    def label(self) -> str:
        raise NotImplementedError

    def command(self, variant: str, profile: Path | None = None) -> list[str]:
        """The build's command line; ``variant`` is ``plain`` or ``sharded``."""
        raise NotImplementedError

    def start(self, variant: str, **env: str) -> Callable[[], Run]:
        return lambda: run(self.command(variant), self.project, **env)

    def builds(self) -> list[Build]:
        raise NotImplementedError

    def first_and_rebuild(
        self, check_first: Check = _fine, check_rebuild: Check = _fine, plain: str = ""
    ) -> list[Build]:
        """The plain build, a first build (the manifest removed, and the scan cache)
        and a rebuild (the scan cache of the build before)."""
        return [
            Build("plain", f"without shard-assets{plain}", self.start("plain"), base=None),
            Build(
                "first",
                "with, first build (no manifest)",
                self.start("sharded", **SHARD),
                before=self._forget_manifest,
                check=check_first,
            ),
            Build(
                "rebuild",
                "with, rebuild (manifest present)",
                self.start("sharded", **SHARD),
                check=check_rebuild,
            ),
        ]

    def _forget_manifest(self) -> None:
        self.manifest.unlink(missing_ok=True)
        forget_scans()

    def paired(
        self,
        kind: str,
        labels: tuple[str, str],
        before: Callable[[str], Callable[[], None]],
        check: Check,
    ) -> list[Build]:
        """The plain build and a rebuild of another ``kind`` (``empty``: into an empty
        output folder, with an empty scan cache, as in CI), each after
        ``before(variant)``; ``check`` checks the rebuild."""
        return [
            Build(
                f"plain, {kind}",
                labels[0],
                self.start(f"plain, {kind}"),
                base=None,
                before=before("plain"),
            ),
            Build(
                f"rebuild, {kind}",
                labels[1],
                self.start(f"sharded, {kind}", **SHARD),
                base=f"plain, {kind}",
                before=before("sharded"),
                check=check,
            ),
        ]

    def twin_builds(self, before: dict[str, str] | None = None) -> list[Build]:
        """Rebuilds without and with the unsharded copy, beside the plain build; with
        ``before`` (the environment of another tree's package, see
        build_overhead.py's ``--before``), the same two rebuilds with that tree too."""
        builds = [
            Build("plain", "without shard-assets", self.start("plain"), base=None),
            Build("rebuild", "with, rebuild", self.start("sharded", **SHARD)),
            Build(
                "twin",
                "with, rebuild + unsharded_copy",
                self.start("sharded", **TWIN),
                base="rebuild",
                check=self._twin_written,
            ),
        ]
        if before is not None:
            builds += [
                Build(
                    "rebuild, before",
                    "before: with, rebuild",
                    self.start("sharded", **SHARD, **before),
                ),
                Build(
                    "twin, before",
                    "before: with, rebuild + unsharded_copy",
                    self.start("sharded", **TWIN, **before),
                    base="rebuild, before",
                    check=self._twin_written,
                ),
            ]
        return builds

    def _twin_written(self, log: str) -> str | None:
        if not (self.twin / "index.html").is_file():
            return f"no unsharded copy in {self.twin}"
        return None

    def warm(self) -> None:
        """One plain build (not timed): the file cache, and the size of the output."""
        run(self.command("plain"), self.project)
        self.size = f"{html_megabytes(self.plain_output()):.0f} MB of HTML"

    def verify(self) -> None:
        """Checks after the timed builds (not timed)."""

    def plain_output(self) -> Path:
        """The output of a plain build (built when missing)."""
        raise NotImplementedError

    def shard_once(self) -> None:
        run(self.command("sharded"), self.project, **SHARD)

    def profile(self, folder: Path) -> str:
        """Each sharded build once more under cProfile, with ``jobs: 1`` (the whole
        sharding pass in the profiled process); where shard-assets' time went."""
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for build in self.builds():
            if build.base is None:
                continue
            target = folder / f"{self.name}-{build.key.replace(', ', '-')}.prof"
            build.before()
            _, incremental, kind = build.key.partition("incremental")
            variant = f"sharded, incremental{kind}" if incremental else "sharded"
            run(self.command(variant, target), self.project, **SHARD, BENCH_JOBS="1")
            out.append(f"### Profile: {self.label}, {build.label} (jobs: 1)\n\n{summary(target)}")
        return "\n\n".join(out)


class Pelican(Site):
    """Pelican keeps its output folder: rebuilds into it full and emptied (as in CI)."""

    name = "pelican"

    def __init__(self, work: Path, pages: int, theme: str) -> None:
        super().__init__(work, pages, theme)
        self.project = pelican_project(work, pages)
        self.output = self.project / "output"
        self.twin = self.project / "output-h2"
        self.manifest = self.project / "shard-manifest.json"

    @property
    def label(self) -> str:
        return f"Pelican, {self.pages} articles"

    def command(self, variant: str, profile: Path | None = None) -> list[str]:
        output = "output-plain" if variant == "plain-output" else "output"  # else: one folder
        return python("pelican", "content", "-s", "pelicanconf.py", "-o", output, profile=profile)

    def builds(self) -> list[Build]:
        return [
            *self.first_and_rebuild(),
            *self.paired("empty", EMPTY, lambda variant: self._empty, _fine),
            # CI that keeps the scan cache between runs (docs/performance.md): the
            # cache is the one the rebuild before it wrote, from the same pages.
            Build(
                "rebuild, empty, cache kept",
                "with, rebuild into an empty output folder, the scan cache kept",
                self.start("sharded, empty, cache kept", **SHARD),
                base="plain, empty",
                before=self._empty_output,
            ),
        ]

    def _empty(self) -> None:
        self._empty_output()
        forget_scans()

    def _empty_output(self) -> None:
        shutil.rmtree(self.output, ignore_errors=True)

    def verify(self) -> None:
        """Rebuilds rewrite the pages in memory, into a full and an empty folder."""
        for empty in (False, True):
            if empty:
                self._empty()
            log = run([*self.command("sharded"), "--verbose"], self.project, **SHARD).log
            problem = in_memory(log)
            if problem:
                raise SystemExit(f"Pelican: {problem}:\n{log[-3000:]}")

    def plain_output(self) -> Path:
        folder = self.project / "output-plain"
        if not folder.is_dir():
            run(self.command("plain-output"), self.project)
        return folder

    def warm(self) -> None:
        super().warm()
        self.size = f"{html_megabytes(self.plain_output()):.0f} MB of HTML"


class MkDocs(Site):
    """MkDocs empties its site folder itself: every build is into an empty folder."""

    name = "mkdocs"

    def __init__(self, work: Path, pages: int, theme: str) -> None:
        super().__init__(work, pages, theme)
        self.configs = {
            "plain": mkdocs_project(work, pages, sharded=False),
            "sharded": mkdocs_project(work, pages, sharded=True),
        }
        self.project = self.configs["plain"].parent
        self.manifest = self.project / "shard-manifest.json"
        self.twin = self.project / "site-h2"
        sharded = self.configs["sharded"].read_text(encoding="utf-8")
        self.configs["twin"] = self.project / "mkdocs-twin.yml"
        self.configs["twin"].write_text(sharded + "      unsharded_copy: site-h2\n")
        self.configs["jobs1"] = self.project / "mkdocs-jobs1.yml"
        self.configs["jobs1"].write_text(sharded + "      jobs: 1\n")

    @property
    def label(self) -> str:
        return f"MkDocs, {self.pages} pages"

    def command(self, variant: str, profile: Path | None = None) -> list[str]:
        if variant == "sharded" and profile is not None:
            variant = "jobs1"
        return python("mkdocs", "build", "-f", str(self.configs[variant]), profile=profile)

    def start(self, variant: str, **env: str) -> Callable[[], Run]:
        if env.get("BENCH_TWIN"):
            variant = "twin"
        return super().start(variant, **env)

    def builds(self) -> list[Build]:
        """MkDocs' rebuild is into an empty folder already: the CI row is one with
        the scan cache emptied."""
        return [
            *self.first_and_rebuild(check_rebuild=in_memory),
            Build(
                "rebuild, no scan cache",
                "with, rebuild, scan cache emptied (as in CI)",
                self.start("sharded", **SHARD),
                before=forget_scans,
                check=in_memory,
            ),
        ]

    def plain_output(self) -> Path:
        folder = self.project / "site-plain"
        if not folder.is_dir():
            run(self.command("plain"), self.project)
        return folder


class Sphinx(Site):
    """Sphinx keeps its output and its saved environment (doctrees): ``-E`` reads and
    writes every page into the full folder; the empty build removes both, as a fresh
    clone in CI has neither; the incremental build changes one page's text first."""

    name = "sphinx"

    def __init__(self, work: Path, pages: int, theme: str) -> None:
        super().__init__(work, pages, theme)
        self.theme = theme
        self.project = sphinx_project(work, pages, theme)
        self.twin = self.folders("plain")[0].parent / "html-h2"
        self.manifest = self.project / "shard-manifest.json"
        self.changed = 0

    @property
    def label(self) -> str:
        return f"Sphinx ({self.theme}), {self.pages} pages"

    def folders(self, variant: str) -> tuple[Path, Path]:
        """The output folder and the doctrees of ``variant`` (plain or sharded)."""
        build = self.project.parent / f"{self.project.name}-build"
        return build / f"html-{variant}", build / f"doctrees-{variant}"

    def command(self, variant: str, profile: Path | None = None) -> list[str]:
        """``variant``: plain or sharded, ``-E`` (every page read and written) unless
        it ends in ``, incremental``."""
        variant, _, kind = variant.partition(", ")
        output, doctrees = self.folders(variant)
        flags = [] if kind.startswith("incremental") else ["-E"]
        return python(
            "sphinx", "-b", "html", "-d", str(doctrees), *flags, ".", str(output), profile=profile
        )

    def _empty(self, variant: str) -> Callable[[], None]:
        def empty() -> None:
            for folder in self.folders(variant):
                shutil.rmtree(folder, ignore_errors=True)
            forget_scans()

        return empty

    def _change_a_page(self, variant: str) -> Callable[[], None]:
        """Before the plain build: append a sentence to one page (another one each
        round); the sharded build then meets the same change."""

        def change() -> None:
            self.changed += 1
            pages = sorted(self.project.glob("section-*/page-*.rst"))
            page = pages[self.changed * 37 % len(pages)]
            with page.open("a", encoding="utf-8") as text:
                text.write(f"\nChanged in round {self.changed}.\n")

        return change if variant == "plain" else lambda: None

    def builds(self) -> list[Build]:
        incremental = self.paired("incremental", INCREMENTAL, self._change_a_page, _sharded)
        incremental += self.paired(
            "incremental again", INCREMENTAL_AGAIN, self._change_a_page, _sharded
        )
        incremental[0] = replace(incremental[0], check=_one_page_read)
        incremental[2] = replace(incremental[2], check=_one_page_read)
        return (
            self.first_and_rebuild(_sharded, _sharded, plain=" (-E)")
            + self.paired(
                "empty",
                (f"{EMPTY[0]} (no doctrees)", f"{EMPTY[1]} (no doctrees)"),
                self._empty,
                _sharded,
            )
            + incremental
        )

    def twin_builds(self, before: dict[str, str] | None = None) -> list[Build]:
        """The rebuilds (``-E``) without and with the unsharded copy, then incremental
        ones: one page changed before each, in a folder of their own each (a changed
        setting makes Sphinx write every page), so every other page is one the build
        before sharded (and, with the copy, the one kind pass one unshards)."""
        builds = super().twin_builds(before)
        trees = [("", {})] if before is None else [("", {}), (", before", before)]
        for suffix, env in trees:
            builds += [
                Build(
                    f"rebuild, incremental{suffix}",
                    f"{'before: ' if suffix else ''}with, rebuild, one page changed",
                    self.start("sharded, incremental", **SHARD, **env),
                    base=None,
                    before=self._ready_incremental("sharded", SHARD),
                    check=_sharded,
                ),
                Build(
                    f"twin, incremental{suffix}",
                    f"{'before: ' if suffix else ''}the same + unsharded_copy",
                    self.start("twin, incremental", **TWIN, **env),
                    base=f"rebuild, incremental{suffix}",
                    before=self._ready_incremental("twin", TWIN),
                    check=self._twin_written,
                ),
            ]
        return builds

    def _ready_incremental(self, variant: str, env: dict[str, str]) -> Callable[[], None]:
        """Before an incremental build of ``variant``: its folder built once (not
        timed), then one page changed."""

        def ready() -> None:
            if not self.folders(variant)[0].is_dir():
                run(self.command(variant), self.project, **env)
            self._change_a_page("plain")()

        return ready

    def plain_output(self) -> Path:
        output, _ = self.folders("plain")
        if not (output / "index.html").is_file():
            run(self.command("plain"), self.project)
        return output


def _one_page_read(log: str) -> str | None:
    if "0 added, 1 changed, 0 removed" not in log:
        return "the incremental Sphinx build did not read exactly the changed page"
    return None


def _sharded(log: str) -> str | None:
    if "manifest:" not in log:
        return "the sharded Sphinx build did not write its summary"
    return None


SITES: dict[str, Callable[[Path, int, str], Site]] = {
    "pelican": Pelican,
    "mkdocs": MkDocs,
    "sphinx": Sphinx,
}
