"""Synthetic sites for the benchmarks: N-page Pelican and MkDocs projects.

Realistic in the ways that cost time: every page shows 8 images with a ``srcset``
(from a shared pool, as documentation and blogs reuse screenshots), the theme CSS
has ``url()`` backgrounds and ``@font-face`` fonts, and the MkDocs site uses
mkdocs-material, whose navigation (every page's title) repeats on every page.
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
