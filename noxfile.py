"""The test matrix: one session per interpreter and per dependency set (issue 20).

    nox -l                 # the sessions this machine can run
    nox -s tests-3.12      # one of them
    nox                    # all of them, as .ci/run does

- ``tests-3.11``: Debian 12's own ``/usr/bin/python3.11`` (3.11.2, a release whose
  ``re`` matches possessive quantifiers and atomic groups wrongly, so a scanner
  pattern that needs them fails here), the whole suite.
- ``tests-3.12``, ``tests-3.13``, and ``tests-3.14`` where it is installed: pyenv's
  interpreters, everything but the tests marked ``browser`` or ``servers`` (Chromium
  and Debian's web servers drive the same code on every interpreter, and are the
  slowest part of the suite; tests-3.11 runs them).
- ``lowest``: the lowest versions pyproject.toml declares (``uv pip install
  --resolution lowest-direct``), on Debian's 3.11: the generator and CLI tests.
- ``newest``: the newest Sphinx, MkDocs, mkdocs-material and Pelican the package
  index serves, on the newest interpreter: the generator and CLI tests.

Each session has its own virtual environment under ``.nox/``, made and filled by uv.
Arguments after ``--`` go to pytest: ``nox -s tests-3.13 -- tests/documents -x``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
#: Debian's python3 of Debian 12 (3.11.2); .ci/run installs it where it is missing.
DEBIAN_PYTHON = "/usr/bin/python3.11"
#: What the interpreters other than Debian's deselect (pyproject.toml defines them).
NO_BROWSER_OR_SERVERS = ["-m", "not browser and not servers"]
#: The generator tests (MkDocs, Pelican, Sphinx) and the command line's.
GENERATOR_TESTS = ["tests/plugins", "tests/cli"]
#: Test requirements left out of ``lowest``: mkdocs-material (its 9.5 needs MkDocs
#: 1.5.3, above our floor: the material theme test skips), the neighbours' plugins of
#: tests/plugins/test_neighbours.py (their floors are not ours, and zensical's needs a
#: pymdown-extensions that mkdocs-material 9.5 refuses: those tests skip), Playwright
#: (the browser tests are deselected).
NOT_IN_LOWEST = (
    "zensical",
    "mike",
    "mkdocs-static-i18n",
    "mkdocs-minify-plugin",
    "pelican-i18n-subsites",
    "mkdocs-material",
    "playwright",
)
#: What ``newest`` installs at their newest releases.
NEWEST = ("sphinx", "mkdocs", "mkdocs-material", "pelican")


def pyenv_python(version: str) -> str | None:
    """The newest ``version`` (such as "3.12") pyenv has, as an absolute path."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [p for p in root.glob(f"{version}.*") if re.fullmatch(r"\d+\.\d+\.\d+", p.name)]
    if not found:
        return None
    newest = max(found, key=lambda p: tuple(int(n) for n in p.name.split(".")))
    return str(newest / "bin" / f"python{version}")


#: The interpreters of tests-X.Y: Debian's 3.11, pyenv's others where installed.
INTERPRETERS = {
    version: python
    for version, python in {
        "3.11": DEBIAN_PYTHON,
        "3.12": pyenv_python("3.12"),
        "3.13": pyenv_python("3.13"),
        "3.14": pyenv_python("3.14"),
    }.items()
    if python is not None and (version == "3.11" or Path(python).exists())
}
NEWEST_PYTHON = INTERPRETERS[max(INTERPRETERS, key=lambda v: tuple(map(int, v.split("."))))]


def _requirements(*extras: str, dependencies: bool = False) -> list[str]:
    """The requirements of ``extras`` in pyproject.toml (and the package's own), without
    the package itself."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    found = list(project["dependencies"]) if dependencies else []
    found += [r for extra in extras for r in project["optional-dependencies"][extra]]
    return [r for r in found if not r.startswith("shard-assets")]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def _versions(session: nox.Session, *names: str) -> dict[str, str]:
    """The installed versions of ``names``, printed in the session's log."""
    script = "import importlib.metadata as m, sys\nfor n in sys.argv[1:]: print(n, m.version(n))"
    output = session.run("python", "-c", script, *names, silent=True) or ""
    session.log("installed: " + ", ".join(output.split("\n")).strip(", "))
    return dict(line.split() for line in output.splitlines())


def _pytest(session: nox.Session, *default: str) -> None:
    # Without the virtual environment nox itself runs in: a test that looks a program
    # up on PATH (zensical) must find this session's or none.
    outer = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not outer or not p.startswith(outer)]
    env = {"PATH": os.pathsep.join([str(session.bin), *path])}
    session.run("python", "-m", "pytest", "-q", *(session.posargs or default), env=env)


def _tests(version: str, python: str) -> None:
    @nox.session(name=f"tests-{version}", python=python)
    def tests(session: nox.Session) -> None:
        session.install("-e", ".[test]")
        _versions(session, "sphinx", "mkdocs", "mkdocs-material", "pelican")
        _pytest(session, *([] if version == "3.11" else NO_BROWSER_OR_SERVERS))

    tests.__doc__ = (
        f"The whole suite on Debian's {python} (3.11.2 on Debian 12)."
        if version == "3.11"
        else f"All but the browser and server tests on {python}."
    )


for _version, _python in INTERPRETERS.items():
    _tests(_version, _python)


@nox.session(python=DEBIAN_PYTHON)
def lowest(session: nox.Session) -> None:
    """The lowest versions pyproject.toml declares: the generator and CLI tests."""
    extras = ("mkdocs", "pelican", "sphinx", "check")
    requirements = [r for r in _requirements("test") if _name(r) not in NOT_IN_LOWEST]
    session.install("--resolution=lowest-direct", "-e", f".[{','.join(extras)}]", *requirements)
    # The floors users get: each at the lowest release its requirement allows, or the
    # session fails (another requirement would have raised it).
    floors = [r for r in _requirements(*extras, dependencies=True) if ">=" in r]
    _check(session, _releases(session, floors, "lowest"), "the lowest")
    _pytest(session, *NO_BROWSER_OR_SERVERS, *GENERATOR_TESTS)


@nox.session(python=NEWEST_PYTHON)
def newest(session: nox.Session) -> None:
    """The newest Sphinx, MkDocs, mkdocs-material and Pelican: the generator and CLI
    tests. Pelican 4.12 and mkdocs-material 9.8 cannot share an environment (they need
    Pygments below 2.20, and 2.20 or later), so the newest Pelican comes second, for
    the Pelican tests."""
    newest = _releases(session, list(NEWEST), "highest")
    first = [name for name in NEWEST if name != "pelican"]
    session.install("-e", ".[test]", *(f"{name}=={newest[name]}" for name in first))
    _check(session, {name: newest[name] for name in first}, "the newest")
    _pytest(session, *NO_BROWSER_OR_SERVERS, *GENERATOR_TESTS)
    session.install(f"pelican[markdown]=={newest['pelican']}")
    _check(session, {"pelican": newest["pelican"]}, "the newest")
    _pytest(session, *NO_BROWSER_OR_SERVERS, "tests/plugins", "-k", "pelican")


def _releases(session: nox.Session, requirements: list[str], resolution: str) -> dict[str, str]:
    """The lowest or highest (``resolution``) release the package index has for each
    requirement alone, for the session's Python."""
    wanted = Path(session.create_tmp()) / f"{resolution}.in"
    wanted.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    python = str(Path(session.bin) / "python")
    compile_ = ["uv", "pip", "compile", "--no-deps", "--no-header", "--no-annotate"]
    output = session.run(
        *compile_,
        "--quiet",
        f"--resolution={resolution}",
        "--python",
        python,
        str(wanted),
        silent=True,
        external=True,
    )
    found = dict(line.split("==") for line in str(output).split() if "==" in line)
    session.log(f"{resolution} on the index: " + ", ".join(f"{n} {v}" for n, v in found.items()))
    return found


def _check(session: nox.Session, wanted: dict[str, str], which: str) -> None:
    """Fail unless each package of ``wanted`` is installed at that version."""
    installed = _versions(session, *wanted)
    if installed != wanted:
        session.error(f"installed {installed}, not {which} {wanted}")
