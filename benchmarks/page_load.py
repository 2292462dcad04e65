"""Page-load benchmark: one page with 60 images, unsharded and sharded over 2, 4, 8 hosts.

Run from the repository root (Chromium and the ``test`` extra installed)::

    python -m benchmarks.page_load                             # 100 ms per response
    python -m benchmarks.page_load --connection-latency 200    # + 200 ms per new connection

The page (60 PNG images, a stylesheet, a script) is written
once per variant and sharded by the real pipeline (``shard_site``), each variant
under its own path with ``site_url`` saying so. One local HTTP/1.1 server
(testing/cdn_server.py) answers for the origin and every shard host, adding a fixed
delay to every response (``--latency``) and, optionally, to the first response on
each new connection (``--connection-latency``, a stand-in for TCP and TLS set-up).
Headless Chromium loads the page in a fresh context each run (empty cache, no open
connections) and reports Navigation Timing's ``loadEventEnd``; the variants' runs
are interleaved so that drift in the machine's speed spreads over all of them.

This is not a test: the numbers depend on the machine. docs/browser.md records a
run and what it means.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from benchmarks.sites import encode_png
from shard_assets.build.pipeline import shard_site
from shard_assets.config import load_settings
from testing.browser import find_chromium, launch
from testing.cdn_server import KEPT, CdnServer, shard_hosts

HOST_COUNTS = (0, 2, 4, 8)


def png(seed: int, size: int = 48) -> bytes:
    """A real, decodable ``size`` x ``size`` gradient PNG, different for each seed."""
    return encode_png(
        size, size, lambda x, y: bytes(((x * 5 + seed * 13) % 256, y * 5 % 256, seed * 29 % 256))
    )


def write_page(
    folder: Path,
    images: int,
    fonts: Sequence[tuple[str, Path]] = (),
    script: bool = True,
    font_prefix: str = "../fonts/",
    blocking_scripts: int = 0,
) -> None:
    """``index.html`` showing ``images`` images, with ``css/site.css`` in the head and,
    with ``script``, ``js/app.js``; each of ``fonts`` (family, woff2 file) is copied to
    ``fonts/``, declared in the stylesheet (at ``font_prefix`` + its name) and used by
    the page's text (the first by ``h1``, the second by ``p``), so the browser fetches
    it before the load event; ``blocking_scripts`` classic scripts (``js/head-N.js``,
    neither ``defer`` nor ``async``) follow the stylesheet in the head, as Sphinx's
    themes write theirs."""
    (folder / "img").mkdir(parents=True)
    (folder / "css").mkdir()
    for i in range(images):
        (folder / "img" / f"photo-{i:02d}.png").write_bytes(png(i))
    css = "body { font-family: sans-serif; margin: 1rem }\nimg { margin: 2px }\n"
    if fonts:
        (folder / "fonts").mkdir()
    for (family, source), element in zip(fonts, ("h1", "p"), strict=False):
        (folder / "fonts" / source.name).write_bytes(source.read_bytes())
        css += (
            f'@font-face {{ font-family: "{family}"; '
            f'src: url("{font_prefix}{source.name}") format("woff2"); }}\n'
            f'{element} {{ font-family: "{family}", serif }}\n'
        )
    (folder / "css" / "site.css").write_text(css, encoding="utf-8")
    head = ""
    if script:
        (folder / "js").mkdir()
        (folder / "js" / "app.js").write_text(
            "document.documentElement.dataset.ready = 'yes';\n", encoding="utf-8"
        )
        head = '<script src="js/app.js" defer></script>\n'
    if blocking_scripts:
        (folder / "js").mkdir(exist_ok=True)
    for i in range(blocking_scripts):
        (folder / "js" / f"head-{i}.js").write_text(
            f"window.headScripts = (window.headScripts || 0) + 1; // {i}\n", encoding="utf-8"
        )
        head += f'<script src="js/head-{i}.js"></script>\n'
    text = "<p>Two web fonts.</p>\n" if fonts else ""
    tags = "\n".join(
        f'<img src="img/photo-{i:02d}.png" width="48" height="48" alt="photo {i}">'
        for i in range(images)
    )
    (folder / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        "<title>Sixty images</title>\n"
        '<link rel="icon" href="data:,">\n'  # no favicon request after the load
        '<link rel="stylesheet" href="css/site.css">\n'
        f"{head}</head><body>\n<h1>Sixty images</h1>\n{text}{tags}\n</body></html>\n",
        encoding="utf-8",
    )


@dataclass(frozen=True)
class Variant:
    """One way of serving the page: ``hosts`` shard hosts (0: unsharded) under ``path``."""

    hosts: int
    path: str
    busiest: int  # assets on the busiest host (every asset, unsharded)

    @property
    def label(self) -> str:
        return "unsharded" if not self.hosts else f"{self.hosts} hosts"


def prepare(root: Path, images: int, max_imbalance: float = 0.10) -> list[Variant]:
    """Write and shard one copy of the page per host count, under ``root``."""
    variants = []
    for count in HOST_COUNTS:
        name = f"hosts-{count}"
        write_page(root / name, images)
        if count:
            settings = load_settings(
                {
                    "hosts": shard_hosts(count),
                    "scheme": "http",
                    "site_url": f"http://{KEPT}/{name}/",
                    "manifest": str(root / f"{name}.json"),
                    "max_imbalance": max_imbalance,
                },
                base_dir=root,
                source="benchmark",
            )
            result = shard_site(root / name, settings)
            # The images and the script; the stylesheet stays on the origin (the default).
            if result.balance.total != images + 1:
                raise RuntimeError(
                    f"{name}: {result.balance.total} assets sharded, not {images + 1}"
                )
            busiest = max(row.assets for row in result.balance.rows)
        else:
            busiest = images + 2
        variants.append(Variant(count, f"/{name}/index.html", busiest))
    return variants


def load_time(browser: Browser, server: CdnServer, variant: Variant, images: int) -> float:
    """Load the page in a fresh context; Navigation Timing's ``loadEventEnd`` in ms."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url(variant.path), wait_until="load")
        page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
        loaded = page.evaluate(
            "[...document.images].filter((i) => i.complete && i.naturalWidth > 0).length"
        )
        if loaded != images:
            raise SystemExit(f"{variant.label}: only {loaded} of {images} images loaded")
        return float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="loads per variant (default: 7)")
    parser.add_argument("--images", type=int, default=60, help="images on the page (default: 60)")
    parser.add_argument(
        "--latency", type=float, default=100, help="ms added to every response (default: 100)"
    )
    parser.add_argument(
        "--connection-latency",
        type=float,
        default=0,
        help="ms added to each new connection's first response (default: 0)",
    )
    parser.add_argument(
        "--max-imbalance", type=float, default=0.10, help="the gate setting (default: 0.10)"
    )
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print(
            "page_load: Chromium not found; apt-get install chromium or set CHROMIUM",
            file=sys.stderr,
        )
        return 2

    times: dict[Variant, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="page-load-") as tmp:
        variants = prepare(Path(tmp), args.images, args.max_imbalance)
        server = CdnServer(
            Path(tmp),
            shard_hosts(max(HOST_COUNTS)),
            latency=args.latency / 1000,
            connection_latency=args.connection_latency / 1000,
        )
        with server, sync_playwright() as playwright:
            browser = launch(playwright, server.resolver_rules(), chromium)
            try:
                for variant in variants:  # a warm-up load each, not counted
                    load_time(browser, server, variant, args.images)
                for _ in range(args.runs):
                    for variant in variants:
                        times.setdefault(variant, []).append(
                            load_time(browser, server, variant, args.images)
                        )
                version = browser.version
            finally:
                browser.close()

    print(
        f"# {datetime.date.today().isoformat()}, {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Chromium {version}"
    )
    print(
        f"# {args.images} images + 1 page + 1 stylesheet + 1 script over HTTP/1.1; "
        f"{args.latency:g} ms per response, {args.connection_latency:g} ms per new "
        f"connection; max_imbalance {args.max_imbalance:g}; median of {args.runs} runs"
    )
    base = statistics.median(times[variants[0]])
    print(
        "| variant | busiest host: assets (rounds of 6) | median load (ms) | fastest | slowest "
        "| speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for variant in variants:
        runs = times[variant]
        median = statistics.median(runs)
        print(
            f"| {variant.label} | {variant.busiest} ({math.ceil(variant.busiest / 6)}) "
            f"| {median:.0f} | {min(runs):.0f} | {max(runs):.0f} "
            f"| {base / median:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
