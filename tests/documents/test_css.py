"""The CSS reference scanner (shard_assets/documents/css.py): which URLs in a
stylesheet, a ``<style>`` element or a ``style`` attribute are references, where
their text is, how escapes read, and which load in CORS mode. How the references
are rewritten is tests/test_golden.py's (golden/css/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shard_assets.documents.css import (
    _ATTRIBUTE_TOKENS,
    _BLOCK_END,
    _SET_TOKENS,
    _TOKENS,
    css_unescape,
    find_css_refs,
)
from shard_assets.documents.urls import Site

from .. import reference_patterns
from ..strategies import css_documents

SITE = Site.from_url("https://example.org/")
#: The stylesheet the CSS is in: relative URLs resolve against its folder.
STYLESHEET = "/css/site.css"


def found(css: str, base: str | None = STYLESHEET, site: Site = SITE) -> list[tuple[str, str]]:
    """Each reference as (its file in the output, its URL as written)."""
    return [(ref.key, css[ref.start : ref.end]) for ref in find_css_refs(css, base, site)]


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("a{background:url(../img/a.png)}", [("img/a.png", "../img/a.png")]),
        ("a{background:url( ../img/a.png )}", [("img/a.png", "../img/a.png")]),
        ('a{background:url("../img/a.png")}', [("img/a.png", "../img/a.png")]),
        ("a{background:URL( '../img/a.png' )}", [("img/a.png", "../img/a.png")]),
        ("a{background:url(a.png)}", [("css/a.png", "a.png")]),
        ("a{background:url(/img/a.png)}", [("img/a.png", "/img/a.png")]),
        # Above the root is the root, as in a browser.
        ("a{background:url(../../../img/a.png)}", [("img/a.png", "../../../img/a.png")]),
        ("a{--bg:url(a.png)}", [("css/a.png", "a.png")]),
        ("a{b:url(a.png)/**/url(b.png)}", [("css/a.png", "a.png"), ("css/b.png", "b.png")]),
        ("a{b:url(img/%C3%A4.png)}", [("css/img/ä.png", "img/%C3%A4.png")]),
        ("a{b:url(img/ä.png)}", [("css/img/ä.png", "img/ä.png")]),
        ("a{b:url(img/a%20b.png)}", [("css/img/a b.png", "img/a%20b.png")]),
        # A comment ends the first, and a bad string ends at its line's end: the
        # url() after each is a reference.
        ("/* url(a.png) */ b{c:url(b.png)}", [("css/b.png", "b.png")]),
        ('a{content:"abc\nb{background:url(x.png)}', [("css/x.png", "x.png")]),
    ],
)
def test_url_functions(css: str, expected: list[tuple[str, str]]) -> None:
    assert found(css) == expected


@pytest.mark.parametrize(
    "css",
    [
        # Not a url() function: another function whose name ends in "url".
        "a{b:xurl(a.png) my-url(b.png) -url(c.png)}",
        # Bad URL tokens (CSS Syntax 4.3.6): whitespace, a quote or "(" inside, or
        # something after the string; browsers load nothing.
        "a{b:url(a b.png)}",
        'a{b:url(a"b.png)}',
        "a{b:url(a(b.png)}",
        "a{b:url('a.png'x)}",
        # Unclosed.
        "a{b:url(a.png}",
        # Empty.
        "a{b:url()}",
        'a{b:url("")}',
        "a{b:url( )}",
        # Inside a comment, or a comment the file ends in.
        "/* url(a.png) */",
        "/* url(a.png)",
        # Inside a string, or a bad string (cut off by a newline).
        "a{content:'url(a.png)'} b{content:\"x url(b.png)\"}",
        'a{content:"x url(a.png)\n}',
        # A bare string outside image-set() is not a URL.
        'a{content:"a.png"}',
        'a{b:"a\\\r\nb.png"}',
    ],
)
def test_not_references(css: str) -> None:
    assert found(css) == []


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ('@import "a.css";', [("css/a.css", "a.css")]),
        ("@import 'a.css';", [("css/a.css", "a.css")]),
        ("@import url(a.css);", [("css/a.css", "a.css")]),
        ('@import url("a.css") screen;', [("css/a.css", "a.css")]),
        ('@IMPORT"a.css";', [("css/a.css", "a.css")]),
        ("@import url(a.css) layer(base) screen and (min-width: 40em);", [("css/a.css", "a.css")]),
        ('@import "../base/a.css";', [("base/a.css", "../base/a.css")]),
        # Not @import: a string after another at-rule.
        ('@charset "a.css";', []),
        ('@namespace svg "a.css";', []),
    ],
)
def test_import(css: str, expected: list[tuple[str, str]]) -> None:
    assert found(css) == expected


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        (
            "a{b:image-set(\"a.png\" 1x, 'b.png' 2x, url(c.png) 3x)}",
            [("css/a.png", "a.png"), ("css/b.png", "b.png"), ("css/c.png", "c.png")],
        ),
        (
            'a{b:-webkit-image-set(url(a.png) 1x, "b.png" 2x)}',
            [("css/a.png", "a.png"), ("css/b.png", "b.png")],
        ),
        ('a{b:IMAGE-SET("a.png" 1x)}', [("css/a.png", "a.png")]),
        # type()'s string is a MIME type, not a URL: only depth one counts.
        (
            'a{b:image-set("a.avif" type("image/avif"), "a.png" type("image/png"))}',
            [("css/a.avif", "a.avif"), ("css/a.png", "a.png")],
        ),
        ('a{b:image-set(linear-gradient(red, blue) 1x, "a.png" 2x)}', [("css/a.png", "a.png")]),
        # After image-set(), bare strings are strings again.
        ('a{b:image-set("a.png" 1x); content:"b.png"}', [("css/a.png", "a.png")]),
        # A comment inside holds no URL.
        ('a{b:image-set(/* "x.png" */ "a.png" 1x)}', [("css/a.png", "a.png")]),
        # Not image-set(): a function whose name ends in it.
        ('a{b:my-image-set("a.png" 1x)}', []),
    ],
)
def test_image_set(css: str, expected: list[tuple[str, str]]) -> None:
    assert found(css) == expected


@pytest.mark.parametrize(
    "css",
    [
        # Conditions are tested, never loaded; the rules inside load.
        '@supports (background: image-set("x.png" 1x)) { .a { b: url(b.png) } }',
        "@supports (background: url(x.png)) { .a { b: url(b.png) } }",
        '@document url-prefix("x.png") { .a { b: url(b.png) } }',
        '@-moz-document url-prefix("x.png") { .a { b: url(b.png) } }',
        # A comment or a string in the condition does not end it early.
        "@supports /* { */ (background: url(x.png)) { .a { b: url(b.png) } }",
        '@supports (content: "{") and (background: url(x.png)) { .a { b: url(b.png) } }',
    ],
)
def test_conditions_are_not_references(css: str) -> None:
    assert found(css) == [("css/b.png", "b.png")]


@pytest.mark.parametrize(
    ("css", "cors"),
    [
        ("@font-face{src:url(f.woff2)} a{b:url(i.png)}", [True, False]),
        ('@font-face{src:local(x), url(f.woff2) format("woff2"), url(f.woff)}', [True, True]),
        ("@font-face{src:url(f.woff2)} @font-face{src:url(g.woff2)}", [True, True]),
        ("@media print{@font-face{src:url(f.woff2)}} a{b:url(i.png)}", [True, False]),
        # A block the file ends in.
        ("@font-face{src:url(f.woff2)", [True]),
        # A "}" in a string, a comment or a URL does not end the block.
        ('@font-face{font-family:"a}b";src:url(f.woff2)}', [True]),
        ("@font-face{/* } */src:url(f.woff2)}", [True]),
        ("@font-face{src:url(f}.woff2), url(g.woff2)} a{b:url(i.png)}", [True, True, False]),
        # Not @font-face.
        ("@font-facex{src:url(f.woff2)}", [False]),
        ("/* @font-face{ */ a{src:url(f.woff2)}", [False]),
    ],
)
def test_font_face_sources_load_in_cors_mode(css: str, cors: list[bool]) -> None:
    assert [ref.cors for ref in find_css_refs(css, STYLESHEET, SITE)] == cors


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.org/img/a.png", "img/a.png"),
        # A scheme's own default port is no port; the other's is another origin.
        ("https://EXAMPLE.org:443/img/a.png", "img/a.png"),
        ("http://example.org:80/img/a.png", "img/a.png"),
        ("http://example.org:443/img/a.png", None),
        ("//example.org:443/img/a.png", "img/a.png"),
        ("//example.org/img/a.png", "img/a.png"),
        ("https://other.example/img/a.png", None),
        ("//other.example/img/a.png", None),
        ("https://example.org:8443/img/a.png", None),
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("#marker", None),
        ("ftp://example.org/img/a.png", None),
        # A folder is not a file.
        ("/img/", None),
    ],
)
def test_what_is_site_local(url: str, key: str | None) -> None:
    refs = found(f"a{{b:url({url})}}")
    assert refs == ([] if key is None else [(key, url)])


def test_under_a_sub_path_only_its_urls_are_local() -> None:
    site = Site.from_url("https://example.org/docs/")
    css = "a{b:url(a.png) url(/img/b.png) url(/docs/img/c.png)}"
    assert found(css, "/docs/css/site.css", site) == [
        ("css/a.png", "a.png"),
        ("img/c.png", "/docs/img/c.png"),
    ]


def test_on_another_origin_only_absolute_urls_to_the_site_are_local() -> None:
    # A base on another origin (None): relative URLs point there too.
    css = "a{b:url(a.png) url(/img/b.png) url(https://example.org/img/c.png)}"
    assert found(css, None) == [("img/c.png", "https://example.org/img/c.png")]


@pytest.mark.parametrize(
    ("url", "key", "suffix"),
    [
        ("a.png?v=1", "css/a.png", "?v=1"),
        ("a.png#x", "css/a.png", "#x"),
        ("a.png?v=1#x", "css/a.png", "?v=1#x"),
        ("a.png?", "css/a.png", "?"),
        ("fonts/f.svg#font", "css/fonts/f.svg", "#font"),
        # CSS escapes are undone before the URL is read: an escaped "?" starts a
        # query all the same.
        ("a.png\\?v=1", "css/a.png", "\\?v=1"),
    ],
)
def test_query_and_fragment_are_kept_as_written(url: str, key: str, suffix: str) -> None:
    for written in (url, f'"{url}"'):
        (ref,) = find_css_refs(f"a{{b:url({written})}}", STYLESHEET, SITE)
        assert (ref.key, ref.path, ref.suffix) == (key, f"/{key}", suffix)


@pytest.mark.parametrize(
    ("written", "key", "path"),
    [
        # The file's name is the unescaped URL; the new path is escaped again for
        # where it stands (unquoted or in quotes), non-ASCII percent-encoded.
        ("url(a\\)b.png)", "css/a)b.png", "/css/a\\)b.png"),
        ("url(\\(a.png)", "css/(a.png", "/css/\\(a.png"),
        ('url("q\\"d.png")', 'css/q"d.png', '/css/q\\"d.png'),
        ("url('q\\'d.png')", "css/q'd.png", "/css/q\\'d.png"),
        ("url(caf\\E9 .png)", "css/café.png", "/css/caf%C3%A9.png"),
        ("url(\\61 .png)", "css/a.png", "/css/a.png"),
        ("url(a\\ b.png)", "css/a b.png", "/css/a\\000020b.png"),
        ('url("a b.png")', "css/a b.png", "/css/a b.png"),
        # An escaped newline in a string is nothing.
        ('url("a\\\r\nb.png")', "css/ab.png", "/css/ab.png"),
        ('url("a\\\nb.png")', "css/ab.png", "/css/ab.png"),
    ],
)
def test_escapes(written: str, key: str, path: str) -> None:
    css = f"a{{b:{written}}}"
    (ref,) = find_css_refs(css, STYLESHEET, SITE)
    assert (ref.key, ref.path, ref.suffix) == (key, path, "")
    assert css[ref.start : ref.end] == written[4:-1].strip("\"'")


@pytest.mark.parametrize(
    ("text", "unescaped"),
    [
        ("plain", "plain"),
        ("\\)", ")"),
        ("\\\\", "\\"),
        ("\\g", "g"),
        ("\\26 B", "&B"),
        # Six hex digits need no space after them.
        ("\\000026B", "&B"),
        ("\\41\\42", "AB"),
        # One whitespace after a hex escape is part of it (CRLF is one), not two.
        ("\\41  B", "A B"),
        ("\\41\r\nB", "AB"),
        ("\\41\r\n B", "A B"),
        ("\\41\tB", "AB"),
        ("\\1F600 ", "\U0001f600"),
        ("\\10FFFF", "\U0010ffff"),
        # Zero, a surrogate and beyond Unicode are the replacement character.
        ("\\0", "\ufffd"),
        ("\\D800", "\ufffd"),
        ("\\110000", "\ufffd"),
        # An escaped newline is nothing.
        ("a\\\nb", "ab"),
        ("a\\\r\nb", "ab"),
        ("a\\\fb", "ab"),
    ],
)
def test_css_unescape(text: str, unescaped: str) -> None:
    assert css_unescape(text) == unescaped


def test_only_the_window_is_scanned() -> None:
    css = "a{b:url(a.png)} c{d:url(b.png)} e{f:url(c.png)}"
    start, end = css.index("c{"), css.index("e{")
    refs = list(find_css_refs(css, STYLESHEET, SITE, start=start, end=end))
    assert [(ref.key, ref.start, ref.end) for ref in refs] == [
        ("css/b.png", css.index("b.png"), css.index("b.png") + 5)
    ]
    # A url() the window cuts is no reference.
    assert list(find_css_refs(css, STYLESHEET, SITE, end=css.index(")"))) == []


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        # In an HTML attribute a quote may be an entity, and entities are decoded.
        ("background:url(&quot;a.png&quot;)", [("img/a.png", "a.png", "/img/a.png")]),
        ("background:url(&#34;a.png&#34;)", [("img/a.png", "a.png", "/img/a.png")]),
        ("background:url(&#x27;a.png&#x27;)", [("img/a.png", "a.png", "/img/a.png")]),
        ("background:url('a.png')", [("img/a.png", "a.png", "/img/a.png")]),
        ("background:url(a&amp;b.png)", [("img/a&b.png", "a&amp;b.png", "/img/a&amp;b.png")]),
        ("background:url(a.png?x=1&amp;y=2)", [("img/a.png", "a.png?x=1&amp;y=2", "/img/a.png")]),
    ],
)
def test_in_an_attribute(style: str, expected: list[tuple[str, str, str]]) -> None:
    refs = find_css_refs(style, "/img/page.html", SITE, in_attribute=True)
    assert [(ref.key, style[ref.start : ref.end], ref.path) for ref in refs] == expected


def test_entities_mean_nothing_in_a_stylesheet() -> None:
    # In a stylesheet "&quot;" is five characters of a URL, not a quote.
    css = "a{b:url(&quot;a.png&quot;)}"
    assert found(css) == [("css/&quot;a.png&quot;", "&quot;a.png&quot;")]


# --- The patterns, position by position (issue 20) --------------------------------
#
# They were rewritten without possessive quantifiers, which CPython matches wrongly
# before 3.11.5. From every position of generated and awkward stylesheets, each must
# match what the old one matched, groups included; reference_patterns.py keeps the old
# ones, their possessive quantifiers spelled as atomic groups that every CPython
# matches rightly.

GOLDEN = Path(__file__).parent.parent / "golden" / "css"

#: The scanner's patterns and the old ones.
PATTERNS = [
    (_TOKENS, reference_patterns.token_pattern(in_attribute=False)),
    (_ATTRIBUTE_TOKENS, reference_patterns.token_pattern(in_attribute=True)),
    (_SET_TOKENS, reference_patterns.SET_TOKENS),
    (_BLOCK_END, reference_patterns.BLOCK_END),
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
