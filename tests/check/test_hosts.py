"""``shard-assets check-hosts`` against real servers: Debian's nginx over TLS.

One nginx (module fixture) plays every setup on its own loopback address, all on one
free port, with certificates from a trustme CA; the sharded MkDocs sample site is
built once. Each test points the shard hosts at one setup with curl's
``--connect-to`` and runs the command in-process.

    127.0.0.1   one certificate for all names, HTTP/2 (the site and its shards)
    127.0.0.2-5 cdn1..cdn4, each with a certificate for its own name only
    127.0.0.6   HTTP/1.1 only
    127.0.0.7   a stale file and a missing one
    127.0.0.8   fonts without Access-Control-Allow-Origin
    127.0.0.9   a certificate without cdn4
    127.0.0.10  no server block for cdn4: the default server answers 421
    127.0.0.11  the site alone, with a certificate for its own name
    127.0.0.12  plain http, one asset redirected
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shard_assets.check.connect import Routes, covers
from shard_assets.check.hosts import _sample, _site
from shard_assets.cli import main
from testing.certificates import Certificate, LocalCA
from testing.nginx import ServerBlock, serve_hosts
from testing.programs import NGINX, NGINX_MIME_TYPES
from testing.servers import Server, free_port

from ..conftest import SAMPLE_SITE

pytestmark = pytest.mark.servers

SITE = "www.site.test"
OTHER_SITE = "www.elsewhere.test"
SHARDS = [f"cdn{i}.site.test" for i in range(1, 5)]
STALE = "img/overview.png"
GONE = "img/tuning-knob.png"
ALT_SVC = 'h3=":443"; ma=86400'
#: What the sample sites' fonts and long-lived assets are served with.
FONT_LOCATION = r"\.(woff2?|ttf|otf|eot)$"


@dataclass(frozen=True)
class Live:
    """The built site, its manifest, the CA file and the running nginx."""

    output: Path
    manifest: Path
    ca_file: Path
    nginx: Server
    assets: dict[str, str]

    def connect_to(self, hosts: Sequence[str], address: str, port: int = 443) -> list[str]:
        """``--connect-to`` flags that send ``hosts`` (on ``port``) to ``address``."""
        return [
            f for h in hosts for f in ("--connect-to", f"{h}:{port}:{address}:{self.nginx.port}")
        ]

    def check(self, address: str, *extra: str, site: str = SITE, hosts: list[str] = SHARDS) -> int:
        """Run check-hosts with ``hosts`` (and the site's host) sent to ``address``."""
        routes = self.connect_to([site, *hosts], address)
        return main(
            [
                "check-hosts",
                str(self.output),
                "--manifest",
                str(self.manifest),
                "--ca-file",
                str(self.ca_file),
                "--site-url",
                f"https://{site}/",
                *routes,
                *extra,
            ]
        )


def _build(folder: Path) -> tuple[Path, Path]:
    """The MkDocs sample site, built without the plugin, then sharded by the CLI with
    ``cors_assets: shard``."""
    import yaml

    project = folder / "mkdocs"
    shutil.copytree(
        SAMPLE_SITE / "mkdocs", project, ignore=shutil.ignore_patterns("site", "*.json")
    )
    config_file = project / "mkdocs.yml"
    config = yaml.safe_load(config_file.read_text())
    config["plugins"] = [
        p for p in config["plugins"] if not (isinstance(p, dict) and "shard-assets" in p)
    ]
    config["site_url"] = f"https://{SITE}/"
    config_file.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config_file)]
    subprocess.run(command, check=True, capture_output=True)
    output, manifest = project / "site", folder / "shard-manifest.json"
    hosts = [flag for host in SHARDS for flag in ("--host", host)]
    site_url = ["--site-url", f"https://{SITE}/", "--manifest", str(manifest)]
    # The fonts go on the shard hosts, so that their CORS headers are checked there.
    cors = ["--cors-assets", "shard"]
    assert main(["build", str(output), *hosts, *site_url, *cors, "--quiet"]) == 0
    return output, manifest


def _host(
    names: Sequence[str],
    root: Path,
    address: str,
    certificate: Certificate | None = None,
    *,
    http2: bool = True,
    cors: bool = True,
    extra: str = "",
) -> ServerBlock:
    """A host that serves ``root`` with long-lived caching, and CORS on fonts unless
    not ``cors``."""
    cors_header = "add_header Access-Control-Allow-Origin *;" if cors else ""
    body = f"""    add_header Cache-Control "public, max-age=31536000, immutable";
    {extra}
    location ~* {FONT_LOCATION} {{
        add_header Cache-Control "public, max-age=31536000, immutable";
        {cors_header}
    }}"""
    return ServerBlock(names, certificate, address, http2=http2, root=root, body=body)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    NGINX.require()
    folder = tmp_path_factory.mktemp("live")
    output, manifest = _build(folder)
    stale = folder / "stale"
    shutil.copytree(output, stale)
    (stale / STALE).write_bytes((stale / STALE).read_bytes() + b"old")
    (stale / GONE).unlink()

    ca = LocalCA(folder / "tls")
    everyone = ca.issue("everyone", SITE, OTHER_SITE, *SHARDS)
    all_names = [SITE, OTHER_SITE, *SHARDS]
    servers = [
        _host(all_names, output, "127.0.0.1", everyone, extra=f"add_header Alt-Svc '{ALT_SVC}';"),
        *(
            _host([host], output, f"127.0.0.{i}", ca.issue(host, host))
            for i, host in enumerate(SHARDS, start=2)
        ),
        _host(all_names, output, "127.0.0.6", everyone, http2=False),
        _host(all_names, stale, "127.0.0.7", everyone),
        _host(all_names, output, "127.0.0.8", everyone, cors=False),
        _host(all_names, output, "127.0.0.9", ca.issue("partial", SITE, *SHARDS[:3])),
        _host([SITE, *SHARDS[:3]], output, "127.0.0.10", everyone),
        ServerBlock([], everyone, "127.0.0.10", default=True, root=output, body="return 421;"),
        _host([SITE], output, "127.0.0.11", ca.issue("site", SITE)),
        _host(
            all_names,
            output,
            "127.0.0.12",
            extra=f"location = /{STALE} {{ return 301 http://{SITE}/moved; }}",
        ),
    ]
    http = f"include {NGINX_MIME_TYPES};\ndefault_type application/octet-stream;\n"
    http += "ssl_protocols TLSv1.2 TLSv1.3;\n"
    with serve_hosts(folder / "nginx", servers, http=http) as nginx:
        assets = json.loads(manifest.read_text())["assets"]
        yield Live(output, manifest, ca.ca_file, nginx, assets)


def test_one_certificate_and_address_http2_visitors_share_one_connection(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    assert live.check("127.0.0.1") == 0
    out = capsys.readouterr().out
    for host in SHARDS:
        line = next(line for line in out.splitlines() if line.startswith(f"  {host}  "))
        assert "127.0.0.1  h2" in line and "covers 4 configured host(s)" in line
        assert "same-site" in line and "HTTP/2: shared connection" in line
        mine = sum(1 for h in live.assets.values() if h == host)
        assert f"{mine}/{mine} assets sound" in line
    assert f"HTTP/2 visitors: one connection: every shard host shares {SITE}'s" in out
    assert "CORS-mode assets open one more connection" in out
    assert f"HTTP/3 visitors: advertised by 4 of 4 host(s) (Alt-Svc: {ALT_SVC})" in out
    assert "Cache-Control 'public, max-age=31536000, immutable'" in out
    # Without --unsharded-copy, the one warning: the site answers HTTP/2, whose visitors
    # get the sharded pages (tests/check/test_serving.py checks serving by protocol).
    assert f"0 problem(s), 1 warning(s); {len(live.assets)} of {len(live.assets)}" in out
    assert f"no --unsharded-copy: {SITE} answers HTTP/2" in out
    served = [line for line in live.nginx.log("access.log").lines() if line.startswith("cdn")]
    assert any(" HTTP/2.0 " in line for line in served)


def test_http11_only_server(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.6", "--sample", "2") == 0
    out = capsys.readouterr().out
    assert f"  {SHARDS[0]}  127.0.0.6  http/1.1  " in out
    assert "the host offers only http/1.1: its own connections" in out
    assert "HTTP/2 visitors open 4 extra connection(s)" in out and "warnings (1):" in out
    assert "8 of 8 fetched asset(s) sound (a sample of 38)" in out


def test_per_host_certificates_on_their_own_addresses(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = live.connect_to([SITE], "127.0.0.11")
    for i, host in enumerate(SHARDS, start=2):
        routes += live.connect_to([host], f"127.0.0.{i}")
    assert live.check("127.0.0.11", *routes, "--format", "json", "--sample", "3", hosts=[]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert out == json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert report["ok"] is True and report["problems"] == []
    shards = [h for h in report["hosts"] if h["role"] == "shard"]
    assert [h["host"] for h in shards] == SHARDS
    for i, host in enumerate(shards, start=2):
        assert host["addresses"] == [f"127.0.0.{i}"] and host["protocol"] == "h2"
        assert host["certificate"]["covers"] == [host["host"]]
        assert host["same_site"] is True and host["coalesces_with_site"] is False
        verdict = host["verdicts"]["http/2"]
        assert f"no address in common with {SITE}'s connection" in verdict
        assert f"{SITE}'s certificate does not cover {host['host']}" in verdict
    assert [w["kind"] for w in report["warnings"]] == ["http2", "unsharded-copy"]


def test_cross_site_shard_names(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.1", "--sample", "1", site=OTHER_SITE) == 0
    out = capsys.readouterr().out
    assert "cross-site (site.test)" in out
    assert f"not same-site with {OTHER_SITE} (site.test is not {OTHER_SITE}'s site)" in out


def test_a_host_that_refuses_connections(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    refused = ["--connect-to", f"{SHARDS[3]}:443:127.0.0.1:{port}"]
    assert live.check("127.0.0.1", *refused, "--sample", "1", hosts=SHARDS[:3]) == 1
    out = capsys.readouterr().out
    mine = sum(1 for h in live.assets.values() if h == SHARDS[3])
    assert "unreachable (1):" in out
    assert (
        f"{SHARDS[3]}: unreachable at 127.0.0.1 port {port} (Connection refused); "
        f"{mine} asset(s) not fetched" in out
    )


def test_a_host_that_does_not_resolve(
    live: Live, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No route and no DNS record for cdn4 (the system's resolver is not asked)."""
    system = socket.getaddrinfo

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == SHARDS[3]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return system(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert live.check("127.0.0.1", "--sample", "1", hosts=SHARDS[:3]) == 1
    out = capsys.readouterr().out
    assert "unreachable (1):" in out
    assert (
        f"{SHARDS[3]}: does not resolve ([Errno -2] Name or service not known); add its DNS "
        f"record, or test a server that is not public yet with --resolve {SHARDS[3]}:443:" in out
    )


def test_a_stale_file_and_a_missing_one(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.7") == 1
    out = capsys.readouterr().out
    stale_url = f"https://{live.assets[STALE]}/{STALE}"
    size = (live.output / STALE).stat().st_size
    assert "stale (1):" in out and "missing (1):" in out
    assert f"{stale_url}: stale: the host serves {size + 3:,} bytes that differ" in out
    assert f"https://{live.assets[GONE]}/{GONE}: 404: the host does not serve {GONE}" in out


def test_fonts_without_a_cors_header(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.8") == 1
    out = capsys.readouterr().out
    fonts = sorted(k for k in live.assets if k.endswith((".woff", ".woff2", ".ttf")))
    assert f"cors ({len(fonts)}):" in out
    for font in fonts:
        assert f"https://{live.assets[font]}/{font}: no Access-Control-Allow-Origin header" in out
    assert "problem(s)" in out and "FAILED" in out


def test_a_certificate_that_misses_a_host(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.9") == 1
    out = capsys.readouterr().out
    mine = sum(1 for h in live.assets.values() if h == SHARDS[3])
    assert "certificate (1):" in out and "fetch (" not in out
    assert (
        f"{SHARDS[3]}: the certificate it serves does not cover {SHARDS[3]} (it names "
        f"{SITE}, {', '.join(SHARDS[:3])}); browsers refuse every asset on it: add "
        f"{SHARDS[3]} to the certificate; {mine} asset(s) not fetched" in out
    )
    assert f"1 problem(s), 2 warning(s); {len(live.assets) - mine} of" in out


def test_misdirected_request(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert live.check("127.0.0.10") == 1
    out = capsys.readouterr().out
    mine = sorted(k for k, h in live.assets.items() if h == SHARDS[3])
    assert f"misdirected ({len(mine)}):" in out
    assert f"https://{SHARDS[3]}/{mine[0]}: 421 Misdirected Request" in out


def test_plain_http_and_a_redirect(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    routes = live.connect_to([SITE, *SHARDS], "127.0.0.12", port=80)
    command = ["check-hosts", str(live.output), "--manifest", str(live.manifest), *routes]
    assert main([*command, "--scheme", "http", "--site-url", f"http://{SITE}/"]) == 1
    out = capsys.readouterr().out
    assert f"  {SHARDS[0]}  127.0.0.12  http/1.1  same-site  " in out
    assert "HTTP/2 visitors: not used: browsers speak HTTP/2 only over https" in out
    assert "status (1):" in out
    assert (
        f"http://{live.assets[STALE]}/{STALE}: answered 301 instead of 200 with the file; "
        f"serve the file itself (a redirect to http://{SITE}/moved)" in out
    )


def test_resolve_and_ssl_cert_file(
    live: Live, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """curl's --resolve for the name --connect-to points at, and the CA from SSL_CERT_FILE."""
    port = live.nginx.port
    flags = ["--site-url", f"https://{SITE}/", "--resolve", f"backend.test:{port}:127.0.0.1"]
    for host in [SITE, *SHARDS]:
        flags += ["--connect-to", f"{host}:443:backend.test:{port}"]
    command = ["check-hosts", str(live.output), "--manifest", str(live.manifest), *flags]
    assert main([*command, "--sample", "1"]) == 1  # the test CA is not trusted
    out = capsys.readouterr().out
    assert f"{SHARDS[0]}: its certificate is not trusted (unable to get local issuer" in out
    monkeypatch.setenv("SSL_CERT_FILE", str(live.ca_file))
    assert main([*command, "--sample", "1"]) == 0
    assert "h2" in capsys.readouterr().out


# ------------------------------------------------------------------------- no server


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--resolve", "cdn1.example.com:443", "write HOST:PORT:ADDR"),
        ("--resolve", "cdn1.example.com:https:127.0.0.1", "'https' is not a port number"),
        ("--resolve", "cdn1.example.com:443:localhost", "'localhost' is not an IP address"),
        ("--connect-to", "cdn1.example.com:443:127.0.0.1", "write HOST:PORT:CONNECT_HOST"),
        ("--timeout", "0", "must be a number of seconds above 0, got '0'"),
    ],
)
def test_bad_routes_exit_2(
    flag: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["check-hosts", str(tmp_path), "--host", SHARDS[0], flag, value]
    try:
        code = main(command)
    except SystemExit as usage:  # argparse's own checks
        code = usage.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_routes_follow_curl() -> None:
    routes = Routes.parse(
        ["backend:8443:127.0.0.2,[::1]"], ["cdn1.example.com:443:backend:8443", "::127.0.0.3:9"]
    )
    assert routes.addresses("CDN1.example.com", 443) == (("127.0.0.2", "::1"), 8443)
    assert routes.addresses("other.example", 80) == (("127.0.0.3",), 9)


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (["cdn1.example.com"], "CDN1.example.com", True),
        (["*.example.com"], "cdn1.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.cdn1.example.com", False),
        (["cdn1.example.com"], "cdn2.example.com", False),
        # RFC 6125 ignores one trailing dot, on either side; only one (two were
        # stripped before the one host rule).
        (["cdn1.example.com."], "CDN1.example.com", True),
        (["*.example.com"], "cdn1.example.com.", True),
        (["cdn1.example.com"], "cdn1.example.com..", False),
    ],
)
def test_certificate_names(names: list[str], host: str, expected: bool) -> None:
    assert covers(names, host) is expected


def test_a_hosts_site_ignores_case_and_the_trailing_dot_as_the_suffix_list_does() -> None:
    registrable = {"cdn1.example.co.uk": "example.co.uk"}.get
    assert _site(registrable, "CDN1.example.co.uk.") == "example.co.uk"
    assert _site(registrable, "CO.uk.") == "co.uk."  # a public suffix is its own site
    assert _site(registrable, "127.0.0.1") == "127.0.0.1"


def test_sample_is_deterministic_and_takes_cors_mode_assets_first() -> None:
    keys = [f"img/{i:02d}.png" for i in range(10)] + ["fonts/a.woff2"]
    keys.sort()
    picked = _sample(keys, frozenset({"fonts/a.woff2"}), 3)
    assert picked == ["fonts/a.woff2", "img/00.png", "img/05.png"]
    assert _sample(keys, frozenset(), None) == keys


def test_missing_extra_names_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    manifest = tmp_path / "m.json"
    manifest.write_text(
        '{"assets": {}, "hosts": {"cdn1.example.com": 1}, "version": 1}', encoding="utf-8"
    )
    command = ["check-hosts", str(tmp_path), "--manifest", str(manifest)]
    command += ["--resolve", "cdn1.example.com:443:127.0.0.1"]
    assert main(command) == 2
    assert "pip install 'shard-assets[check]'" in capsys.readouterr().err


def test_the_cli_loads_httpx_only_for_check_hosts() -> None:
    """Nor asyncio: the CLI takes check-hosts' formats from live_text, which must stay
    light."""
    code = (
        "import sys, shard_assets.cli; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'httpcore', 'h2', 'publicsuffixlist', 'asyncio')); print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cors_origin_is_the_site_urls_origin(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Origin sent, and wanted back, is written as a browser writes it: no user
    info, no default port, lower case."""
    routes = live.connect_to([SITE, *SHARDS], "127.0.0.8")
    command = ["check-hosts", str(live.output), "--manifest", str(live.manifest), *routes]
    command += ["--ca-file", str(live.ca_file), "--sample", "1"]
    assert main([*command, "--site-url", f"https://me@{SITE.upper()}:443/"]) == 1
    out = capsys.readouterr().out
    assert f"serve it with Access-Control-Allow-Origin '*' or 'https://{SITE}'" in out
