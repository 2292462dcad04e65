"""The HTML tokenizer as it was before the speed work (issue #4), kept as an oracle.

It tried every tag against a lookahead for the wanted names, and a second one for a
``style`` attribute, which made it about three times slower than the scanner in
``shard_assets/documents/html.py``. Only its stops matter here: ``tokens`` lists, for a
document, each tag the scanner must look at (name, attribute span, end) in order.
The one deliberate difference from the old code: it always looks for style
attributes (the old code skipped that when no " style=" appeared in the page,
which missed ``<div a="x"style="...">``).
"""

from __future__ import annotations

import re

from shard_assets.documents.html import RAW_TEXT, URL_ATTRIBUTES

# Its possessive quantifiers are spelled as atomic groups that every CPython matches
# rightly: see reference_patterns.py.
from .reference_patterns import atomic, attrs, tag_name


def _has_style() -> str:
    """Looks ahead over a tag name and attributes for an attribute named ``style``."""
    not_style = "(?!style" + atomic(r"\s*") + r"=)[^\s/>=]"
    return tag_name() + attrs(not_style) + r"style\s*="


def _tag_pattern(wanted: str, *, styled: bool) -> str:
    """The tokenizer step for :meth:`HtmlScanner._tags`, used with ``match``.

    ``wanted`` matches the names of the elements to report. With ``styled``, tags
    with a ``style`` attribute are reported too (as ``sname``/``sattrs``).
    """
    stop = rf"!--|!\[CDATA\[|{wanted}"
    styled_tag = r"(?P<sname>(?!))(?P<sattrs>(?!))"
    if styled:
        stop += f"|{_has_style()}"
        styled_tag = rf"<(?P<sname>{tag_name()})(?P<sattrs>{attrs()})>"
    text = atomic("[^<]+")
    skip = atomic(rf"(?:{text}|<(?!{stop})(?:/?{tag_name()}{attrs()}>)?)*")
    # A comment ends at -->, at --!>, or right away in <!--> and <!--->.
    comment = r"<!--(?:-?>|.*?--!?>|.*\Z)"
    cdata = r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    tag = rf"<(?P<name>{wanted})(?P<attrs>{attrs()})>"
    # A wanted tag that does not end (a quote never closed) is passed over.
    return rf"{skip}(?:{comment}|{cdata}|{tag}|{styled_tag}|<)"


_NAMES = sorted(set(URL_ATTRIBUTES) | RAW_TEXT | {"base", "plaintext"}, key=lambda n: (-len(n), n))
_WANTED = "(?:" + "|".join(re.escape(n) for n in _NAMES) + r")(?=[\s/>])"
_PATTERN = re.compile(_tag_pattern(_WANTED, styled=True), re.IGNORECASE | re.DOTALL)
_END_TAGS = {
    name: re.compile(rf"</{name}(?=[\s/>]){atomic('[^>]*')}>", re.IGNORECASE | re.DOTALL)
    for name in RAW_TEXT
}


def tokens(text: str) -> list[tuple[str, int, int, int]]:
    """(lower-cased name, attributes start, attributes end, tag end) of each reported tag."""
    found = []
    pos = 0
    length = len(text)
    stop = text.rfind(">") + 1
    while pos < stop:
        m = _PATTERN.match(text, pos, stop)
        if m is None:
            break
        pos = m.end()
        raw_name = m.group("name") or m.group("sname")
        if raw_name is None:
            continue
        name = raw_name.lower()
        group = "attrs" if m.group("name") else "sattrs"
        found.append((name, m.start(group), m.end(group), pos))
        if name == "plaintext":
            break
        if name in RAW_TEXT:
            end = _END_TAGS[name].search(text, pos)
            pos = end.end() if end else length
    return found
