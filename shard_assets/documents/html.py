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

from .css import find_css_refs
from .urls import (
    HTML_SPACE,
    ROOTED,
    Ref,
    Site,
    absolute_path,
    dependence,
    folder_key,
    resolve_value,
    url_host,
)

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
#: Elements after whose start tag the tokenizer skips text: raw text, and plaintext.
_TEXT_AFTER = RAW_TEXT | {"plaintext"}

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
        # The quick path (see "The quick path" below): exactly one step of the same
        # tokenizer, and, on the page's folded bytes, where the next stop may be (and
        # that stop, when it is plainly written), and the plain tags of no interest.
        self._one = re.compile(_one_step_pattern(names), re.IGNORECASE | re.DOTALL)
        self._next = re.compile(_next_stop_pattern(names))
        self._skip = re.compile(_skip_pattern(names))
        self._names = {name.encode("ascii"): name for name in names}
        self._end_tags: dict[str, re.Pattern[str]] = {
            name: re.compile(rf"</{name}(?=[\s/>])[^>]*>", re.IGNORECASE | re.DOTALL)
            for name in RAW_TEXT
        }
        # A tag's references depend only on its name, its attributes' text and what
        # its URLs take from the folder they resolve against (urls.folder_key: often
        # the same for every page at one depth, or for all); themes repeat the same
        # tags on every page. Remembered by those, and where its URLs are written
        # (its plan) by the first two: (text, name) -> (plan, folder key -> references).
        self._memo: dict[tuple[str, str], tuple[_Plan, dict[str | None, tuple[RefSpan, ...]]]] = {}
        #: How many references of a tag in a folder the memory holds.
        self._remembered = 0
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
        folded = _folded(text)
        # "<base" in the folded bytes is needed for a match, and costs far less.
        if (folded is None or b"<base" in folded) and _BASE_TAG.search(text):
            base_path = self._base_path(text, folded, page_path, site)
        return self._scan(text, folded, base_path, site)

    def _tags(self, text: str) -> Iterator[tuple[str, _Attributes, int]]:
        """Yield (name, attributes, end of tag) for interesting start tags, skipping raw text."""
        for name, start, end in self._tag_spans(text):
            yield name, _attributes(text, start, end - 1), end

    def _tag_spans(self, text: str) -> Iterator[tuple[str, int, int]]:
        """Yield (name, start of attributes, end of tag) for the interesting start tags."""
        return self._spans(text, _folded(text))

    def _spans(self, text: str, folded: bytes | None) -> Iterator[tuple[str, int, int]]:
        """:meth:`_tag_spans`, given the page's folded bytes (None: the exact step alone)."""
        if folded is None:
            return self._exact_spans(text)
        return self._quick_spans(text, folded)

    def _exact_spans(self, text: str) -> Iterator[tuple[str, int, int]]:
        """:meth:`_tag_spans` with the tokenizer step alone, from stop to stop."""
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

    def _quick_spans(self, text: str, folded: bytes) -> Iterator[tuple[str, int, int]]:
        """:meth:`_exact_spans`, the same tags, jumping from one place where a stop may
        be to the next when the markup between is plain (see "The quick path")."""
        one, skip = self._one.match, self._skip.match
        names = self._names
        next_stop = self._next.search
        groups = self._one.groupindex
        wanted_name, styled_name = groups["name"], groups["sname"]
        stop = text.rfind(">") + 1  # as in _exact_spans
        pos = 0
        # The next place from pos on where a stop may be (a wanted name after "<", a
        # comment, CDATA), and the next "style=" (its tag may have a style attribute);
        # no "<" stands in [floor:hint). Each is ``stop`` when there is none.
        candidate = hint = floor = -1
        # The stop at the candidate, when the search read it (see _next_stop_pattern).
        plain_stop: re.Match[bytes] | None = None
        # Up to here the markup was not plain: no jumping (so no stretch is checked
        # twice, and the scan stays linear).
        careful_until = 0
        while pos < stop:
            if pos >= careful_until:
                if candidate < pos:
                    found = next_stop(folded, pos, stop)
                    candidate = found.start() if found else stop
                    plain_stop = found if found and found.lastindex else None
                target = candidate
                if hint < target:
                    target, hint, floor = _before_style(folded, pos, target, hint, floor, stop)
                if _plain(folded, pos, target):
                    pos = target
                else:
                    careful_until = target
            if pos < careful_until:
                pos = skip(folded, pos, stop).end()  # type: ignore[union-attr]  # can match nothing
            if pos >= stop:
                return
            # pos is a "<" the tokenizer reaches in text.
            if pos == candidate and (tag := plain_stop) is not None:
                pos = tag.end()
                name, name_end = names[tag.group(1)], tag.end(1)
            else:
                m = one(text, pos, stop)
                assert m is not None  # "<" alone is its last alternative
                pos = m.end()
                last = m.lastgroup
                if last is None:
                    continue
                group = wanted_name if last == "attrs" else styled_name
                name, name_end = m.group(group).lower(), m.end(group)
            yield name, name_end, pos
            if name in _TEXT_AFTER:
                pos = self._text_end(name, text, pos)

    def _text_end(self, name: str, text: str, pos: int) -> int:
        """Where the text after the start tag ``name`` that ends at ``pos`` ends: at
        the end tag of a raw-text element, at the end of the page after plaintext."""
        end = None if name == "plaintext" else self._end_tags[name].search(text, pos)
        return end.end() if end else len(text)

    def _base_path(self, text: str, folded: bytes | None, page_path: str, site: Site) -> str | None:
        for name, start, end in self._spans(text, folded):
            if name != "base":
                continue
            href = _attributes(text, start, end - 1).get("href")
            if href is None:
                continue
            url = html.unescape(href[0]).strip(HTML_SPACE)
            return absolute_path(_QUERY_OR_FRAGMENT.split(url, 1)[0], page_path, site)
        return page_path

    def _scan(
        self, text: str, folded: bytes | None, base_path: str | None, site: Site
    ) -> list[RefSpan]:
        if site is not self._memo_site or self._remembered > _MEMO_SIZE:
            self._memo.clear()
            self._remembered = 0
            self._memo_site = site
        memo = self._memo
        base_dir = None if base_path is None else base_path[: base_path.rfind("/") + 1]
        # What a tag's references take from the folder, by the tag's dependence.
        folders = {0: base_dir, ROOTED: folder_key(base_dir, ROOTED)}
        found: list[RefSpan] = []
        for name, start, tag_end in self._spans(text, folded):
            tag = text[start:tag_end]
            remembered = memo.get((tag, name))
            if remembered is None:
                remembered = memo[tag, name] = (self._plan(text, name, start, tag_end), {})
            plan, by_folder = remembered
            # The tag's references are the same in every folder with this key.
            folder = folders.get(plan[2], _NO_FOLDER)
            if folder is _NO_FOLDER:
                folder = folders[plan[2]] = folder_key(base_dir, plan[2])
            in_tag = by_folder.get(folder)
            if in_tag is None:
                in_tag = by_folder[folder] = _resolved(text, start, plan, base_path, site)
                self._remembered += 1
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

    def _plan(self, text: str, name: str, start: int, tag_end: int) -> _Plan:
        """Where the URLs of one start tag (``text[start:tag_end]``) are written,
        relative to ``start``: what of its references does not depend on the page's
        folder, so a tag met again in another folder is not read again."""
        attrs = _attributes(text, start, tag_end - 1)
        wanted = self.attributes.get(name)
        urls: list[_PlannedUrl] = []
        if wanted and _loads_asset(name, attrs):
            crossorigin_at = _crossorigin_insertion(text, name, attrs)
            # An element with integrity is fetched in CORS mode once sharded: it gets
            # crossorigin (and then keeps it, so a second run sees the same).
            cors = crossorigin_at >= 0 or _cors_mode(name, attrs)
            at = crossorigin_at - start if crossorigin_at >= 0 else -1
            for attribute, (_, value_start, value_end) in attrs.items():
                kind = wanted.get(attribute)
                if kind == SRCSET:
                    urls += [
                        (url_start - start, url_end - start, cors, -1)
                        for url_start, url_end in _srcset_urls(text, value_start, value_end)
                    ]
                elif kind is not None:
                    url_start, url_end = _stripped(text, value_start, value_end)
                    in_src = attribute in ("src", "href")
                    urls.append((url_start - start, url_end - start, cors, at if in_src else -1))
        style = attrs.get("style")
        if style is not None:
            # CSS: resolved against the folder itself.
            return tuple(urls), (style[1] - start, style[2] - start), 0
        # The tag's references resolve alike in two folders when each of its URLs
        # does: with one dependence for all (or ROOTED ones beside those of n > 0,
        # whose folder key tells whether there is a base too).
        found = {dependence(text[start + a : start + b]) for a, b, _, _ in urls} - {ROOTED}
        return tuple(urls), None, found.pop() if len(found) == 1 else 0 if found else ROOTED


#: A URL in a start tag, relative to the tag's start: (start, end, cors, where
#: crossorigin goes or -1).
_PlannedUrl = tuple[int, int, bool, int]
#: A start tag's URLs, its style attribute's value (start, end) or None, and how its
#: references depend on the folder they resolve against (:func:`urls.dependence`).
_Plan = tuple[tuple[_PlannedUrl, ...], tuple[int, int] | None, int]
#: No folder key computed yet (None is one: the base is on another origin).
_NO_FOLDER = "\0"


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without the HTML spaces around it, as (start, end)."""
    while start < end and text[start] in HTML_SPACE:
        start += 1
    while end > start and text[end - 1] in HTML_SPACE:
        end -= 1
    return start, end


def _resolved(
    text: str, start: int, plan: _Plan, base_path: str | None, site: Site
) -> tuple[RefSpan, ...]:
    """The references of the start tag at ``start`` planned as ``plan``, resolved
    against ``base_path``, relative to ``start``, in the order written."""
    urls, style, _ = plan
    found: list[RefSpan] = []
    for url_start, url_end, cors, at in urls:
        value = text[start + url_start : start + url_end]
        resolved = resolve_value(value, base_path, site, _UNESCAPE)
        if resolved is not None:
            cut, key, path = resolved
            found.append((url_start, url_end, key, path, value[cut:], cors, at))
    if style is not None:
        found += [
            _span(ref, -start)
            for ref in find_css_refs(
                text,
                base_path,
                site,
                start=start + style[0],
                end=start + style[1],
                in_attribute=True,
            )
        ]
    return tuple(found)


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
    item, stops = _step_parts(names)
    # Text, then each tag passed over. The loop stops only where the rest of the
    # pattern matches, at a "<" it takes or at the end (hence ``\Z``), so the engine
    # never goes back into the loop (which would try every way to split the text, and
    # could stop at an earlier "<").
    return rf"[^<]*(?:{item}[^<]*)*(?:{stops}|<|\Z)"


def _one_step_pattern(names: Iterable[str]) -> str:
    """Exactly one step of :func:`_tag_pattern` from a ``<``: the thing it passes over
    there (a tag, or the ``<`` alone), or the stop it makes there."""
    item, stops = _step_parts(names)
    return f"{item}|{stops}|<"


def _step_parts(names: Iterable[str]) -> tuple[str, str]:
    """The tokenizer's two kinds of step at a ``<``: what it passes over (an end tag,
    a start tag of no interest without a style attribute, or a "<" that starts no tag
    at all), and, where none of that matches, where it stops."""
    letters = "".join(sorted({n[0].lower() for n in names}))
    # A trie, after a test of the first letter: most tags fail on their first letter.
    wanted = rf"(?=[{letters}]){_trie(names)}(?=[\s/>])"
    # A tag's end: ">" right after its name (the most common), or attributes, then ">".
    tag = rf"[a-zA-Z][^\s/>]*(?:>|{_SOME_ATTRS}>)"
    item = (
        r"<(?:"
        rf"/{tag}"
        rf"|(?!{wanted})[a-zA-Z][^\s/>]*(?:>|{_SOME_ATTRS_NO_STYLE}>)"
        rf"|(?!!--|!\[CDATA\[|{wanted})(?!/?{tag})"
        r")"
    )
    # A comment ends at -->, at --!>, or right away in <!--> and <!--->.
    comment = r"<!--(?:-?>|.*?--!?>|.*\Z)"
    cdata = r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    wanted_tag = rf"<(?P<name>{wanted})(?P<attrs>{_ATTRS})>"
    styled_tag = rf"<(?P<sname>[a-zA-Z][^\s/>]*)(?P<sattrs>{_ATTRS})>"
    # A wanted tag that does not end (a quote never closed) is passed over.
    return item, f"{comment}|{cdata}|{wanted_tag}|{styled_tag}"


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


# --- The quick path -----------------------------------------------------------------
#
# The tokenizer step reads every tag with the full attribute grammar in the regular
# expression engine's general loop, which costs about a quarter of a microsecond a tag,
# and most of a page is tags of no interest. So the scanner reads the page as bytes,
# one per character, folded: ASCII letters in lower case, any other character "?"
# (:func:`_folded`). There a search finds each place where the tokenizer may stop (a
# wanted element's name after "<", a comment, CDATA) or where a tag may have a style
# attribute ("style" then "="), and the markup up to it is checked, in a few C-speed
# byte operations, to be only text and tags that end at their first ">"
# (:func:`_plain`); then the tokenizer is in text at that place, and one exact step
# there decides. Where the markup is not plain, :func:`_skip_pattern` reads it: plain
# tags of no interest only, each exactly as the tokenizer step reads it, and the exact
# step takes whatever it cannot read. Why each of these is exact: docs/performance.md.

#: What the case-insensitive patterns match to an ASCII letter besides its two cases:
#: U+0130 and U+0131 to i, U+017F to s, U+212A (the Kelvin sign) to k. A page with
#: one is scanned by the tokenizer step alone.
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def _folded(text: str) -> bytes | None:
    """``text`` as bytes, one per character: ASCII with its letters in lower case,
    any other character ``?``; None when ``text`` holds one of :data:`_FOLDS_TO_ASCII`."""
    # bytes.lower() lower-cases ASCII letters only, and is faster than a translation.
    if text.isascii():
        return text.encode("ascii").lower()
    if any(char in text for char in _FOLDS_TO_ASCII):
        return None
    return text.encode("ascii", "replace").lower()


#: The ASCII characters ``\s`` matches, and "?", which stands for every other
#: character in the folded bytes (``\s`` matches some: U+00A0, U+2003...).
_SPACE_OR_OTHER = rb"\t\n\x0b\x0c\r\x1c-\x1f ?"
#: "style", spaces, "=": an attribute named style starts so (and needs no "<" just
#: before it: ``<p a="x"style="y">``).
_STYLE_HINT = re.compile(rb"style[" + _SPACE_OR_OTHER + rb"]*=")


def _next_stop_pattern(names: Iterable[str]) -> bytes:
    """Where the tokenizer may stop, on the folded bytes, used with ``search``: "<"
    then a name of ``names`` and a space, "/" or ">" (or "?": maybe a space), a
    comment or CDATA. A found place may be in an attribute value: :func:`_plain`
    tells. Where the place holds a stop plainly written (:func:`_plain_stop_pattern`),
    the match reads it too, the name in group 1: one search instead of a search and a
    match."""
    wanted = _trie(names).encode("ascii")
    place = rb"(?:" + wanted + rb"[" + _SPACE_OR_OTHER + rb"/>]|!--|!\[cdata\[)"
    # The lookahead tests the place once; "(?:x|)" rather than "(?:x)?": the same
    # match, cheaper in CPython's engine.
    return rb"<(?=" + place + rb")(?:" + _plain_stop_pattern(names) + rb"|)"


# Plain attributes, on the folded bytes: ASCII spaces and "/" before each, a name of
# common characters, and "=" right after it with a quoted value, an unquoted one of
# ASCII characters that ends at a space or ">", or no value. Each of these runs ends
# where the tokenizer's own run ends (its classes hold every character of these), or
# the pattern fails there: so what this reads, the tokenizer reads alike.
_SEPARATORS = rb"[ \t\n\r\f/]"
_PLAIN_NAME = rb"[a-z][-a-z0-9_:.]*"
_PLAIN_ATTRIBUTE_NAME = rb"[a-z_:@][-a-z0-9_:@.]*"
_PLAIN_VALUE = rb"""(?:="[^"]*"|='[^']*'|=[^\x00-\x20"'>?][^\x00-\x20>?]*(?=[ \t\n\r\f>])|)"""


def _plain_attributes(name: bytes) -> bytes:
    """Plain attributes whose names match ``name``, then the separators before ">"."""
    return rb"(?:" + _SEPARATORS + rb"+" + name + _PLAIN_VALUE + rb")*" + _SEPARATORS + rb"*"


def _plain_stop_pattern(names: Iterable[str]) -> bytes:
    """A stop plainly written, on the folded bytes, after its "<": a start tag named
    one of ``names`` (the name in group 1) with plain attributes. Anything else at a
    place where a stop may be (a comment, CDATA, a tag that is not plain) is left to
    the tokenizer step."""
    wanted = _trie(names).encode("ascii")
    attributes = _plain_attributes(_PLAIN_ATTRIBUTE_NAME)
    return rb"(" + wanted + rb")(?=[ \t\n\r\f/>])" + attributes + rb">"


def _skip_pattern(names: Iterable[str]) -> bytes:
    """Text and the plain tags of no interest the tokenizer passes over, on the folded
    bytes, used with ``match``: it ends before any other "<" (a stop, or markup it
    cannot read) or at the end."""
    wanted = _trie(names).encode("ascii")
    attributes = _plain_attributes(rb"(?!style=)" + _PLAIN_ATTRIBUTE_NAME)
    start_tag = rb"(?!" + wanted + rb"[ \t\n\r\f/>])" + _PLAIN_NAME + attributes + rb">"
    end_tag = rb"/" + _PLAIN_NAME + rb"[ \t\n\r\f]*>"
    # "<" alone: before "!" (not a comment or CDATA), before "/" and no letter, before
    # anything but a letter, "!" or "/".
    alone = rb"!(?!--|\[cdata\[)|/(?![a-z])|(?![a-z!/])"
    return rb"[^<]*(?:<(?:" + end_tag + rb"|" + start_tag + rb"|" + alone + rb")[^<]*)*"


def _before_style(
    folded: bytes, pos: int, target: int, hint: int, floor: int, stop: int
) -> tuple[int, int, int]:
    """Where to jump to from ``pos`` instead of ``target`` when a "style=" may come
    first: the last "<" before it, where its tag would start. Returns that place (or
    ``target``), the next "style=" from ``pos`` on (``hint``, searched again when
    before ``pos``) and the new ``floor``: no "<" stands in ``folded[floor:hint]``."""
    if hint < pos:
        found = _STYLE_HINT.search(folded, pos, stop)
        hint = found.start() if found else stop
    floor = max(floor, pos)
    while hint < target:
        lt = folded.rfind(b"<", floor, hint)
        if lt >= 0:
            return lt, hint, floor
        # No "<" since pos: this "style=" is text.
        floor = hint
        found = _STYLE_HINT.search(folded, hint + 1, stop)
        hint = found.start() if found else stop
    return target, hint, floor


#: Every byte but "<", ">", the quotes and "=": what :func:`_plain` deletes.
_NOT_MARKUP = bytes(sorted(set(range(256)) - set(b"<>\"'=")))


def _plain(folded: bytes, start: int, end: int) -> bool:
    """Whether, from text at ``start``, the tokenizer passes over ``folded[start:end]``
    and is in text at ``end``, when no stop may be in it (no "<" and wanted name,
    comment, CDATA or "style=").

    It is when each "<" is followed by a ">" with nothing between but other
    characters than ``<>"'=`` and, any number of times, "=" alone or "=" and a quoted
    value free of those five: its tag, if the tokenizer reads one there, then ends at
    that ">" (the quotes it may take for a value are these, and they hold no ">"),
    and if it does not, the "<" is text, and no "<" follows before the ">".
    """
    if folded.find(b"<", start, end) < 0:
        return True  # text alone (often so between two tags of interest)
    marks = folded[start:end].translate(None, _NOT_MARKUP)
    if b'"' in marks or b"'" in marks:
        marks = marks.replace(b'=""', b"").replace(b"=''", b"")
    marks = marks.replace(b"=", b"")
    return marks.count(b"<") == marks.count(b"<>")


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


def _srcset_urls(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The (start, end) of each URL in a srcset value, split as the HTML standard's
    srcset parser does."""
    pos = start
    while pos < end:
        pos = _SPACES_AND_COMMAS.match(text, pos, end).end()  # type: ignore[union-attr]
        url_start = pos
        pos = url_end = _NOT_SPACES.match(text, pos, end).end()  # type: ignore[union-attr]
        while url_end > url_start and text[url_end - 1] == ",":
            url_end -= 1
        if url_end > url_start:
            yield url_start, url_end
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
