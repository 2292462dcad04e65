"""The scan cache: the references pass one found in each document of the last
build, by the document's text, so that the next build does not scan again a
document that did not change.

An incremental Sphinx build writes a few pages and leaves the rest as the last build
sharded them, but pass one reads every document of the output: with the cache, it
reads them and scans only the changed ones. The same holds for ``shard-assets build``
run again on an output, and for a rebuild whose generator writes the same pages.

A document's references depend on its text, its path, the site's URL rules and the
code that finds them, and on nothing else (:meth:`Sharder.references` is a pure
function of them), so an entry is found by a digest of the text and the path, in a
file made for one set of rules and one version of the code (:func:`fingerprint`).
The cache holds what the last build used and nothing more; it is read once, before
pass one, and written once, after a build that succeeded. It never changes what a
build writes: a cache that is missing, unreadable, of other rules or other code, or
damaged (a checksum covers it), is an empty one.

It lives in the user's cache folder (``$XDG_CACHE_HOME/shard-assets``, else
``~/.cache/shard-assets``), one file per manifest, never in the project or the
output. ``SHARD_ASSETS_CACHE_DIR`` names another folder; ``off`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..documents.html import RefSpan
from ..files import atomic_write
from .rewrite import Sharder

#: The environment variable naming the cache folder (``off``: no cache).
CACHE_DIR_VARIABLE = "SHARD_ASSETS_CACHE_DIR"

#: Bytes of entries a process sends back, and keeps, at most (about 20 to 60 a
#: reference): past it, documents are scanned as without a cache, so memory stays
#: bounded on any site (the 1,000-page sites of the benchmarks take 1 to 3 MB).
CACHE_BUDGET = 8_000_000

#: What a cache file starts with, before its fingerprint and checksum.
_MAGIC = b"shard-assets scan cache 1\n"
_DIGEST = 16

#: A document's references as the cache keeps them: their list, marshalled (one
#: compact object per document; unmarshalled only when the document is met again).
CachedRefs = bytes


def cache_file(manifest: Path, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where the scan cache of the build that keeps ``manifest`` is (None: off)."""
    folder = environ.get(CACHE_DIR_VARIABLE, "")
    if folder.lower() == "off":
        return None
    if not folder:
        home = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(home, "shard-assets")
    where = os.path.abspath(manifest).encode("utf-8", "surrogateescape")
    name = hashlib.sha256(where).hexdigest()[:16]
    return Path(folder) / f"scans-{name}"


@functools.cache
def _code_digest() -> bytes:
    """A digest of this package's source (its version included): another version of
    the code may find other references in the same text."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.digest()[:_DIGEST]


def fingerprint(sharder: Sharder) -> bytes:
    """What the references found in a text depend on besides the text and its path:
    the code, the site (its path prefix and origins, the shard hosts included) and
    the extra attributes. Sorted, so it is the same in every process."""
    site = sharder.site
    parts = (site.prefix, *sorted(site.origins), "", *map(repr, sharder.rules.attributes))
    digest = hashlib.sha256(_code_digest())
    digest.update("\0".join(parts).encode("utf-8", "surrogateescape"))
    return digest.digest()[:_DIGEST]


class ScanCache:
    """The references of the documents of the last build (:attr:`found`), and those
    of this build so far (:attr:`kept`), written by :meth:`save`.

    Small and picklable: worker processes get a copy (forked, they share the
    entries); each sends back the references it found, within :data:`CACHE_BUDGET`.
    """

    def __init__(self, path: Path | None, sharder: Sharder) -> None:
        self.path = path
        self.fingerprint = fingerprint(sharder)
        #: The last build's entries, by :meth:`key`.
        self.found: dict[bytes, CachedRefs] = self._load() if path is not None else {}
        #: This build's entries (in the process that saves them).
        self.kept: dict[bytes, CachedRefs] = {}
        #: The bytes of entries this process sent back, and kept (:data:`CACHE_BUDGET`).
        self.sent = 0
        self.held = 0

    @classmethod
    def open(cls, manifest: Path, sharder: Sharder) -> ScanCache | None:
        """The scan cache of the build that keeps ``manifest`` (None when it is off:
        no document is digested then)."""
        path = cache_file(manifest)
        return cls(path, sharder) if path is not None else None

    def key(self, text: str, document: str) -> bytes:
        """The entry of ``text``, the document at output-relative path ``document``
        (SHA-256, as everywhere in the cache: the fastest digest here, twice BLAKE2's
        speed on CPUs with SHA instructions; it reads every byte of every document a
        build reads)."""
        digest = hashlib.sha256(self.fingerprint)
        digest.update(document.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.digest()[:_DIGEST]

    def references(
        self, sharder: Sharder, text: str, document: str
    ) -> tuple[Sequence[RefSpan], bytes, CachedRefs | None]:
        """``sharder.references(text, document)``, from the cache when it has them;
        with the entry's key, and the entry to send back to the process that saves
        the cache when they were found now (None: cached, or past the budget)."""
        key = self.key(text, document)
        cached = self.found.get(key)
        if cached is not None:
            refs: list[RefSpan] = marshal.loads(cached)
            return refs, key, None
        refs = sharder.references(text, document)
        entry = marshal.dumps(refs)
        if self.sent + len(entry) > CACHE_BUDGET:
            return refs, b"", None
        self.sent += len(entry)
        return refs, key, entry

    def keep(self, key: bytes, fresh: CachedRefs | None) -> None:
        """Keep a document's entry for the next build: ``fresh`` references, or (None)
        the last build's entry of ``key``."""
        if not key:
            return
        entry = fresh if fresh is not None else self.found.get(key)
        if entry is not None and self.held + len(entry) <= CACHE_BUDGET:
            self.kept[key] = entry
            self.held += len(entry)

    def save(self) -> None:
        """Write this build's entries, replacing the file whole. A cache that cannot be
        written (a full disk, a read-only home) is left as it was: it only saves time."""
        if self.path is None:
            return
        payload = marshal.dumps(self.kept)
        checksum = hashlib.sha256(payload).digest()[:_DIGEST]
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, _MAGIC + self.fingerprint + checksum + payload, sync=False)

    def _load(self) -> dict[bytes, CachedRefs]:
        """The entries in :attr:`path`, or none when it is missing, of other rules or
        code, or damaged."""
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except OSError:
            return {}
        head = len(_MAGIC)
        if data[:head] != _MAGIC or data[head : head + _DIGEST] != self.fingerprint:
            return {}
        checksum = data[head + _DIGEST : head + 2 * _DIGEST]
        payload = memoryview(data)[head + 2 * _DIGEST :]
        if hashlib.sha256(payload).digest()[:_DIGEST] != checksum:
            return {}
        try:
            entries = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return {}
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if type(k) is bytes and type(v) is bytes}


def references_of(
    cache: ScanCache | None, sharder: Sharder, text: str, document: str
) -> tuple[Sequence[RefSpan], bytes, CachedRefs | None]:
    """:meth:`ScanCache.references` of ``cache``, or without one ``sharder``'s own
    (no entry)."""
    if cache is None:
        return sharder.references(text, document), b"", None
    return cache.references(sharder, text, document)
