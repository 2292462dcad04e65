"""What an output folder holds: its files, the documents to rewrite, and their kinds.

A leaf: it imports nothing of the build, and everything that walks the output asks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..files import TEMP_FILE
from .text import Decoded, decode_document

PAGE_SUFFIXES = (".html", ".htm")


DOCUMENT_SUFFIXES = (*PAGE_SUFFIXES, ".css")


@dataclass(frozen=True)
class Inventory:
    """What an output folder holds: every file, and the documents to rewrite."""

    files: frozenset[str]
    documents: tuple[str, ...]
    stale: tuple[str, ...] = ()

    @property
    def stylesheets(self) -> frozenset[str]:
        """The CSS documents."""
        return frozenset(d for d in self.documents if is_stylesheet(d))


def is_page(key: str) -> bool:
    """Pages are documents people navigate to, never assets."""
    return key.lower().endswith(PAGE_SUFFIXES)


def is_stylesheet(key: str) -> bool:
    """CSS documents are scanned as CSS; everything else as HTML."""
    return key.lower().endswith(".css")


def take_inventory(output_dir: Path) -> Inventory:
    """List the output folder. Symlinked folders are not entered and symlinked
    documents are never rewritten (they may point outside the output)."""
    files: set[str] = set()
    documents: list[str] = []
    stale: list[str] = []
    root = str(output_dir)
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        relative = os.path.relpath(folder, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in sorted(names):
            key = prefix + name
            if TEMP_FILE.fullmatch(name):
                stale.append(key)  # left by a build that was killed mid-write
                continue
            files.add(key)
            if name.lower().endswith(DOCUMENT_SUFFIXES) and not os.path.islink(
                os.path.join(folder, name)
            ):
                documents.append(key)
    return Inventory(frozenset(files), tuple(documents), tuple(stale))


def is_folder(key: str, files: frozenset[str]) -> bool:
    return f"{key}/index.html" in files


#: A document's size and modification time when pass one read it.
Stamp = tuple[int, int]


def read_document(output_dir: Path, document: str) -> tuple[Decoded | None, Stamp]:
    """``document``'s text (None when it cannot be decoded), and its stamp."""
    # os.open and os.read, not open(): no buffered file object for a single read.
    fd = os.open(os.path.join(output_dir, document), os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, info.st_size + 1):
            chunks.append(chunk)
    finally:
        os.close(fd)
    decoded = decode_document(b"".join(chunks), is_stylesheet(document))
    return decoded, (info.st_size, info.st_mtime_ns)
