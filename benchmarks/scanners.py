"""The HTML and CSS scanners of two trees side by side: throughput on one core.

    python benchmarks/scanners.py                      # this checkout against main
    python benchmarks/scanners.py --before HEAD~3 --repeat 15 --pages 300

The scanners are the regular expressions that find asset URLs (the first pass of
every build); this compares them before and after a change to them, in one run.
``--before`` names a git revision; its ``shard_assets`` is exported to a temporary
folder and imported beside this checkout's under another name, so both run in one
process, one pass after the other, their order swapped every round: a machine
whose load changes during the run slows both alike. The documents: a ``--pages``
MkDocs site (mkdocs-material) and Pelican site from ``benchmarks/sites.py``, built
once, and for CSS every stylesheet of those builds and of the installed themes
(MkDocs, mkdocs-material, furo, pydata-sphinx-theme, sphinx-rtd-theme, Pelican's).

Each round times one pass of each kind per tree (CPU time of the process), after a
warm-up pass, as in a build, where one scanner serves every page:

- HTML, tokenizer: ``HtmlScanner._tag_spans``, the regular expression's steps alone;
- HTML, references: ``HtmlScanner.references``, what the build calls per page (the
  tokenizer, the attributes, ``style`` through the CSS scanner, URL resolution; the
  tags and URLs it has seen are remembered, as in a build);
- CSS: ``find_css_refs`` on each stylesheet.

Before timing, both trees scan every document and must find the same references in
the same places, or the run stops. Reported: each tree's median throughput, and the
median of the rounds' ratios (after / before: above 1.00 is faster).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
#: Installed packages whose stylesheets join the CSS corpus (those present).
THEMES = ("mkdocs", "material", "furo", "pydata_sphinx_theme", "sphinx_rtd_theme", "pelican")
SITE_URL = "https://docs.example.org/"

Pages = list[tuple[str, str]]


def export(revision: str, into: Path) -> Path:
    """``revision``'s ``shard_assets`` package, extracted under ``into``."""
    archive = into / "before.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "shard_assets"],
            stdout=out,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "shard_assets"


def load_package(folder: Path, name: str) -> ModuleType:
    """Import the package in ``folder`` as ``name`` (its modules import each other
    relatively, so two copies can live side by side)."""
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


def _module(package: str, *names: str) -> ModuleType:
    """The first of ``package.name`` that imports: the scanners moved between trees."""
    for name in names:
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError:
            continue
    raise SystemExit(f"none of {names} in {package}")


def passes(package: str, pages: Pages, sheets: Pages) -> dict[str, Callable[[], object]]:
    """The timed passes over the corpus with ``package``'s scanners."""
    html = _module(package, "documents.html", "html")
    css = _module(package, "documents.css", "css")
    urls = _module(package, "documents.urls", "urls")
    site = urls.Site.from_url(SITE_URL)
    scanner = html.HtmlScanner()

    def tokenize() -> list[object]:
        return [list(scanner._tag_spans(text)) for _, text in pages]

    def references() -> list[object]:
        return [scanner.references(text, document, site) for document, text in pages]

    def stylesheets() -> list[object]:
        return [
            list(css.find_css_refs(text, "/" + path.rpartition("/")[0] + "/", site))
            for path, text in sheets
        ]

    return {"tokenize": tokenize, "references": references, "css": stylesheets}


def _plain(found: object) -> object:
    """``found`` with dataclass instances (Ref) as tuples, lists as lists."""
    if isinstance(found, list | tuple):
        return [_plain(item) for item in found]
    if dataclasses.is_dataclass(found) and not isinstance(found, type):
        return dataclasses.astuple(found)
    return found


def build_corpus(work: Path, pages: int) -> Path:
    """Build the two sites (once) and write the documents to a JSON file in ``work``."""
    from benchmarks.sites import mkdocs_project, pelican_project

    corpus_file = work / f"corpus-{pages}.json"
    if corpus_file.exists():
        return corpus_file
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    config = mkdocs_project(work, pages, sharded=False, theme="material")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", config.name],
        cwd=config.parent,
        env=env,
        check=True,
    )
    project = pelican_project(work, pages)
    subprocess.run(
        [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output", "-q"],
        cwd=project,
        env=env,
        check=True,
    )
    outputs = [config.parent / "site-plain", project / "output"]
    html = [
        (f"{out.name}/{p.relative_to(out).as_posix()}", p.read_text("utf-8"))
        for out in outputs
        for p in sorted(out.rglob("*.html"))
    ]
    specs = [importlib.util.find_spec(name) for name in THEMES]
    folders = outputs + [Path(s.origin).parent for s in specs if s and s.origin]
    css = [
        (f"{folder.name}/{p.relative_to(folder).as_posix()}", p.read_text("utf-8", "replace"))
        for folder in folders
        for p in sorted(folder.rglob("*.css"))
    ]
    corpus_file.write_text(json.dumps({"html": html, "css": css}), encoding="utf-8")
    return corpus_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="the git revision to compare with (main)")
    parser.add_argument("--repeat", type=int, default=11, help="rounds (11)")
    parser.add_argument("--pages", type=int, default=200, help="pages per site (200)")
    parser.add_argument("--work", type=Path, help="where to build (a temporary folder)")
    kinds = ["tokenize", "references", "css"]
    parser.add_argument("--only", choices=kinds, action="append", help="one pass (repeatable)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import shard_assets

    if not Path(shard_assets.__file__).resolve().is_relative_to(ROOT):
        raise SystemExit(f"this imports {shard_assets.__file__}, not this checkout ({ROOT})")
    work = args.work or Path(tempfile.mkdtemp(prefix="shard-assets-scanners-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = json.loads(build_corpus(work, args.pages).read_text(encoding="utf-8"))
    pages, sheets = corpus["html"], corpus["css"]
    sizes = {
        "html": sum(len(text.encode()) for _, text in pages) / 1e6,
        "css": sum(len(text.encode()) for _, text in sheets) / 1e6,
    }
    scratch = Path(tempfile.mkdtemp(prefix="shard-assets-before-"))
    load_package(export(args.before, scratch), "before_shard_assets")
    trees = {
        "before": passes("before_shard_assets", pages, sheets),
        "after": passes("shard_assets", pages, sheets),
    }
    for kind in trees["after"]:
        # Also the warm-up pass. Refs are compared as tuples (two classes of one name).
        found = [repr(_plain(trees[tree][kind]())) for tree in trees]
        if found[0] != found[1]:
            raise SystemExit(f"the trees' {kind} passes found different results")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"# Scanner throughput, {time.strftime('%Y-%m-%d')}\n\n"
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}\n"
        f"command: python benchmarks/scanners.py --before {args.before} "
        f"--repeat {args.repeat} --pages {args.pages}\n"
        f"before: {args.before}; after: this checkout ({head})\n"
        f"documents: {len(pages)} HTML pages ({sizes['html']:.1f} MB), "
        f"{len(sheets)} stylesheets ({sizes['css']:.1f} MB); both trees found the same "
        "references in them\n"
    )
    times: dict[str, dict[str, list[float]]] = {
        kind: {tree: [] for tree in trees} for kind in args.only or kinds
    }
    for i in range(args.repeat):
        order = list(trees) if i % 2 == 0 else list(trees)[::-1]
        for kind in times:
            for tree in order:
                started = time.process_time()
                trees[tree][kind]()
                times[kind][tree].append(time.process_time() - started)
    labels = {
        "tokenize": ("HTML, tokenizer (`_tag_spans`)", "html"),
        "references": ("HTML, references (`HtmlScanner.references`)", "html"),
        "css": ("CSS (`find_css_refs`)", "css"),
    }
    rows = []
    for kind in times:
        label, size = labels[kind]
        before, after = times[kind]["before"], times[kind]["after"]
        ratio = statistics.median(b / a for b, a in zip(before, after, strict=True))
        rows.append(
            f"| {label} | {sizes[size] / statistics.median(before):.1f} MB/s "
            f"| {sizes[size] / statistics.median(after):.1f} MB/s | {ratio:.2f} "
            f"| {min(b / a for b, a in zip(before, after, strict=True)):.2f}"
            f"-{max(b / a for b, a in zip(before, after, strict=True)):.2f} |"
        )
    print(
        f"{args.repeat} rounds, each tree once per round, alternating; CPU time of one pass "
        "on one core; medians.\n\n"
        "| pass | before | after | after / before | lowest-highest round |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows)
    )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
