"""Which copy of the pages each protocol's visitors get (``check-hosts --unsharded-copy``).

The pages worth fetching are those of the unsharded copy (the twin), which differ
from the sharded pages in the output: :func:`twin_pages`, of which
:func:`sample_pages` takes the same ones every run. Each is fetched from the site
over HTTP/1.1, over HTTP/2 (a client that offers ``h2`` first in ALPN, as browsers
do) and, when the site advertises it in ``Alt-Svc``, over HTTP/3
(:mod:`shard_assets.check.quic`, aioquic); each answer is compared with the sharded
page and the twin (:class:`PageFetch`). What that means is
:mod:`shard_assets.check.serving`'s to say.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..documents.inventory import is_page
from ..documents.urls import Site
from .connect import CHECK_EXTRA, Routes, http_client, missing_module, trust

if TYPE_CHECKING:
    import httpx

#: The protocols visitors speak, by the names the report uses.
PROTOCOLS = ("http/1.1", "http/2", "http/3")
#: Pages fetched over each protocol when ``--sample`` is not given.
DEFAULT_PAGES = 10
#: What HTTP/3 needs (the ``check`` extra).
_QUIC_MODULES = ("aioquic",)
_H3 = re.compile(r'(?:^|,)\s*h3\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Page:
    """A page of the sample: its key in the output, its URL on the site (the site's
    origin, then the path), and the SHA-256 digests of the sharded page and of its
    twin."""

    key: str
    origin: str
    path: str
    sharded: bytes
    twin: bytes

    @property
    def url(self) -> str:
        return self.origin + self.path


@dataclass(frozen=True)
class PageFetch:
    """One page over one protocol.

    ``protocol`` is what the client offered (one of :data:`PROTOCOLS`), ``spoken``
    the HTTP version of the answer (``HTTP/1.1``, ``HTTP/2``, ``HTTP/3``); ``copy``
    is ``sharded``, ``twin`` or ``other`` for an answer 200, and "" otherwise.
    ``error`` says why there was no answer.
    """

    key: str
    url: str
    protocol: str
    spoken: str = ""
    status: int = 0
    copy: str = ""
    size: int = 0
    location: str | None = None
    alt_svc: str | None = None
    error: str = ""


@dataclass(frozen=True)
class PagesFetched:
    """Every fetch of the sample; ``http3`` says why HTTP/3 was not probed ("" when
    it was), ``http3_at`` where it was probed."""

    fetches: tuple[PageFetch, ...]
    http3: str
    http3_at: str = ""


def twin_pages(output_dir: Path, twin_dir: Path) -> list[str]:
    """The pages (output-relative keys, sorted) of the twin that the output holds too.
    The build writes a page into the twin only when it has shard URLs, so the two
    copies differ (:func:`load_pages` compares the ones sampled)."""
    return sorted(
        key
        for key in (path.relative_to(twin_dir).as_posix() for path in twin_dir.rglob("*"))
        if is_page(key) and (twin_dir / key).is_file() and (output_dir / key).is_file()
    )


def sample_pages(keys: Sequence[str], size: int) -> list[str]:
    """``size`` of ``keys`` (sorted), the same ones every run. First one page of each
    kind of URL a server rule may match differently: the site's front page, a folder
    index (``guide/``), a page named by its file (``about.html``); then evenly spaced
    picks from the rest."""
    if len(keys) <= size:
        return list(keys)
    kinds: tuple[Callable[[str], bool], ...] = (
        lambda k: k == "index.html",
        lambda k: k.endswith("/index.html"),
        lambda k: k.rpartition("/")[2] != "index.html",
    )
    first: list[str] = []
    for kind in kinds:
        found = next((k for k in keys if kind(k) and k not in first), None)
        if found is not None:
            first.append(found)
    first = first[:size]
    rest = [k for k in keys if k not in first]
    room = size - len(first)
    return sorted(first + [rest[i * len(rest) // room] for i in range(room)])


def page_path(paths: Site, key: str) -> str:
    """The URL path visitors ask for: a folder's ``index.html`` by its folder."""
    path = paths.document_path(key)
    if key.rpartition("/")[2] == "index.html":
        path = path.removesuffix("index.html")
    return path


def load_pages(
    output_dir: Path, twin_dir: Path, keys: Sequence[str], origin: str, paths: Site
) -> list[Page]:
    """The pages ``keys`` on the site at ``origin``, with the digests of their two
    copies; a page whose copies are the same bytes tells nothing and is left out."""
    pages = [
        Page(key, origin, page_path(paths, key), _digest(output_dir / key), _digest(twin_dir / key))
        for key in keys
    ]
    return [page for page in pages if page.sharded != page.twin]


async def fetch_pages(
    pages: Sequence[Page],
    routes: Routes,
    ca_file: Path | None,
    connections: int,
    timeout: float,
) -> PagesFetched:
    """Every page over HTTP/1.1 and, for an https site, HTTP/2 and HTTP/3."""
    https = bool(pages) and pages[0].origin.startswith("https:")
    gate = asyncio.Semaphore(connections)
    # Two clients: each protocol gets its own connections, as two visitors would.
    h1 = http_client(routes, trust(ca_file), connections, timeout, http2=False)
    h2 = http_client(routes, trust(ca_file, browser_order=True), connections, timeout)

    async def one(protocol: str, page: Page) -> PageFetch:
        async with gate:
            return await _fetch_http(h2 if protocol == "http/2" else h1, protocol, page)

    protocols = ("http/1.1", "http/2") if https else ("http/1.1",)
    async with h1, h2:
        fetched = list(await asyncio.gather(*(one(p, page) for p in protocols for page in pages)))
    if not https:
        return PagesFetched(tuple(fetched), "browsers speak HTTP/3 only over https")
    h3, why, at = await _fetch_h3(pages, fetched, routes, ca_file, connections, timeout)
    return PagesFetched(tuple(fetched + h3), why, at)


async def _fetch_http(client: httpx.AsyncClient, protocol: str, page: Page) -> PageFetch:
    import httpx  # noqa: PLC0415 (the check extra, present once a client is made)

    try:
        response = await client.get(page.url)
    except httpx.HTTPError as error:
        return PageFetch(page.key, page.url, protocol, error=f"{type(error).__name__}: {error}")
    return _answer(
        page,
        protocol,
        response.http_version,
        response.status_code,
        response.content,
        response.headers.get("location"),
        response.headers.get("alt-svc"),
    )


def _answer(
    page: Page,
    protocol: str,
    spoken: str,
    status: int,
    body: bytes,
    location: str | None,
    alt_svc: str | None,
) -> PageFetch:
    copy = ""
    if status == 200:
        digest = hashlib.sha256(body).digest()
        copy = "sharded" if digest == page.sharded else "twin" if digest == page.twin else "other"
    return PageFetch(
        page.key, page.url, protocol, spoken, status, copy, len(body), location, alt_svc
    )


def h3_authority(alt_svc: str, host: str) -> tuple[str, int] | None:
    """Where ``Alt-Svc`` says ``host``'s HTTP/3 is: the host (the same one when the
    header names none) and UDP port of its first ``h3`` entry, or None."""
    found = _H3.search(alt_svc)
    if found is None:
        return None
    name, _, port = found.group(1).rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return (name.strip("[]") or host), int(port)


async def _fetch_h3(
    pages: Sequence[Page],
    fetched: Sequence[PageFetch],
    routes: Routes,
    ca_file: Path | None,
    connections: int,
    timeout: float,
) -> tuple[list[PageFetch], str, str]:
    """The pages over HTTP/3 where the site's answers advertise it; or why not, and
    where it was tried."""
    site = urlsplit(pages[0].origin)
    host = site.hostname or ""
    target = await _h3_target(host, fetched, routes)
    if isinstance(target, str):
        return [], target, ""
    address, port, at = target
    from .quic import QuicFailed, h3_connection  # noqa: PLC0415 (loads aioquic)

    authority = site.netloc.rpartition("@")[2]
    gate = asyncio.Semaphore(connections)
    try:
        async with h3_connection(address, port, host, ca_file, timeout) as quic:

            async def one(page: Page) -> PageFetch:
                async with gate:
                    try:
                        answer = await asyncio.wait_for(quic.get(authority, page.path), timeout)
                    except (QuicFailed, TimeoutError) as error:
                        reason = str(error) or f"no answer within {timeout:g} s"
                        return PageFetch(page.key, page.url, "http/3", error=reason)
                headers = answer.headers
                return _answer(
                    page,
                    "http/3",
                    "HTTP/3",
                    answer.status,
                    bytes(answer.body),
                    headers.get("location"),
                    headers.get("alt-svc"),
                )

            return list(await asyncio.gather(*(one(page) for page in pages))), "", at
    except QuicFailed as error:
        return [], str(error), at
    except OSError as error:
        return [], f"no QUIC connection to {at} ({error.strerror or error})", at


async def _h3_target(
    host: str, fetched: Sequence[PageFetch], routes: Routes
) -> tuple[str, int, str] | str:
    """The address and UDP port of ``host``'s HTTP/3, as its answers' ``Alt-Svc``
    says and ``routes`` map it, and the two in words; or why HTTP/3 is not probed."""
    advertised = next((f.alt_svc for f in fetched if f.alt_svc and _H3.search(f.alt_svc)), None)
    if advertised is None:
        return f"{host} does not advertise it (no Alt-Svc header with h3)"
    where = h3_authority(advertised, host)
    if where is None:
        return f"{host}'s Alt-Svc ({advertised}) names no usable h3 port"
    missing = missing_module(_QUIC_MODULES)
    if missing is not None:
        return f"aioquic is not installed ({CHECK_EXTRA})"
    try:
        addresses, port = await asyncio.to_thread(routes.addresses, *where)
    except OSError as error:
        return f"{where[0]} (from Alt-Svc: {advertised}) does not resolve ({error})"
    return addresses[0], port, f"{addresses[0]} port {port} (UDP; Alt-Svc: {advertised})"


def _digest(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()
