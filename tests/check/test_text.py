"""check-hosts' report as text and JSON (shard_assets/check/text.py), from a report
made by hand: every line of the text, the order of the problems, and the JSON's
fields. The live check against real servers is test_hosts.py's."""

from __future__ import annotations

import calendar
import json
from dataclasses import replace
from pathlib import Path

import pytest

from shard_assets.check.connect import Handshake
from shard_assets.check.fetch import Fetched, Problem
from shard_assets.check.model import HostCheck, HostsCheck
from shard_assets.check.pages import PageFetch
from shard_assets.check.serving import Serving
from shard_assets.check.text import FORMATS, PROBLEM_KINDS, RENDERERS, render_json, render_text

SITE = "www.site.test"
NAMES = (SITE, "cdn1.site.test", "cdn2.site.test")
NOT_BEFORE = calendar.timegm((2025, 1, 1, 0, 0, 0))
NOT_AFTER = calendar.timegm((2026, 1, 31, 12, 0, 0))
LONG = "max-age=31536000"


def _handshake(address: str) -> Handshake:
    return Handshake(address, "h2", "TLSv1.3", NAMES, NOT_BEFORE, NOT_AFTER)


STALE = Problem("stale", "cdn2.site.test", "img/b.png", "https://cdn2.site.test/img/b.png: stale")
CORS = Problem(
    "cors", "cdn2.site.test", "fonts/f.woff2", "https://cdn2.site.test/fonts/f.woff2: cors"
)
GONE = Problem("unreachable", "cdn3.site.test", "", "cdn3.site.test: unreachable; 2 not fetched")
ONE = HostCheck(
    "cdn1.site.test",
    "shard",
    443,
    ("192.0.2.1",),
    _handshake("192.0.2.1"),
    covered=NAMES[1:],
    site="site.test",
    same_site=True,
    verdicts={"http/1.1": "its own connections", "http/2": "one connection"},
    coalesces=True,
    assets=2,
    fetched=(
        Fetched(200, "HTTP/2", LONG, etag='"e1"', alt_svc='h3=":443"'),
        Fetched(200, "HTTP/2", LONG, age="12"),
    ),
)
TWO = replace(
    ONE,
    host="cdn2.site.test",
    addresses=("192.0.2.2", "192.0.2.9"),
    handshake=_handshake("192.0.2.2"),
    verdicts={"http/1.1": "its own connections", "http/2": "its own connection: no address"},
    coalesces=False,
    assets=3,
    cors_assets=1,
    fetched=(
        Fetched(200, "HTTP/1.1", "no-cache", problem=STALE),
        Fetched(200, "HTTP/1.1", problem=CORS),
        Fetched(404, "HTTP/1.1"),
    ),
)
THREE = HostCheck(
    "cdn3.site.test",
    "shard",
    443,
    ("192.0.2.3",),
    error="unreachable at 192.0.2.3 port 443 (Connection refused)",
    site="site.test",
    same_site=True,
    assets=2,
)
HOME = replace(ONE, host=SITE, role="site", verdicts={}, coalesces=None, assets=0, fetched=())
HTTP2 = Problem("http2", "", "", "HTTP/2 visitors open 1 extra connection(s), for cdn2.site.test")
REPORT = HostsCheck(
    scheme="https",
    site_url=f"https://{SITE}/",
    hosts=(ONE, TWO, THREE, HOME),
    problems=(GONE, STALE, CORS),
    warnings=(HTTP2,),
    summary={"http/1.1": "3 shard host(s)", "http/2": "1 extra", "http/3": "advertised by 1"},
    sampled=True,
)


def test_the_text_report() -> None:
    assert render_text(REPORT).splitlines() == [
        "shard-assets check-hosts: 3 shard host(s) over https, site https://www.site.test/",
        "  cdn1.site.test  192.0.2.1  h2  certificate to 2026-01-31, covers 2 configured "
        "host(s)  same-site  2/2 assets sound  Cache-Control 'max-age=31536000'  "
        "HTTP/2: shared connection",
        "  cdn2.site.test  192.0.2.2  h2  certificate to 2026-01-31, covers 2 configured "
        "host(s)  same-site  1/3 assets sound  Cache-Control 'no-cache'  "
        "HTTP/2: own connection",
        "  cdn3.site.test  192.0.2.3  unreachable at 192.0.2.3 port 443 (Connection refused)",
        "  www.site.test (the site)  192.0.2.1  h2  certificate to 2026-01-31, covers 2 "
        "configured host(s)  same-site",
        "HTTP/1.1 visitors: 3 shard host(s)",
        "HTTP/2 visitors: 1 extra",
        "HTTP/3 visitors: advertised by 1",
        "  cdn2.site.test, HTTP/2: its own connection: no address",
        "unreachable (1):",
        "  cdn3.site.test: unreachable; 2 not fetched",
        "stale (1):",
        "  https://cdn2.site.test/img/b.png: stale",
        "cors (1):",
        "  https://cdn2.site.test/fonts/f.woff2: cors",
        "warnings (1):",
        "  HTTP/2 visitors open 1 extra connection(s), for cdn2.site.test",
        "shard-assets check-hosts: FAILED: 3 problem(s), 1 warning(s); 3 of 5 fetched "
        "asset(s) sound (a sample of 7)",
    ]


def test_problems_are_listed_by_kind_in_a_fixed_order() -> None:
    problems = tuple(
        Problem(kind, "cdn1.site.test", "", f"a {kind} problem") for kind in reversed(PROBLEM_KINDS)
    )
    lines = render_text(replace(REPORT, problems=problems, warnings=())).splitlines()
    headings = [line.split(" (")[0] for line in lines if line.endswith("(1):")]
    # Those about a whole host first, then the servers' answers, then what the bytes
    # and headers show.
    hosts = ["unreachable", "certificate", "misdirected", "protocol"]
    assert (
        headings == list(PROBLEM_KINDS) == [*hosts, "missing", "status", "stale", "cors", "fetch"]
    )


@pytest.mark.parametrize(
    ("change", "last"),
    [
        (
            {"problems": (), "warnings": ()},
            "shard-assets check-hosts: ok: 0 problem(s), 0 warning(s); 3 of 5 fetched "
            "asset(s) sound (a sample of 7)",
        ),
        (
            {"problems": (), "sampled": False},
            "shard-assets check-hosts: ok: 0 problem(s), 1 warning(s); 3 of 5 fetched asset(s) "
            "sound",
        ),
        # A sample that fetched every asset is no sample.
        (
            {"hosts": (ONE,), "problems": ()},
            "shard-assets check-hosts: ok: 0 problem(s), 1 warning(s); 2 of 2 fetched asset(s) "
            "sound",
        ),
    ],
    ids=["ok-sampled", "ok-all", "sample-of-all"],
)
def test_the_last_line_says_ok_or_failed(change: dict[str, object], last: str) -> None:
    text = render_text(replace(REPORT, **change))  # type: ignore[arg-type]
    assert text.endswith("\n")
    assert text.splitlines()[-1] == last


@pytest.mark.parametrize(
    ("check", "line"),
    [
        (
            replace(ONE, handshake=Handshake("192.0.2.1", "http/1.1"), coalesces=None),
            "cdn1.site.test  192.0.2.1  http/1.1  same-site  2/2 assets sound  "
            "Cache-Control 'max-age=31536000'",
        ),
        (
            replace(ONE, same_site=False, site="elsewhere.test", fetched=(), coalesces=None),
            "cdn1.site.test  192.0.2.1  h2  certificate to 2026-01-31, covers 2 configured "
            "host(s)  cross-site (elsewhere.test)  0/0 assets sound",
        ),
        (
            replace(ONE, same_site=None, fetched=(Fetched(200),), coalesces=None),
            "cdn1.site.test  192.0.2.1  h2  certificate to 2026-01-31, covers 2 configured "
            "host(s)  1/1 assets sound",
        ),
        (
            replace(THREE, addresses=(), error="does not resolve"),
            "cdn3.site.test  -  does not resolve",
        ),
    ],
    ids=["http", "cross-site", "no-site-url", "unresolved"],
)
def test_host_lines(check: HostCheck, line: str) -> None:
    lines = render_text(replace(REPORT, hosts=(check,), site_url=None)).splitlines()
    assert lines[0] == "shard-assets check-hosts: 1 shard host(s) over https"
    assert lines[1] == f"  {line}"


def test_the_json_report() -> None:
    text = render_json(REPORT)
    data = json.loads(text)
    # Stable: sorted keys, two spaces, one newline at the end.
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["ok"] is False
    assert (data["scheme"], data["site_url"]) == ("https", f"https://{SITE}/")
    assert data["summary"] == dict(REPORT.summary)
    assert [p["kind"] for p in data["problems"]] == ["unreachable", "stale", "cors"]
    assert data["problems"][1] == {
        "host": "cdn2.site.test",
        "key": "img/b.png",
        "kind": "stale",
        "message": STALE.message,
    }
    assert [w["kind"] for w in data["warnings"]] == ["http2"]
    one, two, three, home = data["hosts"]
    assert one == {
        "address": "192.0.2.1",
        "addresses": ["192.0.2.1"],
        "assets": {"cors_mode": 0, "fetched": 2, "sound": 2, "total": 2},
        "cache_control": {LONG: 2},
        "certificate": {
            "covers": ["cdn1.site.test", "cdn2.site.test"],
            "names": list(NAMES),
            "not_after": "2026-01-31",
            "not_before": "2025-01-01",
            "trusted": True,
            "untrusted_because": None,
        },
        "coalesces_with_site": True,
        "error": None,
        "etags": 1,
        "host": "cdn1.site.test",
        "http_versions": ["HTTP/2"],
        "port": 443,
        "protocol": "h2",
        "role": "shard",
        "same_site": True,
        "site": "site.test",
        "tls_version": "TLSv1.3",
        "verdicts": {"http/1.1": "its own connections", "http/2": "one connection"},
        "with_age": 1,
    }
    # Only the assets served (200) count for Cache-Control; "" is none.
    assert two["cache_control"] == {"": 1, "no-cache": 1}
    assert two["assets"] == {"cors_mode": 1, "fetched": 3, "sound": 1, "total": 3}
    assert (three["address"], three["certificate"], three["protocol"]) == (None, None, None)
    assert three["error"] == THREE.error
    assert (home["role"], home["verdicts"], home["coalesces_with_site"]) == ("site", {}, None)


@pytest.mark.parametrize(
    ("handshake", "certificate"),
    [
        (Handshake("192.0.2.1", "http/1.1"), None),
        (
            Handshake("192.0.2.1", "", untrusted="self-signed certificate"),
            {
                "covers": [],
                "names": [],
                "not_after": None,
                "not_before": None,
                "trusted": False,
                "untrusted_because": "self-signed certificate",
            },
        ),
    ],
    ids=["plain-http", "untrusted"],
)
def test_the_json_certificate(handshake: Handshake, certificate: object) -> None:
    check = replace(ONE, handshake=handshake, covered=())
    (host,) = json.loads(render_json(replace(REPORT, hosts=(check,))))["hosts"]
    assert host["certificate"] == certificate


SERVING = Serving(
    output_dir=Path("/srv/site"),
    unsharded_copy=Path("/srv/site-h2"),
    pages=4,
    sampled=("index.html", "blog/post.html"),
    fetches=(
        PageFetch("index.html", "https://www.site.test/", "http/1.1", "HTTP/1.1", 200, "sharded"),
        PageFetch("index.html", "https://www.site.test/", "http/2", "HTTP/2", 200, "twin"),
        PageFetch(
            "blog/post.html",
            "https://www.site.test/blog/post.html",
            "http/2",
            "HTTP/2",
            301,
            location="https://elsewhere.test/",
        ),
        PageFetch("blog/post.html", "https://www.site.test/blog/post.html", "http/3", error="x"),
    ),
    verdicts={"http/1.1": "the sharded pages", "http/2": "the unsharded copy", "http/3": "none"},
    http3="no Alt-Svc h3",
    http3_at="",
)


def test_what_each_protocol_gets_in_the_text() -> None:
    lines = render_text(replace(REPORT, serving=SERVING)).splitlines()
    start = lines.index("  cdn2.site.test, HTTP/2: its own connection: no address") + 1
    assert lines[start : start + 4] == [
        "Pages by protocol: 2 of the 4 page(s) of /srv/site-h2, each compared with /srv/site",
        "  HTTP/1.1: the sharded pages",
        "  HTTP/2: the unsharded copy",
        "  HTTP/3: none",
    ]
    assert lines[-1].endswith("; 2 of 4 page(s) fetched as their protocol's copy")
    assert "Pages by protocol" not in render_text(REPORT)


def test_what_each_protocol_gets_in_the_json() -> None:
    assert json.loads(render_json(REPORT))["serving"] is None
    serving = json.loads(render_json(replace(REPORT, serving=SERVING)))["serving"]
    assert {k: v for k, v in serving.items() if k != "fetches"} == {
        "output_dir": "/srv/site",
        "unsharded_copy": "/srv/site-h2",
        "pages": 4,
        "sampled": ["index.html", "blog/post.html"],
        "verdicts": dict(SERVING.verdicts),
        "http3_not_probed_because": "no Alt-Svc h3",
        "http3_at": None,
    }
    assert serving["fetches"][2:] == [
        {
            "url": "https://www.site.test/blog/post.html",
            "protocol": "http/2",
            "http_version": "HTTP/2",
            "status": 301,
            "copy": None,
            "location": "https://elsewhere.test/",
            "error": None,
        },
        {
            "url": "https://www.site.test/blog/post.html",
            "protocol": "http/3",
            "http_version": None,
            "status": None,
            "copy": None,
            "location": None,
            "error": "x",
        },
    ]


def test_the_formats() -> None:
    assert FORMATS == ("text", "json")
    assert RENDERERS["text"] is render_text and RENDERERS["json"] is render_json
