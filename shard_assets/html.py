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
from dataclasses import dataclass, replace

from .css import find_css_refs
from .urls import HTML_SPACE, Codec, Ref, Site, absolute_path, find_ref

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
_VALUE = r"(?:\"[^\"]*+\"|'[^']*+'|[^\s>\"'][^\s>]*+|(?=>))"
_ATTRS = rf"(?:[\s/]++|[^\s/>=]++(?:\s*+=\s*+{_VALUE})?)*+"
_ATTRIBUTE = re.compile(
    r"([^\s/>=]++)(?:\s*+=\s*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\s>\"'][^\s>]*+)))?"
)
#: Looks ahead over a tag name and attributes for an attribute named ``style``.
_HAS_STYLE = (
    rf"[a-zA-Z][^\s/>]*+(?:[\s/]++|(?!style\s*+=)[^\s/>=]++(?:\s*+=\s*+{_VALUE})?)*+"
    r"style\s*+="
)
_STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*+=", re.IGNORECASE)
_BASE_TAG = re.compile(r"<base[\s/>]", re.IGNORECASE)
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


@dataclass(frozen=True)
class _Attribute:
    name: str
    value: str
    start: int
    end: int


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
        names = sorted(set(table) | RAW_TEXT | {"base", "plaintext"}, key=lambda n: (-len(n), n))
        wanted = "(?:" + "|".join(re.escape(n) for n in names) + r")(?=[\s/>])"
        # One match takes the text and the tags of no interest in a single step of the
        # regex engine (each tag whole, so markup inside an attribute value is never
        # taken for a tag), then stops at a comment, CDATA or a tag we want. Any element
        # can carry a style attribute; pages without one (most) use the pattern that
        # does not look for it, which is cheaper.
        flags = re.IGNORECASE | re.DOTALL
        self._plain = re.compile(_tag_pattern(wanted, styled=False), flags)
        self._styled = re.compile(_tag_pattern(wanted, styled=True), flags)
        self._end_tags: dict[str, re.Pattern[str]] = {
            name: re.compile(rf"</{name}(?=[\s/>])[^>]*+>", flags) for name in RAW_TEXT
        }

    def find_refs(self, text: str, document: str, site: Site) -> Iterator[Ref]:
        """Yield the site-local references of the page at ``document`` (an output-relative path)."""
        page_path = site.document_path(document)
        base_path: str | None = page_path
        if _BASE_TAG.search(text):
            base_path = self._base_path(text, page_path, site)
        yield from self._scan(text, base_path, site)

    def _tags(self, text: str) -> Iterator[tuple[str, list[_Attribute], int]]:
        """Yield (name, attributes, end of tag) for interesting start tags, skipping raw text."""
        pattern = self._styled if _STYLE_ATTRIBUTE.search(text) else self._plain
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
            raw_name = m.group("name") or m.group("sname")
            if raw_name is None:
                continue
            name = raw_name.lower()
            group = "attrs" if m.group("name") else "sattrs"
            yield name, _attributes(text, m.start(group), m.end(group)), pos
            if name == "plaintext":
                return
            if name in RAW_TEXT:
                end = self._end_tags[name].search(text, pos)
                pos = end.end() if end else length

    def _base_path(self, text: str, page_path: str, site: Site) -> str | None:
        for name, attrs, _ in self._tags(text):
            if name != "base":
                continue
            href = _first(attrs, "href")
            if href is None:
                continue
            url = html.unescape(href.value).strip(HTML_SPACE)
            return absolute_path(_QUERY_OR_FRAGMENT.split(url, 1)[0], page_path, site)
        return page_path

    def _scan(self, text: str, base_path: str | None, site: Site) -> Iterator[Ref]:
        for name, attrs, tag_end in self._tags(text):
            wanted = self.attributes.get(name)
            if wanted and _loads_asset(name, attrs):
                cors = _cors_mode(name, attrs)
                crossorigin_at = _crossorigin_insertion(text, name, attrs)
                seen: set[str] = set()
                for attr in attrs:
                    kind = wanted.get(attr.name)
                    if kind is None or attr.name in seen:
                        continue
                    seen.add(attr.name)
                    if kind == SRCSET:
                        for found in _srcset_refs(text, attr.start, attr.end, base_path, site):
                            yield replace(found, cors=True) if cors else found
                        continue
                    ref = find_ref(text, attr.start, attr.end, base_path, site, **_HTML_CODEC)
                    if ref is None:
                        continue
                    at = crossorigin_at if attr.name in ("src", "href") else -1
                    yield replace(ref, cors=cors, crossorigin_at=at) if cors or at >= 0 else ref
            style = _first(attrs, "style")
            if style is not None:
                yield from find_css_refs(
                    text, base_path, site, start=style.start, end=style.end, in_attribute=True
                )
            if name == "style":
                end = self._end_tags["style"].search(text, tag_end)
                stop = end.start() if end else len(text)
                yield from find_css_refs(text, base_path, site, start=tag_end, end=stop)


# No encoder: a path with entities is kept as written (see find_ref).
_HTML_CODEC: dict[str, Codec] = {"decode": html.unescape}


def _attributes(text: str, start: int, end: int) -> list[_Attribute]:
    found = []
    for m in _ATTRIBUTE.finditer(text, start, end):
        for group in (2, 3, 4):
            if m.start(group) >= 0:
                found.append(
                    _Attribute(m.group(1).lower(), m.group(group), m.start(group), m.end(group))
                )
                break
        else:
            found.append(_Attribute(m.group(1).lower(), "", m.end(), m.end()))
    return found


def _tag_pattern(wanted: str, *, styled: bool) -> str:
    """The tokenizer step for :meth:`HtmlScanner._tags`, used with ``match``.

    ``wanted`` matches the names of the elements to report. With ``styled``, tags
    with a ``style`` attribute are reported too (as ``sname``/``sattrs``).
    """
    stop = rf"!--|!\[CDATA\[|{wanted}"
    styled_tag = r"(?P<sname>(?!))(?P<sattrs>(?!))"
    if styled:
        stop += f"|{_HAS_STYLE}"
        styled_tag = rf"<(?P<sname>[a-zA-Z][^\s/>]*+)(?P<sattrs>{_ATTRS})>"
    skip = rf"(?:[^<]++|<(?!{stop})(?:/?[a-zA-Z][^\s/>]*+{_ATTRS}>)?)*+"
    # A comment ends at -->, at --!>, or right away in <!--> and <!--->.
    comment = r"<!--(?:-?>|.*?--!?>|.*\Z)"
    cdata = r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    tag = rf"<(?P<name>{wanted})(?P<attrs>{_ATTRS})>"
    # A wanted tag that does not end (a quote never closed) is passed over.
    return rf"{skip}(?:{comment}|{cdata}|{tag}|{styled_tag}|<)"


def _first(attrs: list[_Attribute], name: str) -> _Attribute | None:
    return next((a for a in attrs if a.name == name), None)


def _loads_asset(name: str, attrs: list[_Attribute]) -> bool:
    if name == "link":
        rel = _first(attrs, "rel")
        return rel is not None and not LINK_RELS.isdisjoint(rel.value.lower().split())
    if name == "input":
        kind = _first(attrs, "type")
        # An enumerated attribute: " image " is not "image" (the input is a text field).
        return kind is not None and kind.value.lower() == "image"
    return True


def _cors_mode(name: str, attrs: list[_Attribute]) -> bool:
    """Whether the browser fetches this element's URL in CORS mode."""
    if _first(attrs, "crossorigin") is not None:
        return True
    if name == "script":
        kind = _first(attrs, "type")
        return kind is not None and kind.value.strip(HTML_SPACE).lower() == "module"
    if name == "link":
        rel = _first(attrs, "rel")
        return rel is not None and "modulepreload" in rel.value.lower().split()
    return False


def _crossorigin_insertion(text: str, name: str, attrs: list[_Attribute]) -> int:
    """Where to add ``crossorigin="anonymous"``: right after an ``integrity`` attribute
    on a script or link that has no ``crossorigin`` (without it the browser blocks a
    subresource-integrity file from another origin); -1 when not needed."""
    if name not in ("script", "link") or _first(attrs, "crossorigin") is not None:
        return -1
    integrity = _first(attrs, "integrity")
    if integrity is None:
        return -1
    end = integrity.end
    quoted = end < len(text) and text[end] in "\"'" and text[integrity.start - 1] == text[end]
    return end + 1 if quoted else end


def _srcset_refs(
    text: str, start: int, end: int, base_path: str | None, site: Site
) -> Iterator[Ref]:
    """Refs in a srcset value, split as the HTML standard's srcset parser does."""
    pos = start
    while pos < end:
        while pos < end and (text[pos] in HTML_SPACE or text[pos] == ","):
            pos += 1
        url_start = pos
        while pos < end and text[pos] not in HTML_SPACE:
            pos += 1
        url_end = pos
        while url_end > url_start and text[url_end - 1] == ",":
            url_end -= 1
        if url_end > url_start:
            ref = find_ref(text, url_start, url_end, base_path, site, **_HTML_CODEC)
            if ref is not None:
                yield ref
        if pos > url_end:  # the URL ended with commas: no descriptors follow
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
        rel = _first(attrs, "rel")
        href = _first(attrs, "href")
        if rel and href and "preconnect" in rel.value.lower().split():
            present.add(href.value.split("//", 1)[-1].split("/", 1)[0].lower())
    return at, present
