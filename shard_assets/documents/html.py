"""Finding asset URLs in HTML without re-serializing the document.

A tokenizer in the shape of the HTML standard's, reduced to what matters here: it
finds start tags of the elements that load assets, skips comments, CDATA and the
content of raw-text elements (``script``, ``textarea``, ``title``...), hands
``<style>`` content and ``style=`` attributes to the CSS scanner, and reports each
URL as a span of the original text. Tags it does not care about are passed over,
whole, by the regular expression engine without a Python-level step, which is what
makes it fast; malformed markup it cannot match is left alone, byte for byte.

Text inside ``pre``/``code`` needs no special case: markup shown there is escaped
(``&lt;img``), so it is text, not a tag, exactly as the browser sees it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from .css import find_css_refs
from .urls import HTML_SPACE, Ref, Site, absolute_path, find_ref, url_host

URL = "url"
SRCSET = "srcset"

#: Element -> attribute -> how its value holds URLs. ``link`` is further filtered
#: by its rel tokens and ``input`` by ``type=image``. SVG ``<use>`` is left out on
#: purpose: browsers refuse to load a ``use`` reference from another origin (CORS
#: does not help), so a sprite moved to a CDN host would break every icon.
URL_ATTRIBUTES: Mapping[str, Mapping[str, str]] = {
    "img": {"src": URL, "srcset": SRCSET},
    "source": {"src": URL, "srcset": SRCSET},
    "video": {"src": URL, "poster": URL},
    "audio": {"src": URL},
    "track": {"src": URL},
    "embed": {"src": URL},
    "object": {"data": URL},
    "input": {"src": URL},
    "script": {"src": URL},
    "link": {"href": URL, "imagesrcset": SRCSET},
    "image": {"href": URL, "xlink:href": URL},
}

#: ``link`` rel tokens whose href the browser loads with the page.
LINK_RELS = frozenset(
    {
        "stylesheet",
        "icon",
        "apple-touch-icon",
        "apple-touch-icon-precomposed",
        "mask-icon",
        "preload",
        "modulepreload",
        "prefetch",
    }
)

#: Elements whose content is text to the HTML tokenizer, never markup.
RAW_TEXT = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}
)

# A start tag's attributes as the HTML tokenizer reads them: a quote opens a quoted
# value only right after ``=``, so ``alt=it's`` is one unquoted value, and a ``"``
# that is never closed makes the tag unmatchable (the browser reads on to the end).
#
# No possessive quantifier or atomic group: CPython matches them wrongly before 3.11.5
# (gh-106052). These patterns match the same, and read a tag one way only, as each
# run is followed by something it cannot hold: an attribute name starts after spaces
# or slashes, or right after a quoted value (``a="x"b="y"``), and ends before ``=``,
# a space, a slash, ``>`` or the end; an unquoted value ends before a space, ``>`` or
# the end. So when a tag has no ``>`` where its attributes end, every other way
# through it fails within a character or two, instead of trying every way to split
# its runs. Why they are shaped for CPython's engine: docs/performance.md.
#
# A value after "=" with the separators after it: quoted, unquoted (then a space, ">"
# or the end), or none, right before ">".
_VALUES = r"""\"[^"]*"[\s/]*|'[^']*'[\s/]*|[^\s>"'][^\s>]*(?:\s[\s/]*|(?=>)|\Z)|(?=>)"""


def _attributes_pattern(name: str) -> str:
    """A start tag's attributes when it has any (separators, then attributes whose
    names match ``name``), after its name."""
    # "=" with no space around it first, then spaces around it, then no value.
    attribute = (
        rf"{name}(?:=(?:{_VALUES}|\s+(?:{_VALUES}))|\s+=\s*(?:{_VALUES})"
        r"|[\s/]+|(?=[>=])|\Z)"
    )
    return rf"[\s/]+(?:{attribute})*"


_SOME_ATTRS = _attributes_pattern(r"[^\s/>=]+")
# "(?:x|)", not "(?:x)?": the same match, and cheaper in CPython's engine.
_ATTRS = f"(?:{_SOME_ATTRS}|)"
# The same, stopping before an attribute named ``style``: a tag matches it to its
# ``>`` only when it has no style attribute.
_SOME_ATTRS_NO_STYLE = _attributes_pattern(r"(?!style\s*=)[^\s/>=]+")
_ATTRIBUTE = re.compile(r"([^\s/>=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"'][^\s>]*))|)")
_BASE_TAG = re.compile(r"<base[\s/>]", re.IGNORECASE)
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


#: A start tag's attributes: name -> (value, start, end) of its first occurrence (the
#: HTML tokenizer drops repeated attributes), in the order they appear.
_Attributes = dict[str, tuple[str, int, int]]


class HtmlScanner:
    """Finds asset references in HTML documents; build once, use for every page.

    ``extra`` adds ``(element, attribute, kind)`` triples to :data:`URL_ATTRIBUTES`,
    e.g. ``("img", "data-src", "url")`` for lazy-loading scripts.
    """

    def __init__(self, extra: Iterable[tuple[str, str, str]] = ()) -> None:
        table = {tag: dict(attrs) for tag, attrs in URL_ATTRIBUTES.items()}
        for tag, attribute, kind in extra:
            table.setdefault(tag.lower(), {})[attribute.lower()] = kind
        self.attributes: Mapping[str, Mapping[str, str]] = table
        names = set(table) | RAW_TEXT | {"base", "plaintext"}
        # One match takes the text and the tags of no interest in a single step of the
        # regex engine (each tag whole, so markup inside an attribute value is never
        # taken for a tag), then stops at a comment, CDATA, a tag we want, or a tag
        # with a style attribute (any element can carry one).
        self._pattern = re.compile(_tag_pattern(names), re.IGNORECASE | re.DOTALL)
        self._end_tags: dict[str, re.Pattern[str]] = {
            name: re.compile(rf"</{name}(?=[\s/>])[^>]*>", re.IGNORECASE | re.DOTALL)
            for name in RAW_TEXT
        }
        # A tag's references depend only on its name, its attributes' text and the
        # folder URLs resolve against; themes repeat the same tags on every page.
        self._memo: dict[tuple[str, str, str | None], tuple[RefSpan, ...]] = {}
        self._memo_site: Site | None = None

    def find_refs(self, text: str, document: str, site: Site) -> Iterator[Ref]:
        """Yield the site-local references of the page at ``document`` (an output-relative path)."""
        for start, end, key, path, suffix, cors, crossorigin_at in self.references(
            text, document, site
        ):
            yield Ref(start, end, key, path, suffix, cors, crossorigin_at)

    def references(self, text: str, document: str, site: Site) -> list[RefSpan]:
        """:meth:`find_refs` as plain tuples (the fields of :class:`Ref`), in the order
        found: the fast form the pipeline uses."""
        page_path = site.document_path(document)
        base_path: str | None = page_path
        if _BASE_TAG.search(text):
            base_path = self._base_path(text, page_path, site)
        return self._scan(text, base_path, site)

    def _tags(self, text: str) -> Iterator[tuple[str, _Attributes, int]]:
        """Yield (name, attributes, end of tag) for interesting start tags, skipping raw text."""
        for name, start, end in self._tag_spans(text):
            yield name, _attributes(text, start, end - 1), end

    def _tag_spans(self, text: str) -> Iterator[tuple[str, int, int]]:
        """Yield (name, start of attributes, end of tag) for the interesting start tags."""
        pattern = self._pattern
        groups = pattern.groupindex
        wanted_name, styled_name = groups["name"], groups["sname"]
        pos = 0
        length = len(text)
        # No tag ends after the last '>'. Stopping there keeps a tail of '<x' without
        # one (a truncated page) from being rescanned to the end at every '<'.
        stop = text.rfind(">") + 1
        while pos < stop:
            m = pattern.match(text, pos, stop)
            if m is None:
                return
            pos = m.end()
            last = m.lastgroup
            if last is None:
                continue
            group = wanted_name if last == "attrs" else styled_name
            name = m.group(group).lower()
            yield name, m.end(group), pos
            if name == "plaintext":
                return
            if name in RAW_TEXT:
                end = self._end_tags[name].search(text, pos)
                pos = end.end() if end else length

    def _base_path(self, text: str, page_path: str, site: Site) -> str | None:
        for name, attrs, _ in self._tags(text):
            if name != "base":
                continue
            href = attrs.get("href")
            if href is None:
                continue
            url = html.unescape(href[0]).strip(HTML_SPACE)
            return absolute_path(_QUERY_OR_FRAGMENT.split(url, 1)[0], page_path, site)
        return page_path

    def _scan(self, text: str, base_path: str | None, site: Site) -> list[RefSpan]:
        if site is not self._memo_site or len(self._memo) > _MEMO_SIZE:
            self._memo.clear()
            self._memo_site = site
        memo = self._memo
        base_dir = None if base_path is None else base_path[: base_path.rfind("/") + 1]
        found: list[RefSpan] = []
        for name, start, tag_end in self._tag_spans(text):
            memo_key = (text[start:tag_end], name, base_dir)
            in_tag = memo.get(memo_key)
            if in_tag is None:
                in_tag = memo[memo_key] = tuple(
                    _span(ref, -start)
                    for ref in self._tag_refs(text, name, start, tag_end, base_path, site)
                )
            if in_tag:
                found += [
                    (start + a, start + b, key, path, suffix, cors, at if at < 0 else start + at)
                    for a, b, key, path, suffix, cors, at in in_tag
                ]
            if name == "style":
                close = self._end_tags["style"].search(text, tag_end)
                stop = close.start() if close else len(text)
                found += [
                    _span(ref)
                    for ref in find_css_refs(text, base_path, site, start=tag_end, end=stop)
                ]
        return found

    def _tag_refs(
        self, text: str, name: str, start: int, tag_end: int, base_path: str | None, site: Site
    ) -> Iterator[Ref]:
        """The references in one start tag's attributes (``text[start:tag_end - 1]``)."""
        attrs = _attributes(text, start, tag_end - 1)
        wanted = self.attributes.get(name)
        if wanted and _loads_asset(name, attrs):
            crossorigin_at = _crossorigin_insertion(text, name, attrs)
            # An element with integrity is fetched in CORS mode once sharded: it gets
            # crossorigin (and then keeps it, so a second run sees the same).
            cors = crossorigin_at >= 0 or _cors_mode(name, attrs)
            for attribute, (_, value_start, value_end) in attrs.items():
                kind = wanted.get(attribute)
                if kind is None:
                    continue
                if kind == SRCSET:
                    for found in _srcset_refs(text, value_start, value_end, base_path, site):
                        yield replace(found, cors=True) if cors else found
                    continue
                ref = find_ref(text, value_start, value_end, base_path, site, decode=_UNESCAPE)
                if ref is None:
                    continue
                at = crossorigin_at if attribute in ("src", "href") else -1
                yield replace(ref, cors=cors, crossorigin_at=at) if cors or at >= 0 else ref
        style = attrs.get("style")
        if style is not None:
            yield from find_css_refs(
                text, base_path, site, start=style[1], end=style[2], in_attribute=True
            )


def _span(ref: Ref, shift: int = 0) -> RefSpan:
    """``ref`` as a tuple, its offsets moved by ``shift``."""
    at = ref.crossorigin_at
    return (
        ref.start + shift,
        ref.end + shift,
        ref.key,
        ref.path,
        ref.suffix,
        ref.cors,
        at if at < 0 else at + shift,
    )


#: Tags remembered per scanner before the memory is cleared.
_MEMO_SIZE = 10_000
#: HTML entities are decoded in URLs; a path with entities is kept as written.
_UNESCAPE = html.unescape
#: A reference as a tuple: (start, end, key, path, suffix, cors, crossorigin_at), the
#: fields of :class:`Ref`.
RefSpan = tuple[int, int, str, str, str, bool, int]


def _attributes(text: str, start: int, end: int) -> _Attributes:
    found: _Attributes = {}
    for m in _ATTRIBUTE.finditer(text, start, end):
        name = m.group(1).lower()
        if name in found:
            continue
        group = m.lastindex
        if group is None or group == 1:  # no value
            found[name] = ("", m.end(), m.end())
        else:
            found[name] = (m.group(group), *m.span(group))
    return found


def _tag_pattern(names: Iterable[str]) -> str:
    """The tokenizer step for :meth:`HtmlScanner._tags`, used with ``match``.

    It stops at, and reports, a start tag named one of ``names`` (``name`` and
    ``attrs``) or any other start tag with a style attribute (``sname`` and
    ``sattrs``); it passes over comments and CDATA whole. A ``<`` that starts no
    tag it can match (a quote never closed) is passed over alone, as text.
    """
    letters = "".join(sorted({n[0].lower() for n in names}))
    # A trie, after a test of the first letter: most tags fail on their first letter.
    wanted = rf"(?=[{letters}]){_trie(names)}(?=[\s/>])"
    # A tag's end: ">" right after its name (the most common), or attributes, then ">".
    tag = rf"[a-zA-Z][^\s/>]*(?:>|{_SOME_ATTRS}>)"
    # Text, then each tag passed over: an end tag, a start tag of no interest without
    # a style attribute, or a "<" that starts no tag at all. The loop stops only where
    # the rest of the pattern matches, at a "<" it takes or at the end (hence ``\Z``),
    # so the engine never goes back into the loop (which would try every way to split
    # the text, and could stop at an earlier "<").
    skip = (
        r"[^<]*(?:<(?:"
        rf"/{tag}"
        rf"|(?!{wanted})[a-zA-Z][^\s/>]*(?:>|{_SOME_ATTRS_NO_STYLE}>)"
        rf"|(?!!--|!\[CDATA\[|{wanted})(?!/?{tag})"
        r")[^<]*)*"
    )
    # A comment ends at -->, at --!>, or right away in <!--> and <!--->.
    comment = r"<!--(?:-?>|.*?--!?>|.*\Z)"
    cdata = r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    wanted_tag = rf"<(?P<name>{wanted})(?P<attrs>{_ATTRS})>"
    styled_tag = rf"<(?P<sname>[a-zA-Z][^\s/>]*)(?P<sattrs>{_ATTRS})>"
    # A wanted tag that does not end (a quote never closed) is passed over.
    return rf"{skip}(?:{comment}|{cdata}|{wanted_tag}|{styled_tag}|<|\Z)"


def _trie(words: Iterable[str]) -> str:
    """A regular expression for exactly ``words`` that tests each letter once."""
    branches: dict[str, list[str]] = {}
    for word in words:
        if word:
            branches.setdefault(word[0].lower(), []).append(word[1:])
    alternatives = [re.escape(first) + _trie(rest) for first, rest in sorted(branches.items())]
    if "" in words:
        alternatives.append("")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def _loads_asset(name: str, attrs: _Attributes) -> bool:
    if name == "link":
        rel = attrs.get("rel")
        return rel is not None and not LINK_RELS.isdisjoint(rel[0].lower().split())
    if name == "input":
        kind = attrs.get("type")
        # An enumerated attribute: " image " is not "image" (the input is a text field).
        return kind is not None and kind[0].lower() == "image"
    return True


def _cors_mode(name: str, attrs: _Attributes) -> bool:
    """Whether the browser fetches this element's URL in CORS mode."""
    if "crossorigin" in attrs:
        return True
    if name == "script":
        kind = attrs.get("type")
        return kind is not None and kind[0].strip(HTML_SPACE).lower() == "module"
    if name == "link":
        rel = attrs.get("rel")
        return rel is not None and "modulepreload" in rel[0].lower().split()
    return False


def _crossorigin_insertion(text: str, name: str, attrs: _Attributes) -> int:
    """Where to add ``crossorigin="anonymous"``: right after an ``integrity`` attribute
    on a script or link that has no ``crossorigin`` (without it the browser blocks a
    subresource-integrity file from another origin); -1 when not needed."""
    if name not in ("script", "link") or "crossorigin" in attrs:
        return -1
    integrity = attrs.get("integrity")
    if integrity is None:
        return -1
    _, start, end = integrity
    quoted = end < len(text) and text[end] in "\"'" and text[start - 1] == text[end]
    return end + 1 if quoted else end


def _srcset_refs(
    text: str, start: int, end: int, base_path: str | None, site: Site
) -> Iterator[Ref]:
    """Refs in a srcset value, split as the HTML standard's srcset parser does."""
    pos = start
    while pos < end:
        pos = _SPACES_AND_COMMAS.match(text, pos, end).end()  # type: ignore[union-attr]
        url_start = pos
        pos = url_end = _NOT_SPACES.match(text, pos, end).end()  # type: ignore[union-attr]
        while url_end > url_start and text[url_end - 1] == ",":
            url_end -= 1
        if url_end > url_start:
            ref = find_ref(text, url_start, url_end, base_path, site, decode=_UNESCAPE)
            if ref is not None:
                yield ref
        if pos > url_end:  # the URL ended with commas: no descriptors follow
            continue
        # The descriptors end at the first comma outside parentheses.
        comma = text.find(",", pos, end)
        if text.find("(", pos, end if comma < 0 else comma) < 0:
            pos = end if comma < 0 else comma + 1
            continue
        depth = 0
        while pos < end:
            char = text[pos]
            if char == "(":
                depth += 1
            elif char == ")":
                depth = max(0, depth - 1)
            elif char == "," and depth == 0:
                pos += 1
                break
            pos += 1


_SPACES_AND_COMMAS = re.compile(r"[ \t\n\r\f,]*")
_NOT_SPACES = re.compile(r"[^ \t\n\r\f]*")


_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)
_META_CHARSET_TAG = re.compile(r"<meta\s[^>]*?charset\s*=[^>]*>", re.IGNORECASE)
_HEAD_TAG = re.compile(r"<head(?:\s[^>]*)?>", re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\s([^>]*)>", re.IGNORECASE)


def preconnect_point(text: str) -> tuple[int, set[str]]:
    """Where ``<link rel="preconnect">`` tags go, and the hosts already preconnected.

    The place is right after ``<meta charset>``, which must stay first, else right
    after ``<head>``; -1 when the page has neither (a fragment). Only the head is
    looked at.
    """
    end = _HEAD_END.search(text)
    head_end = end.start() if end else len(text)
    meta = _META_CHARSET_TAG.search(text, 0, head_end)
    head = _HEAD_TAG.search(text, 0, head_end)
    at = meta.end() if meta else head.end() if head else -1
    present: set[str] = set()
    for link in _LINK_TAG.finditer(text, 0, head_end):
        attrs = _attributes(text, link.start(1), link.end(1))
        rel = attrs.get("rel")
        href = attrs.get("href")
        if rel and href and "preconnect" in rel[0].lower().split():
            present.add(url_host(href[0].strip(HTML_SPACE)) or "")
    return at, present
