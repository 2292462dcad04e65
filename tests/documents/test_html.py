"""The fast HTML tokenizer stops at exactly the tags the old one did (an oracle test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from shard_assets.documents.html import HtmlScanner, _attributes

from ..conftest import SAMPLE_SITE
from ..reference_tokenizer import tokens
from ..strategies import html_documents

GOLDEN = Path(__file__).parent.parent / "golden" / "html"
SCANNER = HtmlScanner()


def _fast(text: str) -> list[tuple[str, object, int]]:
    return list(SCANNER._tags(text))


def _oracle(text: str) -> list[tuple[str, object, int]]:
    return [
        (name, _attributes(text, start, end), tag_end) for name, start, end, tag_end in tokens(text)
    ]


def _check(text: str) -> None:
    assert _fast(text) == _oracle(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_documents)
def test_same_tags_as_the_reference_tokenizer(text: str) -> None:
    _check(text)


PAGES = sorted(GOLDEN.glob("*.html")) + sorted(SAMPLE_SITE.rglob("*.html"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_same_tags_on_the_golden_and_sample_pages(page: Path) -> None:
    _check(page.read_bytes().decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(
    "text",
    [
        '<div a="x"style="background: url(a.png)">',
        "<DIV STYLE = 'x'><IMG SRC=a.png>",
        '<a title="<img src=a.png>">x</a><img src=b.png>',
        '<p data-x="<script>"><img src=c.png>',
        '<div style="a" <img src=d.png>',
        '<x style=">"><img src=e.png>',
        '</div style="<img src=f.png>"><img src=g.png>',
        '<span "style=x"><img src=h.png>',
        "<a =x><img src=i.png>",
        '<imgx src="j.png"><image href="k.png"/><audio src=l.wav></audio>',
        '<div style="x',
        "<img src='unclosed><img src=m.png>",
        "<a href=x>" * 50 + "<img src=n.png>",
    ],
)
def test_same_tags_on_awkward_markup(text: str) -> None:
    _check(text)
