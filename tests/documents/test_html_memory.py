"""What the HTML scanner remembers across pages changes none of its answers.

One scanner serves every page of a build and remembers each tag it has read: where
its URLs are written (the same in every folder) and, per folder, what they resolve
to. A scanner that has seen other pages, in the same folder or in others, must
find exactly what a new scanner finds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shard_assets.documents.html import HtmlScanner
from shard_assets.documents.urls import Site

from ..conftest import SAMPLE_SITE
from ..strategies import html_documents

GOLDEN = Path(__file__).parent.parent / "golden" / "html"
SITE = Site.from_url("https://example.org/docs/")
EXTRA = [("a", "href", "url"), ("div", "data-bg", "url")]
#: Documents at several depths, two folders at one depth, and an awkward name.
DOCUMENTS = [
    "index.html",
    "a/page.html",
    "a/b/page.html",
    "x/y/page.html",
    "c/d/e/page.html",
    "a/b/x y.html",
]

#: Tags whose references depend on the folder in every way the scanner reads them:
#: relative, "../", root-relative and absolute URLs, spaces around a URL, srcset,
#: integrity (where crossorigin goes), a style attribute, a <style> element; and the
#: same attributes in elements that load them or not.
TAGS = """
<img src="a.png" srcset="../b.png 2x, c/d.png 3x" alt="">
<img src=" ../../e.png ">
<link rel="stylesheet" href="/docs/css/site.css" integrity="sha384-x">
<script src="https://example.org/docs/js/app.js?v=1" integrity='sha384-y'></script>
<div style="background: url(../f.png)" data-bg="g.png#top"></div>
<a href="../../h.pdf">h</a>
<img src="j.png"><input src="j.png"><input src="j.png" type="image">
<style>p { background: url("i.png") }</style>
"""


def _fresh(text: str, document: str) -> object:
    return [HtmlScanner(EXTRA).references(text, document, SITE)]


def test_the_same_tags_in_other_folders() -> None:
    scanner = HtmlScanner(EXTRA)
    for _ in range(2):
        for document in DOCUMENTS:
            assert [scanner.references(TAGS, document, SITE)] == _fresh(TAGS, document)


def test_the_same_attributes_in_other_elements() -> None:
    scanner = HtmlScanner(EXTRA)
    # The same attributes' text: only img and embed load it.
    for name in ["input", "img", "embed", "p"]:
        text = f'<{name} src="j.png">'
        assert [scanner.references(text, "a/page.html", SITE)] == _fresh(text, "a/page.html")


def test_the_same_tags_under_a_base() -> None:
    scanner = HtmlScanner(EXTRA)
    for base in ["", '<base href="/docs/z/">', '<base href="https://elsewhere.org/">']:
        text = base + TAGS
        for document in DOCUMENTS:
            assert [scanner.references(text, document, SITE)] == _fresh(text, document)


def _pages() -> list[str]:
    paths = sorted(GOLDEN.glob("*.html")) + sorted(SAMPLE_SITE.rglob("*.html"))
    return [p.read_bytes().decode("utf-8", "surrogateescape") for p in paths]


@pytest.mark.parametrize("order", ["pages first", "folders first"])
def test_real_pages_in_every_folder(order: str) -> None:
    pages = _pages()
    scanner = HtmlScanner(EXTRA)
    pairs = [(text, document) for text in pages for document in DOCUMENTS]
    if order == "folders first":
        pairs = [(text, document) for document in DOCUMENTS for text in pages]
    for text, document in pairs:
        assert [scanner.references(text, document, SITE)] == _fresh(text, document)


SHARED = HtmlScanner(EXTRA)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(html_documents, st.sampled_from(DOCUMENTS)), min_size=1, max_size=4))
def test_generated_pages_in_any_folder(pages: list[tuple[str, str]]) -> None:
    # One scanner for every example: what it met before is remembered.
    for text, document in pages:
        assert [SHARED.references(text, document, SITE)] == _fresh(text, document)
