"""The public surface: a pinned ``__all__`` and a core free of generator imports."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import shard_assets
from shard_assets import errors
from shard_assets.config import Settings


def test_all_is_pinned() -> None:
    """The stable API: the entry points, their settings and results, every error."""
    assert shard_assets.__all__ == [
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


def test_star_import_gives_the_documented_objects_and_the_version() -> None:
    """``from shard_assets import *`` gives exactly ``__all__``, the lazily loaded names
    included; each is the package's own class or function under its own name, with a
    docstring (a dataclass's generated signature is none); ``__version__`` is the
    installed distribution's."""
    namespace: dict[str, Any] = {}
    exec("from shard_assets import *", namespace)
    del namespace["__builtins__"]
    assert sorted(namespace) == shard_assets.__all__
    assert namespace.pop("__version__") == importlib.metadata.version("shard-assets")
    for name, value in namespace.items():
        assert value.__module__.startswith("shard_assets."), name
        assert getattr(importlib.import_module(value.__module__), name) is value, name
        doc = inspect.getdoc(value) or ""
        assert doc and not doc.startswith(f"{name}("), f"{name} has no docstring"


def test_every_error_is_exported() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == errors.__name__
    }
    assert defined <= set(shard_assets.__all__)


ADAPTERS = sorted(
    path
    for path in Path(shard_assets.__file__).parent.glob("plugins/*.py")
    if path.name != "lifecycle.py"
)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=[path.name for path in ADAPTERS])
def test_adapters_use_only_the_api_the_defaults_and_the_lifecycle(adapter: Path) -> None:
    """A generator adapter imports the package's ``__all__``, the defaults and the
    build lifecycle, and nothing else of shard_assets."""
    allowed = {"shard_assets", "shard_assets.config", "shard_assets.plugins.lifecycle"}
    imported: set[str] = set()
    for node in ast.walk(ast.parse(adapter.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = ["shard_assets", "plugins"][: 3 - node.level]
            module = ".".join([*package, *([node.module] if node.module else [])])
            imported.add(module)
            if module == "shard_assets.config":
                names = {alias.name for alias in node.names}
                assert names <= {"CHOICES", "DEFAULTS", "KNOWN_SETTINGS"}, names
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
            )
            imported.update(n for n in names if n.startswith("shard_assets"))
    assert imported <= allowed, imported - allowed
    if adapter.name != "__init__.py":
        # Thin: MkDocs' is the longest, with its options class and the event order a
        # worker writing pages in its place depends on.
        assert len(adapter.read_text(encoding="utf-8").splitlines()) < 200


def test_verify_site_loads_beautifulsoup_only_when_asked_for() -> None:
    code = (
        "import sys, shard_assets; assert 'bs4' not in sys.modules; "
        "from shard_assets import verify_site; assert 'bs4' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_core_and_cli_import_no_generator() -> None:
    code = (
        "import sys, shard_assets, shard_assets.cli, shard_assets.build.pipeline; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('mkdocs', 'pelican', 'bs4')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_the_old_names_of_the_balance_still_answer_with_a_warning(
    site: Path, make_settings: Callable[..., Settings]
) -> None:
    """``report`` meant three things; the gate's verdict is now ``balance`` (and a
    failed gate's numbers ``details``), and the old names warn for one release."""
    settings = make_settings()
    plan = shard_assets.plan_build(site, settings)
    result = shard_assets.shard_site(site, settings)
    error = shard_assets.BalanceError("too uneven", plan.balance)
    for old, new in (
        (lambda: plan.report, plan.balance),
        (lambda: result.report, result.balance),
        (lambda: error.report, error.details),
    ):
        with pytest.warns(DeprecationWarning, match="is now"):
            assert old() is new
