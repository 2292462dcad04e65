"""The TLS page-load benchmark cannot rot: its quick mode runs here, against nginx and
Chromium, and its table must cover every setup and protocol, with each resource
fetched over the protocol the run is about.

Skips when Chromium, Playwright or nginx is missing, except in CI (``CI`` set), where
``.ci/run`` installs them and a skip would hide a broken setup.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from benchmarks import page_load_tls as bench
from benchmarks.tls_serving import DelayProxy
from testing.browser import require_browser
from testing.programs import NGINX

pytestmark = [pytest.mark.browser, pytest.mark.servers]

IMAGES = 20  # a smaller page than the benchmark's 60: the same requests, sooner


def test_quick_run_covers_every_setup_and_protocol() -> None:
    require_browser()
    NGINX.require()
    setups = [s for s in bench.SETUPS if s.key in bench.QUICK]
    run = bench.measure(setups, runs=1, latency_ms=20, images=IMAGES, warmup=False)
    text = bench.report(run, "test")
    header = text.splitlines()[3]
    for protocol in ("HTTP/1.1", "HTTP/2"):
        for latency in bench.LATENCIES:
            assert f" {protocol}, {latency} |" in header
        assert f" connections, {protocol} |" in header
    assert "\n| unsharded | 1.00x (" in text
    for setup in setups:
        assert f"\n| {setup.label} | " in text
    assert "HTTP/2 visitors, rtt: " in text
    for phase in run.phases:
        for setup in setups:
            (sample,) = phase.samples[setup.key]
            where = (phase.label, setup.key)
            # Chromium's view (nextHopProtocol: the page, the stylesheet, the images;
            # fonts from a cross-origin stylesheet get no entry) and nginx's (every request).
            assert set(sample.protocols) == {phase.protocol}, where
            assert sample.protocols[phase.protocol] >= IMAGES + 2, where
            served = "HTTP/2.0" if phase.protocol == "h2" else "HTTP/1.1"
            assert sample.served == {served: IMAGES + 4}, where
            assert (sample.tcp is not None) == (phase.latency == "rtt"), where
    # The connections counted tell the setups apart: one for the unsharded page over
    # HTTP/2 (and its protocol-aware twin); separate addresses cannot share one.
    h2 = run.phase("h2", "rtt")
    assert h2.samples["unsharded"][0].connections == 1
    assert h2.samples["aware"][0].connections == 1
    assert h2.samples["own-ips"][0].connections >= 5
    assert run.phase("http/1.1", "rtt").samples["aware"][0].connections > 6


def test_the_proxy_charges_a_round_trip_for_the_handshake_and_one_per_exchange() -> None:
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()

        def echo() -> None:
            conn, _ = upstream.accept()
            with conn:
                while data := conn.recv(100):
                    conn.sendall(data)

        threading.Thread(target=echo, daemon=True).start()
        with DelayProxy(0.2) as proxy:
            port = proxy.add("127.0.0.1", upstream.getsockname())
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"ping")
                assert client.recv(100) == b"ping"
                first = time.monotonic() - start
                client.sendall(b"pong")
                assert client.recv(100) == b"pong"
                second = time.monotonic() - start - first
            assert proxy.accepted == 1
        assert not proxy.running  # its thread stopped with it
    # The first exchange pays the handshake's round trip and its own; the next, one.
    assert 0.39 <= first < 0.7, first
    assert 0.19 <= second < 0.45, second


def test_the_http11_benchmark_prepares_every_variant(tmp_path: Path) -> None:
    """benchmarks/page_load.py's pages, sharded with the defaults, without a browser."""
    from benchmarks import page_load

    variants = page_load.prepare(tmp_path, images=8)
    assert [v.hosts for v in variants] == list(page_load.HOST_COUNTS)
    for variant in variants:
        assert (tmp_path / variant.path.lstrip("/")).is_file()
        # Unsharded, every request goes to one host; sharded, the 8 images and the
        # script spread over the hosts (the stylesheet stays on the origin).
        assert variant.busiest == (10 if not variant.hosts else -(-9 // variant.hosts))
