"""Shard a static site's asset URLs across several CDN hostnames at build time.

The stable library API is ``__all__``: load the settings, then build
(:func:`shard_site`), or plan, check and apply a build step by step
(:func:`plan_build`, :func:`check_plan`, :func:`apply_plan`); audit a built site
(:func:`verify_site`); and report on it (:func:`build_report`, then
:func:`render_html`, :func:`render_text` or :func:`render_json`). Every error is a
:class:`ShardAssetsError`. The core never imports MkDocs, Pelican or Sphinx; the
adapters live in ``shard_assets.plugins`` on top of :mod:`shard_assets.plugins.lifecycle`, and
docs/architecture.md maps the modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .build.pipeline import Plan, apply_plan, check_plan, plan_build, shard_site
from .config import Settings, load_settings
from .errors import (
    BalanceError,
    ConfigError,
    FaultError,
    LockedError,
    LockHeldError,
    ManifestError,
    MissingAssetError,
    MissingFolderError,
    ShardAssetsError,
    VerifyError,
)
from .placement.assign import Assignment, Move
from .placement.balance import BalanceReport
from .results import BuildResult

if TYPE_CHECKING:
    from .report.html import render_html
    from .report.model import Report, build_report
    from .report.text import render_json, render_text
    from .verify import Finding, verify_site

__version__ = "0.1.0"

__all__ = [
    "Assignment",
    "BalanceError",
    "BalanceReport",
    "BuildResult",
    "ConfigError",
    "FaultError",
    "Finding",
    "LockHeldError",
    "LockedError",
    "ManifestError",
    "MissingAssetError",
    "MissingFolderError",
    "Move",
    "Plan",
    "Report",
    "Settings",
    "ShardAssetsError",
    "VerifyError",
    "__version__",
    "apply_plan",
    "build_report",
    "check_plan",
    "load_settings",
    "plan_build",
    "render_html",
    "render_json",
    "render_text",
    "shard_site",
    "verify_site",
]


#: The names loaded only when asked for: a build needs none of them (and verify loads
#: BeautifulSoup).
_LAZY = {
    "Finding": "verify",
    "Report": "report.model",
    "build_report": "report.model",
    "render_html": "report.html",
    "render_json": "report.text",
    "render_text": "report.text",
    "verify_site": "verify",
}


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, imported from their module when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
