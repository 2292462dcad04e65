"""What stays on the site's origin, off the shard hosts, besides ``exclude``: the
assets fetched in CORS mode (``cors_assets: origin``) and the stylesheets
(``stylesheets: origin``); :data:`KEPT`, the "host" that means the origin. Why, with
the measurements: docs/reference.md (Cross-origin requirements) and docs/page-load.md.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from .documents.inventory import is_stylesheet

#: The "host" of an asset kept on the origin: its URL becomes root-relative.
KEPT = ""


def kept_assets(
    assets: Collection[str], cors: Iterable[str], *, cors_assets: str, stylesheets: str
) -> frozenset[str]:
    """The ``assets`` that stay on the origin: those among ``cors`` (the assets fetched
    in CORS mode) with ``cors_assets: origin``, and the stylesheets with
    ``stylesheets: origin``. Each gets :data:`KEPT` as its host: no manifest
    entry, and a URL an earlier build put on a shard host goes back."""
    kept = set(cors) if cors_assets == "origin" else set()
    if stylesheets == "origin":
        kept.update(key for key in assets if is_stylesheet(key))
    return frozenset(kept.intersection(assets))


def kept_stylesheet(key: str, *, stylesheets: str) -> bool:
    """Whether ``key`` is a stylesheet that stays on the origin (``stylesheets: origin``)."""
    return stylesheets == "origin" and is_stylesheet(key)


def with_kept(hosts_by_asset: Mapping[str, str], kept: Iterable[str]) -> Mapping[str, str]:
    """``hosts_by_asset`` (an assignment) with :data:`KEPT` as the host of each of
    ``kept``: every asset a build puts a URL for."""
    kept = frozenset(kept)
    return {**hosts_by_asset, **dict.fromkeys(kept, KEPT)} if kept else hosts_by_asset
