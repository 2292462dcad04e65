"""What check-hosts' findings mean (shard_assets/check/model.py): each host's verdicts
for HTTP/1.1, HTTP/2 and HTTP/3 visitors, the problems that fail the check, the
warnings, and the site's summary, from findings made by hand. The live check against
real servers is test_hosts.py's."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from shard_assets.check.connect import Handshake
from shard_assets.check.fetch import Fetched, Probe, Problem
from shard_assets.check.model import (
    EXPIRY_WARNING_DAYS,
    HostCheck,
    HostsCheck,
    coalescing_warnings,
    host_problems,
    host_warnings,
    setup_warnings,
    site_summary,
    with_verdicts,
)

SITE = "www.site.test"
SHARD = "cdn1.site.test"
ADDRESS = "192.0.2.1"
ALT_SVC = 'h3=":443"; ma=86400'
YEAR = 365 * 86400


def _handshake(*names: str, protocol: str = "h2", address: str = ADDRESS) -> Handshake:
    now = time.time()
    return Handshake(
        address=address,
        protocol=protocol,
        tls_version="TLSv1.3",
        names=names,
        not_before=now - YEAR,
        not_after=now + YEAR,
    )


#: A shard host that shares everything with the site: its address, a certificate
#: for both names, the site's registrable domain, HTTP/2.
SHARED = HostCheck(
    host=SHARD,
    role="shard",
    port=443,
    addresses=(ADDRESS,),
    handshake=_handshake(SITE, SHARD),
    covered=(SHARD,),
    site="site.test",
    same_site=True,
    assets=3,
    fetched=(Fetched(status=200, cache_control="max-age=31536000"),) * 3,
)
SITE_PROBE = Probe(_handshake(SITE, SHARD), "", (ADDRESS,))


def _verdicts(
    check: HostCheck, scheme: str = "https", probe: Probe | None = SITE_PROBE
) -> HostCheck:
    return with_verdicts(check, scheme, SITE if probe is not None else None, probe)


def test_a_host_that_shares_everything_shares_the_pages_connection() -> None:
    check = _verdicts(SHARED)
    assert check.coalesces is True
    assert dict(check.verdicts) == {
        "http/1.1": "its own connections, up to 6 at once (what sharding is for)",
        "http/2": f"one connection, shared with {SITE}'s",
        "http/3": "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1",
    }


@pytest.mark.parametrize(
    ("change", "probe", "reason"),
    [
        (
            {"same_site": False, "site": "elsewhere.test"},
            SITE_PROBE,
            f"not same-site with {SITE} (elsewhere.test is not {SITE}'s site), so it goes "
            "to another connection pool",
        ),
        (
            {"addresses": ("192.0.2.9",)},
            SITE_PROBE,
            f"no address in common with {SITE}'s connection ({ADDRESS} is not among 192.0.2.9)",
        ),
        (
            {},
            Probe(_handshake(SITE), "", (ADDRESS,)),
            f"{SITE}'s certificate does not cover {SHARD}",
        ),
        ({}, Probe(None, "refused", ()), f"{SITE} could not be checked (refused)"),
    ],
    ids=["cross-site", "other-address", "certificate", "site-unreachable"],
)
def test_why_http2_visitors_open_another_connection(
    change: dict[str, object], probe: Probe, reason: str
) -> None:
    check = _verdicts(replace(SHARED, **change), probe=probe)  # type: ignore[arg-type]
    assert check.coalesces is False
    assert check.verdicts["http/2"] == (
        "its own connection, a TCP and a TLS handshake (about 2 round trips) before its "
        f"first asset: {reason}"
    )


@pytest.mark.parametrize(
    ("scheme", "change", "probe", "http2", "coalesces"),
    [
        (
            "http",
            {},
            SITE_PROBE,
            "browsers speak HTTP/2 only over https: HTTP/1.1 for everyone",
            None,
        ),
        (
            "https",
            {"handshake": _handshake(SITE, SHARD, protocol="http/1.1")},
            SITE_PROBE,
            "the host offers only http/1.1: its own connections",
            False,
        ),
        (
            "https",
            {},
            None,
            "h2; sharing the page's connection not checked (no --site-url)",
            None,
        ),
        (
            "https",
            {"cors_assets": 2},
            SITE_PROBE,
            f"one connection, shared with {SITE}'s; and one more connection for its 2 "
            "CORS-mode asset(s), which Chromium fetches in its uncredentialed pool",
            True,
        ),
    ],
    ids=["http", "http1-only", "no-site-url", "cors"],
)
def test_http2_verdicts(
    scheme: str,
    change: dict[str, object],
    probe: Probe | None,
    http2: str,
    coalesces: bool | None,
) -> None:
    check = _verdicts(replace(SHARED, **change), scheme, probe)  # type: ignore[arg-type]
    assert (check.verdicts["http/2"], check.coalesces) == (http2, coalesces)
    assert ("http/3" in check.verdicts) is (scheme == "https")


@pytest.mark.parametrize(
    ("alt_svc", "http3"),
    [
        (None, "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1"),
        ('h2=":443"', "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1"),
        (ALT_SVC, f"advertised (Alt-Svc: {ALT_SVC}); connections are shared as for HTTP/2"),
        (
            'h2=":443", h3-29=":443"',
            'advertised (Alt-Svc: h2=":443", h3-29=":443"); connections are shared as for HTTP/2',
        ),
        # Not the h3 token, a longer one.
        ('h3x=":443"', "not advertised (no Alt-Svc h3): browsers use HTTP/2 or HTTP/1.1"),
    ],
)
def test_http3_is_what_alt_svc_advertises(alt_svc: str | None, http3: str) -> None:
    fetched = (Fetched(status=200), Fetched(status=200, alt_svc=alt_svc))
    assert _verdicts(replace(SHARED, fetched=fetched)).verdicts["http/3"] == http3


@pytest.mark.parametrize(
    "check",
    [replace(SHARED, role="site"), replace(SHARED, error="unreachable", handshake=None)],
    ids=["site", "unreachable"],
)
def test_the_site_and_unreachable_hosts_get_no_verdict(check: HostCheck) -> None:
    assert _verdicts(check) == check


@pytest.mark.parametrize(
    ("check", "scheme", "problems"),
    [
        (SHARED, "https", []),
        (
            replace(SHARED, error="unreachable at 192.0.2.1 port 443 (refused)"),
            "https",
            [
                (
                    "unreachable",
                    f"{SHARD}: unreachable at 192.0.2.1 port 443 (refused); 3 asset(s) not fetched",
                )
            ],
        ),
        (
            replace(
                SHARED,
                error="its certificate is not trusted",
                handshake=Handshake(ADDRESS, "", untrusted="self-signed"),
            ),
            "https",
            [("certificate", f"{SHARD}: its certificate is not trusted; 3 asset(s) not fetched")],
        ),
        (
            replace(SHARED, covered=(), handshake=_handshake(SITE, "cdn2.site.test")),
            "https",
            [
                (
                    "certificate",
                    f"{SHARD}: the certificate it serves does not cover {SHARD} (it names "
                    f"{SITE}, cdn2.site.test); browsers refuse every asset on it: add {SHARD} "
                    "to the certificate; 3 asset(s) not fetched",
                )
            ],
        ),
        (
            replace(SHARED, covered=(), handshake=_handshake(), assets=0),
            "https",
            [
                (
                    "certificate",
                    f"{SHARD}: the certificate it serves does not cover {SHARD} (it names no "
                    f"DNS names); browsers refuse every asset on it: add {SHARD} to the "
                    "certificate",
                )
            ],
        ),
        # Plain http has no certificate to cover the host.
        (replace(SHARED, covered=(), handshake=Handshake(ADDRESS, "http/1.1")), "http", []),
    ],
    ids=["sound", "unreachable", "untrusted", "not-covered", "no-names", "http"],
)
def test_host_problems(check: HostCheck, scheme: str, problems: list[tuple[str, str]]) -> None:
    found = host_problems(check, scheme)
    assert [(p.kind, p.message) for p in found] == problems
    assert all(p.host == SHARD and p.key == "" for p in found)


@pytest.mark.parametrize(
    ("days", "untrusted", "warned"),
    [(5, "", True), (EXPIRY_WARNING_DAYS + 1, "", False), (-3, "", True), (5, "expired", False)],
    ids=["soon", "later", "expired", "untrusted"],
)
def test_a_certificate_that_expires_soon_is_a_warning(
    days: float, untrusted: str, warned: bool
) -> None:
    not_after = time.time() + days * 86400
    handshake = replace(SHARED.handshake, not_after=not_after, untrusted=untrusted)  # type: ignore[type-var]
    warnings = host_warnings(replace(SHARED, handshake=handshake))
    expected = (
        f"{SHARD}: its certificate expires on {time.strftime('%Y-%m-%d', time.gmtime(not_after))}, "
        f"in {max(days, 0)} day(s): renew it"
    )
    assert [(w.kind, w.message) for w in warnings] == ([("expiry", expected)] if warned else [])


def test_assets_without_cache_control_are_a_warning() -> None:
    fetched = (
        Fetched(status=200, cache_control="max-age=60"),
        Fetched(status=200),
        Fetched(status=200),
        Fetched(status=404),  # not served: not counted
    )
    (warning,) = host_warnings(replace(SHARED, fetched=fetched))
    assert (warning.kind, warning.host) == ("cache", SHARD)
    assert warning.message == (
        f"{SHARD}: 2 of 4 fetched asset(s) have no Cache-Control: browsers guess how long "
        "to keep them; serve a long max-age"
    )


@pytest.mark.parametrize(
    ("absent", "site_host", "kinds"),
    [
        (0, SITE, []),
        (2, SITE, ["not-in-output"]),
        (0, None, ["no-site-url"]),
        (1, None, ["not-in-output", "no-site-url"]),
    ],
)
def test_setup_warnings(absent: int, site_host: str | None, kinds: list[str]) -> None:
    warnings = setup_warnings(absent, Path("/srv/site"), site_host)
    assert [w.kind for w in warnings] == kinds
    if absent:
        assert warnings[0].message.startswith(
            f"{absent} asset(s) in the manifest are not in /srv/site"
        )


def _shards(*coalesces: bool | None) -> list[HostCheck]:
    return [
        replace(SHARED, host=f"cdn{i}.site.test", coalesces=c) for i, c in enumerate(coalesces, 1)
    ]


@pytest.mark.parametrize(
    ("coalesces", "warning"),
    [
        ((True, True), None),
        ((True, None), None),
        (
            (False, True, False),
            "HTTP/2 visitors open 2 extra connection(s), for cdn1.site.test, cdn3.site.test: "
            "each host's HTTP/2 verdict says why",
        ),
    ],
)
def test_hosts_with_their_own_http2_connection_are_one_warning(
    coalesces: tuple[bool | None, ...], warning: str | None
) -> None:
    found = coalescing_warnings(_shards(*coalesces))
    assert [(w.kind, w.message) for w in found] == ([("http2", warning)] if warning else [])


@pytest.mark.parametrize(
    ("shards", "scheme", "site_host", "summary"),
    [
        (
            _shards(True, True),
            "http",
            SITE,
            {
                "http/1.1": "2 shard host(s), up to 6 connections each besides the page's: "
                "what sharding is for",
                "http/2": "not used: browsers speak HTTP/2 only over https",
            },
        ),
        (
            _shards(True, True),
            "https",
            SITE,
            {
                "http/2": f"one connection: every shard host shares {SITE}'s",
                "http/3": "no host advertises h3 (Alt-Svc): browsers use HTTP/2 or HTTP/1.1",
            },
        ),
        (
            _shards(False, True),
            "https",
            SITE,
            {
                "http/2": "1 extra connection(s), each a TCP and a TLS handshake (about 2 round "
                "trips) before its first asset: cdn1.site.test (see each host's reasons)",
            },
        ),
        (
            _shards(None, None),
            "https",
            None,
            {"http/2": "not checked against the page's connection (no --site-url)"},
        ),
        (
            [replace(s, cors_assets=1) for s in _shards(True, True)],
            "https",
            SITE,
            {
                "http/2": f"one connection: every shard host shares {SITE}'s; CORS-mode assets "
                "open one more connection on each of 2 host(s) (cdn1.site.test, cdn2.site.test)",
            },
        ),
        (
            [
                *_shards(True),
                replace(SHARED, host="cdn2.site.test", error="refused", cors_assets=4),
            ],
            "https",
            SITE,
            {
                "http/1.1": "1 shard host(s), up to 6 connections each besides the page's: "
                "what sharding is for"
            },
        ),
        (
            [
                replace(SHARED, fetched=(Fetched(status=200, alt_svc=ALT_SVC),)),
                replace(SHARED, host="cdn2.site.test"),
            ],
            "https",
            SITE,
            {
                "http/3": f"advertised by 1 of 2 host(s) (Alt-Svc: {ALT_SVC}); connections are "
                "shared as for HTTP/2"
            },
        ),
    ],
    ids=["http", "shared", "one-alone", "no-site-url", "cors", "unreachable", "h3"],
)
def test_site_summary(
    shards: list[HostCheck], scheme: str, site_host: str | None, summary: dict[str, str]
) -> None:
    found = site_summary(shards, scheme, site_host)
    assert {key: found[key] for key in summary} == summary
    assert ("http/3" in found) is (scheme == "https")


def test_a_report_fails_on_problems_not_warnings() -> None:
    problem = Problem("stale", SHARD, "img/a.png", "stale")
    warning = Problem("cache", SHARD, "", "no Cache-Control")
    site = replace(SHARED, host=SITE, role="site")
    report = HostsCheck("https", f"https://{SITE}/", (SHARED, site), (), (warning,), {}, False)
    assert report.ok and report.shard_hosts == (SHARED,)
    assert not replace(report, problems=(problem,)).ok


def test_a_host_counts_its_sound_assets() -> None:
    fetched = (Fetched(status=200), Fetched(problem=Problem("missing", SHARD, "a", "404")))
    check = replace(SHARED, fetched=fetched)
    assert (check.sound, check.reachable, check.protocol) == (1, True, "h2")
    gone = replace(check, error="refused", handshake=None)
    assert (gone.reachable, gone.protocol) == (False, "")
