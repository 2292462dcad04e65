"""The HTML and CSS scanners and the HTML rewriter of two trees side by side:
throughput on one core, site by site.

    python benchmarks/scanners.py                      # this checkout against main
    python benchmarks/scanners.py --before HEAD~3 --repeat 15 --pages 300

The scanners are the regular expressions that find asset URLs (the first pass of
every build), the rewriter puts the shard URLs in (the second); this compares them
before and after a change, in one run. ``--before`` names a git revision; its
``shard_assets`` is exported to a temporary folder and imported beside this
checkout's under another name, so both run in one process, one pass after the
other, their order swapped every round: a machine whose load changes during the
run slows both alike. The documents: a ``--pages`` site of each generator from
``benchmarks/sites.py``, built once (MkDocs with mkdocs-material and with its own
theme, Pelican, Sphinx with alabaster), and for CSS every stylesheet of those builds
and of the installed themes (MkDocs, mkdocs-material, furo, pydata-sphinx-theme,
sphinx-rtd-theme, Pelican's).

Each round times one pass of each kind per tree and site (CPU time of the process),
after a warm-up pass, with one scanner or sharder for every page, as in a build:

- HTML, tokenizer: ``HtmlScanner._tag_spans``, the tokenizer alone;
- HTML, references: ``HtmlScanner.references``, what pass one calls per page (the
  tokenizer, the attributes, ``style`` through the CSS scanner, URL resolution; the
  tags and URLs it has seen are remembered, as in a build);
- HTML, rewrite: ``Sharder.rewrite``, the rewriter with the text in memory (the
  references, then the shard URLs put in), each asset on a host (round robin over
  the sorted keys), the sharder's memory warm from the rounds before;
- HTML, rewrite, new sharder: the same with a new ``Sharder`` for each pass, as a
  build meets each page (the URL resolution of earlier passes stays remembered in
  both trees, as it does across a build's pages);
- CSS: ``find_css_refs`` on each stylesheet.

Before timing, both trees scan and rewrite every document and must give the same
results, or the run stops. Reported: each tree's median throughput, and the median
of the rounds' ratios (after / before: above 1.00 is faster).
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Installed packages whose stylesheets join the CSS corpus (those present).
THEMES = ("mkdocs", "material", "furo", "pydata_sphinx_theme", "sphinx_rtd_theme", "pelican")
SITE_URL = "https://docs.example.org/"

Pages = list[tuple[str, str]]
#: The sites of the corpus, by label: the folder under ``--work`` each is built in.
SITES = {
    "MkDocs (material)": "mkdocs-material",
    "MkDocs (mkdocs)": "mkdocs-mkdocs",
    "Pelican": "pelican",
    "Sphinx (alabaster)": "sphinx",
}


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


def passes(
    package: str, sites: dict[str, Pages], sheets: Pages, hosts: dict[str, str]
) -> dict[tuple[str, str], Callable[[], object]]:
    """The timed passes over the corpus with ``package``'s scanners and rewriter, by
    (kind, site); CSS is one site, ``all``."""
    html = _module(package, "documents.html", "html")
    css = _module(package, "documents.css", "css")
    urls = _module(package, "documents.urls", "urls")
    site = urls.Site.from_url(SITE_URL)
    new_sharder = _sharder_factory(package)
    found: dict[tuple[str, str], Callable[[], object]] = {}
    for label, pages in sites.items():
        # One scanner and one sharder for each site, as each build has.
        scanner = html.HtmlScanner()
        sharder = new_sharder()

        # (Each function takes its site's pages, scanner and sharder as defaults: a
        # closure would see the last site's.)
        def tokenize(pages: Pages = pages, scanner: Any = scanner) -> list[object]:
            return [list(scanner._tag_spans(text)) for _, text in pages]

        def references(pages: Pages = pages, scanner: Any = scanner) -> list[object]:
            return [scanner.references(text, document, site) for document, text in pages]

        def rewrite(pages: Pages = pages, sharder: Any = sharder) -> list[object]:
            return [sharder.rewrite(text, document, hosts) for document, text in pages]

        def rewrite_new(pages: Pages = pages) -> list[object]:
            fresh = new_sharder()
            return [fresh.rewrite(text, document, hosts) for document, text in pages]

        found["tokenize", label] = tokenize
        found["references", label] = references
        found["rewrite", label] = rewrite
        found["rewrite-new", label] = rewrite_new

    def stylesheets() -> list[object]:
        return [
            list(css.find_css_refs(text, "/" + path.rpartition("/")[0] + "/", site))
            for path, text in sheets
        ]

    found["css", "all"] = stylesheets
    return found


def _sharder_factory(package: str) -> Callable[[], Any]:
    """A function making ``package``'s ``Sharder`` for the benchmark's settings (made
    from ``UrlRules`` since issue 18, from the settings before)."""
    from benchmarks.sites import HOSTS

    rewrite = _module(package, "build.rewrite", "rewrite")
    config = _module(package, "config")
    settings = config.load_settings(
        {"hosts": HOSTS, "site_url": SITE_URL}, base_dir=ROOT, source="benchmark"
    )
    rules = getattr(rewrite, "UrlRules", None)
    made = settings if rules is None else rules.of(settings)
    return lambda: rewrite.Sharder(made)


def assign_hosts(package: str, sites: dict[str, Pages]) -> dict[str, str]:
    """Every asset the pages reference (any key but a page's) on a host: round robin
    over the sorted keys."""
    from benchmarks.sites import HOSTS

    html = _module(package, "documents.html", "html")
    urls = _module(package, "documents.urls", "urls")
    inventory = _module(package, "documents.inventory")
    site = urls.Site.from_url(SITE_URL)
    scanner = html.HtmlScanner()
    keys = {
        ref[2]
        for pages in sites.values()
        for document, text in pages
        for ref in scanner.references(text, document, site)
    }
    assets = sorted(key for key in keys if not inventory.is_page(key))
    return {key: HOSTS[i % len(HOSTS)] for i, key in enumerate(assets)}


def _plain(found: object) -> object:
    """``found`` with dataclass instances (Ref) as tuples, lists as lists."""
    if isinstance(found, list | tuple):
        return [_plain(item) for item in found]
    if dataclasses.is_dataclass(found) and not isinstance(found, type):
        return dataclasses.astuple(found)
    return found


def build_corpus(work: Path, pages: int) -> Path:
    """Build the sites (once) and write the documents to a JSON file in ``work``."""
    from benchmarks.sites import mkdocs_project, pelican_project, sphinx_project

    corpus_file = work / f"corpus-{pages}-by-site.json"
    if corpus_file.exists():
        return corpus_file
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    outputs: dict[str, Path] = {}
    for label, theme in (("MkDocs (material)", "material"), ("MkDocs (mkdocs)", "mkdocs")):
        root = work / SITES[label]
        root.mkdir(parents=True, exist_ok=True)
        config = mkdocs_project(root, pages, sharded=False, theme=theme)
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "-q", "-f", config.name],
            cwd=config.parent,
            env=env,
            check=True,
        )
        outputs[label] = config.parent / "site-plain"
    root = work / SITES["Pelican"]
    root.mkdir(parents=True, exist_ok=True)
    project = pelican_project(root, pages)
    subprocess.run(
        [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output", "-q"],
        cwd=project,
        env=env,
        check=True,
    )
    outputs["Pelican"] = project / "output"
    root = work / SITES["Sphinx (alabaster)"]
    root.mkdir(parents=True, exist_ok=True)
    project = sphinx_project(root, pages)
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", ".", str(root / "html")],
        cwd=project,
        env=env,
        check=True,
    )
    outputs["Sphinx (alabaster)"] = root / "html"
    html = {
        label: [
            (p.relative_to(out).as_posix(), p.read_text("utf-8"))
            for p in sorted(out.rglob("*.html"))
        ]
        for label, out in outputs.items()
    }
    specs = [importlib.util.find_spec(name) for name in THEMES]
    folders = list(outputs.values()) + [Path(s.origin).parent for s in specs if s and s.origin]
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
    parser.add_argument(
        "--only", choices=list(LABELS), action="append", help="one pass (repeatable)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import shard_assets

    if not Path(shard_assets.__file__).resolve().is_relative_to(ROOT):
        raise SystemExit(f"this imports {shard_assets.__file__}, not this checkout ({ROOT})")
    work = args.work or Path(tempfile.mkdtemp(prefix="shard-assets-scanners-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = json.loads(build_corpus(work, args.pages).read_text(encoding="utf-8"))
    sites: dict[str, Pages] = {
        label: [tuple(p) for p in pages] for label, pages in corpus["html"].items()
    }
    sheets: Pages = [tuple(p) for p in corpus["css"]]
    sizes = {
        label: sum(len(text.encode()) for _, text in pages) / 1e6 for label, pages in sites.items()
    }
    sizes["all"] = sum(len(text.encode()) for _, text in sheets) / 1e6
    scratch = Path(tempfile.mkdtemp(prefix="shard-assets-before-"))
    load_package(export(args.before, scratch), "before_shard_assets")
    hosts = assign_hosts("shard_assets", sites)
    trees = {
        "before": passes("before_shard_assets", sites, sheets, hosts),
        "after": passes("shard_assets", sites, sheets, hosts),
    }
    for key in trees["after"]:
        # Also the warm-up pass. Refs are compared as tuples (two classes of one name).
        found = [repr(_plain(trees[tree][key]())) for tree in trees]
        if found[0] != found[1]:
            raise SystemExit(f"the trees' {key} passes gave different results")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    documents = ", ".join(
        f"{label} {len(pages)} pages ({sizes[label]:.1f} MB)" for label, pages in sites.items()
    )
    print(
        f"# Scanner and rewriter throughput, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}\n"
        f"command: python benchmarks/scanners.py --before {args.before} "
        f"--repeat {args.repeat} --pages {args.pages}\n"
        f"before: {args.before}; after: this checkout ({head})\n"
        f"documents: {documents}; {len(sheets)} stylesheets ({sizes['all']:.1f} MB); "
        f"{len(hosts)} assets on {len(set(hosts.values()))} hosts; both trees found and "
        "wrote the same\n"
        f"load average before: {_load()}\n",
        flush=True,
    )
    kinds = args.only or list(LABELS)
    keys = [key for key in trees["after"] if key[0] in kinds]
    times: dict[tuple[str, str], dict[str, list[float]]] = {
        key: {tree: [] for tree in trees} for key in keys
    }
    for i in range(args.repeat):
        order = list(trees) if i % 2 == 0 else list(trees)[::-1]
        for key in keys:
            for tree in order:
                started = time.process_time()
                trees[tree][key]()
                times[key][tree].append(time.process_time() - started)
    rows = []
    for key in sorted(keys, key=lambda key: (kinds.index(key[0]), key[1])):
        kind, label = key
        before, after = times[key]["before"], times[key]["after"]
        ratios = [b / a for b, a in zip(before, after, strict=True)]
        rows.append(
            f"| {LABELS[kind]} | {label} | {sizes[label] / statistics.median(before):.1f} MB/s "
            f"| {sizes[label] / statistics.median(after):.1f} MB/s "
            f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |"
        )
    print(
        f"{args.repeat} rounds, each tree once per round, alternating; CPU time of one pass "
        f"on one core; medians. Load average after: {_load()}\n\n"
        "| pass | documents | before | after | after / before | lowest-highest round |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)


LABELS = {
    "tokenize": "HTML, tokenizer (`_tag_spans`)",
    "references": "HTML, references (`HtmlScanner.references`)",
    "rewrite": "HTML, rewrite (`Sharder.rewrite`)",
    "rewrite-new": "HTML, rewrite, new sharder",
    "css": "CSS (`find_css_refs`)",
}


def _load() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


if __name__ == "__main__":
    main()
