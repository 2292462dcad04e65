"""What ``shard-assets check-hosts`` found, host by host (:class:`HostCheck`) and in
all (:class:`HostsCheck`), and what it means: what HTTP/1.1, HTTP/2 and HTTP/3 visitors
pay for each shard host, the problems that fail the check and the warnings.

HTTP/1.1 visitors get the shard host's own connections (what sharding is for); HTTP/2
visitors get one connection only when Chromium can coalesce the host with the page's
own (same site, a shared address, the page's certificate covers the host), and
CORS-mode assets (fonts, module scripts, ``crossorigin`` elements) always open one more
connection per shard host they sit on.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .connect import Handshake, covers, iso_date
from .fetch import Fetched, Probe, Problem
from .serving import Serving

#: A certificate that expires sooner than this is a warning.
EXPIRY_WARNING_DAYS = 21
_H3 = re.compile(r"(?:^|,)\s*h3(?:-\d+)?\s*=")


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

    @property
    def sound(self) -> int:
        """How many fetched assets showed no problem."""
        return sum(1 for f in self.fetched if f.problem is None)


@dataclass(frozen=True)
class HostsCheck:
    """Everything ``check-hosts`` found: each host's :class:`HostCheck`, the problems
    that fail the check, the warnings and what each protocol's visitors get."""

    scheme: str
    site_url: str | None
    hosts: tuple[HostCheck, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    summary: Mapping[str, str]
    sampled: bool
    #: What each protocol's visitors get (None without ``--unsharded-copy``).
    serving: Serving | None = None

    @property
    def ok(self) -> bool:
        """True when nothing fails the check (warnings do not)."""
        return not self.problems

    @property
    def shard_hosts(self) -> tuple[HostCheck, ...]:
        return tuple(h for h in self.hosts if h.role == "shard")


def setup_warnings(absent: int, output_dir: Path, site_host: str | None) -> list[Problem]:
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


def with_verdicts(
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
        alt_svc = _h3_alt_svc(check)
        verdicts["http/3"] = (
            f"advertised (Alt-Svc: {alt_svc}); connections are shared as for HTTP/2"
            if alt_svc
            else "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1"
        )
    return replace(check, verdicts=verdicts, coalesces=coalesces)


def _h3_alt_svc(check: HostCheck) -> str | None:
    """The host's Alt-Svc header (the first fetched asset's that has one) when it
    advertises HTTP/3, else None."""
    alt_svc = next((f.alt_svc for f in check.fetched if f.alt_svc), None)
    return alt_svc if alt_svc and _H3.search(alt_svc) else None


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


def host_problems(check: HostCheck, scheme: str) -> list[Problem]:
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


def host_warnings(check: HostCheck) -> list[Problem]:
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
                    f"{check.host}: its certificate expires on {iso_date(handshake.not_after)}, "
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


def coalescing_warnings(shards: Sequence[HostCheck]) -> list[Problem]:
    """The shard hosts HTTP/2 visitors open their own connection to, as one warning."""
    alone = _own_connection(shards)
    if not alone:
        return []
    message = (
        f"HTTP/2 visitors open {len(alone)} extra connection(s), for {', '.join(alone)}: "
        "each host's HTTP/2 verdict says why"
    )
    return [Problem("http2", "", "", message)]


def _own_connection(shards: Sequence[HostCheck]) -> list[str]:
    """The hosts that cannot share the page's HTTP/2 connection (an unreachable host
    has no verdict)."""
    return [c.host for c in shards if c.coalesces is False]


def site_summary(shards: Sequence[HostCheck], scheme: str, site_host: str | None) -> dict[str, str]:
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
    alone = _own_connection(shards)
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
    hosts = [c.host for c in usable if _h3_alt_svc(c)]
    summary["http/3"] = (
        f"advertised by {len(hosts)} of {len(usable)} host(s) "
        f"(Alt-Svc: {advertised.most_common(1)[0][0]}); connections are shared as for HTTP/2"
        if hosts
        else "no host advertises h3 (Alt-Svc): browsers use HTTP/2 or HTTP/1.1"
    )
    return summary
