"""A document's bytes as text and back without losing a byte, and places in it.

A document is decoded so that encoding it again gives back exactly the bytes read:
UTF-8 with ``surrogateescape`` (invalid bytes survive as lone surrogates), or the
single-byte charset a page declares (read as browsers read it: ``iso-8859-1`` and
``ascii`` are windows-1252), or UTF-16 when it starts with a BOM. Only the URL text
in it changes, so every other byte is preserved.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass

#: A ``<meta charset>`` (or http-equiv content type) in a page's first bytes.
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CSS_CHARSET = re.compile(rb'@charset\s+"([A-Za-z0-9_.:-]+)"')
#: Labels browsers read as windows-1252 (WHATWG Encoding): a page that says
#: iso-8859-1 and has byte 0x80 means "€", and its URLs name files that way.
_READ_AS_WINDOWS_1252 = frozenset({"iso8859-1", "ascii"})


@dataclass(frozen=True)
class Decoded:
    """A document's text and how to turn it back into bytes."""

    text: str
    encoding: str

    def encode(self, text: str) -> bytes:
        """Encode ``text`` the way the original was encoded."""
        return text.encode(self.encoding, "surrogateescape")


def decode_document(data: bytes, is_css: bool) -> Decoded | None:
    """Decode ``data``; None when it cannot be decoded and encoded back unchanged."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(
        codecs.BOM_UTF8
    ):
        encoding = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        try:
            decoded = Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            return None
        return decoded if decoded.encode(decoded.text) == data else None
    if b"\0" in data[:8192]:
        return None  # binary data (or NUL bytes no page has): leave the file alone
    declared = (_CSS_CHARSET if is_css else META_CHARSET).search(data[:1024])
    if declared and not data.startswith(codecs.BOM_UTF8):
        try:
            info = codecs.lookup(declared.group(1).decode("ascii"))
        except LookupError:
            info = None
        if info is not None and info.name in _READ_AS_WINDOWS_1252:
            info = codecs.lookup("cp1252")
        if info is not None and info.name not in ("utf-8", "utf-16", "utf-32"):
            try:
                text = data.decode(info.name, "surrogateescape")
                if text.encode(info.name, "surrogateescape") == data:
                    return Decoded(text, info.name)
            except (UnicodeError, LookupError):
                pass
    return Decoded(data.decode("utf-8", "surrogateescape"), "utf-8")


def reference_at(text: str, start: int, end: int) -> tuple[int, str]:
    """The line (from 1) of the reference at ``text[start:end]``, and its text: one
    reference; :class:`Lines` counts once for many."""
    return text.count("\n", 0, start) + 1, text[start:end]


class Lines:
    """Line numbers for offsets in one text, computed once and only when needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks: list[int] | None = None

    def of(self, offset: int) -> int:
        if self.breaks is None:
            self.breaks = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self.breaks, offset) + 1
