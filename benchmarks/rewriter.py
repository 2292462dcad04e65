"""The HTML rewriter on one core, the text in memory, for benchmarks/build_overhead.py:
beside a plain read+write pass and a BeautifulSoup parse-and-serialize pass of the
same pages."""

from __future__ import annotations

import cProfile
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.profiles import summary
from benchmarks.sites import HOSTS
from benchmarks.timing import table


def bench_rewriter(
    site: Path, manifest: Path, sample: int, repeat: int, profile: Path | None = None
) -> str:
    """``sample`` pages of the unsharded output ``site``, rewritten with the hosts of
    ``manifest`` (a build of the same site): CPU time of this process. The first
    rewrite pass runs with the tags of the same pages remembered from a warm-up run
    (the figure docs/performance.md gave until issue 21); the second meets each
    page's tags for the first time, as a build does. With ``profile``, the in-memory
    rewrite once more under cProfile (CPU time), its statistics written there and
    summed up after the table."""
    from bs4 import BeautifulSoup

    from shard_assets.build.rewrite import Sharder, UrlRules
    from shard_assets.config import load_settings
    from shard_assets.documents.text import decode_document
    from shard_assets.manifest import read_manifest

    pages = sorted(site.rglob("*.html"))
    step = max(1, len(pages) // sample)
    files = pages[::step][:sample]
    documents = [(p, p.relative_to(site).as_posix(), p.read_bytes()) for p in files]
    texts = [(document, data.decode("utf-8")) for _, document, data in documents]
    size = sum(len(data) for _, _, data in documents) / 1e6
    settings = load_settings(
        {"hosts": HOSTS, "manifest": str(manifest), "site_url": "https://docs.example.org/"},
        base_dir=site,
        source="benchmark",
    )
    found = read_manifest(manifest)
    assert found is not None
    hosts = dict(found.assets)
    sharder = Sharder(UrlRules.of(settings))
    out = Path(tempfile.mkdtemp(prefix="rewriter-"))

    def read_write() -> None:
        for path, _, _ in documents:
            decoded = decode_document(path.read_bytes(), False)
            assert decoded is not None
            (out / "page.html").write_bytes(decoded.encode(decoded.text))

    def rewrite_only() -> None:
        for document, text in texts:
            sharder.rewrite(text, document, hosts)

    def rewrite_seen_once() -> None:
        # A new sharder remembers no tag: each page's tags are met for the first time,
        # as in a build (MkDocs' pages each have their own folder, so no two pages
        # share a remembered tag); the URL resolution stays remembered, as in a build.
        fresh = Sharder(UrlRules.of(settings))
        for document, text in texts:
            fresh.rewrite(text, document, hosts)

    def scan_only() -> None:
        for document, text in texts:
            sharder.references(text, document)

    def shard_assets_pass() -> None:
        for path, document, _ in documents:
            decoded = decode_document(path.read_bytes(), False)
            assert decoded is not None
            text, _ = sharder.rewrite(decoded.text, document, hosts)
            (out / "page.html").write_bytes(decoded.encode(text))

    def beautifulsoup() -> None:
        for path, _, _ in documents:
            soup = BeautifulSoup(path.read_bytes().decode("utf-8"), "html.parser")
            (out / "page.html").write_bytes(str(soup).encode("utf-8"))

    passes: list[Pass] = [
        ("read + decode + encode + write (the floor)", read_write, repeat),
        ("shard-assets rewrite, text in memory (scan + splice)", rewrite_only, repeat),
        ("the same, each page's tags met for the first time", rewrite_seen_once, repeat),
        ("of which the scan (references found and resolved)", scan_only, repeat),
        ("shard-assets: read + rewrite + write", shard_assets_pass, repeat),
        ('BeautifulSoup(html, "html.parser") + str(), read + write', beautifulsoup, 1),
    ]
    rewrite_only()  # the per-run memory of resolved URLs and tags
    times = _times(passes, repeat)
    shutil.rmtree(out)
    profiled = "" if profile is None else _profiled(rewrite_only, profile)
    soup = size / statistics.median(times[passes[-1][0]])
    body = []
    for name, _, _ in passes:
        rates = [size / t for t in times[name]]
        rate = statistics.median(rates)
        body.append(
            [name, f"{rate:,.0f} MB/s ({min(rates):,.0f}-{max(rates):,.0f})", f"{rate / soup:.0f}x"]
        )
    return (
        f"{len(documents)} pages, {size:.1f} MB, CPU time of this process (one core), "
        f"median of {repeat} (BeautifulSoup: 1 run)\n\n"
        + table(["pass", "throughput, median (min-max)", "vs BeautifulSoup"], body)
        + profiled
    )


def _profiled(function: Callable[[], None], profile: Path) -> str:
    """Run ``function`` under cProfile (CPU time), keep the statistics in ``profile``."""
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(function)
    profiler.dump_stats(profile)
    return f"\n\nProfile of the rewrite, text in memory:\n\n{summary(profile)}"


Pass = tuple[str, Callable[[], None], int]


def _times(passes: list[Pass], repeat: int) -> dict[str, list[float]]:
    """Each pass's CPU times, the passes alternating, each run at most its count."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in passes}
    for i in range(repeat):
        for name, function, runs in passes:
            if i < runs:
                started = time.process_time()
                function()
                times[name].append(time.process_time() - started)
    return times
