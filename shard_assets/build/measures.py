"""What pass one's result weighs: each asset's load for ``balance_by``, and how each
page's asset requests spread over the hosts once they are assigned."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..config import Settings
from ..placement.assign import Assignment
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
    collected: Collected, assignment: Assignment, settings: Settings, *, direct: bool = False
) -> tuple[PageSpread, ...]:
    """How each page's asset requests split over the configured hosts (``direct``:
    only the assets the page references itself, not through its stylesheets)."""
    index = {name: i for i, name in enumerate(settings.host_names)}
    host_of = [index[assignment.hosts_by_asset[key]] for key in collected.assets]
    pinned = set(assignment.pinned)
    is_pinned = [key in pinned for key in collected.assets]
    spreads = []
    pages = collected.pages
    if direct:
        pages = tuple((page, own) for (page, _), own in zip(pages, collected.direct, strict=True))
    for page, ids in pages:
        by_host = [0] * len(index)
        pinned_by_host = [0] * len(index)
        for i in ids:
            by_host[host_of[i]] += 1
            if is_pinned[i]:
                pinned_by_host[host_of[i]] += 1
        spreads.append(PageSpread(page, tuple(by_host), tuple(pinned_by_host)))
    return tuple(spreads)
