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

Which assets are CORS-mode is the build's own knowledge: the output is scanned by the
build's pass one (:func:`shard_assets.build.scan.collect`), with URLs on the shard hosts
counted as site-local.

This module gathers the inputs and runs the check; :mod:`shard_assets.check.fetch`
connects and fetches, :mod:`shard_assets.check.model` says what the findings mean,
and :mod:`shard_assets.check.text` writes what it found as text or JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from ..build.rewrite import Sharder
from ..build.scan import collect
from ..config import Settings
from ..documents.inventory import take_inventory
from ..documents.urls import DEFAULT_PORTS, normal_authority, normal_host
from ..errors import ConfigError
from ..manifest import read_manifest
from .connect import CHECK_EXTRA, Routes, covers, http_client, is_ip, trust
from .fetch import Fetched, Problem, fetch_all, fetch_asset, probe_host
from .model import (
    HostCheck,
    HostsCheck,
    coalescing_warnings,
    host_problems,
    host_warnings,
    setup_warnings,
    site_summary,
    with_verdicts,
)
from .text import PROBLEM_KINDS, RENDERERS

#: The command's entry points (the renderers live in :mod:`shard_assets.check.text`).
__all__ = ["RENDERERS", "CheckOptions", "check_hosts"]


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


def check_hosts(output_dir: Path, settings: Settings, options: CheckOptions) -> HostsCheck:
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
    # The build's own pass one says which assets are loaded in CORS mode.
    sharder = Sharder(settings, [h.name for h in manifest.hosts])
    cors = collect(sharder, output_dir, inventory).cors
    site = urlsplit(settings.site_url) if settings.site_url else None
    site_host = site.hostname if site else None
    warnings = setup_warnings(absent, output_dir, site_host)
    origin = f"{site.scheme}://{normal_authority(site.scheme, site.netloc)}" if site else None
    psl = _public_suffixes()
    routes = options.routes
    probe_context = trust(options.ca_file, check_hostname=False) if scheme == "https" else None
    targets = [*names, *([site_host] if site_host and site_host not in by_host else [])]

    async def fetch(job: tuple[str, str]) -> Fetched:
        url = f"{scheme}://{job[0]}{settings.site.document_path(job[1])}"
        return await fetch_asset(client, output_dir, url, job, job[1] in cors, origin)

    # Made first: without the check extra, nothing is probed.
    client = http_client(routes, trust(options.ca_file), options.connections, options.timeout)
    with ThreadPoolExecutor(max_workers=options.connections) as pool:
        probed = pool.map(
            lambda h: probe_host(routes, probe_context, h, port, options.timeout), targets
        )
        probes = dict(zip(targets, probed, strict=True))
    page_site = _site(psl, site.hostname or "") if site else None
    checks: dict[str, HostCheck] = {}
    for host in targets:
        probe = probes[host]
        handshake = probe.handshake
        host_site = _site(psl, host)
        checks[host] = HostCheck(
            host=host,
            role="shard" if host in by_host else "site",
            port=port,
            addresses=tuple(sorted(probe.addresses)),
            handshake=handshake,
            error=probe.error,
            covered=tuple(h for h in names if handshake and covers(handshake.names, h)),
            site=host_site,
            same_site=None if site is None else scheme == site.scheme and host_site == page_site,
            assets=len(by_host.get(host, ())),
            cors_assets=sum(1 for key in by_host.get(host, ()) if key in cors),
        )
    # A host that cannot be reached, or whose certificate browsers refuse, is one
    # problem, not one per asset: its assets are not fetched.
    problems = {h: host_problems(checks[h], scheme) for h in names}
    jobs = [
        (h, key)
        for h in names
        if not problems[h]
        for key in _sample(by_host[h], cors, options.sample)
    ]
    results = asyncio.run(fetch_all(client, fetch, jobs, options.connections))
    fetched: dict[str, list[Fetched]] = {h: [] for h in names}
    for (host, _), result in zip(jobs, results, strict=True):
        fetched[host].append(result)

    site_probe = probes.get(site_host) if site_host else None
    found: list[Problem] = []
    for host in targets:
        check = replace(checks[host], fetched=tuple(fetched.get(host, ())))
        check = checks[host] = with_verdicts(check, scheme, site_host, site_probe)
        if check.role == "shard":
            found += problems[host]
            found += [f.problem for f in check.fetched if f.problem]
        elif check.error:
            warnings.append(Problem("site", host, "", f"the site's own host: {check.error}"))
        warnings += host_warnings(check)
    shards = [c for c in checks.values() if c.role == "shard"]
    warnings += coalescing_warnings(shards)
    return HostsCheck(
        scheme=scheme,
        site_url=settings.site_url,
        hosts=tuple(checks.values()),
        problems=tuple(sorted(set(found), key=_problem_order)),
        warnings=tuple(sorted(set(warnings))),
        summary=site_summary(shards, scheme, site_host),
        sampled=options.sample is not None,
    )


def _assets_by_host(
    assets: Mapping[str, str], hosts: Sequence[str], files: frozenset[str]
) -> tuple[dict[str, list[str]], int]:
    """Each configured host's assets that are in the output (sorted), and how many of
    the manifest's assets on these hosts are not in the output."""
    configured = {normal_host(h): h for h in hosts}
    by_host: dict[str, list[str]] = {h: [] for h in hosts}
    absent = 0
    for key, host in sorted(assets.items()):
        name = configured.get(normal_host(host))
        if name is None:
            continue
        if key in files:
            by_host[name].append(key)
        else:
            absent += 1
    return by_host, absent


def _scheme(settings: Settings) -> str:
    """The scheme the shard URLs are fetched with (``relative`` follows the site's)."""
    if settings.scheme != "relative":
        return settings.scheme
    return urlsplit(settings.site_url).scheme if settings.site_url else "https"


def _problem_order(problem: Problem) -> tuple[int, str, str, str]:
    return (PROBLEM_KINDS.index(problem.kind), problem.host, problem.key, problem.message)


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
    for an IP address or a public suffix. The list's rule ignores a trailing dot."""
    if is_ip(host):
        return host
    host = normal_host(host)
    return registrable(host.removesuffix(".")) or host
