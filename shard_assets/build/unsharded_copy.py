"""The unsharded copy (the twin, ``unsharded_copy``): every document of the output
that holds a shard URL, those URLs turned back into root-relative URLs on the site's
origin and the ``preconnect`` links to shard hosts removed, written into a new folder
as the build's own passes hold each document's text and swapped in whole at the end
of a successful build. What it is for, and how it is made from the same pass:
docs/deploy.md (The unsharded twin).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..documents.html import RefSpan
from ..documents.inventory import is_page
from ..documents.text import Decoded
from ..documents.urls import url_host
from ..errors import ConfigError
from ..messages import unsharded_copy_file_message, unsharded_copy_message
from .rewrite import Edit, Sharder, apply_edits

#: The folders a build writes the twin into before swapping it in; a killed build
#: may leave one, which the next build deletes.
_WORK_DIR = re.compile(r"\..+\.shard-assets-(?:new|old)-[A-Za-z0-9_]+")


def twin_folder(output_dir: Path, folder: Path | None) -> Path | None:
    """The twin's folder, resolved, for the setting ``unsharded_copy`` (``folder``;
    None when it is off).

    Raises :class:`ConfigError` when it is the output folder, inside it (the next
    build would shard it as part of the site, and generators clean the output), or
    contains it (the swap would replace the site).
    """
    if folder is None:
        return None
    twin = folder.resolve()
    output = output_dir.resolve()
    if twin == output or twin.is_relative_to(output) or output.is_relative_to(twin):
        contains = output.is_relative_to(twin) and twin != output
        raise ConfigError(unsharded_copy_message(folder, output_dir, contains=contains))
    if twin.exists() and not twin.is_dir():
        raise ConfigError(unsharded_copy_file_message(folder))
    return twin


def unshard(
    text: str, document: str, sharder: Sharder, refs: Sequence[RefSpan] | None = None
) -> str:
    """``text`` (the document at output-relative path ``document``) with every URL on
    a shard host turned into the root-relative URL of the same file on the site's
    origin, and, in a page, the preconnect links to shard hosts removed. ``refs`` are
    ``sharder.references(text, document)`` when the caller has them already."""
    hosts = sharder.shard_hosts
    if refs is None:
        refs = sharder.references(text, document)
    edits = [
        (start, end, path + suffix)
        for start, end, _, path, suffix, _, _ in refs
        if url_host(text[start:end]) in hosts
    ]
    if is_page(document) and "preconnect" in text:
        edits += [
            (m.start(), m.end(), "")
            for m in _preconnect_links(hosts).finditer(text)
            if not any(start <= m.start() < end for start, end, _ in edits)
        ]
        edits.sort()
    return apply_edits(text, edits) if edits else text


@dataclass(frozen=True)
class UnshardedCopy:
    """The twin one build writes: each document's file goes into ``work``, a new
    folder beside ``folder``, as the build holds the document's text (pass one, pass
    two, the handover); :meth:`swap_in` puts it at ``folder`` once the build has
    succeeded, :meth:`discard` removes it otherwise.

    Where a document's twin comes from:

    - a document the build rewrites (pass two, or sharded at handover): its text
      with the build's edits, each shard URL written root-relative instead and no
      ``preconnect`` link to a shard host (:meth:`rewritten`), without scanning again;
    - a document that holds shard URLs already (kept from the build before, as in
      an incremental Sphinx build or a second run of the command, or written by its
      author): from the references pass one found in it (:meth:`read`), and, when
      pass two rewrites it too, from its new text, scanned (rare);
    - any other document has no twin.

    Small and picklable: worker processes get a copy.
    """

    folder: Path
    work: Path

    @classmethod
    def begin(cls, output_dir: Path, folder: Path | None) -> UnshardedCopy | None:
        """The twin of a build of ``output_dir`` for the setting ``unsharded_copy``
        (``folder``; None when it is off), its work folder made (and a killed build's
        removed). Raises :class:`ConfigError` as :func:`twin_folder` does."""
        twin = twin_folder(output_dir, folder)
        if twin is None:
            return None
        twin.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(twin)
        work = Path(tempfile.mkdtemp(prefix=f".{twin.name}.shard-assets-new-", dir=twin.parent))
        return cls(twin, work)

    def read(
        self, sharder: Sharder, document: str, decoded: Decoded, refs: Sequence[RefSpan]
    ) -> None:
        """``decoded`` is ``document`` as pass one read it (or the generator handed it
        over), ``refs`` its references: when it holds shard URLs already, write its
        twin."""
        text = decoded.text
        if not _may_name_a_host(text, sharder.shard_hosts):
            return
        twin = unshard(text, document, sharder, refs)
        if twin != text:
            self._write(document, decoded.encode(twin))

    def rewritten(
        self,
        sharder: Sharder,
        document: str,
        decoded: Decoded,
        edits: Sequence[Edit],
        text: str,
        *,
        again: bool = False,
    ) -> None:
        """``text`` is ``decoded``'s text with ``edits`` made (see
        :meth:`~shard_assets.build.rewrite.Sharder.edits`): write its twin, in place
        of the one :meth:`read` wrote, if any. ``again``: the document changed
        since pass one read it."""
        original = decoded.text
        if again or _may_name_a_host(original, sharder.shard_hosts):
            # Shard URLs the build did not write: the new text's own references.
            twin = unshard(text, document, sharder)
            self._write(document, decoded.encode(twin) if twin != text else None)
            return
        undone = _unsharded_edits(sharder, edits)
        if undone is not None:
            self._write(document, decoded.encode(apply_edits(original, undone)))

    def forget(self, document: str) -> None:
        """Remove ``document``'s twin, written from a text the build gave up."""
        self._write(document, None)

    def swap_in(self) -> None:
        """Put the twin at its folder, replacing the one there whole."""
        os.chmod(self.work, 0o777 & ~_umask())
        _swap_in(self.work, self.folder)

    def _write(self, document: str, data: bytes | None) -> None:
        """Write the twin of ``document`` (its bytes) into the work folder; None for the
        bytes: it has none (a twin written before goes)."""
        target = self.work / document
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def discard(self) -> None:
        """Remove the work folder: the build failed or was interrupted."""
        shutil.rmtree(self.work, ignore_errors=True)


def _may_name_a_host(text: str, hosts: frozenset[str]) -> bool:
    """False when no URL in ``text`` can be on one of ``hosts``: a URL on a host, and
    a ``preconnect`` link to one, have ``//`` and then the host in the authority that
    follows (up to the next ``/``). Faster than lower-casing a whole page."""
    at = text.find("//")
    while at >= 0:
        end = text.find("/", at + 2)
        authority = text[at + 2 : end if end >= 0 else len(text)].lower()
        if any(host in authority for host in hosts):
            return True
        if end < 0:
            return False
        at = text.find("//", at + 1)
    return False


def _unsharded_edits(sharder: Sharder, edits: Sequence[Edit]) -> list[Edit] | None:
    """``edits`` (made to a text without shard URLs) as the twin's: each URL on a
    shard host root-relative on the origin (what :func:`unshard` makes of it), and
    the ``preconnect`` links to shard hosts left out. None when that is ``edits``
    (the twin would be the sharded text)."""
    hosts = sharder.shard_hosts
    undone: list[Edit] = []
    changed = False
    for start, end, added in edits:
        twin = added
        if start < end:  # a URL: a shard URL is prefix, host, then path and suffix
            if url_host(added) in hosts:
                twin = added[added.index("/", added.index("//") + 2) :]
        elif added.startswith("<"):  # the preconnect links (else crossorigin)
            twin = _preconnect_links(hosts).sub("", added)
        if twin != added:
            changed = True
            if not twin and start == end:
                continue
        undone.append((start, end, twin))
    return undone if changed else None


def _swap_in(new: Path, twin: Path) -> None:
    """Put the folder ``new`` at ``twin``. Between the two renames there is no twin:
    a server set up as in docs/deploy.md then serves the sharded output, which is
    correct for every visitor (only slower over HTTP/2)."""
    if not twin.exists():
        os.replace(new, twin)
        return
    old = tempfile.mkdtemp(prefix=f".{twin.name}.shard-assets-old-", dir=twin.parent)
    os.replace(twin, os.path.join(old, "twin"))
    os.replace(new, twin)
    shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(twin: Path) -> None:
    """Delete the work folders of a build that was killed while writing the twin."""
    for entry in twin.parent.iterdir():
        if entry.name.startswith(f".{twin.name}.") and _WORK_DIR.fullmatch(entry.name):
            with contextlib.suppress(OSError):
                shutil.rmtree(entry)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@functools.lru_cache(maxsize=8)
def _preconnect_links(hosts: frozenset[str]) -> re.Pattern[str]:
    """The ``<link rel="preconnect">`` tags the ``preconnect`` setting writes, for ``hosts``."""
    names = "|".join(re.escape(h) for h in sorted(hosts))
    return re.compile(rf'<link rel="preconnect" href="(?:https?:)?//(?:{names})">', re.IGNORECASE)
