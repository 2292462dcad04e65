"""The HTTP client of ``check-hosts``: an ``httpx.AsyncClient`` whose connections go
where a :data:`Resolver` (:meth:`shard_assets.check.connect.Routes.addresses`) says.

httpx's own ``AsyncHTTPTransport`` with one change: httpcore's connection pool gets a
network backend (:class:`RoutedBackend`) that opens each TCP connection at the
resolver's address, while TLS and HTTP keep the real hostname. httpcore's exceptions
become httpx's, as httpx's transport maps them.

This module imports httpx, httpcore and anyio (and so asyncio) when it is imported:
:func:`shard_assets.check.connect.http_client` imports it only once a client is
made, so that the rest of the command line never loads them.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import anyio
import httpcore
import httpx

#: A host and port to the addresses and port to connect to; raises OSError when the
#: name does not resolve.
Resolver = Callable[[str, int], tuple[tuple[str, ...], int]]

# httpx's exceptions for httpcore's, by name, most specific first (as httpx's
# HTTPTransport maps them).
_ERRORS = tuple(
    (getattr(httpcore, name), getattr(httpx, name))
    for name in (
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "LocalProtocolError",
        "UnsupportedProtocol",
        "ProtocolError",
        "NetworkError",
        "TimeoutException",
    )
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for theirs, ours in _ERRORS:
            if isinstance(error, theirs):
                raise ours(str(error)) from error
        raise


class RoutedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections where ``resolve`` says; TLS keeps the real hostname."""

    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.system = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses, port = await anyio.to_thread.run_sync(self.resolve, host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"{host} does not resolve ({error})") from None
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self.system.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.system.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    """httpcore's response body as httpx's, with httpx's exceptions."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self.stream:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            await close()


class RoutedTransport(httpx.AsyncBaseTransport):
    """httpx's own AsyncHTTPTransport, with :class:`RoutedBackend`."""

    def __init__(
        self, resolve: Resolver, context: ssl.SSLContext, connections: int, http2: bool
    ) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=connections,
            max_keepalive_connections=connections,
            http1=True,
            http2=http2,
            network_backend=RoutedBackend(resolve),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = await self.pool.handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


def routed_client(
    resolve: Resolver, context: ssl.SSLContext, connections: int, timeout: float, *, http2: bool
) -> httpx.AsyncClient:
    """See :func:`shard_assets.check.connect.http_client`."""
    return httpx.AsyncClient(
        transport=RoutedTransport(resolve, context, connections, http2),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
