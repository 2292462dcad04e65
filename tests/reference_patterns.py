"""The scanners' regular expressions as they were before issue 20, kept as oracles.

They were written with possessive quantifiers (``X*+``, ``X++``: take all, give
nothing back), which CPython matches wrongly before 3.11.5 (gh-106052; on 3.11.2 the
HTML scanner found no tag at all). Here each one is spelled as an atomic group made
of a lookahead and a backreference, ``(?=(?P<g>X*))(?P=g)``: the lookahead's match,
taken once, and CPython never goes back into a lookahead. Every CPython matches
these rightly, so the tests compare the scanners with them on any version. They are
slow (every run is read twice), which is why the scanners are written otherwise.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from shard_assets.documents.html import _trie

_GROUPS = itertools.count()


def atomic(pattern: str) -> str:
    """``(?>pattern)``, with a group name of its own (a pattern may not repeat one)."""
    name = f"_atomic{next(_GROUPS)}"
    return f"(?:(?=(?P<{name}>{pattern}))(?P={name}))"


# --- HTML (shard_assets/documents/html.py) ----------------------------------------


def value() -> str:
    """An attribute value after ``=``: ``(?:"[^"]*+"|'[^']*+'|[^\\s>"'][^\\s>]*+|(?=>))``."""
    double = atomic(r'[^"]*')
    single = atomic(r"[^']*")
    unquoted = atomic(r"[^\s>]*")
    return rf"(?:\"{double}\"|'{single}'|[^\s>\"']{unquoted}|(?=>))"


def attrs(name: str = r"[^\s/>=]") -> str:
    """A start tag's attributes, names starting where ``name`` matches:
    ``(?:[\\s/]++|[^\\s/>=]++(?:\\s*+=\\s*+VALUE)?)*+``."""
    separators = atomic(r"[\s/]+")
    attribute = atomic(name + r"[^\s/>=]*")
    before, after = atomic(r"\s*"), atomic(r"\s*")
    return atomic(rf"(?:{separators}|{attribute}(?:{before}={after}{value()})?)*")


def tag_name() -> str:
    """``[a-zA-Z][^\\s/>]*+``."""
    return "[a-zA-Z]" + atomic(r"[^\s/>]*")


def tag_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """``HtmlScanner``'s tokenizer step (``_tag_pattern``) as it was."""
    names = set(names)
    letters = "".join(sorted({n[0].lower() for n in names}))
    wanted = rf"(?=[{letters}]){_trie(names)}(?=[\s/>])"
    not_style = "(?!style" + atomic(r"\s*") + r"=)[^\s/>=]"
    text = atomic("[^<]+")
    skip = atomic(
        rf"(?:{text}"
        rf"|</{tag_name()}{attrs()}>"
        rf"|<(?!{wanted}){tag_name()}{attrs(not_style)}>"
        rf"|<(?!!--|!\[CDATA\[|{wanted})(?!/?{tag_name()}{attrs()}>))*"
    )
    comment = r"<!--(?:-?>|.*?--!?>|.*\Z)"
    cdata = r"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    wanted_tag = rf"<(?P<name>{wanted})(?P<attrs>{attrs()})>"
    styled_tag = rf"<(?P<sname>{tag_name()})(?P<sattrs>{attrs()})>"
    return re.compile(
        rf"{skip}(?:{comment}|{cdata}|{wanted_tag}|{styled_tag}|<)", re.IGNORECASE | re.DOTALL
    )


def _attribute() -> re.Pattern[str]:
    name, before, after = atomic(r"[^\s/>=]+"), atomic(r"\s*"), atomic(r"\s*")
    double, single, unquoted = atomic(r'[^"]*'), atomic(r"[^']*"), atomic(r"[^\s>]*")
    return re.compile(
        rf"(?P<name>{name})(?:{before}={after}"
        rf"(?:\"(?P<dq>{double})\"|'(?P<sq>{single})'|(?P<uq>[^\s>\"']{unquoted})))?"
    )


#: ``_ATTRIBUTE``: one attribute and its value (here in named groups: ``name`` and
#: ``dq``, ``sq`` or ``uq``, the scanner's groups 1 to 4).
ATTRIBUTE = _attribute()


# --- CSS (shard_assets/documents/css.py) ------------------------------------------


def _string_body(quote: str) -> str:
    """``(?:[^"\\\\\\n\\r\\f]|\\\\\\r\\n|\\\\.)*+``: a string's text, up to its quote."""
    return atomic(rf"(?:[^{quote}\\\n\r\f]|\\\r\n|\\.)*")


def _strings() -> str:
    """A string in either quotes, then a bad string (cut off by a newline or the end)."""
    double, single = _string_body('"'), _string_body("'")
    bad_double, bad_single = _string_body('"'), _string_body("'")
    return f"\"{double}\"|'{single}'|\"{bad_double}|'{bad_single}"


def _spaces() -> str:
    return atomic(r"\s*")


def _url(in_attribute: bool) -> str:
    entity = (
        r"|(?P<eo>&quot;|&#0*34;|&#[xX]0*22;|&apos;|&#0*39;|&#[xX]0*27;)(?P<eq>.*?)(?P=eo)"
        if in_attribute
        else ""
    )
    double, single = _string_body('"'), _string_body("'")
    unquoted = atomic(r"(?:[^\"'()\\\s]|\\[0-9a-fA-F]{1,6}(?:\r\n|[ \t\r\n\f])?|\\.)+")
    return (
        rf"(?<![\w-])url\({_spaces()}(?:\"(?P<dq>{double})\"|'(?P<sq>{single})'{entity}"
        rf"|(?P<uq>{unquoted})){_spaces()}\)"
    )


def token_pattern(in_attribute: bool) -> re.Pattern[str]:
    """``_TOKENS`` (``in_attribute=False``) and ``_ATTRIBUTE_TOKENS`` as they were."""
    plain = atomic("[^{;\"'/]+")
    condition = atomic(rf"(?:{plain}|{_strings()}|/\*.*?(?:\*/|\Z)|/)*")
    double, single = _string_body('"'), _string_body("'")
    return re.compile(
        r"(?P<skip>/\*.*?(?:\*/|\Z)"
        rf"|@(?:supports|document|-moz-document)(?![\w-]){condition})"
        rf"|(?P<url>{_url(in_attribute)})"
        rf"|@import{_spaces()}(?:\"(?P<idq>{double})\"|'(?P<isq>{single})')"
        r"|(?P<imageset>(?<![\w-])(?:-webkit-)?image-set\()"
        r"|(?P<fontface>@font-face(?![\w-]))"
        rf"|{_strings()}",
        re.IGNORECASE | re.DOTALL,
    )


def _set_tokens() -> re.Pattern[str]:
    double, single = _string_body('"'), _string_body("'")
    bad_double, bad_single = _string_body('"'), _string_body("'")
    return re.compile(
        rf"/\*.*?(?:\*/|\Z)|(?P<url>{_url(False)})"
        rf"|(?P<bare_dq>\"{double}\")|(?P<bare_sq>'{single}')|\"{bad_double}|'{bad_single}"
        r"|(?P<open>\()|(?P<close>\))",
        re.IGNORECASE | re.DOTALL,
    )


#: ``_SET_TOKENS``: the tokens inside ``image-set(...)``.
SET_TOKENS = _set_tokens()


def _block_end() -> re.Pattern[str]:
    double, single = _string_body('"'), _string_body("'")
    bad_double, bad_single = _string_body('"'), _string_body("'")
    return re.compile(
        rf"/\*.*?(?:\*/|\Z)|\"{double}\"|'{single}'|\"{bad_double}|'{bad_single}"
        rf"|{_url(False)}|(?P<close>}})",
        re.IGNORECASE | re.DOTALL,
    )


#: ``_BLOCK_END``: the "}" that ends a block, past comments, strings and url().
BLOCK_END = _block_end()
