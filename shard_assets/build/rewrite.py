"""Rewriting a document's URLs: the shard URL, the edits that put it in place (with
``crossorigin`` and ``preconnect``), undoing them, and pass two for one document.

Only URL bytes change; everything else in a document stays byte-identical.
"""

from __future__ import annotations

import fnmatch
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from ..config import Settings
from ..documents.css import find_css_refs
from ..documents.html import HtmlScanner, RefSpan, preconnect_point
from ..documents.inventory import Stamp, is_page, is_stylesheet, read_document
from ..documents.text import Decoded
from ..documents.urls import Ref, Site, normal_host, url_host
from ..files import ensure_replaceable, write_temporary
from ..kept import KEPT
from ..manifest import Manifest


def _start(ref: RefSpan) -> int:
    return ref[0]


@dataclass(frozen=True)
class UrlRules:
    """The settings a site's URLs follow: which URLs are references (``site``,
    ``attributes``), which files stay on the origin besides the shard hosts
    (``exclude``, ``cors_assets``, ``stylesheets``), and how a shard URL is written
    (the configured ``hosts`` in order, ``url_prefix``, ``origin``, ``preconnect``)."""

    site: Site
    attributes: tuple[tuple[str, str, str], ...]
    exclude: tuple[str, ...]
    cors_assets: str
    stylesheets: str
    hosts: tuple[str, ...]
    #: What goes before the hostname in a shard URL (``https://``, ``//``).
    url_prefix: str
    #: What goes before an origin path in an absolute URL on the site's origin
    #: (``https://example.org``), or None when ``site_url`` is not set.
    origin: str | None
    preconnect: bool

    @classmethod
    def of(cls, settings: Settings) -> UrlRules:
        """The URL rules of ``settings``."""
        origin = None
        if settings.site_url:
            parts = urlsplit(settings.site_url.strip())
            scheme = "//" if settings.scheme == "relative" else f"{parts.scheme.lower()}://"
            origin = scheme + parts.netloc.rpartition("@")[2]
        return cls(
            site=settings.site,
            attributes=settings.attributes,
            exclude=settings.exclude,
            cors_assets=settings.cors_assets,
            stylesheets=settings.stylesheets,
            hosts=settings.host_names,
            url_prefix=settings.url_prefix,
            origin=origin,
            preconnect=settings.preconnect,
        )


class Sharder:
    """Finds references in documents and rewrites them, by a site's URL rules.

    ``shard_hosts`` are the hosts a manifest named besides the configured ones: URLs
    on them are references too.
    """

    def __init__(self, rules: UrlRules, shard_hosts: Iterable[str] = ()) -> None:
        self.rules = rules
        self.scanner = HtmlScanner(rules.attributes)
        # URLs already on a shard host are references too: that makes a second run
        # over sharded output a no-op, and lets it re-point assets whose host changed.
        hosts = {normal_host(h) for h in (*rules.hosts, *shard_hosts)}
        self.site = replace(rules.site, origins=rules.site.origins | hosts)
        #: Lower-cased: the configured hosts and those the manifest named.
        self.shard_hosts = frozenset(hosts)
        #: See :attr:`UrlRules.origin`.
        self.origin = rules.origin

    @classmethod
    def for_build(cls, rules: UrlRules, previous: Manifest | None) -> Sharder:
        """The sharder of a build whose output the build that wrote ``previous`` (the
        manifest, if any) may have sharded."""
        return cls(rules, [host.name for host in previous.hosts] if previous else ())

    def find_refs(self, text: str, document: str) -> Iterator[Ref]:
        """All site-local references in ``text``, the content of ``document``."""
        site = self.site
        if is_stylesheet(document):
            return find_css_refs(text, site.document_path(document), site)
        return self.scanner.find_refs(text, document, site)

    def references(self, text: str, document: str) -> list[RefSpan]:
        """:meth:`find_refs` as tuples (the fields of :class:`Ref`), by start."""
        site = self.site
        if is_stylesheet(document):
            found = [
                (r.start, r.end, r.key, r.path, r.suffix, r.cors, r.crossorigin_at)
                for r in find_css_refs(text, site.document_path(document), site)
            ]
        else:
            found = self.scanner.references(text, document, site)
        found.sort(key=_start)
        return found

    def is_asset(self, key: str, files: frozenset[str]) -> bool:
        """A referenced key is sharded when it is an existing, non-page, non-excluded file."""
        return key in files and not is_page(key) and not self.is_excluded(key)

    def is_excluded(self, key: str) -> bool:
        """Whether ``key`` matches an ``exclude`` pattern."""
        exclude = self.rules.exclude
        return bool(exclude) and any(fnmatch.fnmatchcase(key, p) for p in exclude)

    def rewrite(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> tuple[str, int]:
        """``text`` with every assigned reference pointed at its host, and how many changed.

        Besides the URLs, the only edits are ``crossorigin="anonymous"`` on an element
        with ``integrity`` that moves to a shard host, and, with ``preconnect``, one
        ``<link rel="preconnect">`` per shard host the page uses.
        """
        return self.splice(text, document, self.replacements(text, document, hosts_by_asset))

    def replacements(
        self, text: str, document: str, hosts_by_asset: Mapping[str, str]
    ) -> list[Replacement]:
        """What :meth:`rewrite` puts in ``text``: a :data:`Replacement` for each
        assigned reference, found by scanning it."""
        # Only a stylesheet on a shard host asks which files stay on the origin.
        origin = self.origin if self.moves(document, hosts_by_asset) else None
        replacements = []
        for start, end, key, path, suffix, _, crossorigin_at in self.references(text, document):
            host = hosts_by_asset.get(key)
            if origin and (host == KEPT or (host is None and self.is_excluded(key))):
                replacements.append((start, end, origin + path + suffix, KEPT, -1))
            elif host is not None:
                url = self.url(host, path, suffix)
                replacements.append((start, end, url, host, crossorigin_at))
        return replacements

    def resolves_elsewhere(self, url: str) -> bool:
        """Whether ``url`` as written (site-local) resolves against the document's own
        host (relative or root-relative) or names a shard host: not the origin's
        absolute URL."""
        host = url_host(url)
        return host is None or host in self.shard_hosts

    def moves(self, document: str, hosts_by_asset: Mapping[str, str]) -> bool:
        """Whether ``document`` is a stylesheet served from a shard host: its relative
        URLs then resolve against that host, so a file that stays on the origin
        (excluded, or kept by ``cors_assets: origin``) needs its absolute origin URL."""
        return is_stylesheet(document) and hosts_by_asset.get(document, KEPT) != KEPT

    def url(self, host: str, path: str, suffix: str) -> str:
        """The URL of ``path`` (and ``suffix``) on ``host`` (the prefix is ``https://``,
        ``http://`` or ``//``); root-relative on the site's origin when ``host`` is
        :data:`~shard_assets.kept.KEPT`."""
        if host == KEPT:
            return path + suffix
        return f"{self.rules.url_prefix}{host}{path}{suffix}"

    def splice(
        self, text: str, document: str, replacements: Iterable[Replacement]
    ) -> tuple[str, int]:
        """``text`` with each ``(start, end, url, host, crossorigin_at)`` in place (in
        order, a span overlapping the one before is left), and how many URLs changed.

        The work of :meth:`rewrite` once the hosts are known; pass two calls it with
        the spans pass one found, without scanning again.
        """
        edits, count = self.edits(text, document, replacements)
        if not edits:
            return text, 0
        return apply_edits(text, edits), count

    def edits(
        self, text: str, document: str, replacements: Iterable[Replacement]
    ) -> tuple[list[Edit], int]:
        """What :meth:`splice` changes in ``text``, in order, and how many URLs change."""
        edits: list[Edit] = []
        used: set[str] = set()
        last = 0
        count = 0
        for start, end, url, host, crossorigin_at in replacements:
            if start < last:
                continue
            last = end
            if host == KEPT:
                # Kept on the origin: only a URL a build put on a shard host goes back,
                # unless the new URL is absolute (in a stylesheet on a shard host).
                if url_host(url) is None and url_host(text[start:end]) not in self.shard_hosts:
                    continue
            else:
                used.add(host)
            if text[start:end] == url:
                continue
            edits.append((start, end, url))
            if crossorigin_at >= 0 and host != KEPT:
                edits.append((crossorigin_at, crossorigin_at, ' crossorigin="anonymous"'))
            count += 1
        if self.rules.preconnect and used and is_page(document):
            edits += self._preconnect(text, used)
        edits.sort(key=_edit_order)
        return edits, count

    def _preconnect(self, text: str, used: set[str]) -> list[tuple[int, int, str]]:
        at, present = preconnect_point(text)
        if at < 0:
            return []
        prefix = self.rules.url_prefix
        links = "".join(
            f'<link rel="preconnect" href="{prefix}{host}">'
            for host in self.rules.hosts
            if host in used and normal_host(host) not in present
        )
        return [(at, at, links)] if links else []


#: A URL to put in place: (start, end, new URL, its host, where crossorigin goes or -1).
Replacement = tuple[int, int, str, str, int]


#: One change to a text: (start, end, what replaces text[start:end]).
Edit = tuple[int, int, str]


def _edit_order(edit: Edit) -> tuple[int, int]:
    return edit[0], edit[1]


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with each edit made (in order, none overlapping)."""
    pieces: list[str] = []
    last = 0
    for start, end, replacement in edits:
        pieces += (text[last:start], replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


#: How to undo a page's edits: each edit's (start, end) in the edited text, in
#: pairs, and the text that stood there before.
Undo = tuple["array[int]", tuple[str, ...]]


def undo_edits(text: str, edits: list[Edit], texts: dict[str, str]) -> Undo:
    """How to get ``text`` back once ``edits`` are made to it (see
    :func:`apply_edits`); ``texts`` keeps one copy of each
    original text."""
    spans = array("q")
    originals: list[str] = []
    shift = 0
    for start, end, replacement in edits:
        at = start + shift
        spans.extend((at, at + len(replacement)))
        original = text[start:end]
        originals.append(texts.setdefault(original, original))
        shift += len(replacement) - (end - start)
    return spans, tuple(originals)


def undone(text: str, undo: Undo) -> str:
    """The text ``undo`` was made from, given the edited ``text``."""
    spans, originals = undo
    edits = [(spans[2 * i], spans[2 * i + 1], original) for i, original in enumerate(originals)]
    return apply_edits(text, edits)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Pass two's work for one document: pass one's spans (``start, end, index into
    targets, crossorigin_at`` each), whose new URLs are in
    :attr:`RewriteContext.urls`.

    ``spans`` is None for a document scanned again (a stylesheet whose URLs to files
    on the origin need their origin URL, see :func:`origin_refs`).
    """

    document: str
    stamp: Stamp
    spans: array[int] | None


class Unsharding(Protocol):
    """The unsharded copy as the passes that hold a document's text feed it
    (:class:`shard_assets.build.unsharded_copy.UnshardedCopy`, a step above): what
    pass one read and found, what pass two (or the handover) changed."""

    def read(
        self, sharder: Sharder, document: str, decoded: Decoded, refs: Sequence[RefSpan]
    ) -> None: ...

    def rewritten(
        self,
        sharder: Sharder,
        document: str,
        decoded: Decoded,
        edits: Sequence[Edit],
        text: str,
        *,
        again: bool = False,
    ) -> None: ...


@dataclass(frozen=True)
class RewriteContext:
    """What the workers of pass two share (inherited when forked, else sent once):
    ``urls``, each of pass one's targets' new URL and host (:func:`target_urls`);
    ``twin``, the unsharded copy, if the build writes one."""

    output_dir: Path
    sharder: Sharder
    hosts_by_asset: Mapping[str, str]
    urls: TargetUrls = ()
    twin: Unsharding | None = None


def origin_refs(
    origin_refs: Mapping[str, Iterable[tuple[str, int, str]]],
    sharder: Sharder,
    hosts_by_asset: Mapping[str, str],
    kept: frozenset[str],
) -> list[tuple[str, str, str, int, str]]:
    """(stylesheet, its host, key, line, URL) for each reference in a stylesheet on a
    shard host to a file that stays on the origin (excluded, or in ``kept``)
    written so that it resolves against the stylesheet's host, in document order
    (``origin_refs``: each stylesheet's such references, from pass one).

    A relative URL resolves against the stylesheet's URL, a root-relative one against
    its host: either way the shard host, and ``exclude`` (or ``cors_assets: origin``)
    would be silently lost. Pages never move, so only stylesheets are concerned.
    """
    return [
        (document, host, key, line, url)
        for document, refs in origin_refs.items()
        if (host := hosts_by_asset.get(document)) is not None
        for key, line, url in refs
        if key in kept or sharder.is_excluded(key)
    ]


def rewrite_tasks(
    urls: TargetUrls,
    spans: Mapping[str, tuple[Stamp, array[int]]],
    restyled: frozenset[str] = frozenset(),
) -> Iterator[Rewrite]:
    """Pass two's work, document by document: each document with spans (pass one's
    ``start, end, index into targets, crossorigin_at``) one of whose targets has a
    new URL (``urls``, from :func:`target_urls`); a ``restyled`` one (a stylesheet
    whose URLs to files on the origin need their origin URL, see
    :func:`origin_refs`) is scanned again."""

    def tasks() -> Iterator[Rewrite]:
        for document, (stamp, found) in spans.items():
            if document in restyled:
                yield Rewrite(document, stamp, None)
            elif any(urls[target] is not None for target in found[2::4]):
                yield Rewrite(document, stamp, found)
        for document in sorted(restyled - spans.keys()):
            yield Rewrite(document, (0, 0), None)  # only URLs that stay on the origin

    return tasks()


#: Each target's new URL and host (None: the reference stays as it is).
TargetUrls = Sequence["tuple[str, str] | None"]


def target_urls(
    sharder: Sharder,
    hosts_by_asset: Mapping[str, str],
    targets: Iterable[tuple[str, str, str]],
) -> TargetUrls:
    """The URL of each of pass one's ``targets`` (asset key, path, suffix) on its host,
    and that host; None for an asset without one."""
    return [
        None
        if (host := hosts_by_asset.get(key)) is None
        else (sharder.url(host, path, suffix), host)
        for key, path, suffix in targets
    ]


def span_replacements(spans: array[int], urls: TargetUrls) -> list[Replacement]:
    """What to put at each of pass one's ``spans`` (``start, end, index into targets,
    crossorigin_at``), from :func:`target_urls`, in order."""
    fields = iter(spans)
    return [
        (start, end, *url, crossorigin_at)
        for start, end, target, crossorigin_at in zip(fields, fields, fields, fields, strict=True)
        if (url := urls[target]) is not None
    ]


def rewrite_document(context: RewriteContext, task: Rewrite) -> tuple[str, int, str]:
    """Pass two for one document: put the new URLs in and, if one changed, write the
    document to a temporary file beside it (see :class:`shard_assets.build.commit.StagedFiles`).

    Returns the document, how many URLs changed and the temporary file ('' when none
    changed). A document that changed since pass one read it is scanned again, with
    the assignment made for the build.
    """
    decoded, stamp = read_document(context.output_dir, task.document)
    if decoded is None:
        return task.document, 0, ""
    sharder = context.sharder
    again = stamp != task.stamp
    if task.spans is None or again:
        replacements = sharder.replacements(decoded.text, task.document, context.hosts_by_asset)
    else:
        replacements = span_replacements(task.spans, context.urls)
    edits, count = sharder.edits(decoded.text, task.document, replacements)
    if not count:
        if again and context.twin is not None:  # pass one's twin is of another text
            context.twin.rewritten(sharder, task.document, decoded, (), decoded.text, again=True)
        return task.document, 0, ""
    text = apply_edits(decoded.text, edits)
    if context.twin is not None:
        context.twin.rewritten(sharder, task.document, decoded, edits, text, again=again)
    # Not fsynced: the generator that just wrote the page did not sync it either, and
    # the rename keeps every reader, and a killed build, to old or new.
    path = os.path.join(context.output_dir, task.document)
    ensure_replaceable(path)
    return task.document, count, write_temporary(path, decoded.encode(text), sync=False)
