"""An unsharded twin of the rewritten documents, for HTTP/2 and HTTP/3 visitors.

Sharding helps HTTP/1.1 only; over HTTP/2 a page whose assets sit on other
hostnames loads slower than the unsharded page (the measurements are in
docs/deploy.md). With ``unsharded_copy`` set, a successful build also writes, in that
folder, every document (page or stylesheet) whose text holds a shard URL, with
those URLs turned back into URLs on the site's origin. A server then serves the
sharded output to HTTP/1.1 visitors and, to HTTP/2 and HTTP/3 visitors, the twin's
documents, falling back to the sharded output for everything else (the assets are
the same files; a document without shard URLs is the same text).

The twin is *URL-equivalent*, not byte-identical to what the generator wrote: each
shard URL ``https://cdn2.example.com/docs/img/a.png?v=1`` becomes the root-relative
``/docs/img/a.png?v=1``, which the browser resolves to the same path on the page's
own origin (``path`` and ``suffix`` exactly as the scanner found them). The
original spelling (``../img/a.png``) is not kept anywhere after a build: MkDocs'
and Pelican's pages are sharded in memory before they reach the disk, and a second
run of the command line over sharded output has only the sharded text. Reading
the final output is the one way that works the same for every front end and every
run, so the twin is computed from it, deterministically. Two more differences:
the ``<link rel="preconnect">`` tags the ``preconnect`` setting adds for shard
hosts are removed (they would open useless connections), and a
``crossorigin="anonymous"`` the build added beside ``integrity`` is kept (it cannot
be told from one the author wrote, and on the page's own origin it changes nothing
the page can see).

The twin is written into a new folder beside the target and swapped in at the
end, so a failed or killed build never leaves it half-written; documents deleted
from the site, or no longer holding shard URLs, disappear with the old folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..documents.inventory import is_page, is_stylesheet, take_inventory
from ..documents.text import Decoded, decode_document
from ..documents.urls import url_host
from ..errors import ConfigError
from ..messages import unsharded_copy_file_message, unsharded_copy_message
from ..parallel import run_each
from .rewrite import Sharder, apply_edits

#: The folders a build writes the twin into before swapping it in; a killed build
#: may leave one, which the next build deletes.
_WORK_DIR = re.compile(r"\..+\.shard-assets-(?:new|old)-[A-Za-z0-9_]+")


@dataclass(frozen=True)
class TwinResult:
    """What :func:`write_twin` wrote: the folder and how many documents it holds."""

    folder: Path
    documents: int


def twin_folder(output_dir: Path, settings: Settings) -> Path | None:
    """The twin's folder, or None when ``unsharded_copy`` is off.

    Raises :class:`ConfigError` when it is the output folder, inside it (the next
    build would shard it as part of the site, and generators clean the output), or
    contains it (the swap would replace the site).
    """
    folder = settings.unsharded_copy
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


def unshard(text: str, document: str, sharder: Sharder) -> str:
    """``text`` (the document at output-relative path ``document``) with every URL on
    a shard host turned into the root-relative URL of the same file on the site's
    origin, and, in a page, the preconnect links to shard hosts removed."""
    hosts = sharder.shard_hosts
    edits = [
        (start, end, path + suffix)
        for start, end, _, path, suffix, _, _ in sharder.references(text, document)
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


def write_twin(output_dir: Path, settings: Settings, sharder: Sharder, *, jobs: int = 1) -> None:
    """Write the twin of ``output_dir``'s documents into ``settings.unsharded_copy``,
    replacing the folder there whole (see the module docstring). ``sharder`` is the
    build's (it knows every shard host its output may name)."""
    twin = twin_folder(output_dir, settings)
    if twin is None:
        return
    twin.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(twin)
    new = Path(tempfile.mkdtemp(prefix=f".{twin.name}.shard-assets-new-", dir=twin.parent))
    try:
        documents = take_inventory(output_dir).documents
        context = _Context(output_dir, new, sharder)
        for _ in run_each(_twin_document, documents, context, jobs, count=len(documents)):
            pass
        os.chmod(new, 0o777 & ~_umask())
        _swap_in(new, twin)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


@dataclass(frozen=True)
class _Context:
    output_dir: Path
    twin: Path
    sharder: Sharder


def _twin_document(context: _Context, document: str) -> bool:
    """Write ``document``'s twin when it differs from the sharded text; whether it did."""
    data = (context.output_dir / document).read_bytes()
    decoded: Decoded | None = decode_document(data, is_stylesheet(document))
    if decoded is None:
        return False
    hosts = context.sharder.shard_hosts
    lowered = decoded.text.lower()
    if not any(host in lowered for host in hosts):
        return False  # the common case for a document with no asset: no scan at all
    text = unshard(decoded.text, document, context.sharder)
    if text == decoded.text:
        return False
    target = context.twin / document
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(decoded.encode(text))
    return True


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


def _preconnect_links(hosts: frozenset[str]) -> re.Pattern[str]:
    """The ``<link rel="preconnect">`` tags the ``preconnect`` setting writes, for ``hosts``."""
    names = "|".join(re.escape(h) for h in sorted(hosts))
    return re.compile(rf'<link rel="preconnect" href="(?:https?:)?//(?:{names})">', re.IGNORECASE)
