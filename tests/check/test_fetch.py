"""Reaching the shard hosts (shard_assets/check/fetch.py): one probe per host and
every asset fetched and compared with the output folder, against small servers on
loopback. The live check against nginx is test_hosts.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from shard_assets.check.connect import Handshake, Routes, trust
from shard_assets.check.fetch import Fetched, Probe, Problem, fetch_all, fetch_asset, probe_host
from testing.certificates import LocalCA
from testing.servers import free_port

from .conftest import Answer, HttpServer, tls_listener

SHARD = "cdn1.site.test"
ORIGIN = "https://www.site.test"
PNG = b"\x89PNG the image"


def _to_loopback(port: int) -> Routes:
    return Routes.parse([f"{SHARD}:{port}:127.0.0.1"])


def test_probe_over_plain_http(http_server: HttpServer) -> None:
    port = http_server.port
    probe = probe_host(_to_loopback(port), None, SHARD, port, 5)
    assert probe == Probe(Handshake("127.0.0.1", "http/1.1"), "", ("127.0.0.1",))


def test_probe_a_host_that_refuses() -> None:
    port = free_port()
    probe = probe_host(_to_loopback(port), None, SHARD, port, 5)
    assert probe == Probe(
        None, f"unreachable at 127.0.0.1 port {port} (Connection refused)", ("127.0.0.1",)
    )


def test_probe_a_host_that_does_not_resolve(no_dns: list[str]) -> None:
    probe = probe_host(Routes.parse(), None, SHARD, 443, 5)
    assert probe == Probe(
        None,
        "does not resolve ([Errno -2] Name or service not known); add its DNS record, or "
        f"test a server that is not public yet with --resolve {SHARD}:443:ADDRESS",
        (),
    )
    assert no_dns == [SHARD]


def test_probe_over_tls(ca: LocalCA, ca_file: Path) -> None:
    with tls_listener(ca, [SHARD]) as port:
        probe = probe_host(_to_loopback(port), trust(ca_file, check_hostname=False), SHARD, port, 5)
    assert (probe.error, probe.addresses) == ("", ("127.0.0.1",))
    assert probe.handshake is not None
    assert (probe.handshake.protocol, probe.handshake.names) == ("h2", (SHARD,))


def test_probe_an_untrusted_certificate(other_ca: LocalCA, ca_file: Path) -> None:
    with tls_listener(other_ca, [SHARD]) as port:
        probe = probe_host(_to_loopback(port), trust(ca_file, check_hostname=False), SHARD, port, 5)
    assert probe.error == (
        "its certificate is not trusted (unable to get local issuer certificate); for a "
        "private CA give --ca-file (or SSL_CERT_FILE)"
    )
    assert probe.handshake is not None and probe.handshake.untrusted


def test_probe_tls_on_a_server_that_speaks_plain_http(
    http_server: HttpServer, ca_file: Path
) -> None:
    port = http_server.port
    probe = probe_host(_to_loopback(port), trust(ca_file, check_hostname=False), SHARD, port, 5)
    assert probe.error.startswith(f"TLS handshake failed at 127.0.0.1 port {port} (")
    assert (probe.handshake, probe.addresses) == (None, ("127.0.0.1",))


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """The output folder the hosts should serve."""
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(PNG)
    return tmp_path


def _fetch(
    server: HttpServer, output: Path, *, cors: bool = False, origin: str | None = None
) -> Fetched:
    async def run() -> Fetched:
        async with httpx.AsyncClient(trust_env=False) as client:
            url = server.url("/img/a.png")
            return await fetch_asset(client, output, url, (SHARD, "img/a.png"), cors, origin)

    return asyncio.run(run())


def test_a_sound_asset_keeps_its_headers(http_server: HttpServer, output: Path) -> None:
    headers = {
        "Cache-Control": "max-age=31536000",
        "ETag": '"e1"',
        "Age": "12",
        "Alt-Svc": 'h3=":443"',
    }
    http_server.answers["/img/a.png"] = Answer(200, PNG, headers)
    assert _fetch(http_server, output) == Fetched(
        status=200,
        http_version="HTTP/1.1",
        cache_control="max-age=31536000",
        etag='"e1"',
        age="12",
        alt_svc='h3=":443"',
    )
    ((_, sent),) = http_server.requests
    assert "Origin" not in sent  # not a CORS-mode asset


@pytest.mark.parametrize(
    ("answer", "kind", "message"),
    [
        (
            Answer(200, b"an old image"),
            "stale",
            "stale: the host serves 12 bytes that differ from {file} (14 bytes); deploy the "
            "whole output folder to every shard host again",
        ),
        (
            Answer(404),
            "missing",
            "404: the host does not serve img/a.png (it is in {output}); every shard host "
            "must serve the whole output folder",
        ),
        (
            Answer(410),
            "missing",
            "410: the host does not serve img/a.png (it is in {output}); every shard host "
            "must serve the whole output folder",
        ),
        (
            Answer(421),
            "misdirected",
            f"421 Misdirected Request: the server that answered is not configured for {SHARD} "
            "(no server block or virtual host for the name, or a CDN that does not list it); "
            "add the name to that server, or point the name elsewhere",
        ),
        (Answer(500), "status", "answered 500 instead of 200 with the file; serve the file itself"),
        (
            Answer(301, headers={"Location": "https://elsewhere.test/img/a.png"}),
            "status",
            "answered 301 instead of 200 with the file; serve the file itself (a redirect to "
            "https://elsewhere.test/img/a.png)",
        ),
        (
            Answer(404, headers={"Location": "/404.html"}),
            "missing",
            "404: the host does not serve img/a.png (it is in {output}); every shard host "
            "must serve the whole output folder (a redirect to /404.html)",
        ),
    ],
    ids=["stale", "404", "410", "421", "500", "redirect", "404-location"],
)
def test_problems_name_the_url_and_the_fix(
    http_server: HttpServer, output: Path, answer: Answer, kind: str, message: str
) -> None:
    http_server.answers["/img/a.png"] = answer
    fetched = _fetch(http_server, output)
    said = message.format(file=output / "img" / "a.png", output=output)
    url = http_server.url("/img/a.png")
    assert fetched.problem is not None
    assert fetched.problem == Problem(kind, SHARD, "img/a.png", f"{url}: {said}")
    assert fetched.status == answer.status


@pytest.mark.parametrize(
    ("allowed", "origin", "sent", "told"),
    [
        ({"Access-Control-Allow-Origin": "*"}, None, "https://shard-assets.invalid", None),
        ({"Access-Control-Allow-Origin": "*"}, ORIGIN, ORIGIN, None),
        ({"Access-Control-Allow-Origin": ORIGIN}, ORIGIN, ORIGIN, None),
        (
            {},
            None,
            "https://shard-assets.invalid",
            "no Access-Control-Allow-Origin header: browsers block this CORS-mode asset (a "
            "web font, a module script or a crossorigin element); serve it with "
            "Access-Control-Allow-Origin '*'",
        ),
        (
            {"Access-Control-Allow-Origin": "https://other.test"},
            ORIGIN,
            ORIGIN,
            "Access-Control-Allow-Origin 'https://other.test': browsers block this CORS-mode "
            "asset (a web font, a module script or a crossorigin element); serve it with "
            f"Access-Control-Allow-Origin '*' or '{ORIGIN}'",
        ),
        # Without --site-url only "*" is known to be right.
        (
            {"Access-Control-Allow-Origin": ORIGIN},
            None,
            "https://shard-assets.invalid",
            f"Access-Control-Allow-Origin '{ORIGIN}': browsers block",
        ),
    ],
    ids=["star", "star-origin", "origin", "none", "other", "no-site-url"],
)
def test_cors_mode_assets_need_their_header(
    http_server: HttpServer,
    output: Path,
    allowed: Mapping[str, str],
    origin: str | None,
    sent: str,
    told: str | None,
) -> None:
    http_server.answers["/img/a.png"] = Answer(200, PNG, allowed)
    fetched = _fetch(http_server, output, cors=True, origin=origin)
    ((_, headers),) = http_server.requests
    assert headers["Origin"] == sent
    if told is None:
        assert fetched.problem is None
    else:
        assert fetched.problem is not None and fetched.problem.kind == "cors"
        assert fetched.problem.message.startswith(f"{http_server.url('/img/a.png')}: {told}")


def test_a_failed_fetch_is_a_problem(output: Path) -> None:
    async def run() -> Fetched:
        async with httpx.AsyncClient(trust_env=False) as client:
            url = f"http://127.0.0.1:{free_port()}/img/a.png"
            return await fetch_asset(client, output, url, (SHARD, "img/a.png"), False, None)

    fetched = asyncio.run(run())
    assert fetched.status == 0
    assert fetched.problem is not None
    assert (fetched.problem.kind, fetched.problem.key) == ("fetch", "img/a.png")
    assert ": ConnectError: " in fetched.problem.message


@pytest.mark.parametrize(("jobs", "at_once"), [(10, 3), (2, 8), (0, 1)])
def test_fetch_all_keeps_the_order_and_the_bound(jobs: int, at_once: int) -> None:
    work = [(SHARD, f"img/{i}.png") for i in range(jobs)]
    in_flight, most = [0], [0]

    async def fetch(job: tuple[str, str]) -> Fetched:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0.001 * (jobs - work.index(job)))  # the first finish last
        in_flight[0] -= 1
        return Fetched(status=200, etag=job[1])

    client = httpx.AsyncClient()
    results = asyncio.run(fetch_all(client, fetch, work, at_once))
    assert [f.etag for f in results] == [key for _, key in work]
    assert most[0] == min(jobs, at_once)
    assert client.is_closed
