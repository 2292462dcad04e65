"""The scanners find the same references on every CPython the package supports.

Before 3.11.5, CPython matched possessive quantifiers and atomic groups wrongly
(gh-106052): with the scanners' old patterns, Debian 12's python3 (3.11.2) saw no
tag of a page at all, so no ``src``, ``href``, ``srcset``, ``style`` attribute or
``<style>`` element was sharded. These tests name what a page must give on any
version, and keep such patterns out of the scanners (issue 20).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import pytest

import shard_assets
from shard_assets.documents.css import find_css_refs
from shard_assets.documents.html import HtmlScanner
from shard_assets.documents.urls import Site

SITE = Site.from_url("https://example.org/")

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>Issue 20</title>
<link rel="stylesheet" href="../css/site.css">
<link rel="icon" href="/favicon.png">
<link rel="preload" as="image" imagesrcset="/img/hero-1x.png 1x, /img/hero-2x.png 2x">
<script src="../js/app.js" defer></script>
<style>body { background: url(../img/bg.png) }</style>
</head><body class="page">
<p>Text with <a href="other.html">a link</a> and <em>markup</em>.</p>
<img src="../img/a.png" alt="a" srcset="../img/a-2x.png 2x">
<picture><source srcset="../img/b.webp" type="image/webp"><img src=../img/b.png></picture>
<div id="x" style="background-image: url('../img/c.png')">x</div>
<video poster="../img/poster.png"><source src="../media/clip.mp4">
<track src="../media/clip.vtt"></video>
<audio src="../media/sound.ogg"></audio>
<embed src="../media/anim.swf"><object data="../media/doc.pdf"></object>
<input type="image" src="../img/button.png">
<svg><image href="../img/icon.svg"/></svg>
</body></html>
"""

#: Every reference of PAGE (at blog/post.html), in the order they stand.
EXPECTED = [
    "css/site.css",
    "favicon.png",
    "img/hero-1x.png",
    "img/hero-2x.png",
    "js/app.js",
    "img/bg.png",
    "img/a.png",
    "img/a-2x.png",
    "img/b.webp",
    "img/b.png",
    "img/c.png",
    "img/poster.png",
    "media/clip.mp4",
    "media/clip.vtt",
    "media/sound.ogg",
    "media/anim.swf",
    "media/doc.pdf",
    "img/button.png",
    "img/icon.svg",
]


def test_every_reference_of_a_page() -> None:
    found = HtmlScanner().references(PAGE, "blog/post.html", SITE)
    assert [key for _, _, key, *_ in found] == EXPECTED
    # Each span is the URL as written: "../img/a.png" for img/a.png.
    assert all(PAGE[start:end].endswith(key.rpartition("/")[2]) for start, end, key, *_ in found)


@pytest.mark.parametrize(
    ("html", "key"),
    [
        # The tag after an end tag, after text, after a tag of no interest (the
        # tokenizer's loop went wrong on 3.11.2 as soon as a step in it failed).
        ("<p>x</p><img src=a.png>", "a.png"),
        ('text <img src="a.png">', "a.png"),
        ("<a href=x><img src=b.png></a>", "b.png"),
        ('<img src="a.png"/>', "a.png"),
        ("<IMG SRC='A.PNG'>", "A.PNG"),
        ('<div style="background:url(a.png)">', "a.png"),
        ("<p>a</p><style>b{c:url(d.png)}</style>", "d.png"),
        ('<a title="<img src=no.png>">x</a><img src=yes.png>', "yes.png"),
    ],
)
def test_one_reference(html: str, key: str) -> None:
    assert [key for _, _, key, *_ in HtmlScanner().references(html, "page.html", SITE)] == [key]


def test_every_reference_of_a_stylesheet() -> None:
    css = (
        '@import "base.css";\n@font-face { src: url(../fonts/a.woff2) }\n'
        "a { background: url( '../img/a.png' ) }\n"
        'b { background: image-set("../img/b.png" 1x, url(../img/b2.png) 2x) }\n'
        "c { background: url(../img/c\\2e png) } /* url(../img/no.png) */\n"
    )
    found = [(ref.key, ref.cors) for ref in find_css_refs(css, "/css/", SITE)]
    assert found == [
        ("css/base.css", False),
        ("fonts/a.woff2", True),
        ("img/a.png", False),
        ("img/b.png", False),
        ("img/b2.png", False),
        ("img/c.png", False),
    ]


def _patterns() -> Iterator[tuple[str, re.Pattern[str] | re.Pattern[bytes]]]:
    """The package's compiled patterns: module attributes, and the scanner's."""
    for info in pkgutil.walk_packages(shard_assets.__path__, "shard_assets."):
        # The generators' adapters hold no pattern, and import the generators;
        # __main__ runs the command line.
        if info.name.startswith("shard_assets.plugins.") or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                yield f"{info.name}.{name}", value
    scanner = HtmlScanner([("div", "data-src", "url")])
    for name in ("_pattern", "_one", "_next", "_skip"):
        yield f"HtmlScanner.{name}", getattr(scanner, name)
    for name, pattern in scanner._end_tags.items():
        yield f"HtmlScanner._end_tags[{name!r}]", pattern


def _possessive(items: object) -> Iterator[str]:
    """The possessive repeats and atomic groups in a parsed pattern (``re._parser``)."""
    if isinstance(items, list | tuple) or type(items).__name__ == "SubPattern":
        for item in items:  # type: ignore[attr-defined]
            yield from _possessive(item)
    elif type(items).__name__ == "_NamedIntConstant" and str(items) in (
        "POSSESSIVE_REPEAT",
        "ATOMIC_GROUP",
    ):
        yield str(items)


def test_no_possessive_quantifier_or_atomic_group() -> None:
    parser = importlib.import_module("re._parser")
    patterns = dict(_patterns())
    assert "shard_assets.documents.css._TOKENS" in patterns
    found = {
        name: sorted(set(_possessive(parser.parse(p.pattern, p.flags))))
        for name, p in patterns.items()
    }
    assert {name: kinds for name, kinds in found.items() if kinds} == {}
