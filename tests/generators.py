"""Building the sample site (``sample_site/``) with each generator in a temporary
folder, as a user would: a copy of the project, then the real ``mkdocs build``,
``pelican`` or ``sphinx-build`` command run from the outside. Also the pages a
generator hands over while it builds, as the plugins hand them to the build.

Every test that builds with a generator takes these from here (test modules never
import each other).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shard_assets.build.handover import Handover, write_as_generated
from shard_assets.config import Settings

from .conftest import ROOT, SAMPLE_SITE, snapshot

#: Sphinx writes a different searchindex.js in every build that uses a saved
#: environment than in a clean one, with or without this extension (Sphinx 9.0: it
#: drops the index entries of the pages it did not read again, here reference/cli's
#: options). It is not a document, so shard-assets never touches it; every other
#: file must be the same.
SPHINX_OWN_DIFFERENCE = "searchindex.js"


def _env(**extra: str) -> dict[str, str]:
    """The environment of a generator's process: it imports this checkout, whatever
    the test run's PYTHONPATH says."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, **extra, "PYTHONPATH": path}


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=_env(**env), capture_output=True, text=True, check=False
    )


def _copy(sample: str, target: Path, *built: str) -> Path:
    """A copy of ``sample_site/<sample>`` at ``target``, without what a build wrote
    there (``built``, the manifest, bytecode)."""
    ignore = shutil.ignore_patterns(*built, "shard-manifest.json", "__pycache__")
    shutil.copytree(SAMPLE_SITE / sample, target, ignore=ignore)
    return target


# --------------------------------------------------------------------------- MkDocs


def copy_mkdocs(target: Path) -> Path:
    """The MkDocs sample project, copied to ``target`` (not built)."""
    return _copy("mkdocs", target, "site")


def mkdocs_build(
    project: Path, *extra: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``mkdocs build`` on ``project``, by default from its parent folder:
    a relative manifest path must follow mkdocs.yml, not the cwd."""
    command = [sys.executable, "-m", "mkdocs", "build", "-f", str(project / "mkdocs.yml")]
    # A fixed build date in the pages.
    return _run([*command, *extra], cwd or project.parent, SOURCE_DATE_EPOCH="1700000000")


def set_option(project: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) with ``new`` in the project's mkdocs.yml."""
    config = project / "mkdocs.yml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))


# -------------------------------------------------------------------------- Pelican


def copy_pelican(target: Path) -> Path:
    """The Pelican sample project, copied to ``target`` (not built)."""
    return _copy("pelican", target, "output")


def pelican_build(
    project: Path, *flags: str, **override: object
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pelican`` command from the project folder, with ``flags`` and the
    settings ``override`` (``-e NAME=JSON``)."""
    settings = [f"{key}={json.dumps(value)}" for key, value in override.items()]
    command = [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", "output"]
    command += flags
    if settings:
        command += ["-e", *settings]
    return _run(command, project)


# --------------------------------------------------------------------------- Sphinx


def copy_sphinx(target: Path) -> Path:
    """The Sphinx sample project, copied to ``target`` (not built)."""
    return _copy("sphinx", target, "_build")


def sphinx_build(
    project: Path, *flags: str, builder: str = "html", out: str = "_build/html"
) -> subprocess.CompletedProcess[str]:
    """Run the real ``sphinx-build`` on ``project`` (doctrees in ``_build/doctrees``),
    from the project folder."""
    command = [sys.executable, "-m", "sphinx", "-b", builder, "-d", "_build/doctrees", *flags]
    # Sphinx colours its output when CI=true, as CI sets it; the tests read it.
    return _run([*command, ".", out], project, SOURCE_DATE_EPOCH="1700000000", NO_COLOR="1")


def configure(project: Path, line: str) -> None:
    """Add ``line`` to the project's conf.py."""
    with (project / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write(f"\n{line}\n")


def sphinx_output(project: Path) -> dict[str, bytes]:
    """Every output file but the one Sphinx itself writes differently on a rebuild."""
    files = snapshot(project / "_build" / "html")
    assert SPHINX_OWN_DIFFERENCE in files
    return {key: data for key, data in files.items() if key != SPHINX_OWN_DIFFERENCE}


# ----------------------------------------------------------------- pages handed over


def hand_over(
    site: Path, pages: dict[str, str], settings: Settings, *, jobs: int, direct: bool = True
) -> Handover:
    """Write every page of ``pages`` (path -> text) into ``site`` again as a generator
    with the plugin's writer does: each page handed over, then written as the build
    gives it back."""
    handed_over = Handover(settings, site, jobs, direct=direct)
    assert handed_over.active, handed_over.reason
    for document, text in pages.items():
        written = handed_over.hand_over(text, document)
        if written is not None:
            write_as_generated(site / document, written)
    handed_over.drain()
    return handed_over
