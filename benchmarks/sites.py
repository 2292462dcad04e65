"""Synthetic sites for the benchmarks: N-page Pelican, MkDocs and Sphinx projects,
and a large output folder made without a generator (the scale run).

Realistic in the ways that cost time: every page shows 8 images (from a shared pool,
as documentation and blogs reuse screenshots; with a ``srcset`` where the generator
writes one), the theme CSS has ``url()`` backgrounds and ``@font-face`` fonts, and the
MkDocs site uses the built-in ``mkdocs`` theme, whose navigation (every page's title)
repeats on every page.
"""

from __future__ import annotations

import random
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_site"
HOSTS = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com", "cdn4.example.com"]
IMAGES_PER_PAGE = 8
IMAGE_POOL = 300

WORDS = tuple(
    [
        "harbour",
        "signal",
        "lantern",
        "copper",
        "static",
        "tide",
        "ferry",
        "aurora",
        "paper",
        "satellite",
        "hymn",
        "playback",
        "queue",
        "library",
        "extension",
        "tuning",
        "latency",
        "buffer",
        "codec",
        "stream",
        "volume",
        "the",
        "a",
        "of",
        "and",
        "to",
        "in",
        "is",
        "that",
        "for",
        "it",
        "with",
        "as",
        "on",
        "be",
        "by",
        "this",
        "are",
        "from",
        "at",
    ]
)


def png(seed: int) -> bytes:
    """A small, real PNG (distinct bytes per seed)."""
    rgb = bytes((seed % 256, (seed * 7) % 256, (seed * 13) % 256))
    return encode_png(8, 8, lambda x, y: rgb)


def encode_png(width: int, height: int, pixel: Callable[[int, int], bytes]) -> bytes:
    """A real, decodable RGB PNG whose pixel at (x, y) is ``pixel(x, y)`` (3 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _prose(rng: random.Random, paragraphs: int) -> str:
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 90))]
        out.append(" ".join(words).capitalize() + ".")
    return "\n\n".join(out)


def _images(rng: random.Random, prefix: str) -> str:
    tags = []
    for n in rng.sample(range(IMAGE_POOL), IMAGES_PER_PAGE):
        name = f"{prefix}gallery/shot-{n:03d}"
        tags.append(
            f'<img src="{name}.png" srcset="{name}.png 1x, {name}@2x.png 2x" '
            f'width="320" height="200" alt="Screenshot {n}" loading="lazy">'
        )
    return "<p>\n" + "\n".join(tags) + "\n</p>"


def _image_pool(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(IMAGE_POOL):
        (folder / f"shot-{n:03d}.png").write_bytes(png(n))
        (folder / f"shot-{n:03d}@2x.png").write_bytes(png(n + 1000))


# --- Pelican ---------------------------------------------------------------------


def pelican_project(root: Path, pages: int) -> Path:
    """A Pelican project with ``pages`` articles and the sample theme; returns its folder."""
    project = root / f"pelican-{pages}"
    if project.exists():
        shutil.rmtree(project)
    content = project / "content"
    shutil.copytree(SAMPLE / "pelican" / "theme", project / "theme")
    # The sample theme lists every article on each list page; paginate as real themes do.
    article_list = project / "theme" / "templates" / "_article_list.html"
    article_list.write_text(
        article_list.read_text(encoding="utf-8").replace(
            "for article in articles ",
            "for article in (articles_page.object_list if articles_page else articles) ",
        ),
        encoding="utf-8",
    )
    shutil.copytree(SAMPLE / "pelican" / "content" / "extra", content / "extra")
    _image_pool(content / "images" / "gallery")
    (content / "posts").mkdir(parents=True)
    rng = random.Random(4)
    tags = [f"{a}-{b}" for a in WORDS[:8] for b in WORDS[8:13]]
    for n in range(pages):
        body = "\n\n".join([_prose(rng, 8), _images(rng, "/images/"), _prose(rng, 8)])
        (content / "posts" / f"post-{n:04d}.md").write_text(
            f"Title: Review number {n}\nDate: 2024-01-01 {n // 60 % 24:02d}:{n % 60:02d}\n"
            f"Slug: post-{n:04d}\nCategory: cat{n % 6}\n"
            f"Tags: {', '.join(rng.sample(tags, 3))}\nRating: {n % 10}\n"
            f"Summary: {_prose(rng, 1)[:160]}\n\n{body}\n",
            encoding="utf-8",
        )
    (project / "pelicanconf.py").write_text(
        f"""from pathlib import Path
HERE = Path(__file__).parent
AUTHOR = "Bench"
SITENAME = "Bench Music"
SITEURL = ""
PATH = str(HERE / "content")
THEME = str(HERE / "theme")
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
ARTICLE_PATHS = ["posts"]
ARTICLE_URL = "posts/{{slug}}.html"
ARTICLE_SAVE_AS = "posts/{{slug}}.html"
STATIC_PATHS = ["images", "extra"]
EXTRA_PATH_METADATA = {{"extra/favicon.ico": {{"path": "favicon.ico"}}}}
DEFAULT_PAGINATION = 10
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
SHARDED = __import__("os").environ.get("BENCH_SHARD") == "1"
PLUGINS = ["shard_assets.plugins.pelican"] if SHARDED else []
SHARD_ASSETS = {{
    "hosts": {HOSTS!r},
    "manifest": str(HERE / "shard-manifest.json"),
}}
if __import__("os").environ.get("BENCH_TWIN") == "1":
    SHARD_ASSETS["unsharded_copy"] = str(HERE / "output-h2")
if __import__("os").environ.get("BENCH_JOBS"):
    SHARD_ASSETS["jobs"] = int(__import__("os").environ["BENCH_JOBS"])
""",
        encoding="utf-8",
    )
    return project


# --- MkDocs ----------------------------------------------------------------------

_EXTRA_CSS = """\
@font-face {
  font-family: "Bench Pixel";
  font-display: swap;
  src: url("../fonts/bench.woff2") format("woff2"), url("../fonts/bench.woff") format("woff");
}
.md-header { background-image: url("../img/header.png"); }
.admonition.note { background: url(../img/icon-note.png) no-repeat 0.5em 0.5em; }
.admonition.tip { background: url('../img/icon-tip.png') no-repeat 0.5em 0.5em; }
.hero { background: image-set("../img/hero.png" 1x, "../img/hero@2x.png" 2x); }
h1, h2 { font-family: "Bench Pixel", monospace; }
"""


def mkdocs_project(root: Path, pages: int, *, sharded: bool, theme: str = "mkdocs") -> Path:
    """An MkDocs project with ``pages`` pages in sections; returns mkdocs.yml.

    The docs folder is shared by the plain and the sharded configuration, which
    differ only in the plugin list and their site folder.
    """
    project = root / f"mkdocs-{pages}"
    docs = project / "docs"
    if not docs.exists():
        _mkdocs_docs(docs, pages)
    name = "sharded" if sharded else "plain"
    plugins = "  - search\n"
    if sharded:
        plugins += f"  - shard-assets:\n      hosts: {HOSTS}\n      manifest: shard-manifest.json\n"
    config = project / f"mkdocs-{name}.yml"
    config.write_text(
        "site_name: Bench Docs\nsite_url: https://docs.example.org/\n"
        f"docs_dir: docs\nsite_dir: site-{name}\n"
        f"theme:\n  name: {theme}\n"
        "extra_css: [css/extra.css]\nextra_javascript: [js/extra.js]\n"
        f"plugins:\n{plugins}",
        encoding="utf-8",
    )
    return config


def _mkdocs_docs(docs: Path, pages: int) -> None:
    rng = random.Random(7)
    _image_pool(docs / "gallery")
    for folder in ("img", "css", "js", "fonts"):
        (docs / folder).mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(("header", "icon-note", "icon-tip", "hero", "hero@2x")):
        (docs / "img" / f"{name}.png").write_bytes(png(5000 + n))
    (docs / "css" / "extra.css").write_text(_EXTRA_CSS, encoding="utf-8")
    (docs / "js" / "extra.js").write_text("console.log('bench');\n", encoding="utf-8")
    (docs / "fonts" / "bench.woff2").write_bytes(b"wOF2" + bytes(200))
    (docs / "fonts" / "bench.woff").write_bytes(b"wOFF" + bytes(200))
    (docs / "index.md").write_text("# Bench Docs\n\n" + _prose(rng, 2) + "\n", encoding="utf-8")
    sections = max(1, pages // 50)
    for n in range(pages - 1):
        section = docs / f"section-{n % sections:02d}"
        section.mkdir(exist_ok=True)
        # Pages are section-NN/page-NNNN/index.html: the pool is two folders up.
        body = "\n\n".join(
            [
                f"# Page {n}",
                _prose(rng, 3),
                "## Screens",
                _images(rng, "../../"),
                '<div class="hero" style="background-image: url(../../img/hero.png)">hi</div>',
                _prose(rng, 3),
            ]
        )
        (section / f"page-{n:04d}.md").write_text(body + "\n", encoding="utf-8")


# --- Sphinx ----------------------------------------------------------------------

_SPHINX_CSS = """\
/* Bench docs: additions on top of the theme. */
@font-face {
  font-family: "Bench Pixel";
  font-display: swap;
  src: url("../fonts/bench.woff2") format("woff2"), url("../fonts/bench.woff") format("woff");
}
div.body { background-image: url(../img/paper.png); }
div.admonition.note { background: url("../img/icon-note.png") no-repeat 0.5em 0.5em; }
.bench-hero { background: image-set("../img/hero.png" 1x, "../img/hero@2x.png" 2x); }
h1, h2 { font-family: "Bench Pixel", monospace; }
"""

_SPHINX_CONF = """\
import os

project = "Bench Docs"
author = "Bench"
copyright = "synthetic pages for shard-assets' benchmarks"
release = "1.0"
html_theme = {theme!r}
html_baseurl = "https://docs.example.org/"
html_static_path = ["_static"]
html_css_files = ["css/bench.css"]
html_js_files = ["js/bench.js"]
html_logo = "_static/img/logo.png"
html_favicon = "_static/img/favicon.png"
html_last_updated_fmt = None
exclude_patterns = ["shard-manifest.json"]
# The plain and the sharded build share this folder: the benchmark sets BENCH_SHARD
# (and BENCH_TWIN, BENCH_JOBS).
extensions = ["shard_assets.plugins.sphinx"] if os.environ.get("BENCH_SHARD") == "1" else []
shard_assets = {{
    "hosts": {hosts!r},
    "manifest": "shard-manifest.json",
}}
if os.environ.get("BENCH_TWIN") == "1":
    shard_assets["unsharded_copy"] = "../{name}-build/html-h2"
if os.environ.get("BENCH_JOBS"):
    shard_assets["jobs"] = int(os.environ["BENCH_JOBS"])
"""


def sphinx_project(root: Path, pages: int, theme: str = "alabaster") -> Path:
    """A Sphinx project (reStructuredText) with ``pages`` pages; returns its source
    folder (conf.py). Pages sit in sections of 50 under a root toctree, each showing 8
    images from a pool of 300 with ``.. image::`` (Sphinx copies them to ``_images``)
    and an admonition; the theme's ``_static`` comes with a stylesheet with ``url()``
    backgrounds and fonts, a script, a logo and a favicon. The extension is on when
    the build's environment has ``BENCH_SHARD=1``.
    """
    project = root / f"sphinx-{pages}"
    if project.exists():
        shutil.rmtree(project)
    rng = random.Random(11)
    _image_pool(project / "gallery")
    static = project / "_static"
    for folder in ("img", "css", "js", "fonts"):
        (static / folder).mkdir(parents=True)
    for n, name in enumerate(("paper", "icon-note", "hero", "hero@2x", "logo", "favicon")):
        (static / "img" / f"{name}.png").write_bytes(png(6000 + n))
    (static / "css" / "bench.css").write_text(_SPHINX_CSS, encoding="utf-8")
    (static / "js" / "bench.js").write_text("console.log('bench');\n", encoding="utf-8")
    (static / "fonts" / "bench.woff2").write_bytes(b"wOF2" + bytes(200))
    (static / "fonts" / "bench.woff").write_bytes(b"wOFF" + bytes(200))
    (project / "conf.py").write_text(
        _SPHINX_CONF.format(theme=theme, hosts=HOSTS, name=project.name), encoding="utf-8"
    )
    sections = max(1, pages // 50)
    members: list[list[str]] = [[] for _ in range(sections)]
    for n in range(pages - 1 - sections):
        members[n % sections].append(f"page-{n:04d}")
    for s, names in enumerate(members):
        folder = project / f"section-{s:02d}"
        folder.mkdir()
        toctree = "\n".join(f"   {name}" for name in names)
        (folder / "index.rst").write_text(
            _rst_title(f"Section {s}") + f"{_prose(rng, 1)}\n\n.. toctree::\n\n{toctree}\n",
            encoding="utf-8",
        )
        for name in names:
            images = "\n\n".join(
                f".. image:: ../gallery/shot-{i:03d}.png\n   :width: 320px\n   :alt: Screenshot {i}"
                for i in rng.sample(range(IMAGE_POOL), IMAGES_PER_PAGE)
            )
            body = [
                _rst_title(f"Page {name.removeprefix('page-')}"),
                _prose(rng, 3),
                ".. note::\n\n   " + _prose(rng, 1),
                "Screens\n-------",
                images,
                '.. raw:: html\n\n   <div class="bench-hero">hi</div>',
                _prose(rng, 3),
            ]
            (folder / f"{name}.rst").write_text("\n\n".join(body) + "\n", encoding="utf-8")
    toctree = "\n".join(f"   section-{s:02d}/index" for s in range(sections))
    (project / "index.rst").write_text(
        _rst_title("Bench Docs")
        + f"{_prose(rng, 2)}\n\n.. toctree::\n   :maxdepth: 2\n\n{toctree}\n",
        encoding="utf-8",
    )
    return project


def _rst_title(title: str) -> str:
    return f"{title}\n{'=' * len(title)}\n\n"


# --- A large output, made without a generator (the scale run) ------------------------

#: Pages per folder of the large output.
SCALE_FOLDER = 500

_SCALE_CSS = """\
@font-face { font-family: "Bench"; src: url("../fonts/bench.woff2") format("woff2"); }
body { background: url(../img/paper.png); }
.hero { background: image-set("../img/hero.png" 1x, "../img/hero@2x.png" 2x); }
"""


def scale_output(root: Path, pages: int) -> Path:
    """An output folder of ``pages`` pages of about 4.3 KB (50,000 pages: about 216 MB of
    HTML), made at once without a generator: a blog-like theme (a stylesheet, a script,
    a logo, a favicon, a navigation of 12 links to other pages), two paragraphs, and 8
    images with a ``srcset`` from a pool of 300, in folders of 500 pages. Made once per
    size and kept (``root/scale-N``); a run shards a hard-linked copy."""
    output = root / f"scale-{pages}"
    if (output / "index.html").is_file():
        return output
    shutil.rmtree(output, ignore_errors=True)
    rng = random.Random(21)
    _image_pool(output / "images" / "gallery")
    for folder in ("img", "css", "js", "fonts"):
        (output / "theme" / folder).mkdir(parents=True)
    for n, name in enumerate(("paper", "hero", "hero@2x", "logo")):
        (output / "theme" / "img" / f"{name}.png").write_bytes(png(7000 + n))
    (output / "favicon.png").write_bytes(png(7100))
    (output / "theme" / "css" / "main.css").write_text(_SCALE_CSS, encoding="utf-8")
    (output / "theme" / "js" / "site.js").write_text("console.log('bench');\n", encoding="utf-8")
    (output / "theme" / "fonts" / "bench.woff2").write_bytes(b"wOF2" + bytes(200))
    paragraphs = [f"{_prose(rng, 1)} {_prose(rng, 1)}"[:705] for _ in range(64)]
    folders = -(-pages // SCALE_FOLDER)
    for f in range(folders):
        (output / f"section-{f:03d}").mkdir()
    for n in range(pages - 1):
        path = output / f"section-{n // SCALE_FOLDER:03d}" / f"page-{n:06d}.html"
        path.write_text(_scale_page(n, pages - 1, rng, paragraphs), encoding="utf-8")
    links = "\n".join(
        f'<li><a href="section-{f:03d}/page-{f * SCALE_FOLDER:06d}.html">Section {f}</a></li>'
        for f in range(folders)
    )
    (output / "index.html").write_text(
        _SCALE_HEAD.format(title="Bench", up="")
        + f"<main><h1>Bench</h1>\n<ul>\n{links}\n</ul></main>\n</body></html>\n",
        encoding="utf-8",
    )
    return output


_SCALE_HEAD = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{up}theme/css/main.css">
<link rel="icon" href="{up}favicon.png">
<script src="{up}theme/js/site.js" defer></script>
</head>
<body>
<header><a href="{up}index.html"><img src="{up}theme/img/logo.png" alt="Bench" width="40"></a>
"""


def _scale_page(n: int, pages: int, rng: random.Random, paragraphs: list[str]) -> str:
    def href(m: int) -> str:
        return f"../section-{m // SCALE_FOLDER:03d}/page-{m:06d}.html"

    nav = "\n".join(
        f'<li><a href="{href(m)}">Page {m}</a></li>' for m in rng.sample(range(pages), 12)
    )
    images = "\n".join(
        f'<img src="../images/gallery/shot-{i:03d}.png" '
        f'srcset="../images/gallery/shot-{i:03d}.png 1x, ../images/gallery/shot-{i:03d}@2x.png 2x" '
        f'width="320" height="200" alt="Screenshot {i}" loading="lazy">'
        for i in rng.sample(range(IMAGE_POOL), IMAGES_PER_PAGE)
    )
    return (
        _SCALE_HEAD.format(title=f"Page {n} - Bench", up="../")
        + f"<nav><ul>\n{nav}\n</ul></nav></header>\n"
        + f"<main><article><h1>Page {n}</h1>\n<p>{rng.choice(paragraphs)}</p>\n"
        + f'<div class="hero">\n{images}\n</div>\n<p>{rng.choice(paragraphs)}</p>\n'
        + f'<p><a href="{href((n - 1) % pages)}">Previous</a> '
        + f'<a href="{href((n + 1) % pages)}">Next</a></p></article></main>\n'
        + "<footer><p>Bench, a generated site.</p></footer>\n</body></html>\n"
    )
