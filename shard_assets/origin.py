"""What stays on the site's origin, off the shard hosts, besides ``exclude``.

**CORS-mode assets** (``cors_assets: origin``). Web fonts, module scripts and
elements with ``crossorigin`` are fetched in CORS mode. On a shard host they need
``Access-Control-Allow-Origin``, and Chromium never sends them over the connection
it coalesced for the page's other requests: they use the uncredentialed pool, one
more connection (about two round trips on the critical path) for each shard host
they sit on. With ``cors_assets: origin`` such an asset stays on the site's origin,
on every page and in every stylesheet (an asset keeps one URL: if any reference
fetches it in CORS mode, all its references stay), it is not in the manifest, and a
URL a previous build put on a shard host goes back to the origin.

**Stylesheets and scripts** (``render_blocking: origin``). A page cannot render
before its stylesheets have arrived, nor parse on past a classic script; and until
the stylesheets are in, Chromium holds back the images of an HTTP/1.1 page. On the
origin they reuse the connection the page came on; on a shard host each waits for
a new connection (TCP and TLS: two round trips), so the whole page starts later
(docs/page-load.md: the stylesheet in at 467 ms against 645 ms, the page loaded
1.65x faster than unsharded against 1.42x, over HTTP/1.1 with real round trips).
The rule goes by the file's type, not by how a page names it, so that a file keeps
one URL everywhere: every ``.css``, ``.js`` and ``.mjs`` file. The images and fonts
such a stylesheet names are sharded (or kept) as usual, by their absolute URLs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .config import Settings

#: The "host" of an asset kept on the origin: its URL becomes root-relative.
ORIGIN = ""

#: The file types ``render_blocking: origin`` keeps on the origin (lower case).
RENDER_BLOCKING_SUFFIXES = (".css", ".js", ".mjs")


def kept_on_origin(
    settings: Settings, assets: Collection[str], cors: Iterable[str]
) -> frozenset[str]:
    """The ``assets`` that stay on the origin: those among ``cors`` (the assets fetched
    in CORS mode) with ``cors_assets: origin``, and the stylesheets and scripts with
    ``render_blocking: origin``. Each gets :data:`ORIGIN` as its host: no manifest
    entry, and a URL an earlier build put on a shard host goes back."""
    kept = set(cors) if settings.cors_assets == "origin" else set()
    if settings.render_blocking == "origin":
        kept.update(key for key in assets if blocks_rendering(settings, key))
    return frozenset(kept.intersection(assets))


def blocks_rendering(settings: Settings, key: str) -> bool:
    """Whether ``key`` stays on the origin by ``render_blocking: origin``."""
    return settings.render_blocking == "origin" and key.lower().endswith(RENDER_BLOCKING_SUFFIXES)
