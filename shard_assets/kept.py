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

**Stylesheets** (``stylesheets: origin``). A page cannot render before its
stylesheets have arrived, and until they are in, Chromium holds back the images of
an HTTP/1.1 page. On the origin a stylesheet reuses the connection the page came
on; on a shard host it waits for a new connection (TCP and TLS: two round trips),
and the whole page starts later (docs/page-load.md: the stylesheet in at 448 ms
against 651-658 ms, the page 1.68x faster than unsharded against 1.39-1.43x, over
HTTP/1.1 with real round trips). Scripts are sharded: classic scripts in the head
gained nothing on the origin (1.49x either way with three of them): each needs a
connection of its own, and by the timings the origin's extra connections open one
after another where the shard hosts' first ones open at once. Every ``.css`` file
stays, so that a file keeps one URL everywhere; the images and fonts a stylesheet
names are sharded (or kept) as usual, by their absolute URLs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .config import Settings
from .documents.inventory import is_stylesheet

#: The "host" of an asset kept on the origin: its URL becomes root-relative.
KEPT = ""


def kept_assets(settings: Settings, assets: Collection[str], cors: Iterable[str]) -> frozenset[str]:
    """The ``assets`` that stay on the origin: those among ``cors`` (the assets fetched
    in CORS mode) with ``cors_assets: origin``, and the stylesheets with
    ``stylesheets: origin``. Each gets :data:`KEPT` as its host: no manifest
    entry, and a URL an earlier build put on a shard host goes back."""
    kept = set(cors) if settings.cors_assets == "origin" else set()
    if settings.stylesheets == "origin":
        kept.update(key for key in assets if is_stylesheet(key))
    return frozenset(kept.intersection(assets))


def kept_stylesheet(settings: Settings, key: str) -> bool:
    """Whether ``key`` is a stylesheet that stays on the origin (``stylesheets: origin``)."""
    return settings.stylesheets == "origin" and is_stylesheet(key)
