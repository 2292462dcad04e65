"""The CSS scanner's patterns match what their possessive originals did (issue 20).

They were rewritten without possessive quantifiers, which CPython matches wrongly
before 3.11.5. From every position of generated and awkward stylesheets, each must
match what the old one matched, groups included; reference_patterns.py keeps the old
ones, their possessive quantifiers spelled as atomic groups that every CPython
matches rightly. (What the matches mean is the golden files' and the property
tests' subject.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shard_assets.documents.css import _ATTRIBUTE_TOKENS, _SET_TOKENS, _TOKENS

from .. import reference_patterns
from ..strategies import css_documents

GOLDEN = Path(__file__).parent.parent / "golden" / "css"

#: The scanner's patterns and the old ones.
PATTERNS = [
    (_TOKENS, reference_patterns.token_pattern(in_attribute=False)),
    (_ATTRIBUTE_TOKENS, reference_patterns.token_pattern(in_attribute=True)),
    (_SET_TOKENS, reference_patterns.SET_TOKENS),
]
#: Pieces that make the patterns' corner cases when joined at random: escapes (hex,
#: with the whitespace after them, CRLF), unclosed strings and url(, comments, the
#: conditions of @supports, entities for quotes in a style attribute.
CSS_PIECES = st.sampled_from(
    [
        *("url(", "URL(", ")", "(", '"', "'", "\\", "\\\r\n", "\r\n", "\n", "\r", "\f", " "),
        *("\t", "41", "a", "F", "0", "123456", "7", "x.png", "/", "*", "/*", "*/", ";", "{"),
        *("}", "@supports", "@import", "@font-face", "@document", "image-set(", "-webkit-"),
        *("&quot;", "&#39;", "&#x22;", "src:", ",", "1x", "g", "-"),
    ]
)
css_soups = st.lists(CSS_PIECES, max_size=40).map("".join)


def _matches(pattern: re.Pattern[str], groups: list[str], text: str) -> list[object]:
    """The match from each position: its span and its named groups' spans."""
    found: list[object] = []
    for pos in range(len(text) + 1):
        m = pattern.match(text, pos)
        found.append(None if m is None else (m.span(), *(m.span(g) for g in groups)))
    return found


def _check(text: str) -> None:
    for new, old in PATTERNS:
        groups = sorted(new.groupindex)
        assert sorted(old.groupindex.keys() & new.groupindex.keys()) == groups
        assert _matches(new, groups, text) == _matches(old, groups, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(css_documents, css_soups))
def test_patterns_match_as_the_possessive_ones_did(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("sheet", sorted(GOLDEN.glob("*.in.css")), ids=lambda p: p.name)
def test_patterns_match_as_the_possessive_ones_did_on_the_golden_stylesheets(sheet: Path) -> None:
    _check(sheet.read_bytes().decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(
    "text",
    [
        "a{b:url(" + "\\41 " * 30,  # escapes in a url( never closed
        "a{b:url(\\41\\42\\43 x)",  # hex escapes back to back, then a space inside
        "a{b:url(\\1234567)}",  # six hex digits, then a seventh
        "a{b:url(\\123456 x)}",  # six hex digits take the space after them
        "a{b:url(\\12345 x) c:url(\\1234567 x)}",
        "a{b:url(\\41\r\nx)}",  # a hex escape takes a CRLF after it
        "a{b:url(\\",  # a backslash at the end
        'a{b:url("x\\\r\ny")}',  # an escaped CRLF in a string
        'a{b:"x\\\r\ny\nz"}',  # ... and in a string cut off by a newline
        "@supports (x: url(a.png)) { a { b: url(c.png) } } /",
        "@import 'a.css\\",  # a string cut off by the end after a backslash
        'a{b:url( "a.png" x)}',  # something after the string: not a url() token
    ],
)
def test_patterns_match_as_the_possessive_ones_did_on_awkward_stylesheets(text: str) -> None:
    _check(text)
