"""The HTML scanner's quick path stops at exactly the tags the tokenizer step does.

The quick path (``HtmlScanner._quick_spans``, issue 21) jumps over markup it has
checked to be plain, reads what is not with a pattern for plain tags only, and
leaves every stop to the tokenizer step. Each piece makes a claim that the tests
below check on its own, against the tokenizer step (``_exact_spans``, itself checked
against the old tokenizer in test_html.py), and then the whole, on generated markup
made to trip it and on real pages with pieces of markup put in at random.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shard_assets.documents.html import (
    _STYLE_HINT,
    HtmlScanner,
    _folded,
    _plain,
)

from ..conftest import SAMPLE_SITE
from ..strategies import html_documents

GOLDEN = Path(__file__).parent.parent / "golden" / "html"
#: Element names of a scanner with extra attributes: "a" and "audio" share a prefix.
EXTRA = [("a", "href", "url"), ("div", "data-bg", "url"), ("span", "data-src", "url")]
SCANNERS = [HtmlScanner(), HtmlScanner(EXTRA)]
SCANNER = SCANNERS[0]

#: Markup in pieces that make the quick path's corner cases when joined at random:
#: quotes around ">", "<" and "=", "=" with and without quotes, "style=" anywhere,
#: the spaces only ``\s`` knows (vertical tab, U+001C, U+00A0, U+2003), other
#: characters, upper case, comments, CDATA and raw text.
PIECES = (
    *("<", ">", "/", "=", '"', "'", " ", "\n", "\t", "\x0b", "\x1c", "\xa0", "\u2003"),
    *("é", "?", "\x00", "\udcff", "a", "x", "p", "div", "li", "<a", "<p", "</p>", "<div"),
    *("img", "IMG", "iMg", "<img", "<link", "link", "rel", "src", "srcset", "href"),
    *("style", "STYLE", "Style", "style=", ' style="', "data-style", "script", "</script"),
    *("title", "base", "plaintext", "textarea", "<style>", "</style>", "xmp", "audio"),
    *("<!--", "-->", "--!>", "![CDATA[", "![cdata[", "]]>", "<!doctype", "<?", "</"),
    *('x="', '="', "='", "=x", "= ", "a=b", '"x"', "'y'", "<br/>", " />", "p.png"),
)
soups = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
#: A stop to put after generated markup: where the tokenizer is after the markup.
IMG = "<img src=a.png>"


def _quick(scanner: HtmlScanner, text: str) -> list[tuple[str, int, int]]:
    folded = _folded(text)
    assert folded is not None
    return list(scanner._quick_spans(text, folded))


def _exact(scanner: HtmlScanner, text: str) -> list[tuple[str, int, int]]:
    return list(scanner._exact_spans(text))


def _check(text: str) -> None:
    for scanner in SCANNERS:
        exact = _exact(scanner, text)
        assert list(scanner._tag_spans(text)) == exact
        if _folded(text) is not None:
            assert _quick(scanner, text) == exact


def _in_text_after(markup: str) -> bool:
    """Whether the tokenizer step, from text, passes over ``markup`` without a stop
    and is in text after it: then the one stop of ``markup + IMG`` is that img."""
    return _exact(SCANNER, markup + IMG) == [("img", len(markup) + 4, len(markup) + len(IMG))]


def _may_stop(markup: str) -> bool:
    """Whether ``markup`` holds a place where the quick path looks for a stop."""
    folded = _folded(markup)
    assert folded is not None
    return bool(SCANNER._next.search(folded) or _STYLE_HINT.search(folded))


# --- _plain: when the markup up to a stop can be jumped over -----------------------


@pytest.mark.parametrize(
    "markup",
    [
        "",
        "text",
        "<p>",
        '<a href="x" class="y">t</a>',
        "<a b='x' c=\"y\" d>",
        "<a b=c>",
        "<a =x>",  # not a tag (a stray "="): its "<" is text, and so is the rest
        "x > y <p>",
        "it's \"quoted\" and 'quoted' text <br/>",
        "<!DOCTYPE html>",
        "<p a=\"\" b=''>",
    ],
)
def test_plain_markup_is_passed_over(markup: str) -> None:
    folded = _folded(markup)
    assert folded is not None
    assert _plain(folded, 0, len(markup))
    assert _in_text_after(markup)


@pytest.mark.parametrize(
    "markup",
    [
        '<a title="x>y">',  # the value holds ">": the tag goes on
        '<a title="<b>">',
        "<a title='x\"y'>",
        '<a title="x\'y">',
        '<a="b c=">',  # the tag's name takes the first quote, "c=" the second
        '<p a"b=" c>',  # the name a"b takes the first quote, "=" the second
        '<a title="x=y">',  # "=" in a value is not told apart from these: left out
        "a < b",  # a "<" never closed
        "<a",
        '<a b="x"',
        '<a b="x',
    ],
)
def test_markup_that_is_not_plain(markup: str) -> None:
    folded = _folded(markup)
    assert folded is not None
    assert not _plain(folded, 0, len(markup))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soups)
def test_plain_markup_leaves_the_tokenizer_in_text(markup: str) -> None:
    if _folded(markup) is None or _may_stop(markup):
        return
    folded = _folded(markup)
    assert folded is not None
    if _plain(folded, 0, len(markup)):
        assert _in_text_after(markup)


# --- _skip: the plain tags of no interest ------------------------------------------


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(soups, html_documents))
def test_skip_reads_only_what_the_tokenizer_passes_over(markup: str) -> None:
    folded = _folded(markup)
    if folded is None:
        return
    for scanner in SCANNERS:
        m = scanner._skip.match(folded)
        assert m is not None
        end = m.end()
        # What it read, the tokenizer passes over, and ends in text.
        read = markup[:end]
        spans = _exact(scanner, read + IMG)
        assert spans == [("img", end + 4, end + len(IMG))], read


# --- _next: a wanted tag, read at once where it is found ---------------------------


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["<img", "<IMG", "<link", "<Script", "<a", "<div", "<audio"]),
    st.one_of(soups, html_documents),
    st.sampled_from(SCANNERS),
)
def test_stop_reads_a_tag_as_the_tokenizer_step(
    start: str, rest: str, scanner: HtmlScanner
) -> None:
    markup = start + rest
    folded = _folded(markup)
    if folded is None:
        return
    # The search for the next place a stop may be reads a plain stop there (group 1).
    m = scanner._next.match(folded)
    if m is not None and m.lastindex is not None:
        step = scanner._one.match(markup)
        assert step is not None
        assert (step.group("name").lower(), step.end("name"), step.end()) == (
            scanner._names[m.group(1)],
            m.end(1),
            m.end(),
        )


# --- The whole -----------------------------------------------------------------------


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(soups, html_documents))
def test_same_stops_as_the_tokenizer_step(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    "text",
    [
        '<p title="x>y"><img src=a.png>',
        '<p title="x><img src=no.png>"><img src=yes.png>',
        "<p title='<!--'><img src=a.png>-->",
        '<div data-style="x" title="style=y">text style= <img src=a.png>',
        '<div a="x"style="background:url(a.png)">',
        "<DIV STYLE='x'><Img Src=a.png>",
        "<img\xa0src=a.png><img\u2003src=b.png><img\x0bsrc=c.png><imgé src=d.png>",
        "<p\xa0style=x>",
        "<p a=b\xa0style=y>",
        "<p a=b\x0bstyle=y>",
        "<p a=b\x1cstyle=y>",
        "<p a=b\u2003<img src=a.png>",
        "<a href=x?y><img src=a.png?v=1>",
        '<a href="?a=b"><img src=a.png>',
        "<meta content=\"width=device-width, initial-scale=1\"><img src='a.png'>",
        "<img src=a.png><!-- <img src=b.png> --><![CDATA[<img src=c.png>]]><img src=d.png>",
        "<script>if (a<b) x('<img src=no.png>')</script><img src=a.png>",
        "<title>x</title  ><TEXTAREA><img src=no.png></textarea><plaintext><img src=no.png>",
        # Characters the patterns' case folding takes for an ASCII letter: the page is
        # read by the tokenizer step alone.
        "<\u0131mg src=a.png><link rel=\u017ftylesheet href=b.css><p \u017ftyle=x>",
    ],
)
@pytest.mark.parametrize("before", ["", '<p title="a=b">'], ids=["plain", "not plain"])
def test_same_stops_on_awkward_markup(text: str, before: str) -> None:
    # After markup that is not plain, the pattern for plain tags reads on.
    _check(before + text)


def _pages() -> list[Path]:
    return sorted(GOLDEN.glob("*.html")) + sorted(SAMPLE_SITE.rglob("*.html"))


def test_same_stops_with_markup_put_in_at_random() -> None:
    """Real pages, each with a few pieces of markup put in or cut out at random places
    (a fixed seed): long stretches of plain markup with a trap somewhere in them."""
    rng = random.Random(21)
    pages = [p.read_bytes().decode("utf-8", "surrogateescape") for p in _pages()]
    for _ in range(1500):
        text = rng.choice(pages)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.3:
                text = text[:at] + text[at + rng.randint(1, 40) :]
            else:
                text = text[:at] + "".join(rng.choices(PIECES, k=rng.randint(1, 4))) + text[at:]
        _check(text)


# --- Malformed input stays linear --------------------------------------------------


#: Malformed markup, each case before an img: its expression in the child process.
MALFORMED = [
    # One tag with 800,000 attributes and a quote never closed.
    "'<div ' + 'a=b ' * 800_000 + 'c=\"d'",
    # The same in a wanted tag.
    "'<img ' + 'a=b ' * 800_000 + 'c=\"d>'",
    # 100,000 places that look like a stop, each inside an attribute value.
    "\"<a title='<!--'>\" * 100_000 + '-->'",
    # 400,000 "style=" in text.
    "'style= ' * 400_000",
]


def test_malformed_markup_does_not_hang() -> None:
    """A guard against a hang only, not a measure of speed: the scans run in a child
    process that gets a generous two minutes (they take a few seconds on a busy
    machine); each still finds the img after the malformed markup."""
    code = textwrap.dedent(
        f"""
        from shard_assets.documents.html import HtmlScanner
        from shard_assets.documents.urls import Site
        scanner = HtmlScanner()
        for markup in [{", ".join(MALFORMED)}]:
            found = scanner.references(markup + "<img src=a.png>", "page.html", Site())
            print([key for _, _, key, *_ in found])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == ["['a.png']"] * len(MALFORMED)
