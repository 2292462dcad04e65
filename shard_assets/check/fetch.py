"""Reaching the shard hosts for ``shard-assets check-hosts`` (:mod:`shard_assets.check.hosts`):
one connection to each host (:class:`Probe`), and every asset fetched from its host and
compared with the output folder (:class:`Fetched`), each finding a :class:`Problem`.

Fetching goes through one HTTP/2-capable client with bounded connections and explicit
timeouts; it checks the status, the bytes against the output folder, and
``Access-Control-Allow-Origin`` on CORS-mode assets, and keeps the cache headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .connect import Handshake, Routes, open_connection, probe_tls

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Probe:
    """One connection to a host: the handshake (None when none happened), why the
    host cannot be used ("" when it can), and the addresses its name resolved to."""

    handshake: Handshake | None
    error: str
    addresses: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: ``kind`` is one of :data:`shard_assets.check.text.PROBLEM_KINDS`
    (or a warning's kind)."""

    kind: str
    host: str
    key: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"host": self.host, "key": self.key, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class Fetched:
    """What fetching one asset showed; ``problem`` (which names the asset) is None when
    it is sound."""

    status: int = 0
    http_version: str = ""
    cache_control: str | None = None
    etag: str | None = None
    age: str | None = None
    alt_svc: str | None = None
    problem: Problem | None = None


def probe_host(
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
            handshake = probe_tls(context, host, addresses, connect_port, timeout)
        else:
            sock, address = open_connection(addresses, connect_port, timeout)
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


async def fetch_all(
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


async def fetch_asset(
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
                status=response.status_code,
                http_version=response.http_version,
                cache_control=response.headers.get("cache-control"),
                etag=response.headers.get("etag"),
                age=response.headers.get("age"),
                alt_svc=response.headers.get("alt-svc"),
            )
            allowed = response.headers.get("access-control-allow-origin")
    except httpx.HTTPError as error:
        return Fetched(problem=problem("fetch", f"{type(error).__name__}: {error}"))
    found = _status_problem(response.status_code, host, key, output_dir)
    if found:
        kind, message = found
        if location := response.headers.get("location"):
            message += f" (a redirect to {location})"
        return replace(seen, problem=problem(kind, message))
    path = output_dir / key
    with path.open("rb") as stream:
        expected = hashlib.file_digest(stream, "sha256").digest()
    if digest.digest() != expected:
        message = (
            f"stale: the host serves {size:,} bytes that differ from {path} "
            f"({path.stat().st_size:,} bytes); deploy the whole output folder to every "
            "shard host again"
        )
        return replace(seen, problem=problem("stale", message))
    if cors and allowed != "*" and (origin is None or allowed != origin):
        wanted = f"'*' or {origin!r}" if origin else "'*'"
        if allowed is None:
            told = "no Access-Control-Allow-Origin header"
        else:
            told = f"Access-Control-Allow-Origin {allowed!r}"
        message = (
            f"{told}: browsers block this CORS-mode asset (a web font, a module script or a "
            f"crossorigin element); serve it with Access-Control-Allow-Origin {wanted}"
        )
        return replace(seen, problem=problem("cors", message))
    return seen


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
