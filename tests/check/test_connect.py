"""Reaching live hosts as curl does (shard_assets/check/connect.py): the routes of
--resolve and --connect-to, certificate names, the trusted CAs, TCP and TLS
connections and the HTTP client, against small servers on loopback."""

from __future__ import annotations

import asyncio
import calendar
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from shard_assets.check.connect import (
    Routes,
    covers,
    http_client,
    is_ip,
    iso_date,
    missing_module,
    open_connection,
    probe_tls,
    trust,
)
from shard_assets.errors import ConfigError
from testing.certificates import LocalCA
from testing.servers import free_port

from .conftest import Answer, HttpServer, tls_listener

SHARD = "cdn1.site.test"


@pytest.mark.parametrize(
    ("resolve", "connect_to", "routes"),
    [
        (["cdn1.site.test:443:127.0.0.2"], [], ({}, {("cdn1.site.test", 443): ("127.0.0.2",)})),
        (
            ["CDN1.Site.Test:8443:127.0.0.2, [::1]"],
            [],
            ({}, {("cdn1.site.test", 8443): ("127.0.0.2", "::1")}),
        ),
        (
            [],
            ["CDN1.site.test:443:Backend:8443"],
            ({("cdn1.site.test", 443): ("backend", 8443)}, {}),
        ),
        # curl's empty fields: any host, any port.
        ([], ["::127.0.0.3:9"], ({("", 0): ("127.0.0.3", 9)}, {})),
        ([], ["cdn1.site.test::[::1]:8443"], ({("cdn1.site.test", 0): ("::1", 8443)}, {})),
    ],
)
def test_parse(
    resolve: list[str],
    connect_to: list[str],
    routes: tuple[dict[tuple[str, int], tuple[str, int]], dict[tuple[str, int], tuple[str, ...]]],
) -> None:
    parsed = Routes.parse(resolve, connect_to)
    assert (dict(parsed.connect_to), dict(parsed.resolve)) == routes


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--resolve",
            "cdn1.site.test:443",
            "--resolve 'cdn1.site.test:443': write HOST:PORT:ADDR[,ADDR...], "
            "e.g. cdn1.example.com:443:127.0.0.1",
        ),
        ("--resolve", ":443:127.0.0.1", "--resolve ':443:127.0.0.1': write HOST:PORT:ADDR"),
        (
            "--resolve",
            "cdn1.site.test:https:127.0.0.1",
            "--resolve 'cdn1.site.test:https:127.0.0.1': 'https' is not a port number (1-65535)",
        ),
        ("--resolve", "cdn1.site.test:0:127.0.0.1", "'0' is not a port number (1-65535)"),
        ("--resolve", "cdn1.site.test:65536:127.0.0.1", "'65536' is not a port number"),
        ("--resolve", "cdn1.site.test::127.0.0.1", "'' is not a port number"),
        (
            "--resolve",
            "cdn1.site.test:443:127.0.0.1,localhost",
            "--resolve 'cdn1.site.test:443:127.0.0.1,localhost': 'localhost' is not an IP address",
        ),
        (
            "--connect-to",
            "cdn1.site.test:443:backend",
            "--connect-to 'cdn1.site.test:443:backend': write HOST:PORT:CONNECT_HOST:"
            "CONNECT_PORT, e.g. cdn1.example.com:443:127.0.0.1:8443",
        ),
        ("--connect-to", "cdn1.site.test:443::8443", "write HOST:PORT:CONNECT_HOST"),
        ("--connect-to", "cdn1.site.test:443:backend:", "'' is not a port number"),
        ("--connect-to", "cdn1.site.test:x:backend:1", "'x' is not a port number"),
    ],
)
def test_a_bad_route_names_the_flag_and_the_fix(flag: str, value: str, message: str) -> None:
    resolve, connect_to = ([value], []) if flag == "--resolve" else ([], [value])
    with pytest.raises(ConfigError) as raised:
        Routes.parse(resolve, connect_to)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("host", "port", "target"),
    [
        ("cdn1.site.test", 8443, ("exact", 1)),
        ("CDN1.site.test", 8443, ("exact", 1)),
        # The host named beats the port named.
        ("cdn1.site.test", 443, ("any-port", 2)),
        ("cdn2.site.test", 443, ("any-host", 3)),
        ("cdn2.site.test", 80, ("anything", 4)),
    ],
)
def test_the_most_specific_connect_to_wins(host: str, port: int, target: tuple[str, int]) -> None:
    broad = ["::anything:4", ":443:any-host:3", "cdn1.site.test::any-port:2"]
    routes = Routes.parse(connect_to=[*broad, "cdn1.site.test:8443:exact:1"])
    assert routes.target(host, port) == target


def test_without_a_route_the_host_is_its_own_target() -> None:
    assert Routes.parse().target("CDN1.site.test", 443) == ("cdn1.site.test", 443)


@pytest.mark.parametrize(
    ("resolve", "connect_to", "found", "asked"),
    [
        # --resolve names the addresses: no DNS.
        (["cdn1.site.test:443:127.0.0.2,127.0.0.3"], [], (("127.0.0.2", "127.0.0.3"), 443), []),
        # --resolve for another port does not apply.
        (["cdn1.site.test:80:127.0.0.2"], [], None, ["cdn1.site.test"]),
        # --connect-to to an address: no DNS.
        ([], ["cdn1.site.test:443:127.0.0.4:8443"], (("127.0.0.4",), 8443), []),
        # --connect-to to a name: its --resolve entry (for the new port), else DNS,
        # each address once, in order.
        (
            ["backend.test:8443:127.0.0.5"],
            ["cdn1.site.test:443:backend.test:8443"],
            (("127.0.0.5",), 8443),
            [],
        ),
        (
            [],
            ["cdn1.site.test:443:backend.test:8443"],
            (("127.0.0.9", "::9"), 8443),
            ["backend.test"],
        ),
    ],
    ids=["resolve", "resolve-other-port", "connect-to-address", "both", "connect-to-name"],
)
def test_addresses(
    no_dns: list[str],
    resolve: list[str],
    connect_to: list[str],
    found: tuple[tuple[str, ...], int] | None,
    asked: list[str],
) -> None:
    routes = Routes.parse(resolve, connect_to)
    if found is None:
        with pytest.raises(socket.gaierror):
            routes.addresses(SHARD, 443)
    else:
        assert routes.addresses(SHARD, 443) == found
    assert no_dns == asked


@pytest.mark.parametrize(
    ("name", "ip"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("2001:db8::1", True),
        ("[::1]", False),
        ("localhost", False),
        ("127.0.0.256", False),
        ("", False),
    ],
)
def test_is_ip(name: str, ip: bool) -> None:
    assert is_ip(name) is ip


@pytest.mark.parametrize(
    ("names", "host", "covered"),
    [
        (["cdn1.site.test"], "cdn1.site.test", True),
        (["CDN1.Site.Test"], "cdn1.site.test", True),
        (["cdn1.site.test."], "CDN1.site.test", True),
        (["cdn1.site.test"], "cdn1.site.test.", True),
        (["www.site.test", "cdn1.site.test"], "cdn1.site.test", True),
        (["cdn2.site.test"], "cdn1.site.test", False),
        ([], "cdn1.site.test", False),
        # A "*" stands for exactly one whole left-most label.
        (["*.site.test"], "cdn1.site.test", True),
        (["*.site.test"], "site.test", False),
        (["*.site.test"], "a.cdn1.site.test", False),
        (["*.site.test"], ".site.test", False),
        (["cdn*.site.test"], "cdn1.site.test", False),
        (["*.*.test"], "cdn1.site.test", False),
        (["*"], "localhost", False),
    ],
)
def test_covers(names: list[str], host: str, covered: bool) -> None:
    assert covers(names, host) is covered


@pytest.mark.parametrize(
    ("seconds", "date"),
    [
        (0, "1970-01-01"),
        (calendar.timegm((2026, 1, 31, 23, 59, 59)), "2026-01-31"),
        (calendar.timegm((2026, 2, 1, 0, 0, 0)), "2026-02-01"),
    ],
)
def test_iso_date_is_utc(seconds: float, date: str) -> None:
    assert iso_date(seconds) == date


@pytest.mark.parametrize("check_hostname", [True, False])
def test_trust_verifies_the_chain_always(ca_file: Path, check_hostname: bool) -> None:
    context = trust(ca_file, check_hostname=check_hostname)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] != []


def test_trust_a_ca_file_that_is_not_there_or_not_pem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; give a PEM file of CA certificates"):
        trust(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"bad\.pem: not a PEM file of CA certificates"):
        trust(bad)


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        ([], None),
        (["json", "ssl"], None),
        (["json", "shard_assets_no_such_module", "no_such_either"], "shard_assets_no_such_module"),
    ],
)
def test_missing_module_names_the_first(names: list[str], missing: str | None) -> None:
    error = missing_module(names)
    assert (error.name if error else None) == missing


def test_open_connection_takes_the_first_address_that_answers() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        # Nothing listens on 127.0.0.2 at that port: refused, the next one is tried.
        sock, address = open_connection(["127.0.0.2", "127.0.0.1"], port, 5)
        with sock:
            assert address == "127.0.0.1"
            assert sock.getpeername() == ("127.0.0.1", port)


def test_open_connection_raises_the_last_error() -> None:
    with pytest.raises(ConnectionRefusedError):
        open_connection(["127.0.0.1"], free_port(), 5)
    with pytest.raises(OSError, match="no address to connect to"):
        open_connection([], 443, 5)


@pytest.mark.parametrize(
    ("alpn", "protocol"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")]
)
def test_probe_tls_reports_the_certificate_and_protocol(
    ca: LocalCA, ca_file: Path, alpn: tuple[str, ...], protocol: str
) -> None:
    with tls_listener(ca, ["www.site.test", SHARD], alpn) as port:
        handshake = probe_tls(trust(ca_file, check_hostname=False), SHARD, ["127.0.0.1"], port, 5)
    assert (handshake.address, handshake.protocol, handshake.untrusted) == (
        "127.0.0.1",
        protocol,
        "",
    )
    assert handshake.names == ("www.site.test", SHARD)
    assert handshake.tls_version.startswith("TLSv1.")
    assert handshake.not_before < time.time() < handshake.not_after


def test_probe_tls_reports_names_that_do_not_cover_the_host(ca: LocalCA, ca_file: Path) -> None:
    # The caller matches the names: a certificate for other names is still read.
    with tls_listener(ca, ["www.site.test"]) as port:
        handshake = probe_tls(trust(ca_file, check_hostname=False), SHARD, ["127.0.0.1"], port, 5)
    assert handshake.names == ("www.site.test",)
    assert not covers(handshake.names, SHARD)


def test_probe_tls_reports_an_untrusted_chain(other_ca: LocalCA, ca_file: Path) -> None:
    with tls_listener(other_ca, [SHARD]) as port:
        handshake = probe_tls(trust(ca_file, check_hostname=False), SHARD, ["127.0.0.1"], port, 5)
    assert handshake.untrusted == "unable to get local issuer certificate"
    assert (handshake.names, handshake.protocol, handshake.not_after) == ((), "", 0.0)


def test_the_client_goes_where_the_routes_say_with_the_real_name(
    http_server: HttpServer, ca_file: Path
) -> None:
    http_server.answers["/img/a.png"] = Answer(200, b"PNG", {"Cache-Control": "max-age=60"})
    routes = Routes.parse(connect_to=[f"{SHARD}:80:127.0.0.1:{http_server.port}"])

    async def get() -> httpx.Response:
        async with http_client(routes, trust(ca_file), 2, 5) as client:
            response = await client.get(f"http://{SHARD}/img/a.png")
            await response.aread()
            return response

    response = asyncio.run(get())
    assert (response.status_code, response.content) == (200, b"PNG")
    assert response.headers["cache-control"] == "max-age=60"
    assert [(path, headers["Host"]) for path, headers in http_server.requests] == [
        ("/img/a.png", SHARD)
    ]


def test_the_client_raises_httpx_errors(ca_file: Path) -> None:
    routes = Routes.parse(connect_to=[f"{SHARD}:80:127.0.0.1:{free_port()}"])

    async def get() -> None:
        async with http_client(routes, trust(ca_file), 2, 5) as client:
            await client.get(f"http://{SHARD}/img/a.png")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(get())
