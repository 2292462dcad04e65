"""The unsharded copy (the twin, ``unsharded_copy``): every document of the output
that holds a shard URL, those URLs turned back into root-relative URLs on the site's
origin and the ``preconnect`` links to shard hosts removed, written into a new folder
and swapped in whole at the end of a successful build. What it is for, and why it is
computed from the final output: docs/deploy.md (The unsharded twin).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


def write_twin(output_dir: Path, folder: Path | None, sharder: Sharder, *, jobs: int = 1) -> None:
    """Write the twin of ``output_dir``'s documents into ``folder`` (the setting
    ``unsharded_copy``; nothing when it is None), replacing the folder there whole
    (a failed or killed build leaves the old one). ``sharder`` is the build's (it
    knows every shard host its output may name)."""
    twin = twin_folder(output_dir, folder)
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
