"""A live check of the shard hosts after deploying: ``shard-assets check-hosts``.

For each configured host it connects once (TLS with ALPN ``h2``/``http/1.1``, the chain
verified against the trusted CAs) and reports the addresses, the certificate's dates
and which configured hosts it covers, the negotiated protocol, and whether the host is
same-site with the site's URL by the Public Suffix List. From these it says what each
kind of visitor pays: HTTP/1.1 visitors get the shard host's own connections (what
sharding is for); HTTP/2 visitors get one connection only when Chromium can coalesce
the host with the page's own (same site, a shared address, the page's certificate
covers the host), and CORS-mode assets (fonts, module scripts, ``crossorigin``
elements) always open one more connection per shard host they sit on.

Then it fetches every asset (or a sample per host) from the host the manifest names,
through one HTTP/2-capable client with bounded connections and explicit timeouts, and
checks the status, the bytes against the output folder, and
``Access-Control-Allow-Origin`` on CORS-mode assets; it reports the cache headers.

Which assets are CORS-mode is the rewriter's own knowledge: the output is scanned with
the same scanners the build uses (:class:`shard_assets.rewrite.Sharder`), with URLs on
the shard hosts counted as site-local.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .config import Settings
from .connect import CHECK_EXTRA, Handshake, Routes, covers, http_client, is_ip, probe_tls, trust
from .errors import ConfigError
from .files import decode_document
from .inventory import is_stylesheet, take_inventory
from .manifest import read_manifest
from .rewrite import Sharder

if TYPE_CHECKING:
    import httpx

FORMATS = ("text", "json")
DEFAULT_PORTS = {"http": 80, "https": 443}

#: Problems, in the order the text output lists them; each fails the check.
PROBLEM_KINDS = (
    "unreachable",
    "certificate",
    "misdirected",
    "missing",
    "status",
    "stale",
    "cors",
    "fetch",
)
#: A certificate that expires sooner than this is a warning.
EXPIRY_WARNING_DAYS = 21
_H3 = re.compile(r"(?:^|,)\s*h3(?:-\d+)?\s*=")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class CheckOptions:
    """How to reach the hosts and how much to fetch."""

    routes: Routes = field(default_factory=lambda: Routes({}, {}))
    ca_file: Path | None = None
    #: Fetch at most this many assets per host (None: all of them).
    sample: int | None = None
    #: Connections open at once, in all.
    connections: int = 8
    #: Seconds for each phase of a request (connect, read, write, pool wait).
    timeout: float = 10.0


@dataclass(frozen=True)
class Probe:
    """One connection to a host: the handshake (None when none happened), why the
    host cannot be used ("" when it can), and the addresses its name resolved to."""

    handshake: Handshake | None
    error: str
    addresses: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: ``kind`` is one of :data:`PROBLEM_KINDS` (or a warning's kind)."""

    kind: str
    host: str
    key: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"host": self.host, "key": self.key, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class Fetched:
    """What fetching one asset showed; ``problem`` is None when it is sound."""

    key: str
    url: str
    cors: bool
    status: int = 0
    http_version: str = ""
    cache_control: str | None = None
    etag: str | None = None
    age: str | None = None
    alt_svc: str | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class HostCheck:
    """One host: what its connection showed, the verdicts, and its assets."""

    host: str
    role: str  # "shard" or "site"
    port: int
    addresses: tuple[str, ...] = ()
    handshake: Handshake | None = None
    error: str = ""
    covered: tuple[str, ...] = ()
    site: str = ""
    same_site: bool | None = None
    verdicts: Mapping[str, str] = field(default_factory=dict)
    coalesces: bool | None = None
    assets: int = 0
    cors_assets: int = 0
    fetched: tuple[Fetched, ...] = ()

    @property
    def reachable(self) -> bool:
        return not self.error

    @property
    def protocol(self) -> str:
        return self.handshake.protocol if self.handshake else ""


@dataclass(frozen=True)
class LiveReport:
    """Everything ``check-hosts`` found."""

    scheme: str
    site_url: str | None
    hosts: tuple[HostCheck, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    summary: Mapping[str, str]
    sampled: bool

    @property
    def ok(self) -> bool:
        """True when nothing fails the check (warnings do not)."""
        return not self.problems

    @property
    def shard_hosts(self) -> tuple[HostCheck, ...]:
        return tuple(h for h in self.hosts if h.role == "shard")


def check_hosts(output_dir: Path, settings: Settings, options: CheckOptions) -> LiveReport:
    """Check every configured host live against ``output_dir`` and the manifest."""
    manifest = read_manifest(settings.manifest)
    if manifest is None:
        raise ConfigError(
            f"{settings.manifest}: no manifest; build the site first, or give --manifest"
        )
    scheme = _scheme(settings)
    port = DEFAULT_PORTS[scheme]
    inventory = take_inventory(output_dir)
    names = list(settings.host_names)
    by_host, absent = _assets_by_host(manifest.assets, names, inventory.files)
    cors = _cors_keys(output_dir, inventory.documents, settings, manifest.assets.values())
    site = urlsplit(settings.site_url) if settings.site_url else None
    site_host = site.hostname if site else None
    warnings = _setup_warnings(absent, output_dir, site_host)
    origin = f"{site.scheme}://{site.netloc}".lower() if site else None
    psl = _public_suffixes()
    routes = options.routes
    probe_context = trust(options.ca_file, check_hostname=False) if scheme == "https" else None
    targets = [*names, *([site_host] if site_host and site_host not in by_host else [])]

    async def fetch(job: tuple[str, str]) -> Fetched:
        url = f"{scheme}://{job[0]}{settings.site.document_path(job[1])}"
        return await _fetch(client, output_dir, url, job, job[1] in cors, origin)

    # Made first: without the check extra, nothing is probed.
    client = http_client(routes, trust(options.ca_file), options.connections, options.timeout)
    with ThreadPoolExecutor(max_workers=options.connections) as pool:
        probed = pool.map(
            lambda h: _probe(routes, probe_context, h, port, options.timeout), targets
        )
        probes = dict(zip(targets, probed, strict=True))
    # A host that cannot be reached, or whose certificate browsers refuse, is one
    # problem, not one per asset.
    jobs = [
        (h, key)
        for h in names
        if _usable(probes[h], h, scheme)
        for key in _sample(by_host[h], cors, options.sample)
    ]
    results = asyncio.run(_fetch_all(client, fetch, jobs, options.connections))
    fetched: dict[str, list[Fetched]] = {h: [] for h in names}
    for (host, _), result in zip(jobs, results, strict=True):
        fetched[host].append(result)

    site_probe = probes.get(site_host) if site_host else None
    checks: list[HostCheck] = []
    problems: list[Problem] = []
    for host in targets:
        probe = probes[host]
        handshake = probe.handshake
        role = "shard" if host in by_host else "site"
        check = HostCheck(
            host=host,
            role=role,
            port=port,
            addresses=tuple(sorted(probe.addresses)),
            handshake=handshake,
            error=probe.error,
            covered=tuple(h for h in names if handshake and covers(handshake.names, h)),
            site=_site(psl, host),
            same_site=(
                None
                if site is None
                else scheme == site.scheme and _site(psl, host) == _site(psl, site.hostname or "")
            ),
            assets=len(by_host.get(host, ())),
            cors_assets=sum(1 for key in by_host.get(host, ()) if key in cors),
            fetched=tuple(fetched.get(host, ())),
        )
        check = _with_verdicts(check, scheme, site_host, site_probe)
        if role == "shard":
            problems += _host_problems(check, scheme)
            problems += [f.problem for f in check.fetched if f.problem]
        elif check.error:
            warnings.append(Problem("site", host, "", f"the site's own host: {check.error}"))
        warnings += _host_warnings(check)
        checks.append(check)
    shards = [c for c in checks if c.role == "shard"]
    alone = [c.host for c in shards if c.coalesces is False and c.reachable]
    if alone:
        warnings.append(
            Problem(
                "http2",
                "",
                "",
                f"HTTP/2 visitors open {len(alone)} extra connection(s), for "
                f"{', '.join(alone)}: each host's HTTP/2 verdict says why",
            )
        )
    return LiveReport(
        scheme=scheme,
        site_url=settings.site_url,
        hosts=tuple(checks),
        problems=tuple(sorted(set(problems), key=_problem_order)),
        warnings=tuple(sorted(set(warnings))),
        summary=_summary(shards, scheme, site_host),
        sampled=options.sample is not None,
    )


def _setup_warnings(absent: int, output_dir: Path, site_host: str | None) -> list[Problem]:
    """What limits the check before it starts."""
    warnings: list[Problem] = []
    if absent:
        message = (
            f"{absent} asset(s) in the manifest are not in {output_dir}: not fetched "
            "(is this the folder that was deployed?)"
        )
        warnings.append(Problem("not-in-output", "", "", message))
    if site_host is None:
        message = (
            "no --site-url: same-site and HTTP/2 connection sharing with the page are "
            "not checked, and CORS headers are checked for '*' only"
        )
        warnings.append(Problem("no-site-url", "", "", message))
    return warnings


def _assets_by_host(
    assets: Mapping[str, str], hosts: Sequence[str], files: frozenset[str]
) -> tuple[dict[str, list[str]], int]:
    """Each configured host's assets that are in the output (sorted), and how many of
    the manifest's assets on these hosts are not in the output."""
    configured = {h.lower(): h for h in hosts}
    by_host: dict[str, list[str]] = {h: [] for h in hosts}
    absent = 0
    for key, host in sorted(assets.items()):
        name = configured.get(host.lower())
        if name is not None and key in files:
            by_host[name].append(key)
        elif name is not None:
            absent += 1
    return by_host, absent


def _usable(probe: Probe, host: str, scheme: str) -> bool:
    """Whether browsers can fetch from the host at all (so its assets are worth fetching)."""
    if probe.error or probe.handshake is None:
        return False
    return scheme != "https" or covers(probe.handshake.names, host)


def _scheme(settings: Settings) -> str:
    """The scheme the shard URLs are fetched with (``relative`` follows the site's)."""
    if settings.scheme != "relative":
        return settings.scheme
    return urlsplit(settings.site_url).scheme if settings.site_url else "https"


def _problem_order(problem: Problem) -> tuple[int, str, str, str]:
    return (PROBLEM_KINDS.index(problem.kind), problem.host, problem.key, problem.message)


def _cors_keys(
    output_dir: Path, documents: Iterable[str], settings: Settings, shard_hosts: Iterable[str]
) -> frozenset[str]:
    """The assets some page or stylesheet loads in CORS mode, as the build sees them."""
    sharder = Sharder(settings, shard_hosts)
    found: set[str] = set()
    for document in documents:
        decoded = decode_document((output_dir / document).read_bytes(), is_stylesheet(document))
        if decoded is not None:
            found.update(ref.key for ref in sharder.find_refs(decoded.text, document) if ref.cors)
    return frozenset(found)


def _sample(keys: Sequence[str], cors: frozenset[str], size: int | None) -> list[str]:
    """``size`` of ``keys`` (sorted), the same ones every run: CORS-mode assets first,
    as they fail in more ways, then evenly spaced picks from the rest."""
    if size is None or len(keys) <= size:
        return list(keys)
    first = [k for k in keys if k in cors][:size]
    rest = [k for k in keys if k not in cors]
    room = size - len(first)
    return sorted(first + [rest[i * len(rest) // room] for i in range(room)])


def _public_suffixes() -> Callable[[str], str | None]:
    try:
        from publicsuffixlist import PublicSuffixList  # noqa: PLC0415
    except ImportError:
        raise ConfigError(
            f"check-hosts needs the Public Suffix List (publicsuffixlist): {CHECK_EXTRA}"
        ) from None
    # The list shipped inside the package: nothing is fetched at run time.
    psl = PublicSuffixList()
    return psl.privatesuffix


def _site(registrable: Callable[[str], str | None], host: str) -> str:
    """The host's site: its registrable domain (``example.co.uk``), or the host itself
    for an IP address or a public suffix."""
    if is_ip(host):
        return host
    return registrable(host.lower().rstrip(".")) or host.lower()


def _probe(
    routes: Routes, context: ssl.SSLContext | None, host: str, port: int, timeout: float
) -> Probe:
    """Connect to ``host`` once; ``context`` is None for plain http."""
    try:
        addresses, connect_port = routes.addresses(host, port)
    except OSError as error:
        return Probe(
            None,
            f"does not resolve ({error}); add its DNS record, or test a server that is "
            f"not public yet with --resolve {host}:{port}:ADDRESS",
            (),
        )
    where = f"{', '.join(addresses)} port {connect_port}"
    try:
        if context is not None:
            handshake = probe_tls(routes, context, host, port, timeout)
        else:
            sock, address = routes.connect(host, port, timeout)
            sock.close()
            handshake = Handshake(address=address, protocol="http/1.1")
    except ssl.SSLError as error:
        return Probe(None, f"TLS handshake failed at {where} ({error.reason or error})", addresses)
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return Probe(None, f"unreachable at {where} ({reason})", addresses)
    if handshake.untrusted:
        return Probe(
            handshake,
            f"its certificate is not trusted ({handshake.untrusted}); for a private CA "
            "give --ca-file (or SSL_CERT_FILE)",
            addresses,
        )
    return Probe(handshake, "", addresses)


async def _fetch_all(
    client: httpx.AsyncClient,
    fetch: Callable[[tuple[str, str]], Awaitable[Fetched]],
    jobs: Sequence[tuple[str, str]],
    at_once: int,
) -> list[Fetched]:
    """``fetch`` of every job, at most ``at_once`` in flight, in the jobs' order."""
    gate = asyncio.Semaphore(at_once)

    async def one(job: tuple[str, str]) -> Fetched:
        async with gate:
            return await fetch(job)

    async with client:
        return list(await asyncio.gather(*(one(job) for job in jobs)))


async def _fetch(
    client: httpx.AsyncClient,
    output_dir: Path,
    url: str,
    job: tuple[str, str],
    cors: bool,
    origin: str | None,
) -> Fetched:
    import httpx  # noqa: PLC0415

    host, key = job

    def problem(kind: str, message: str) -> Problem:
        return Problem(kind, host, key, f"{url}: {message}")

    headers = {"Origin": origin or "https://shard-assets.invalid"} if cors else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            digest, size = hashlib.sha256(), 0
            async for chunk in response.aiter_bytes():
                digest.update(chunk)
                size += len(chunk)
            seen = Fetched(
                key=key,
                url=url,
                cors=cors,
                status=response.status_code,
                http_version=response.http_version,
                cache_control=response.headers.get("cache-control"),
                etag=response.headers.get("etag"),
                age=response.headers.get("age"),
                alt_svc=response.headers.get("alt-svc"),
            )
            allowed = response.headers.get("access-control-allow-origin")
    except httpx.HTTPError as error:
        return Fetched(key, url, cors, problem=problem("fetch", f"{type(error).__name__}: {error}"))
    found = _status_problem(response.status_code, host, key, output_dir)
    if found and response.headers.get("location"):
        found = (found[0], f"{found[1]} (a redirect to {response.headers['location']})")
    if found:
        return _replace_problem(seen, problem(*found))
    expected, expected_size = _file_digest(output_dir / key)
    if digest.digest() != expected:
        return _replace_problem(
            seen,
            problem(
                "stale",
                f"stale: the host serves {size:,} bytes that differ from "
                f"{output_dir / key} ({expected_size:,} bytes); deploy the whole output "
                "folder to every shard host again",
            ),
        )
    if cors and allowed != "*" and (origin is None or allowed != origin):
        wanted = f"'*' or {origin!r}" if origin else "'*'"
        if allowed is None:
            told = "no Access-Control-Allow-Origin header"
        else:
            told = f"Access-Control-Allow-Origin {allowed!r}"
        return _replace_problem(
            seen,
            problem(
                "cors",
                f"{told}: browsers block this CORS-mode asset (a web font, a module script "
                f"or a crossorigin element); serve it with Access-Control-Allow-Origin {wanted}",
            ),
        )
    return seen


def _replace_problem(fetched: Fetched, problem: Problem) -> Fetched:
    return replace(fetched, problem=problem)


def _status_problem(status: int, host: str, key: str, output_dir: Path) -> tuple[str, str] | None:
    if status == 200:
        return None
    if status == 421:
        return (
            "misdirected",
            f"421 Misdirected Request: the server that answered is not configured for "
            f"{host} (no server block or virtual host for the name, or a CDN that does "
            "not list it); add the name to that server, or point the name elsewhere",
        )
    if status in (404, 410):
        return (
            "missing",
            f"{status}: the host does not serve {key} (it is in {output_dir}); every shard "
            "host must serve the whole output folder",
        )
    return "status", f"answered {status} instead of 200 with the file; serve the file itself"


def _file_digest(path: Path) -> tuple[bytes, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


def _with_verdicts(
    check: HostCheck,
    scheme: str,
    site_host: str | None,
    site_probe: Probe | None,
) -> HostCheck:
    """The host with what HTTP/1.1, HTTP/2 and HTTP/3 visitors pay for it."""
    if check.role == "site" or not check.reachable:
        return check
    cors = (
        f"; and one more connection for its {check.cors_assets} CORS-mode asset(s), "
        "which Chromium fetches in its uncredentialed pool"
        if check.cors_assets
        else ""
    )
    verdicts = {"http/1.1": "its own connections, up to 6 at once (what sharding is for)"}
    alt_svc = next((f.alt_svc for f in check.fetched if f.alt_svc), None)
    coalesces: bool | None = None
    if scheme != "https":
        verdicts["http/2"] = "browsers speak HTTP/2 only over https: HTTP/1.1 for everyone"
    elif check.protocol != "h2":
        verdicts["http/2"] = f"the host offers only {check.protocol}: its own connections{cors}"
        coalesces = False
    elif site_host is None or site_probe is None:
        verdicts["http/2"] = f"h2; sharing the page's connection not checked (no --site-url){cors}"
    else:
        reasons = _coalescing_breaks(check, site_host, site_probe)
        coalesces = not reasons
        if coalesces:
            verdicts["http/2"] = f"one connection, shared with {site_host}'s{cors}"
        else:
            verdicts["http/2"] = (
                "its own connection, a TCP and a TLS handshake (about 2 round trips) "
                "before its first asset: " + "; ".join(reasons) + cors
            )
    if scheme == "https":
        verdicts["http/3"] = (
            f"advertised (Alt-Svc: {alt_svc}); connections are shared as for HTTP/2"
            if alt_svc and _H3.search(alt_svc)
            else "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1"
        )
    return replace(check, verdicts=verdicts, coalesces=coalesces)


def _coalescing_breaks(
    check: HostCheck,
    site_host: str,
    site_probe: Probe,
) -> list[str]:
    """Why Chromium will not carry this host's requests on the page's connection."""
    reasons: list[str] = []
    if check.same_site is False:
        reasons.append(
            f"not same-site with {site_host} ({check.site} is not {site_host}'s site), so "
            "it goes to another connection pool"
        )
    site_handshake = site_probe.handshake
    if site_probe.error or site_handshake is None:
        reasons.append(f"{site_host} could not be checked ({site_probe.error})")
        return reasons
    if site_handshake.address not in check.addresses:
        reasons.append(
            f"no address in common with {site_host}'s connection ({site_handshake.address} "
            f"is not among {', '.join(check.addresses)})"
        )
    if not covers(site_handshake.names, check.host):
        reasons.append(f"{site_host}'s certificate does not cover {check.host}")
    return reasons


def _host_problems(check: HostCheck, scheme: str) -> list[Problem]:
    skipped = f"; {check.assets} asset(s) not fetched" if check.assets else ""
    if check.error:
        kind = "certificate" if check.handshake and check.handshake.untrusted else "unreachable"
        return [Problem(kind, check.host, "", f"{check.host}: {check.error}{skipped}")]
    handshake = check.handshake
    if scheme == "https" and handshake and check.host not in check.covered:
        names = ", ".join(handshake.names) or "no DNS names"
        return [
            Problem(
                "certificate",
                check.host,
                "",
                f"{check.host}: the certificate it serves does not cover {check.host} (it "
                f"names {names}); browsers refuse every asset on it: add {check.host} to "
                f"the certificate{skipped}",
            )
        ]
    return []


def _host_warnings(check: HostCheck) -> list[Problem]:
    warnings: list[Problem] = []
    handshake = check.handshake
    if handshake and handshake.not_after and not handshake.untrusted:
        days = (handshake.not_after - time.time()) / 86400
        if days < EXPIRY_WARNING_DAYS:
            warnings.append(
                Problem(
                    "expiry",
                    check.host,
                    "",
                    f"{check.host}: its certificate expires on {_date(handshake.not_after)}, "
                    f"in {max(days, 0):.0f} day(s): renew it",
                )
            )
    uncached = [f for f in check.fetched if f.status == 200 and not f.cache_control]
    if uncached:
        warnings.append(
            Problem(
                "cache",
                check.host,
                "",
                f"{check.host}: {len(uncached)} of {len(check.fetched)} fetched asset(s) have "
                "no Cache-Control: browsers guess how long to keep them; serve a long max-age",
            )
        )
    return warnings


def _summary(shards: Sequence[HostCheck], scheme: str, site_host: str | None) -> dict[str, str]:
    """One line per protocol for the whole site."""
    usable = [c for c in shards if c.reachable]
    cors_hosts = [c.host for c in usable if c.cors_assets]
    cors = (
        f"; CORS-mode assets open one more connection on each of {len(cors_hosts)} host(s) "
        f"({', '.join(cors_hosts)})"
        if cors_hosts
        else ""
    )
    summary = {
        "http/1.1": f"{len(usable)} shard host(s), up to 6 connections each besides the "
        "page's: what sharding is for"
    }
    if scheme != "https":
        summary["http/2"] = "not used: browsers speak HTTP/2 only over https"
        return summary
    alone = [c.host for c in usable if c.coalesces is False]
    if site_host is None:
        summary["http/2"] = f"not checked against the page's connection (no --site-url){cors}"
    elif alone:
        summary["http/2"] = (
            f"{len(alone)} extra connection(s), each a TCP and a TLS handshake (about 2 round "
            f"trips) before its first asset: {', '.join(alone)} (see each host's reasons)"
            f"{cors}"
        )
    else:
        summary["http/2"] = f"one connection: every shard host shares {site_host}'s{cors}"
    advertised = Counter(
        f.alt_svc for c in usable for f in c.fetched if f.alt_svc and _H3.search(f.alt_svc)
    )
    hosts = [c.host for c in usable if c.verdicts.get("http/3", "").startswith("advertised")]
    summary["http/3"] = (
        f"advertised by {len(hosts)} of {len(usable)} host(s) "
        f"(Alt-Svc: {advertised.most_common(1)[0][0]}); connections are shared as for HTTP/2"
        if hosts
        else "no host advertises h3 (Alt-Svc): browsers use HTTP/2 or HTTP/1.1"
    )
    return summary


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- output


def render_text(report: LiveReport) -> str:
    """For a person: one line per host, the verdicts, then the problems by kind."""
    lines = [
        f"shard-assets check-hosts: {len(report.shard_hosts)} shard host(s) over "
        f"{report.scheme}" + (f", site {report.site_url}" if report.site_url else "")
    ]
    lines += [f"  {_host_line(check)}" for check in report.hosts]
    for protocol, label in (("http/1.1", "HTTP/1.1"), ("http/2", "HTTP/2"), ("http/3", "HTTP/3")):
        if protocol in report.summary:
            lines.append(f"{label} visitors: {report.summary[protocol]}")
    for check in report.shard_hosts:
        if check.verdicts.get("http/2") and check.coalesces is False:
            lines.append(f"  {check.host}, HTTP/2: {check.verdicts['http/2']}")
    for kind in PROBLEM_KINDS:
        found = [p for p in report.problems if p.kind == kind]
        if found:
            lines.append(f"{kind} ({len(found)}):")
            lines += [f"  {p.message}" for p in found]
    if report.warnings:
        lines.append(f"warnings ({len(report.warnings)}):")
        lines += [f"  {w.message}" for w in report.warnings]
    checked = sum(len(c.fetched) for c in report.shard_hosts)
    sound = sum(1 for c in report.shard_hosts for f in c.fetched if f.problem is None)
    total = sum(c.assets for c in report.shard_hosts)
    verdict = "ok" if report.ok else "FAILED"
    lines.append(
        f"shard-assets check-hosts: {verdict}: {len(report.problems)} problem(s), "
        f"{len(report.warnings)} warning(s); {sound} of {checked} fetched asset(s) sound"
        + (f" (a sample of {total})" if report.sampled and checked < total else "")
    )
    return "\n".join(lines) + "\n"


def _host_line(check: HostCheck) -> str:
    name = check.host + (" (the site)" if check.role == "site" else "")
    if check.error:
        return f"{name}  {', '.join(check.addresses) or '-'}  {check.error}"
    handshake = check.handshake
    parts = [name, handshake.address if handshake else "-"]
    if handshake and handshake.not_after:
        parts += [
            handshake.protocol,
            f"certificate to {_date(handshake.not_after)}, covers "
            f"{len(check.covered)} configured host(s)",
        ]
    elif handshake:
        parts.append(handshake.protocol)
    if check.same_site is not None:
        parts.append("same-site" if check.same_site else f"cross-site ({check.site})")
    if check.role == "shard":
        sound = sum(1 for f in check.fetched if f.problem is None)
        parts.append(f"{sound}/{len(check.fetched)} assets sound")
        controls = Counter(f.cache_control for f in check.fetched if f.cache_control)
        if controls:
            parts.append(f"Cache-Control {controls.most_common(1)[0][0]!r}")
        if check.coalesces is not None:
            parts.append(
                "HTTP/2: " + ("shared connection" if check.coalesces else "own connection")
            )
    return "  ".join(parts)


def render_json(report: LiveReport) -> str:
    """For programs: stable, sorted keys, 2-space indent."""
    data = {
        "ok": report.ok,
        "problems": [p.as_json() for p in report.problems],
        "scheme": report.scheme,
        "site_url": report.site_url,
        "summary": dict(report.summary),
        "warnings": [w.as_json() for w in report.warnings],
        "hosts": [_host_json(c) for c in report.hosts],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _host_json(check: HostCheck) -> dict[str, object]:
    handshake = check.handshake
    certificate = None
    if handshake and (handshake.names or handshake.untrusted):
        certificate = {
            "covers": list(check.covered),
            "names": list(handshake.names),
            "not_after": _date(handshake.not_after) if handshake.not_after else None,
            "not_before": _date(handshake.not_before) if handshake.not_before else None,
            "trusted": not handshake.untrusted,
            "untrusted_because": handshake.untrusted or None,
        }
    cache = Counter(f.cache_control or "" for f in check.fetched if f.status == 200)
    return {
        "address": handshake.address if handshake else None,
        "addresses": list(check.addresses),
        "assets": {
            "cors_mode": check.cors_assets,
            "fetched": len(check.fetched),
            "sound": sum(1 for f in check.fetched if f.problem is None),
            "total": check.assets,
        },
        "cache_control": dict(sorted(cache.items())),
        "certificate": certificate,
        "coalesces_with_site": check.coalesces,
        "error": check.error or None,
        "etags": sum(1 for f in check.fetched if f.etag),
        "host": check.host,
        "http_versions": sorted({f.http_version for f in check.fetched if f.http_version}),
        "port": check.port,
        "protocol": check.protocol or None,
        "role": check.role,
        "same_site": check.same_site,
        "site": check.site,
        "tls_version": handshake.tls_version if handshake and handshake.tls_version else None,
        "verdicts": dict(check.verdicts),
        "with_age": sum(1 for f in check.fetched if f.age is not None),
    }


RENDERERS: Mapping[str, Callable[[LiveReport], str]] = {"text": render_text, "json": render_json}
