"""Real ``sphinx-build`` runs of sample_site/sphinx in temporary folders.

The sample is built once for the module (``built``); tests that build again work
on a copy of that build (its output, doctrees and manifest), as an incremental
build on a developer's machine would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import HOSTS, snapshot
from ..generators import configure, copy_sphinx, sphinx_build, sphinx_output

sphinx = pytest.importorskip("sphinx")
pytest.importorskip("pydata_sphinx_theme")

#: Sphinx 8.0 and later show a warning's type and subtype ("[shard_assets.missing]");
#: 7.x only filters on them (suppress_warnings), tested on every version. The lowest
#: versions the package declares are tested too (noxfile.py, session "lowest").
SHOWS_WARNING_TYPES = sphinx.version_info >= (8, 0)


def written_pages(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The pages Sphinx says it wrote ("writing output... [ 50%] guide/tides")."""
    # Sphinx 7.2 starts each progress line with an erase-line sequence, even in a pipe.
    lines = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", result.stdout).splitlines()
    return [line.split()[-1] for line in lines if line.startswith("writing output... [")]


def manifest(project: Path) -> dict[str, str]:
    assets: dict[str, str] = json.loads((project / "shard-manifest.json").read_text())["assets"]
    return assets


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The sample built once, clean, with -W."""
    project = copy_sphinx(tmp_path_factory.mktemp("sphinx") / "docs")
    result = sphinx_build(project, "-W")
    assert result.returncode == 0, result.stdout + result.stderr
    return project, result


@pytest.fixture
def rebuilt(built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> Iterator[Path]:
    """The built project, its output and doctrees, to build again in place (Sphinx
    reads everything again when the source folder moved); put back afterwards."""
    project = built[0]
    backup = shutil.copytree(project, tmp_path / "backup", symlinks=True)
    yield project
    shutil.rmtree(project)
    shutil.move(backup, project)


def test_build_shards_the_sample_and_writes_the_manifest_beside_conf_py(
    built: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, result = built
    assets = manifest(project)
    assert len(assets) >= 40
    assert sorted(set(assets.values())) == HOSTS
    assert "_static/img/hero-dots.png" in assets
    assert any(key.startswith("_images/") for key in assets)
    # Stylesheets stay on the origin (stylesheets: origin, the default); the web
    # fonts, the sample's and the theme's, too (cors_assets: origin), named as the
    # theme wrote them, since their stylesheets stay where they are. Scripts move.
    assert not [key for key in assets if key.endswith(".css")]
    assert "_static/doctools.js" in assets
    assert not [key for key in assets if key.endswith((".woff", ".woff2", ".ttf"))]
    html = project / "_build" / "html"
    theme_css = (html / "_static" / "styles" / "pydata-sphinx-theme.css").read_text()
    assert "url(../vendor/fontawesome/webfonts/fa-solid-900.woff2)" in theme_css
    index = (html / "index.html").read_text()
    # Sphinx's ?v= checksum stays, and it is the checksum of the file as Sphinx copied
    # it (before the URLs in it were sharded), so a rebuild computes the same.
    source = (project / "_static" / "css" / "tidewater.css").read_bytes()
    checksum = f"{zlib.crc32(source):08x}"
    assert f'href="_static/css/tidewater.css?v={checksum}"' in index
    doctools = f"https://{assets['_static/doctools.js']}/_static/doctools.js?v="
    assert f'<script src="{doctools}' in index
    css = (html / "_static" / "css" / "tidewater.css").read_text()
    assert 'url("../fonts/tidewater-pixel.woff2")' in css
    host = assets["_static/img/hero-dots.png"]
    assert f"url('https://{host}/_static/img/hero-dots.png')" in css
    for page in html.rglob("*.html"):
        if "_static" not in page.parts:
            text = page.read_text()
            assert 'src="_static/' not in text and 'href="_static/favicon' not in text, page
            assert 'src="../_images/' not in text and 'src="_images/' not in text, page
    assert "assets over 4 hosts" in result.stdout
    assert result.stderr == ""


def test_rebuilds_are_byte_identical_to_a_clean_build(rebuilt: Path, tmp_path: Path) -> None:
    first, first_manifest = sphinx_output(rebuilt), (rebuilt / "shard-manifest.json").read_bytes()
    # Nothing changed: Sphinx copies _static again (unsharded) and writes no page.
    result = sphinx_build(rebuilt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sphinx_output(rebuilt) == first
    assert (rebuilt / "shard-manifest.json").read_bytes() == first_manifest
    # One page edited: Sphinx writes it (and the pages that list it) again; every other
    # page is sharded already. The result is the clean build's, with the same manifest.
    page = rebuilt / "guide" / "tides.rst"
    page.write_text(page.read_text() + "\nHigh water is a little later each day.\n")
    result = sphinx_build(rebuilt)
    assert result.returncode == 0, result.stdout + result.stderr
    written = written_pages(result)
    assert "guide/tides" in written and "reference/cli" not in written, result.stdout
    clean = Path(
        shutil.copytree(rebuilt, tmp_path / "clean", ignore=shutil.ignore_patterns("_build"))
    )
    assert sphinx_build(clean).returncode == 0
    assert sphinx_output(rebuilt) == sphinx_output(clean)
    assert (clean / "shard-manifest.json").read_bytes() == first_manifest


def test_a_new_host_takes_assets_only_from_the_others(rebuilt: Path) -> None:
    before = manifest(rebuilt)
    configure(rebuilt, 'shard_assets["hosts"].append("cdn5.example.com")')
    result = sphinx_build(rebuilt)
    assert result.returncode == 0, result.stdout + result.stderr
    # A new setting makes Sphinx write every page again, the ones it did not change too.
    assert "reference/cli" in written_pages(result)
    after = manifest(rebuilt)
    assert after.keys() == before.keys()
    moved = {key for key in before if after[key] != before[key]}
    assert moved and {after[key] for key in moved} == {"cdn5.example.com"}
    html = rebuilt / "_build" / "html"
    written = "".join(p.read_text() for p in [*html.rglob("*.html"), *html.rglob("*.css")])
    assert all(f"https://cdn5.example.com/{key}" in written for key in moved)


def test_a_skewed_manifest_fails_the_build_and_keeps_output_and_manifest(
    rebuilt: Path, tmp_path: Path
) -> None:
    path = rebuilt / "shard-manifest.json"
    data = json.loads(path.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[2])
    path.write_text(json.dumps(data, indent=2))
    before = path.read_bytes()
    result = sphinx_build(rebuilt, "-E")  # Sphinx writes every page again
    assert result.returncode == 1
    assert "over cap by" in result.stderr and HOSTS[2] in result.stderr
    assert "ERROR: shard-assets: the assets are spread too unevenly" in result.stderr
    assert "[shard_assets.failed]" in result.stderr or not SHOWS_WARNING_TYPES
    assert "Traceback" not in result.stdout + result.stderr
    assert path.read_bytes() == before
    # Sphinx wrote every page again (-E) and copied _static: nothing was sharded.
    files = snapshot(rebuilt / "_build" / "html")
    assert not [key for key, data in files.items() if b"cdn3.example.com" in data]
    assert (
        files["_static/css/tidewater.css"] == (rebuilt / "_static/css/tidewater.css").read_bytes()
    )


MISSING_IMAGE = """
.. raw:: html

   <img src="../_static/img/no-such-image.png" alt="">
"""


def test_warnings_fail_the_build_under_W_and_can_be_suppressed(rebuilt: Path) -> None:
    page = rebuilt / "guide" / "install.rst"
    page.write_text(page.read_text() + MISSING_IMAGE)
    result = sphinx_build(rebuilt, "-W")
    assert result.returncode == (1 if sphinx.version_info >= (8, 1) else 2)  # Sphinx's own
    assert "shard-assets: guide/install.html:" in result.stderr
    assert "../_static/img/no-such-image.png is not in the output" in result.stderr
    assert "[shard_assets.missing]" in result.stderr or not SHOWS_WARNING_TYPES
    # "(with warnings treated as errors)" from Sphinx 8.1, "Warning, treated as error:" before
    assert "treated as error" in result.stdout + result.stderr
    result = sphinx_build(rebuilt, "-W", "-D", "suppress_warnings=shard_assets.missing")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shard_assets" not in result.stderr


def test_a_parallel_quiet_build_is_the_same_and_silent(
    built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    project = copy_sphinx(tmp_path / "docs")
    result = sphinx_build(project, "-j", "auto", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert sphinx_output(project) == sphinx_output(built[0])
    assert manifest(project) == manifest(built[0])


@pytest.mark.parametrize(
    ("builder", "sharded"),
    [("epub", False), ("dirhtml", True), ("singlehtml", True)],
)
def test_html_builders_are_sharded_and_the_others_left_alone(
    tmp_path: Path, builder: str, sharded: bool
) -> None:
    project = copy_sphinx(tmp_path / "docs")
    # Not -W: Sphinx warns about the sample's epub, and pydata-sphinx-theme's single
    # page loads a searchindex.js that the singlehtml builder does not write.
    result = sphinx_build(project, builder=builder, out=f"_build/{builder}")
    assert result.returncode == 0, result.stdout + result.stderr
    files = snapshot(project / "_build" / builder)
    texts = [v for k, v in files.items() if k.endswith((".html", ".xhtml", ".css"))]
    assert texts
    assert any(b"https://cdn1.example.com/" in text for text in texts) == sharded
    assert (project / "shard-manifest.json").exists() == sharded
    if not sharded:
        assert f"shard-assets: nothing to do for the {builder} builder" in result.stdout


def test_a_typo_in_a_setting_fails_before_building_with_a_hint(tmp_path: Path) -> None:
    project = copy_sphinx(tmp_path / "docs")
    configure(project, 'shard_assets["max_imbalence"] = 0.2')
    result = sphinx_build(project)
    assert result.returncode == 2
    assert re.search(r"Configuration error[!:]", result.stderr)  # "!" from Sphinx 8.1
    assert (
        f"shard_assets in {project / 'conf.py'}: unknown shard-assets setting 'max_imbalence': "
        "did you mean 'max_imbalance'?" in result.stderr
    )
    assert "Traceback (most recent call last)" not in result.stderr
    assert not (project / "_build" / "html" / "index.html").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"hosts": ["https://cdn1.example.com"]},
            "shard-assets setting 'hosts' has a bad entry: 'https://cdn1.example.com' has a "
            "scheme: write the bare hostname 'cdn1.example.com'",
        ),
        (["cdn1.example.com"], 'must be a dict of settings, e.g. {"hosts": ['),
    ],
)
def test_a_bad_value_names_the_setting_and_the_fix(
    tmp_path: Path, settings: object, message: str
) -> None:
    from shard_assets.errors import ShardAssetsError
    from shard_assets.plugins.sphinx import settings_from

    with pytest.raises(ShardAssetsError) as error:
        settings_from(_config(shard_assets=settings), tmp_path)
    assert str(error.value).startswith(f"shard_assets in {tmp_path / 'conf.py'}")
    assert message in str(error.value)


FAILING_EXTENSION = """
def _fail(app):
    raise RuntimeError("an extension failed")

def setup(app):
    app.connect("html-collect-pages", _fail)
"""


def test_nothing_is_sharded_when_the_build_raised(tmp_path: Path) -> None:
    project = copy_sphinx(tmp_path / "docs")
    (project / "failing.py").write_text(FAILING_EXTENSION)
    configure(project, "import sys; sys.path.insert(0, '.'); extensions.append('failing')")
    result = sphinx_build(project)
    assert result.returncode == 2
    assert "an extension failed" in result.stderr
    assert (project / "_build" / "html" / "index.html").exists()  # pages were written
    assert b"cdn1.example.com" not in (project / "_build" / "html" / "index.html").read_bytes()
    assert not (project / "shard-manifest.json").exists()


def _config(**values: object) -> Any:
    from sphinx.config import Config

    config = Config(values)
    config.add("shard_assets", {}, "html", (dict,))
    config.add("html_baseurl", "", "html", (str,))
    config.init_values()  # before Sphinx 7.3, values given to Config() apply only here
    return config


def test_html_baseurl_is_the_default_site_url_and_the_manifest_follows_conf_py(
    tmp_path: Path,
) -> None:
    from shard_assets.plugins.sphinx import settings_from

    base = "https://docs.example.org/en/"
    settings = settings_from(_config(shard_assets={"hosts": HOSTS}, html_baseurl=base), tmp_path)
    assert settings.site_url == base
    assert settings.manifest == tmp_path / "shard-manifest.json"
    own = {"hosts": HOSTS, "site_url": "https://www.example.org/", "manifest": "m/x.json"}
    settings = settings_from(_config(shard_assets=own, html_baseurl=base), tmp_path)
    assert settings.site_url == "https://www.example.org/"
    assert settings.manifest == tmp_path / "m" / "x.json"
    # Sphinx's default html_baseurl is empty: no site URL.
    assert settings_from(_config(shard_assets={"hosts": HOSTS}), tmp_path).site_url is None
