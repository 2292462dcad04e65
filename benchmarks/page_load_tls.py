"""Page-load benchmark over TLS, HTTP/1.1 and HTTP/2: unsharded, sharded, coalescing,
fonts on the origin, preconnect, and protocol-aware serving, served by Debian's nginx.

Run from the repository root (Chromium, nginx and the ``test`` extra installed)::

    python -m benchmarks.page_load_tls                # every setup, 7 loads each (~8 min)
    python -m benchmarks.page_load_tls --quick        # 4 setups, 1 load each (~20 s)
    python -m benchmarks.page_load_tls --json raw.json

One page (60 PNG images, a stylesheet in ``<head>``, two web fonts the stylesheet
uses) is written once per setup and sharded over 4 hosts by shard-assets itself
(``shard_site``). All setups' pages are on ``https://www.shard.test/<setup>/``:

- **unsharded**: the page as the generator wrote it.
- **own IPs**: sharded over ``cdn1..4.split.shard.test``, each on its own address
  (127.0.0.2..5) with its own certificate: no connection can be shared.
- **one IP**: sharded over ``cdn1..4.shard.test``, same-site with the page, on the
  page's address, all names on one certificate: HTTP/2 may coalesce everything.
  These two shard everything (``cors_assets`` and ``stylesheets``: ``shard``).
- **fonts on origin**: as *one IP*, but the fonts (the CORS-mode assets) stay on the
  page's own origin (``cors_assets: origin``); **CSS + fonts on origin** keeps the
  render-blocking stylesheet there too (``stylesheets: origin``): shard-assets'
  defaults; **CSS + scripts + fonts on origin** also the scripts (``exclude``).
- **+ preconnect**: *one IP* and *CSS + fonts on origin*, built with ``preconnect: true``.
- **protocol-aware**: nginx serves the sharded *one IP* pages (or the defaults' ones)
  to HTTP/1.1 visitors and the unsharded twin (the output before sharding) to
  HTTP/2 ones (``map $server_protocol``, issue 13's point 1).
- **unsharded, a second copy**: the unsharded page again under another path, to
  show how far two loads of the same bytes differ on this machine.

``--head-scripts N`` adds N classic scripts (neither ``defer`` nor ``async``) to the
page's head, after the stylesheet, as Sphinx's themes have them.

Two kinds of latency, 100 ms by default: **rtt**, a delaying TCP proxy in front of
nginx (``benchmarks/tls_serving.py``: half the round trip each way, and a round trip
for the TCP handshake, so every new connection pays TCP + TLS 1.3 set-up), and
**per-request**, Chromium's own network emulation (DevTools
``Network.emulateNetworkConditions``), which adds the latency to each request and
nothing to connections, without the proxy.

Each load is a fresh browser context (an empty cache and connection pool, nothing
known about which hosts speak HTTP/2), in one of four browsers (one per protocol and
latency kind, since each maps the names to its own ports); loads are interleaved
across setups and browsers, the setups' order rotated every round. Reported per load:
Navigation Timing's ``loadEventEnd``, the last image's ``responseEnd``, every
resource's ``nextHopProtocol``, the TCP connections the proxy accepted (every socket
Chromium opened, rtt only) and the connections that carried requests (distinct
``$connection`` in nginx's access log).

This is not a test: the numbers depend on the machine. docs/page-load.md records a
run and what it means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.page_load import write_page
from benchmarks.tls_serving import DelayProxy, LogLine, VirtualHost, nginx_config
from shard_assets import load_settings, shard_site
from testing.browser import find_chromium, launch
from testing.certificates import LocalCA
from testing.programs import NGINX
from testing.servers import Server, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parent.parent
SITE = "www.shard.test"
SAME_SITE_HOSTS = tuple(f"cdn{i}.shard.test" for i in range(1, 5))
OWN_IP_HOSTS = tuple(f"cdn{i}.split.shard.test" for i in range(1, 5))
ORIGIN_ADDRESS = "127.0.0.1"
OWN_ADDRESSES = tuple(f"127.0.0.{i}" for i in range(2, 6))
FONTS = (
    ("Harbour Pixel", ROOT / "sample_site/mkdocs/docs/fonts/harbour-pixel.woff2"),
    ("Shard Sample", ROOT / "sample_site/pelican/theme/static/fonts/sample.woff2"),
)
PROTOCOLS = ("http/1.1", "h2")
LATENCIES = ("rtt", "per-request")


@dataclass(frozen=True)
class Setup:
    """One way of building and serving the page, under ``/<key>/`` on the site."""

    key: str
    label: str
    hosts: tuple[str, ...] = ()
    #: The build's ``cors_assets``: "shard" moves the fonts to the shard hosts.
    cors_assets: str = "origin"
    #: The build's ``stylesheets``: "shard" moves the stylesheet.
    stylesheets: str = "origin"
    preconnect: bool = False
    aware: bool = False
    #: The build's ``exclude`` patterns: more that stays on the origin.
    exclude: tuple[str, ...] = ()


#: Everything on the shard hosts: what shard-assets did before its defaults kept the
#: fonts (cors_assets) and then the stylesheets (stylesheets) on the origin.
ALL = {"cors_assets": "shard", "stylesheets": "shard"}
SETUPS = (
    Setup("unsharded", "unsharded"),
    Setup("own-ips", "sharded, own IPs + certs", OWN_IP_HOSTS, **ALL),
    Setup("one-ip", "sharded, one IP + cert", SAME_SITE_HOSTS, **ALL),
    Setup("fonts-origin", "one IP, fonts on origin", SAME_SITE_HOSTS, stylesheets="shard"),
    Setup("head-origin", "one IP, CSS + fonts on origin (the defaults)", SAME_SITE_HOSTS),
    Setup(
        "scripts-origin",
        "one IP, CSS + scripts + fonts on origin",
        SAME_SITE_HOSTS,
        exclude=("js/*",),
    ),
    Setup("one-ip-preconnect", "one IP + preconnect", SAME_SITE_HOSTS, **ALL, preconnect=True),
    Setup(
        "head-origin-preconnect",
        "one IP, CSS + fonts on origin + preconnect",
        SAME_SITE_HOSTS,
        preconnect=True,
    ),
    Setup("aware-one-ip", "protocol-aware (h1: one IP)", SAME_SITE_HOSTS, **ALL, aware=True),
    Setup("aware", "protocol-aware (h1: the defaults)", SAME_SITE_HOSTS, aware=True),
    # The same bytes as unsharded under another path: the noise between identical pages.
    Setup("unsharded-again", "unsharded, a second copy"),
)
QUICK = ("unsharded", "own-ips", "one-ip", "aware")


# --- the page ------------------------------------------------------------------------


def build(root: Path, setups: Sequence[Setup], images: int, scripts: int = 0) -> None:
    """Write every setup's page under ``root/site/<key>/`` and shard it with shard-assets
    (a protocol-aware one under ``root/aware-sharded/<key>/``, with its unsharded twin
    under ``root/aware-twin/<key>/``); ``scripts`` blocking scripts in each head."""
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    for setup in setups:
        folder = root / "aware-sharded" / setup.key if setup.aware else root / "site" / setup.key
        write_page(folder, images, FONTS, script=False, blocking_scripts=scripts)
        if setup.aware:
            twin = root / "aware-twin" / setup.key
            write_page(twin, images, FONTS, script=False, blocking_scripts=scripts)
        if not setup.hosts:
            continue
        settings = load_settings(
            {
                "hosts": list(setup.hosts),
                "site_url": f"https://{SITE}/{setup.key}/",
                "manifest": str(root / "manifests" / f"{setup.key}.json"),
                "preconnect": setup.preconnect,
                "cors_assets": setup.cors_assets,
                "stylesheets": setup.stylesheets,
                "exclude": list(setup.exclude),
            },
            base_dir=root,
            source="benchmark",
        )
        result = shard_site(folder, settings)
        expected = images + (1 if setup.stylesheets == "shard" else 0)
        expected += 0 if "js/*" in setup.exclude else scripts
        expected += len(FONTS) if setup.cors_assets == "shard" else 0
        if result.balance.total != expected:
            raise RuntimeError(
                f"{setup.key}: {result.balance.total} assets sharded, not {expected}"
            )


# --- measuring ---------------------------------------------------------------------------


# After the load event: Navigation and Resource Timing, and what the page shows.
_MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const images = resources.filter((r) => r.initiatorType === 'img');
  return {
    load: nav.loadEventEnd,
    lastImage: Math.max(0, ...images.map((r) => r.responseEnd)),
    firstImage: Math.min(...images.map((r) => r.requestStart || r.startTime)),
    stylesheet: Math.max(0, ...resources.filter((r) => r.initiatorType === 'link')
      .map((r) => r.responseEnd)),
    protocols: [nav, ...resources].map((r) => [r.name, r.nextHopProtocol]),
    images: [...document.images].filter((i) => i.complete && i.naturalWidth > 0).length,
    fonts: [...document.fonts].map((f) => f.status),
  };
}"""


@dataclass
class Sample:
    """One page load."""

    load_ms: float
    last_image_ms: float
    first_image_request_ms: float  # when the first image request went out
    stylesheet_ms: float  # when the head's stylesheet arrived
    protocols: dict[str, int]  # nextHopProtocol -> resources (the page included)
    served: dict[str, int]  # nginx's $server_protocol -> requests
    connections: int  # connections that carried requests (nginx $connection)
    tcp: int | None  # TCP connections opened (the proxy's count; rtt only)
    requests: int


@dataclass
class Phase:
    """One protocol and one kind of latency, with its browser and its samples."""

    protocol: str
    latency: str
    browser: Browser | None = None
    proxy: DelayProxy | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{'HTTP/2' if self.protocol == 'h2' else 'HTTP/1.1'}, {self.latency}"


def load(phase: Phase, nginx: Server, setup: Setup, latency_ms: float, images: int) -> Sample:
    """Load ``setup``'s page in a fresh context of ``phase``'s browser and measure it."""
    assert phase.browser is not None
    offset = nginx.log("access.log").offset()
    accepted = phase.proxy.accepted if phase.proxy else 0
    context = phase.browser.new_context()
    try:
        page = context.new_page()
        if phase.latency == "per-request":
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": latency_ms,
                    "downloadThroughput": -1,
                    "uploadThroughput": -1,
                },
            )
        page.goto(f"https://{SITE}/{setup.key}/index.html", wait_until="load")
        page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
        seen: dict[str, Any] = page.evaluate(_MEASURE)
    finally:
        context.close()
    where = f"{phase.label}, {setup.label}"
    if seen["images"] != images:
        raise RuntimeError(f"{where}: only {seen['images']} of {images} images loaded")
    if seen["fonts"] != ["loaded"] * len(FONTS):
        raise RuntimeError(f"{where}: fonts {seen['fonts']}, not all loaded")
    requests = [LogLine.parse(line) for line in nginx.log("access.log").lines(since=offset)]
    failed = [line for line in requests if line.status >= 400]
    if failed:
        raise RuntimeError(f"{where}: {failed[0].status} for {failed[0].host}{failed[0].uri}")
    return Sample(
        load_ms=float(seen["load"]),
        last_image_ms=float(seen["lastImage"]),
        first_image_request_ms=float(seen["firstImage"]),
        stylesheet_ms=float(seen["stylesheet"]),
        protocols=dict(Counter(protocol or "(none)" for _, protocol in seen["protocols"])),
        served=dict(Counter(line.protocol for line in requests)),
        connections=len({line.connection for line in requests}),
        tcp=phase.proxy.accepted - accepted if phase.proxy else None,
        requests=len(requests),
    )


@dataclass
class Run:
    """A whole benchmark run: its setups and phases, and what it ran on."""

    setups: tuple[Setup, ...]
    phases: list[Phase]
    runs: int
    latency_ms: float
    images: int
    scripts: int = 0  # blocking scripts in the page's head
    chromium: str = ""
    nginx: str = ""

    def phase(self, protocol: str, latency: str) -> Phase:
        return next(p for p in self.phases if (p.protocol, p.latency) == (protocol, latency))

    def median(self, phase: Phase, key: str, what: str = "load_ms") -> float:
        return float(statistics.median(getattr(s, what) for s in phase.samples[key]))

    def speedup(self, phase: Phase, key: str) -> float:
        return self.median(phase, "unsharded") / self.median(phase, key)


@contextlib.contextmanager
def serving(
    tmp: Path, setups: Sequence[Setup], images: int, rtt_ms: float, scripts: int = 0
) -> Iterator[tuple[Server, LocalCA, dict[str, dict[str, int]], DelayProxy]]:
    """Build the pages, then run nginx and the delaying proxy until the block ends.

    Yields nginx, the CA, the ports (``"nginx"`` and ``"proxy"`` ->
    ``"address:protocol"`` -> port) and the proxy."""
    if NGINX.find() is None:
        raise RuntimeError(NGINX.missing())
    tmp.chmod(0o755)  # nginx's workers run as nobody when it is started as root (CI)
    build(tmp, setups, images, scripts)
    ca = LocalCA(tmp / "certs")
    # Chromium's --ignore-certificate-errors-spki-list needs the CA in the served chain.
    hosts = [
        VirtualHost(
            ORIGIN_ADDRESS,
            (SITE, *SAME_SITE_HOSTS),
            ca.issue("site", SITE, *SAME_SITE_HOSTS, with_ca=True),
        ),
        *(
            VirtualHost(address, (host,), ca.issue(f"own-{i}", host, with_ca=True))
            for i, (address, host) in enumerate(zip(OWN_ADDRESSES, OWN_IP_HOSTS, strict=True), 1)
        ),
    ]
    nginx_ports = {"http/1.1": free_port(), "h2": free_port()}
    config = nginx_config(
        tmp / "nginx",
        tmp / "site",
        hosts,
        nginx_ports["http/1.1"],
        nginx_ports["h2"],
        [f"/{s.key}/" for s in setups if s.aware],
    )
    addresses = (ORIGIN_ADDRESS, *OWN_ADDRESSES)
    listening = [(a, p) for a in addresses for p in nginx_ports.values()]
    with contextlib.ExitStack() as stack:
        nginx = stack.enter_context(Server(NGINX, tmp / "nginx", config, listening))
        proxy = stack.enter_context(DelayProxy(rtt_ms / 1000))
        ports: dict[str, dict[str, int]] = {"nginx": {}, "proxy": {}}
        for address in addresses:
            for protocol, port in nginx_ports.items():
                ports["nginx"][f"{address}:{protocol}"] = port
                ports["proxy"][f"{address}:{protocol}"] = proxy.add(address, (address, port))
        yield nginx, ca, ports, proxy


def resolver_rules(ports: dict[str, int], protocol: str) -> str:
    """``--host-resolver-rules``: every name to its address and ``ports``' port for
    ``protocol``, and nothing else resolves."""
    names = [(SITE, ORIGIN_ADDRESS)] + [(h, ORIGIN_ADDRESS) for h in SAME_SITE_HOSTS]
    names += list(zip(OWN_IP_HOSTS, OWN_ADDRESSES, strict=True))
    rules = [f"MAP {name} {address}:{ports[f'{address}:{protocol}']}" for name, address in names]
    return ", ".join([*rules, "MAP * ~NOTFOUND"])


def measure(
    setups: Sequence[Setup],
    runs: int = 7,
    latency_ms: float = 100,
    images: int = 60,
    warmup: bool = True,
    progress: bool = False,
    scripts: int = 0,
) -> Run:
    """Run the benchmark; every process it starts is stopped when it returns or raises."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium not found: apt-get install chromium (or set CHROMIUM)")
    run = Run(
        tuple(setups),
        [Phase(p, lat) for p in PROTOCOLS for lat in LATENCIES],
        runs,
        latency_ms,
        images,
        scripts,
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="page-load-tls-")))
        nginx, ca, ports, proxy = stack.enter_context(
            serving(tmp, setups, images, latency_ms, scripts)
        )
        playwright = stack.enter_context(sync_playwright())
        for phase in run.phases:
            rules = resolver_rules(
                ports["proxy" if phase.latency == "rtt" else "nginx"], phase.protocol
            )
            phase.browser = launch(
                playwright,
                rules,
                chromium,
                (
                    "--disable-quic",
                    f"--ignore-certificate-errors-spki-list={ca.spki}",
                ),
            )
            stack.callback(phase.browser.close)
            phase.proxy = proxy if phase.latency == "rtt" else None
        run.chromium = run.phases[0].browser.version if run.phases[0].browser else ""
        run.nginx = _nginx_version()
        if warmup:  # the first load in a browser is slower; one per browser, not counted
            for phase in run.phases:
                load(phase, nginx, setups[0], latency_ms, images)
        for round_ in range(runs):
            shift = round_ % len(setups)
            order = [*setups[shift:], *setups[:shift]]
            for phase in run.phases:
                for setup in order:
                    phase.samples.setdefault(setup.key, []).append(
                        load(phase, nginx, setup, latency_ms, images)
                    )
            if progress:
                print(f"# round {round_ + 1} of {runs} done", file=sys.stderr)
        for phase in run.phases:
            phase.browser = None
            phase.proxy = None
    return run


def _nginx_version() -> str:
    executable = NGINX.find()
    if executable is None:
        return ""
    out = subprocess.run([executable, "-v"], capture_output=True, text=True, check=False)
    return out.stderr.strip().removeprefix("nginx version: ")


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


# --- reporting -------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def summary_table(run: Run) -> list[str]:
    """One row per setup: its speed-up vs unsharded (and median load) per protocol and
    latency, then its connections per protocol in the rtt runs (TCP opened, and how
    many carried requests)."""
    lines = [
        "| setup | "
        + " | ".join(p.label for p in run.phases)
        + " | connections, HTTP/1.1 | connections, HTTP/2 |",
        "|---|" + "---:|" * (len(run.phases) + 2),
    ]
    for setup in run.setups:
        cells = [
            f"{run.speedup(phase, setup.key):.2f}x ({_ms(run.median(phase, setup.key))})"
            for phase in run.phases
        ]
        for protocol in PROTOCOLS:
            samples = run.phase(protocol, "rtt").samples[setup.key]
            tcp = statistics.median(s.tcp or 0 for s in samples)
            used = statistics.median(s.connections for s in samples)
            cells.append(f"{tcp:g} ({used:g} used)")
        lines.append(f"| {setup.label} | " + " | ".join(cells) + " |")
    return lines


def detail_table(run: Run) -> list[str]:
    """Every phase and setup: load time (median, spread), when the stylesheet arrived,
    the first image was requested and the last arrived (medians, ms), connections,
    and each load's resources by ``nextHopProtocol``."""
    lines = [
        "| protocol, latency | setup | load (median) | fastest | slowest | stylesheet in "
        "| 1st image asked | last image in | speed-up | TCP connections | carrying requests "
        "| nextHopProtocol |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for phase in run.phases:
        for setup in run.setups:
            samples = phase.samples[setup.key]
            loads = [s.load_ms for s in samples]
            protocols: Counter[str] = Counter()
            for s in samples:
                protocols.update(s.protocols)
            tcp = (
                f"{statistics.median(s.tcp or 0 for s in samples):g}"
                if samples[0].tcp is not None
                else "-"
            )
            lines.append(
                f"| {phase.label} | {setup.label} | {_ms(statistics.median(loads))} "
                f"| {min(loads):,.0f} | {max(loads):,.0f} "
                f"| {run.median(phase, setup.key, 'stylesheet_ms'):,.0f} "
                f"| {run.median(phase, setup.key, 'first_image_request_ms'):,.0f} "
                f"| {run.median(phase, setup.key, 'last_image_ms'):,.0f} "
                f"| {run.speedup(phase, setup.key):.2f}x | {tcp} "
                f"| {statistics.median(s.connections for s in samples):g} "
                f"| {', '.join(f'{k} {v // len(samples)}' for k, v in sorted(protocols.items()))} |"
            )
    return lines


def target_lines(run: Run) -> list[str]:
    """The targets of issue 13, point 1, for each protocol-aware setup in the run, and
    the noise to judge them by when the run has a second unsharded copy."""
    lines = []
    if any(s.key == "unsharded-again" for s in run.setups):
        for phase in run.phases:
            ratio = run.median(phase, "unsharded-again") / run.median(phase, "unsharded")
            lines.append(
                f"- noise: a second copy of the unsharded page, {phase.label}: {ratio:.3f}x "
                "the unsharded load time (the same bytes)"
            )
    for setup in (s for s in run.setups if s.aware):
        for latency in LATENCIES:
            phase = run.phase("h2", latency)
            ratio = run.median(phase, setup.key) / run.median(phase, "unsharded")
            verdict = "met" if ratio <= 1.03 else "MISSED"
            lines.append(
                f"- {setup.label}, HTTP/2 visitors, {latency}: {ratio:.3f}x the unsharded "
                f"load time (target <= 1.03): {verdict}"
            )
        for latency, goal in (("rtt", 1.5), ("per-request", 2.0)):
            speedup = run.speedup(run.phase("http/1.1", latency), setup.key)
            verdict = "met" if speedup >= goal else "MISSED"
            lines.append(
                f"- {setup.label}, HTTP/1.1 visitors (4 hosts), {latency}: {speedup:.2f}x "
                f"faster (target >= {goal:g}x): {verdict}"
            )
    return lines


def report(run: Run, command: str) -> str:
    """The whole report, Markdown."""
    head = [
        f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}, "
        f"{platform.node() or 'this machine'}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Chromium {run.chromium}, nginx {run.nginx}",
        f"# `{command}`: {run.images} images + a stylesheet + {len(FONTS)} web fonts"
        f"{f' + {run.scripts} blocking scripts' if run.scripts else ''}, "
        f"4 shard hosts, TLS 1.3; {run.latency_ms:g} ms latency; median of {run.runs} "
        "loads in fresh browser contexts; speed-up = unsharded median / setup median",
        "",
    ]
    return "\n".join(
        [*head, *summary_table(run), "", *detail_table(run), "", *target_lines(run), ""]
    )


def to_json(run: Run) -> dict[str, Any]:
    """Every sample, for a closer look."""
    return {
        "chromium": run.chromium,
        "nginx": run.nginx,
        "latency_ms": run.latency_ms,
        "runs": run.runs,
        "setups": [asdict(s) for s in run.setups],
        "phases": [
            {
                "protocol": p.protocol,
                "latency": p.latency,
                "samples": {k: [asdict(s) for s in v] for k, v in sorted(p.samples.items())},
            }
            for p in run.phases
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="loads per setup (default: 7)")
    parser.add_argument(
        "--latency", type=float, default=100, help="round trip / per-request ms (default: 100)"
    )
    parser.add_argument("--images", type=int, default=60, help="images on the page (default: 60)")
    parser.add_argument(
        "--head-scripts",
        type=int,
        default=0,
        help="classic scripts (no defer, no async) in the page's head (default: 0)",
    )
    parser.add_argument(
        "--setups",
        default=",".join(s.key for s in SETUPS),
        help=f"comma-separated, from: {', '.join(s.key for s in SETUPS)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"1 load each of {', '.join(QUICK)}, no warm-up"
    )
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    wanted = QUICK if args.quick else tuple(args.setups.split(","))
    by_key = {s.key: s for s in SETUPS}
    unknown = [k for k in wanted if k not in by_key]
    if unknown or "unsharded" not in wanted:
        parser.error(f"--setups must include unsharded and name only known setups: {unknown}")
    setups = [by_key[k] for k in wanted]
    interrupted = False

    def on_interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    # Ctrl-C reaches Playwright's driver too, which may then fail first: either way,
    # everything measure() started is stopped before it returns.
    signal.signal(signal.SIGINT, on_interrupt)
    try:
        run = measure(
            setups,
            runs=1 if args.quick else args.runs,
            latency_ms=args.latency,
            images=args.images,
            warmup=not args.quick,
            progress=True,
            scripts=args.head_scripts,
        )
    except (Exception, KeyboardInterrupt) as error:
        if interrupted:
            print(
                "page_load_tls: interrupted; nginx, the proxy and the browsers are stopped",
                file=sys.stderr,
            )
            return 130
        if isinstance(error, RuntimeError):
            print(f"page_load_tls: {error}", file=sys.stderr)
            return 2
        raise
    print(report(run, "python -m benchmarks.page_load_tls " + " ".join(argv or sys.argv[1:])))
    if args.json:
        args.json.write_text(json.dumps(to_json(run), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
