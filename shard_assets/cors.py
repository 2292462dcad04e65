"""Assets the browser fetches in CORS mode, kept on the origin (``cors_assets: origin``).

Web fonts, module scripts and elements with ``crossorigin`` are fetched in CORS
mode. On a shard host they need ``Access-Control-Allow-Origin``, and Chromium never
sends them over the connection it coalesced for the page's other requests: they
use the uncredentialed pool, one more connection (about two round trips on the
critical path) for each shard host they sit on. With ``cors_assets: origin`` such
an asset stays on the site's origin, on every page and in every stylesheet (an
asset keeps one URL: if any reference fetches it in CORS mode, all its references
stay), it is not in the manifest, and a URL a previous build put on a shard host
goes back to the origin.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from .config import Settings

if TYPE_CHECKING:
    from .pipeline import Collected

#: The "host" of an asset kept on the origin: its URL becomes root-relative.
ORIGIN = ""


def kept_on_origin(settings: Settings, cors: Iterable[str]) -> frozenset[str]:
    """The assets among ``cors`` (those fetched in CORS mode) that stay on the origin."""
    return frozenset(cors) if settings.cors_assets == "origin" else frozenset()


def without(collected: Collected, kept: frozenset[str]) -> Collected:
    """``collected`` without the assets in ``kept``: they get no host, count in no
    balance, and no page loads them from a shard host. Their references stay in
    ``spans``, so that a shard URL to one of them goes back to the origin."""
    if not kept:
        return collected
    new_id: list[int] = []
    assets: list[str] = []
    for key in collected.assets:
        new_id.append(-1 if key in kept else len(assets))
        if key not in kept:
            assets.append(key)

    def renumbered(ids: array[int]) -> array[int]:
        return array("I", [new_id[i] for i in ids if new_id[i] >= 0])

    return replace(
        collected,
        assets=tuple(assets),
        pages=tuple((page, renumbered(ids)) for page, ids in collected.pages),
        direct=tuple(renumbered(ids) for ids in collected.direct),
    )
