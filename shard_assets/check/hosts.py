"""A live check of the shard hosts after deploying: ``shard-assets check-hosts``.

It gathers the inputs (the manifest, the output folder, the routes), connects to each
host once, fetches the assets (and, with the unsharded copy, a sample of pages over
each protocol), and hands the findings to :mod:`shard_assets.check.model` to judge
and :mod:`shard_assets.check.text` to write. What each verdict means and why: the
README, "Check the live hosts".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from ..build.rewrite import Sharder, UrlRules
from ..build.scan import collect
from ..config import Settings
from ..documents.inventory import take_inventory
from ..documents.urls import DEFAULT_PORTS, Site, normal_authority, normal_host
from ..errors import ConfigError
from ..manifest import read_manifest
from .connect import CHECK_EXTRA, Routes, covers, http_client, is_ip, trust
from .fetch import Fetched, Probe, Problem, fetch_all, fetch_asset, probe_host
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
from .pages import DEFAULT_PAGES, fetch_pages, load_pages, sample_pages, twin_pages
from .serving import empty_copy_warning, judge_serving, no_copy_warning
from .text import PROBLEM_KINDS, RENDERERS

if TYPE_CHECKING:
    import httpx

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
    scope = _scope(output_dir, settings)
    # Made first: without the check extra, nothing is probed.
    client = http_client(
        options.routes, trust(options.ca_file), options.connections, options.timeout
    )
    probes = _probe(scope, options)
    checks = _model(scope, probes)
    # A host that cannot be reached, or whose certificate browsers refuse, is one
    # problem, not one per asset: its assets are not fetched.
    problems = {h: host_problems(checks[h], scope.scheme) for h in scope.names}
    jobs = [
        (h, key)
        for h in scope.names
        if not problems[h]
        for key in _sample(scope.by_host[h], scope.cors, options.sample)
    ]
    results = asyncio.run(
        fetch_all(client, partial(_fetch, client, scope), jobs, options.connections)
    )
    fetched: dict[str, list[Fetched]] = {h: [] for h in scope.names}
    for (host, _), answer in zip(jobs, results, strict=True):
        fetched[host].append(answer)
    result = _judge(scope, checks, probes, problems, fetched, options)
    return _serving(scope, probes, options, result)


@dataclass(frozen=True)
class _Scope:
    """What the check looks at: the hosts and their assets, the site, the scheme."""

    output_dir: Path
    scheme: str
    #: The configured shard hosts.
    names: tuple[str, ...]
    #: Each shard host's assets that are in the output (sorted).
    by_host: Mapping[str, Sequence[str]]
    #: How many of the manifest's assets on these hosts are not in the output.
    absent: int
    #: The assets loaded in CORS mode.
    cors: frozenset[str]
    #: The site's URL as given, split, and the URL paths of its files.
    site_url: str | None
    site: SplitResult | None
    paths: Site
    #: The shard hosts, then the site's own host if it is not one of them.
    targets: tuple[str, ...]
    #: The unsharded copy (the twin), if one was given.
    twin: Path | None

    @property
    def port(self) -> int:
        return DEFAULT_PORTS[self.scheme]

    @property
    def site_host(self) -> str | None:
        return self.site.hostname if self.site else None

    @property
    def origin(self) -> str | None:
        """The site's origin as a browser writes it in ``Origin``."""
        site = self.site
        return f"{site.scheme}://{normal_authority(site.scheme, site.netloc)}" if site else None


def _scope(output_dir: Path, settings: Settings) -> _Scope:
    """Read the manifest and the output: which assets each host should serve."""
    manifest = read_manifest(settings.manifest)
    if manifest is None:
        raise ConfigError(
            f"{settings.manifest}: no manifest; build the site first, or give --manifest"
        )
    inventory = take_inventory(output_dir)
    names = tuple(settings.host_names)
    by_host, absent = _assets_by_host(manifest.assets, names, inventory.files)
    # The build's own pass one says which assets are loaded in CORS mode.
    sharder = Sharder.for_build(UrlRules.of(settings), manifest)
    cors = collect(sharder, output_dir, inventory).cors
    site = urlsplit(settings.site_url) if settings.site_url else None
    site_host = site.hostname if site else None
    extra = (site_host,) if site_host and site_host not in by_host else ()
    twin = settings.unsharded_copy
    if twin is not None and site is None:
        raise ConfigError("--unsharded-copy needs --site-url: the pages are fetched from the site")
    if twin is not None and not twin.is_dir():
        raise ConfigError(
            f"--unsharded-copy {twin}: no such folder; give the folder the build wrote "
            "(the unsharded_copy setting), or leave the flag out"
        )
    return _Scope(
        output_dir=output_dir,
        scheme=_scheme(settings),
        names=names,
        by_host=by_host,
        absent=absent,
        cors=cors,
        site_url=settings.site_url,
        site=site,
        paths=settings.site,
        targets=(*names, *extra),
        twin=twin,
    )


def _probe(scope: _Scope, options: CheckOptions) -> dict[str, Probe]:
    """One connection to each host, a few at once."""
    https = scope.scheme == "https"
    context = trust(options.ca_file, check_hostname=False) if https else None

    def probe(host: str) -> Probe:
        return probe_host(options.routes, context, host, scope.port, options.timeout)

    with ThreadPoolExecutor(max_workers=options.connections) as pool:
        return dict(zip(scope.targets, pool.map(probe, scope.targets), strict=True))


def _model(scope: _Scope, probes: Mapping[str, Probe]) -> dict[str, HostCheck]:
    """What each host's connection showed, before any asset is fetched."""
    psl = _public_suffixes()
    site = scope.site
    page_site = _site(psl, site.hostname or "") if site else None
    checks: dict[str, HostCheck] = {}
    for host in scope.targets:
        probe = probes[host]
        handshake = probe.handshake
        host_site = _site(psl, host)
        same_site = None if site is None else scope.scheme == site.scheme and host_site == page_site
        checks[host] = HostCheck(
            host=host,
            role="shard" if host in scope.by_host else "site",
            port=scope.port,
            addresses=tuple(sorted(probe.addresses)),
            handshake=handshake,
            error=probe.error,
            covered=tuple(h for h in scope.names if handshake and covers(handshake.names, h)),
            site=host_site,
            same_site=same_site,
            assets=len(scope.by_host.get(host, ())),
            cors_assets=sum(1 for key in scope.by_host.get(host, ()) if key in scope.cors),
        )
    return checks


async def _fetch(client: httpx.AsyncClient, scope: _Scope, job: tuple[str, str]) -> Fetched:
    """One asset (``job`` is its host and key) from its host."""
    host, key = job
    url = f"{scope.scheme}://{host}{scope.paths.document_path(key)}"
    return await fetch_asset(client, scope.output_dir, url, job, key in scope.cors, scope.origin)


def _judge(
    scope: _Scope,
    checks: Mapping[str, HostCheck],
    probes: Mapping[str, Probe],
    problems: Mapping[str, list[Problem]],
    fetched: Mapping[str, list[Fetched]],
    options: CheckOptions,
) -> HostsCheck:
    """The verdicts, problems and warnings of every host, in one :class:`HostsCheck`."""
    site_host = scope.site_host
    site_probe = probes.get(site_host) if site_host else None
    warnings = setup_warnings(scope.absent, scope.output_dir, site_host)
    found: list[Problem] = []
    judged: dict[str, HostCheck] = {}
    for host in scope.targets:
        check = replace(checks[host], fetched=tuple(fetched.get(host, ())))
        check = judged[host] = with_verdicts(check, scope.scheme, site_host, site_probe)
        if check.role == "shard":
            found += problems[host]
            found += [f.problem for f in check.fetched if f.problem]
        elif check.error:
            warnings.append(Problem("site", host, "", f"the site's own host: {check.error}"))
        warnings += host_warnings(check)
    shards = [c for c in judged.values() if c.role == "shard"]
    warnings += coalescing_warnings(shards)
    return HostsCheck(
        scheme=scope.scheme,
        site_url=scope.site_url,
        hosts=tuple(judged.values()),
        problems=tuple(sorted(set(found), key=_problem_order)),
        warnings=tuple(sorted(set(warnings))),
        summary=site_summary(shards, scope.scheme, site_host),
        sampled=options.sample is not None,
    )


def _serving(
    scope: _Scope, probes: Mapping[str, Probe], options: CheckOptions, result: HostsCheck
) -> HostsCheck:
    """``result`` with what each protocol's visitors get: a sample of the twin's pages
    fetched from the site over each protocol; without a twin, a warning when the
    site answers HTTP/2."""
    site, twin = scope.site, scope.twin
    site_host = scope.site_host or ""
    if twin is None or site is None:
        probe = probes.get(site_host)
        protocol = probe.handshake.protocol if probe and probe.handshake else ""
        found = no_copy_warning(scope.site_host, protocol)
        return replace(result, warnings=tuple(sorted({*result.warnings, *found})))
    keys = twin_pages(scope.output_dir, twin)
    sampled = sample_pages(keys, options.sample or DEFAULT_PAGES)
    pages = load_pages(scope.output_dir, twin, sampled, scope.origin or "", scope.paths)
    if not pages:
        empty = empty_copy_warning(site_host, scope.output_dir, twin)
        return replace(result, warnings=tuple(sorted({*result.warnings, empty})))
    fetched = asyncio.run(
        fetch_pages(pages, options.routes, options.ca_file, options.connections, options.timeout)
    )
    https = site.scheme == "https"
    serving, found = judge_serving(
        scope.output_dir, twin, len(keys), [p.url for p in pages], fetched, https, site_host
    )
    problems = tuple(sorted({*result.problems, *found}, key=_problem_order))
    return replace(result, serving=serving, problems=problems)


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
