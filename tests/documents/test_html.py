"""The fast HTML tokenizer stops at exactly the tags the old one did (an oracle test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shard_assets.documents.html import _ATTRIBUTE, RAW_TEXT, HtmlScanner, _attributes

from .. import reference_patterns
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


# --- The tokenizer's patterns, position by position (issue 20) --------------------
#
# The scanner's patterns were rewritten without possessive quantifiers, which CPython
# matches wrongly before 3.11.5. Each must match what the old one matched, from any
# position: reference_patterns.py keeps the old ones, their possessive quantifiers
# spelled as atomic groups that every CPython matches rightly.

#: Markup in pieces that make the patterns' corner cases when joined at random:
#: unclosed quotes, stray "=", glued attributes, slashes, raw text, comments.
HTML_PIECES = st.sampled_from(
    [
        *("<", ">", "/", "=", '"', "'", " ", "\n", "\t", "a", "x", "img", "IMG", "style"),
        *("Style", "src", "srcset", "href", "link", "rel", "script", "</script", "title"),
        *("base", "<!--", "-->", "![CDATA[", "]]>", "url(", ")", "p.png", "image", "data-src"),
        *("&quot;", "\\"),
    ]
)
html_soups = st.lists(HTML_PIECES, max_size=40).map("".join)
#: Element names of a scanner with extra attributes: "a" and "audio" share a prefix.
EXTRA = [("a", "href", "url"), ("div", "data-bg", "url"), ("span", "data-src", "url")]
#: The names the tokenizer stops at besides the scanner's elements.
_NAMES = RAW_TEXT | {"base", "plaintext"}


def _steps(pattern: re.Pattern[str], text: str) -> list[object]:
    """The tokenizer step from each position up to the last ``>``: the end and the
    groups it reports, or None where ``_tag_spans`` stops (no match, or a match to the
    end that reports no tag)."""
    stop = text.rfind(">") + 1
    found: list[object] = []
    for pos in range(stop + 1):
        m = pattern.match(text, pos, stop)
        if m is None or (m.end() == stop and m.start("name") < 0 and m.start("sname") < 0):
            found.append(None)
        else:
            groups = ("name", "attrs", "sname", "sattrs")
            found.append((m.end(), *(m.span(group) for group in groups)))
    return found


def _attribute_matches(
    pattern: re.Pattern[str], text: str, groups: tuple[str | int, ...]
) -> list[object]:
    """Each attribute ``pattern`` finds in ``text``: its span and its groups' spans."""
    return [(m.span(), *(m.span(g) for g in groups)) for m in pattern.finditer(text)]


def _check_patterns(text: str) -> None:
    for extra in ((), EXTRA):
        scanner = HtmlScanner(extra)
        old = reference_patterns.tag_pattern(scanner.attributes.keys() | _NAMES)
        assert _steps(scanner._pattern, text) == _steps(old, text)
    assert _attribute_matches(_ATTRIBUTE, text, (1, 2, 3, 4)) == _attribute_matches(
        reference_patterns.ATTRIBUTE, text, ("name", "dq", "sq", "uq")
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(html_documents, html_soups))
def test_patterns_match_as_the_possessive_ones_did(text: str) -> None:
    _check_patterns(text)


@pytest.mark.parametrize("page", sorted(GOLDEN.glob("*.in.html")), ids=lambda p: p.name)
def test_patterns_match_as_the_possessive_ones_did_on_the_golden_pages(page: Path) -> None:
    _check_patterns(page.read_bytes().decode("utf-8", "surrogateescape"))
