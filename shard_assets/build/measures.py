"""What pass one's result weighs: each asset's load for ``balance_by``, and how each
page's asset requests spread over the hosts once they are assigned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from ..placement.balance import PageSpread
from .scan import Collected


def asset_loads(measure: str, collected: Collected, output_dir: Path) -> dict[str, int] | None:
    """Each asset's load for ``balance_by``: None for ``count`` (one each), the file
    size for ``bytes``, the number of pages that load it for ``requests``."""
    if measure == "bytes":
        return {
            key: collected.css_sizes.get(key, (output_dir / key).stat().st_size)
            for key in collected.assets
        }
    if measure == "requests":
        per_id: Counter[int] = Counter()
        for _, ids in collected.pages:
            per_id.update(ids)
        return {key: per_id[i] for i, key in enumerate(collected.assets)}
    return None


def page_spreads(
    collected: Collected,
    hosts_by_asset: Mapping[str, str],
    host_names: Sequence[str],
    pinned: Collection[str] = (),
) -> tuple[PageSpread, ...]:
    """How each page's asset requests split over ``host_names`` (see
    :class:`~shard_assets.placement.balance.PageSpread`): an asset with no host among
    them (kept on the origin, or not in the manifest the report reads) is not counted;
    ``pinned`` are the assets pins hold."""
    index = {name: i for i, name in enumerate(host_names)}
    host_of = [index.get(hosts_by_asset.get(key, ""), -1) for key in collected.assets]
    pins = set(pinned)
    is_pinned = [key in pins for key in collected.assets]
    spreads = []
    for page, ids in collected.pages:
        by_host = [0] * len(index)
        pinned_by_host = [0] * len(index)
        for i in ids:
            host = host_of[i]
            if host < 0:
                continue
            by_host[host] += 1
            if is_pinned[i]:
                pinned_by_host[host] += 1
        spreads.append(PageSpread(page, tuple(by_host), tuple(pinned_by_host)))
    return tuple(spreads)
