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

from collections.abc import Iterable

from .config import Settings

#: The "host" of an asset kept on the origin: its URL becomes root-relative.
ORIGIN = ""


def kept_on_origin(settings: Settings, cors: Iterable[str]) -> frozenset[str]:
    """The assets among ``cors`` (those fetched in CORS mode) that stay on the origin."""
    return frozenset(cors) if settings.cors_assets == "origin" else frozenset()
