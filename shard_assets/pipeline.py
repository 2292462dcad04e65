"""The one place that walks an output folder and writes files.

Data flows one way: settings -> collect assets -> assign hosts (manifest first, ring
for the rest) -> gate -> rewrite files -> write manifest -> report. Nothing is
written before the gate and the other checks pass, so a failed build leaves the
output and the manifest exactly as they were.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .assign import Assignment, assign_hosts
from .balance import BalanceReport, balance_report, gate_message
from .config import Settings
from .css import find_css_refs
from .errors import BalanceError, ManifestError, MissingAssetError
from .files import Decoded, atomic_write, decode_document
from .html import HtmlScanner
from .manifest import Manifest, read_manifest, write_manifest
from .urls import Ref

PAGE_SUFFIXES = (".html", ".htm")
DOCUMENT_SUFFIXES = (*PAGE_SUFFIXES, ".css")


@dataclass(frozen=True)
class MissingRef:
    """A site-local reference to a file that is not in the output."""

    document: str
    line: int
    url: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.url} is not in the output"


@dataclass(frozen=True)
class Inventory:
    """What an output folder holds: every file, and the documents to rewrite."""

    files: frozenset[str]
    documents: tuple[str, ...]


@dataclass(frozen=True)
class BuildResult:
    """What a build did, for the front ends to report."""

    assignment: Assignment
    report: BalanceReport
    documents: int
    rewritten: int
    references: int
    missing: tuple[MissingRef, ...]
    undecodable: tuple[str, ...]
    manifest: Path
    manifest_changed: bool


def is_page(key: str) -> bool:
    """Pages are documents people navigate to, never assets."""
    return key.lower().endswith(PAGE_SUFFIXES)


def take_inventory(output_dir: Path) -> Inventory:
    """List the output folder. Symlinked folders are not entered and symlinked
    documents are never rewritten (they may point outside the output)."""
    files: set[str] = set()
    documents: list[str] = []
    root = str(output_dir)
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        relative = os.path.relpath(folder, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        for name in sorted(names):
            key = prefix + name
            files.add(key)
            if name.lower().endswith(DOCUMENT_SUFFIXES) and not os.path.islink(
                os.path.join(folder, name)
            ):
                documents.append(key)
    return Inventory(frozenset(files), tuple(documents))


class Sharder:
    """Finds references in documents and rewrites them, for one site and settings."""

    def __init__(self, settings: Settings, shard_hosts: Iterable[str] = ()) -> None:
        self.settings = settings
        self.scanner = HtmlScanner(settings.attributes)
        # URLs already on a shard host are references too: that makes a second run
        # over sharded output a no-op, and lets it re-point assets whose host changed.
        hosts = {h.lower() for h in (*settings.host_names, *shard_hosts)}
        self.site = replace(settings.site, origins=settings.site.origins | hosts)

    def find_refs(self, text: str, document: str) -> Iterator[Ref]:
        """All site-local references in ``text``, the content of ``document``."""
        site = self.site
        if document.lower().endswith(".css"):
            return find_css_refs(text, site.document_path(document), site)
        return self.scanner.find_refs(text, document, site)

    def is_asset(self, key: str, files: frozenset[str]) -> bool:
        """A referenced key is sharded when it is an existing, non-page, non-excluded file."""
        return (
            key in files
            and not is_page(key)
            and not any(fnmatch.fnmatchcase(key, p) for p in self.settings.exclude)
        )

    def rewrite(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> tuple[str, int]:
        """``text`` with every assigned reference pointed at its host, and how many changed."""
        prefix = self.settings.url_prefix
        pieces: list[str] = []
        last = 0
        count = 0
        for ref in sorted(self.find_refs(text, document), key=lambda r: r.start):
            host = hosts_by_asset.get(ref.key)
            if host is None or ref.start < last:
                continue
            url = f"{prefix}{host}{ref.path}{ref.suffix}"
            if text[ref.start : ref.end] == url:
                continue
            pieces += (text[last : ref.start], url)
            last = ref.end
            count += 1
        if not count:
            return text, 0
        pieces.append(text[last:])
        return "".join(pieces), count


def _read(output_dir: Path, document: str) -> Decoded | None:
    data = (output_dir / document).read_bytes()
    return decode_document(data, document.lower().endswith(".css"))


def collect(
    sharder: Sharder, output_dir: Path, inventory: Inventory
) -> tuple[set[str], list[MissingRef], list[str]]:
    """Pass one: referenced assets, references to missing files, undecodable documents."""
    assets: set[str] = set()
    missing: list[MissingRef] = []
    undecodable: list[str] = []
    for document in inventory.documents:
        decoded = _read(output_dir, document)
        if decoded is None:
            undecodable.append(document)
            continue
        text = decoded.text
        for ref in sharder.find_refs(text, document):
            if sharder.is_asset(ref.key, inventory.files):
                assets.add(ref.key)
            elif ref.key not in inventory.files and not _is_folder(ref.key, inventory.files):
                line = text.count("\n", 0, ref.start) + 1
                missing.append(MissingRef(document, line, text[ref.start : ref.end]))
    return assets, missing, undecodable


def _is_folder(key: str, files: frozenset[str]) -> bool:
    return f"{key}/index.html" in files


def shard_site(output_dir: Path, settings: Settings) -> BuildResult:
    """Shard every site-local asset reference in ``output_dir`` and write the manifest.

    Raises :class:`BalanceError`, :class:`MissingAssetError` (``strict``) or
    :class:`ManifestError` before any file is written.
    """
    previous = read_manifest(settings.manifest)
    inventory = take_inventory(output_dir)
    sharder = Sharder(settings, [h.name for h in previous.hosts] if previous else ())
    assets, missing, undecodable = collect(sharder, output_dir, inventory)
    if settings.strict and missing:
        listed = "\n".join(f"  {m}" for m in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise MissingAssetError(
            f"shard-assets: {len(missing)} site-local reference(s) name files that are not "
            f"in the output (strict is on, so this fails the build):\n{listed}{more}\n"
            "Fix the references or add the files; or set strict to false to only warn."
        )

    assignment = assign_hosts(
        assets,
        settings.hosts,
        settings.max_imbalance,
        previous.assets if previous else None,
        [h.name for h in previous.hosts] if previous else None,
    )
    report = balance_report(assignment.hosts_by_asset, settings.hosts, settings.max_imbalance)
    if not report.ok:
        raise BalanceError(gate_message(report, str(settings.manifest)), report)
    _check_writable(settings.manifest)

    rewritten = 0
    references = 0
    for document in inventory.documents:
        decoded = _read(output_dir, document)
        if decoded is None:
            continue
        text, count = sharder.rewrite(decoded.text, document, assignment.hosts_by_asset)
        if count:
            atomic_write(output_dir / document, decoded.encode(text))
            rewritten += 1
            references += count

    changed = write_manifest(
        settings.manifest,
        Manifest(assignment.hosts_by_asset, settings.hosts, settings.max_imbalance),
    )
    return BuildResult(
        assignment=assignment,
        report=report,
        documents=len(inventory.documents),
        rewritten=rewritten,
        references=references,
        missing=tuple(missing),
        undecodable=tuple(undecodable),
        manifest=settings.manifest,
        manifest_changed=changed,
    )


def _check_writable(manifest: Path) -> None:
    folder = manifest.parent
    if not folder.is_dir():
        raise ManifestError(
            f"{manifest}: the folder {folder} does not exist; create it or set 'manifest' "
            "to a path in an existing folder"
        )
    if not os.access(folder, os.W_OK) or (manifest.exists() and not os.access(manifest, os.W_OK)):
        raise ManifestError(
            f"{manifest}: cannot write the manifest there; make it writable or set "
            "'manifest' to another path"
        )


def summary(result: BuildResult) -> str:
    """A short human-readable account of a build, with the balance table."""
    a = result.assignment
    lines = [
        f"shard-assets: {len(a.hosts_by_asset)} assets over {len(result.report.rows)} hosts; "
        f"{result.references} references rewritten in {result.rewritten} of "
        f"{result.documents} files",
        f"  kept {a.kept}, placed {len(a.placed)} new, moved {len(a.moves)}, "
        f"dropped {len(a.dropped)} no longer referenced",
        result.report.table(),
        f"  manifest: {result.manifest} ({'updated' if result.manifest_changed else 'unchanged'})",
    ]
    return "\n".join(lines)
