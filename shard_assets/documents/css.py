"""Finding asset URLs in CSS: ``url()``, ``@import`` strings and ``image-set()``.

A small tokenizer, not a full CSS parser: it needs to know only where comments and
strings are (a ``url(`` inside either is not a reference) and where the URL tokens
are. Everything it does not match is left alone, so unknown syntax passes through.
"""

from __future__ import annotations

import html
import re
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import NamedTuple

from .urls import Codec, Ref, Site, find_ref

# A string ends at its quote; a newline (LF, CR or FF) ends it too, unless escaped,
# and an escaped CRLF is one newline. A hex escape takes one whitespace after it,
# CRLF included.
#
# No possessive quantifier or atomic group (CPython matches them wrongly before
# 3.11.5, gh-106052): each loop is written as "run, then (escape, run) repeated", so a
# run never ends where another way through could go on, and a failed match gives up
# at once instead of trying every way to split the text. In an unquoted URL a hex
# escape takes all its digits (up to six) and ``\\.`` is never a hex digit, for the
# same reason.
_DQ = r'[^"\\\n\r\f]*(?:\\(?:\r\n|.)[^"\\\n\r\f]*)*'
_SQ = r"[^'\\\n\r\f]*(?:\\(?:\r\n|.)[^'\\\n\r\f]*)*"
_STRING_DQ = f'"{_DQ}"'
_STRING_SQ = f"'{_SQ}'"
# A string that a newline (or the end) cuts off is a "bad string" to CSS: one token,
# never a URL, and nothing inside it is a token of its own.
_BAD_STRINGS = f"\"{_DQ}|'{_SQ}"
_URL_CHAR = r"[^\"'()\\\s]"
_URL_ESCAPE = (
    r"\\(?:(?:[0-9a-fA-F]{{6}}|[0-9a-fA-F]{{1,5}}(?![0-9a-fA-F]))(?:\r\n|[ \t\r\n\f]|)"
    r"|[^0-9a-fA-F])"
)
_URL_FUNC = (
    r"(?<![\w-])url\(\s*(?:"
    rf'"(?P<dq>{_DQ})"'
    rf"|'(?P<sq>{_SQ})'"
    r"{entity}"
    rf"|(?P<uq>(?:{_URL_CHAR}|{_URL_ESCAPE}){_URL_CHAR}*(?:{_URL_ESCAPE}{_URL_CHAR}*)*))\s*\)"
)
# Inside an HTML style attribute a quote can be written as an entity.
_ENTITY_QUOTED = r"|(?P<eo>&quot;|&#0*34;|&#[xX]0*22;|&apos;|&#0*39;|&#[xX]0*27;)(?P<eq>.*?)(?P=eo)"


def _token_pattern(in_attribute: bool) -> re.Pattern[str]:
    url = _URL_FUNC.format(entity=_ENTITY_QUOTED if in_attribute else "")
    return re.compile(
        # Skipped whole: comments, and the conditions of @supports and @document,
        # which are tested, never loaded (@supports (background: image-set("a.png" 1x))).
        r"(?P<skip>/\*.*?(?:\*/|\Z)"
        r"|@(?:supports|document|-moz-document)(?![\w-])"
        rf"[^{{;\"'/]*(?:(?:{_STRING_DQ}|{_STRING_SQ}|{_BAD_STRINGS}|/\*.*?(?:\*/|\Z)|/)"
        rf"[^{{;\"'/]*)*)"
        rf"|(?P<url>{url})"
        rf"|@import\s*(?:\"(?P<idq>{_DQ})\"|'(?P<isq>{_SQ})')"
        r"|(?P<imageset>(?<![\w-])(?:-webkit-)?image-set\()"
        r"|(?P<fontface>@font-face(?![\w-]))"
        rf"|{_STRING_DQ}|{_STRING_SQ}|{_BAD_STRINGS}",
        re.IGNORECASE | re.DOTALL,
    )


_TOKENS = _token_pattern(in_attribute=False)
_ATTRIBUTE_TOKENS = _token_pattern(in_attribute=True)
_SET_TOKENS = re.compile(
    rf"/\*.*?(?:\*/|\Z)|(?P<url>{_URL_FUNC.format(entity='')})"
    rf"|(?P<bare_dq>{_STRING_DQ})|(?P<bare_sq>{_STRING_SQ})|{_BAD_STRINGS}"
    r"|(?P<open>\()|(?P<close>\))",
    re.IGNORECASE | re.DOTALL,
)
# The "}" that ends a block, past the comments, strings and url() tokens before it
# (a "}" in those is not the end).
_BLOCK_END = re.compile(
    rf"/\*.*?(?:\*/|\Z)|{_STRING_DQ}|{_STRING_SQ}|{_BAD_STRINGS}"
    rf"|{_URL_FUNC.format(entity='')}|(?P<close>}})",
    re.IGNORECASE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|\r\n|[\n\r\f]|(.))", re.DOTALL)
_NEEDS_ESCAPE_UNQUOTED = re.compile(r"[\\\"'()\s\x00-\x1f\x7f]")
_NEEDS_ESCAPE_QUOTED = re.compile(r"[\\\n\r\f\x00]")


def css_unescape(text: str) -> str:
    """Undo CSS escapes: ``\\)`` is ``)``, ``\\26 `` is ``&``, an escaped newline is nothing."""
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return m.group(2) or ""

    return _ESCAPE.sub(one, text)


def _escape_char(m: re.Match[str]) -> str:
    char = m.group()
    # Whitespace and control characters need the hex form; six digits need no
    # terminating space ("\\00000a" for a newline).
    if char.isspace() or not char.isprintable():
        return f"\\{ord(char):06x}"
    return "\\" + char


def _escape_unquoted(path: str) -> str:
    return _NEEDS_ESCAPE_UNQUOTED.sub(_escape_char, path)


def _escape_in(quote: str) -> Codec:
    pattern = re.compile(_NEEDS_ESCAPE_QUOTED.pattern[:-1] + re.escape(quote) + "]")
    return lambda path: pattern.sub(_escape_char, path)


def _in_attribute(decode: Codec, encode: Codec) -> tuple[Codec, Codec]:
    return (
        lambda text: decode(html.unescape(text)),
        lambda path: html.escape(encode(path), quote=True),
    )


_IN_DOUBLE_QUOTES = _escape_in('"')
_IN_SINGLE_QUOTES = _escape_in("'")
_GROUP_CODECS: dict[str, tuple[Codec, Codec]] = {
    "dq": (css_unescape, _IN_DOUBLE_QUOTES),
    "idq": (css_unescape, _IN_DOUBLE_QUOTES),
    "sq": (css_unescape, _IN_SINGLE_QUOTES),
    "isq": (css_unescape, _IN_SINGLE_QUOTES),
    "uq": (css_unescape, _escape_unquoted),
    "eq": (css_unescape, _escape_unquoted),
}
# The same codecs made once (not per URL), so resolved URLs are remembered by codec.
_ATTRIBUTE_CODECS = {group: _in_attribute(*codecs) for group, codecs in _GROUP_CODECS.items()}


class _Where(NamedTuple):
    """Where the CSS stands: the path URLs resolve against, the site, in an attribute?"""

    base_path: str | None
    site: Site
    in_attribute: bool


def find_css_refs(
    text: str,
    base_path: str | None,
    site: Site,
    *,
    start: int = 0,
    end: int | None = None,
    in_attribute: bool = False,
) -> Iterator[Ref]:
    """Yield the site-local URL references in ``text[start:end]``, in order.

    ``base_path`` is the URL path relative references resolve against: the
    stylesheet's own path, or the page's base for ``<style>`` and ``style=``.
    ``in_attribute`` means the CSS sits in an HTML attribute (entities apply).
    """
    stop = len(text) if end is None else end
    tokens = _ATTRIBUTE_TOKENS if in_attribute else _TOKENS
    where = _Where(base_path, site, in_attribute)
    pos = start
    fonts_end = -1  # inside an @font-face block until here: its sources load in CORS mode
    while True:
        m = tokens.search(text, pos, stop)
        if m is None:
            return
        pos = m.end()
        if m.group("skip") is not None:
            continue
        if m.group("fontface") is not None:
            fonts_end = _block_end(text, pos, stop)
            continue
        if m.group("imageset") is not None:
            pos = yield from _image_set(text, pos, stop, where)
            continue
        for group in ("uq", "dq", "sq", "eq", "idq", "isq"):
            if group in tokens.groupindex and m.start(group) >= 0:
                ref = _ref(text, m.start(group), m.end(group), group, where)
                if ref is not None:
                    yield replace(ref, cors=True) if m.start() < fonts_end else ref
                break


def _block_end(text: str, pos: int, stop: int) -> int:
    """Where the block open at ``pos`` ends (its ``}``), or ``stop``."""
    for m in _BLOCK_END.finditer(text, pos, stop):
        if m.group("close") is not None:
            return m.start()
    return stop


def _ref(
    text: str,
    start: int,
    end: int,
    group: str,
    where: _Where,
) -> Ref | None:
    decode, encode = (_ATTRIBUTE_CODECS if where.in_attribute else _GROUP_CODECS)[group]
    return find_ref(text, start, end, where.base_path, where.site, decode=decode, encode=encode)


def _image_set(text: str, pos: int, stop: int, where: _Where) -> Generator[Ref, None, int]:
    """Refs inside ``image-set(...)``, whose bare strings are URLs; returns the end position."""
    depth = 1
    while depth:
        m = _SET_TOKENS.search(text, pos, stop)
        if m is None:
            return stop
        pos = m.end()
        if m.group("open"):
            depth += 1
        elif m.group("close"):
            depth -= 1
        elif m.group("url") is not None:
            group = next(g for g in ("uq", "dq", "sq") if m.start(g) >= 0)
            ref = _ref(text, m.start(group), m.end(group), group, where)
            if ref is not None:
                yield ref
        elif depth == 1 and (m.group("bare_dq") or m.group("bare_sq")):
            bare = "bare_dq" if m.group("bare_dq") else "bare_sq"
            first, last = m.start(bare) + 1, m.end(bare) - 1
            ref = _ref(text, first, last, bare[5:], where)
            if ref is not None:
                yield ref
    return pos
