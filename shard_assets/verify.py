"""An independent audit of a sharded site: ``shard-assets verify``.

It reads the output with BeautifulSoup and tinycss2, never with the rewriter, and
resolves URLs with ``urllib.parse.urljoin``, so it can catch the rewriter's mistakes.
It checks that:

- every site-local asset reference is on the host the manifest names;
- no shard URL names a host that is not configured, or a file that is not in the
  output, or an asset the manifest puts on another host;
- no page or stylesheet still references a site-local asset on the origin (with
  ``cors_assets: origin``, an asset some reference fetches in CORS mode must stay
  there instead: CORS mode is read here from the markup, as the browser decides it;
  with ``stylesheets: origin``, every stylesheet);
- no stylesheet on a shard host names a file that stays on the origin (excluded, or
  kept by either setting) by a URL that resolves against that shard host.

The rules for *which* tags and attributes load assets are the same data the rewriter
uses (:data:`shard_assets.documents.html.URL_ATTRIBUTES`): they are the specification, not the
implementation under test.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import tinycss2
from bs4 import BeautifulSoup, Tag

from .config import Settings
from .documents.html import LINK_RELS, SRCSET, URL_ATTRIBUTES
from .documents.inventory import is_page, is_stylesheet, take_inventory
from .documents.text import decode_document
from .documents.urls import Site, normal_authority, normal_host
from .errors import VerifyError
from .kept import kept_assets, kept_stylesheet
from .manifest import read_manifest
from .messages import listed

#: Stands in for the site's origin when ``site_url`` is not set.
_PLACEHOLDER_ORIGIN = "https://site.invalid"
_IMAGE_SETS = frozenset({"image-set", "-webkit-image-set"})


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in the output."""

    document: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.message}"


@dataclass(frozen=True)
class _Url:
    url: str
    line: int
    #: Fetched in CORS mode: a font's source, a module script, an element with
    #: crossorigin or integrity.
    cors: bool = False


@dataclass(frozen=True)
class _Audit:
    """What every URL is checked against, worked out once per audit."""

    site: Site
    exclude: tuple[str, ...]
    #: The ``stylesheets`` setting (what keeps a stylesheet on the origin).
    stylesheets: str
    assets: Mapping[str, str]
    files: frozenset[str]
    #: Lower-cased: the configured shard hosts, the site's own origin, and every
    #: host the manifest names.
    configured: frozenset[str]
    own: frozenset[str]
    manifest_hosts: frozenset[str]
    #: The assets that must stay on the origin (``cors_assets``, ``stylesheets``).
    kept: frozenset[str] = frozenset()


def verify_site(output_dir: Path, settings: Settings) -> list[Finding]:
    """Audit ``output_dir`` against the manifest; an empty list means it is sound."""
    manifest = read_manifest(settings.manifest)
    assets = dict(manifest.assets) if manifest else {}
    inventory = take_inventory(output_dir)
    site_url = settings.site_url or _PLACEHOLDER_ORIGIN + settings.site.prefix
    origin = urlsplit(site_url)
    audit = _Audit(
        site=settings.site,
        exclude=settings.exclude,
        stylesheets=settings.stylesheets,
        assets=assets,
        files=inventory.files,
        configured=frozenset(normal_host(h) for h in settings.host_names),
        own=frozenset({normal_authority(origin.scheme, origin.netloc)}),
        manifest_hosts=frozenset(normal_host(h) for h in assets.values()),
    )
    findings: list[Finding] = []
    if manifest is None:
        findings.append(Finding(str(settings.manifest), 0, "the manifest does not exist"))

    found: list[tuple[str, str, list[_Url]]] = []
    for document in inventory.documents:
        data = (output_dir / document).read_bytes()
        decoded = decode_document(data, is_stylesheet(document))
        if decoded is None:
            continue
        page_url = urljoin(site_url, document)
        if is_stylesheet(document):
            urls = list(_css_urls(decoded.text, 1))
            base = page_url
        else:
            soup = BeautifulSoup(decoded.text, "html.parser")
            base_tag = soup.find("base", href=True)
            base = urljoin(page_url, str(base_tag["href"]).strip()) if base_tag else page_url
            urls = list(_html_urls(soup, settings.attributes))
        found.append((document, base, urls))
    if settings.cors_assets == "origin" or settings.stylesheets == "origin":
        keys = {
            (key, url.cors)
            for _, base, urls in found
            for url in urls
            if (key := _site_key(url, base, audit)) is not None
        }
        cors = {key for key, in_cors in keys if in_cors}
        kept = kept_assets(
            audit.files,
            cors,
            cors_assets=settings.cors_assets,
            stylesheets=settings.stylesheets,
        )
        audit = replace(audit, kept=kept)
    for document, base, urls in found:
        for url in urls:
            findings += _check(url, base, document, audit)
        if is_stylesheet(document) and document in assets:
            findings += _moved(document, urls, audit)
    return sorted(set(findings))


def _moved(document: str, urls: list[_Url], audit: _Audit) -> list[Finding]:
    """The URLs of ``document``, a stylesheet on a shard host, that the browser
    resolves against that host although their file stays on the origin."""
    host = audit.assets[document]
    base = f"https://{host}{audit.site.document_path(document)}"
    findings = []
    for found in urls:
        if not found.url.strip() or found.url.strip().startswith(("#", "data:")):
            continue
        key = _site_key(found, base, audit)
        absolute = urlsplit(urljoin(base, found.url.strip()))
        if key is None or normal_authority(absolute.scheme, absolute.netloc) != normal_host(host):
            continue
        excluded = any(fnmatch.fnmatchcase(key, p) for p in audit.exclude)
        if key in audit.files and (excluded or key in audit.kept):
            why = "excluded" if excluded else f"kept there by {_keeps(key, audit)}"
            findings.append(
                Finding(
                    document,
                    found.line,
                    f"{found.url.strip()}: resolves to {host}, the host of {document}, but "
                    f"{key} stays on the origin ({why}): set site_url and build again, so "
                    "the build writes its absolute URL on the origin",
                )
            )
    return findings


def _keeps(key: str, audit: _Audit) -> str:
    """The setting that keeps ``key``, one of the audit's ``kept``, on the origin."""
    if kept_stylesheet(key, stylesheets=audit.stylesheets):
        return "stylesheets: origin"
    return "cors_assets: origin"


def _site_key(found: _Url, base: str, audit: _Audit) -> str | None:
    """The output-relative key ``found`` names on the origin or a shard host, or None."""
    absolute = urlsplit(urljoin(base, found.url.strip()))
    if absolute.scheme not in ("http", "https"):
        return None
    netloc = normal_authority(absolute.scheme, absolute.netloc)
    if netloc not in audit.own and netloc not in audit.configured:
        return None
    path = posixpath.normpath(unquote(absolute.path)) if absolute.path else "/"
    prefix = audit.site.prefix
    return path[len(prefix) :] if path.startswith(prefix) else None


def verify_or_raise(output_dir: Path, settings: Settings, limit: int = 50) -> None:
    """Run :func:`verify_site` and raise :class:`VerifyError` listing what it found."""
    findings = verify_site(output_dir, settings)
    if findings:
        raise VerifyError(
            f"shard-assets verify: {len(findings)} problem(s) in {output_dir}:\n"
            + listed(findings, limit)
        )


def _check(found: _Url, base: str, document: str, audit: _Audit) -> list[Finding]:  # noqa: PLR0911, PLR0912  the audit as one decision list, read top down
    assets, files = audit.assets, audit.files
    configured, own = audit.configured, audit.own
    url = found.url.strip()
    if not url or url.startswith(("#", "data:", "blob:", "mailto:", "javascript:")):
        return []
    absolute = urlsplit(urljoin(base, url))
    if absolute.scheme not in ("http", "https"):
        return []
    netloc = normal_authority(absolute.scheme, absolute.netloc)
    path = posixpath.normpath(unquote(absolute.path)) if absolute.path else "/"
    prefix = audit.site.prefix
    if not (path + "/").startswith(prefix) or path + "/" == prefix:
        if netloc in configured:
            return [Finding(document, found.line, f"{url}: a shard URL outside the site's path")]
        return []
    key = path[len(prefix) :]
    excluded = any(fnmatch.fnmatchcase(key, p) for p in audit.exclude)
    if key in audit.kept:
        if netloc in configured:
            why = _keeps(key, audit)
            return [Finding(document, found.line, f"{url}: {key} stays on the origin ({why})")]
        return []
    if netloc in own:
        if key in files and not is_page(key) and not excluded:
            return [Finding(document, found.line, f"{url}: site-local asset {key} is not sharded")]
        return []
    if netloc not in configured:
        if netloc in audit.manifest_hosts:
            return [Finding(document, found.line, f"{url}: host {netloc} is not configured")]
        return []
    if key not in files:
        return [Finding(document, found.line, f"{url}: {key} is not in the output")]
    expected = assets.get(key)
    if expected is None:
        return [Finding(document, found.line, f"{url}: {key} is not in the manifest")]
    if normal_host(expected) != netloc:
        return [Finding(document, found.line, f"{url}: the manifest puts {key} on {expected}")]
    return []


def _html_urls(soup: BeautifulSoup, attributes: Iterable[tuple[str, str, str]]) -> Iterator[_Url]:
    table = {tag: dict(attrs) for tag, attrs in URL_ATTRIBUTES.items()}
    for tag, attribute, kind in attributes:
        table.setdefault(tag, {})[attribute] = kind
    for element in soup.find_all(True):
        assert isinstance(element, Tag)
        name = element.name.lower()
        line = element.sourceline or 0
        style = element.get("style")
        if isinstance(style, str):
            yield from _css_urls(style, line)
        if name == "style":
            yield from _css_urls(element.get_text(), line)
        wanted = table.get(name)
        if not wanted or not _loads(element):
            continue
        cors = _cors(element)
        for attribute, kind in wanted.items():
            value = element.get(attribute)
            if not isinstance(value, str):
                continue
            if kind == SRCSET:
                for candidate in re.split(r",(?=\s)|,$", value):
                    parts = candidate.split()
                    if parts:
                        yield _Url(parts[0].rstrip(","), line, cors)
            else:
                yield _Url(value, line, cors)


def _cors(element: Tag) -> bool:
    """Whether the browser fetches ``element``'s URL in CORS mode (HTML standard:
    a crossorigin attribute, a module script, a modulepreload link); integrity counts
    too, since a sharded element with integrity gets crossorigin."""
    if element.has_attr("crossorigin"):
        return True
    name = element.name.lower()
    if name in ("script", "link") and element.has_attr("integrity"):
        return True
    if name == "script":
        return str(element.get("type", "")).strip().lower() == "module"
    if name == "link":
        rel = element.get("rel")
        tokens = {t.lower() for t in (rel if isinstance(rel, list) else str(rel or "").split())}
        return "modulepreload" in tokens
    return False


def _loads(element: Tag) -> bool:
    if element.name.lower() == "link":
        rel = element.get("rel")
        tokens = {t.lower() for t in (rel if isinstance(rel, list) else str(rel or "").split())}
        return bool(tokens & LINK_RELS)
    if element.name.lower() == "input":
        return str(element.get("type", "")).lower() == "image"  # enumerated: no trimming
    return True


def _css_urls(css: str, first_line: int) -> Iterator[_Url]:
    def walk(tokens: list[object], in_image_set: bool, cors: bool = False) -> Iterator[_Url]:
        font_face = False  # an @font-face nested in @media or @supports: its block is next
        for token in tokens:
            kind = getattr(token, "type", "")
            if kind == "at-keyword":
                font_face = token.lower_value == "font-face"  # type: ignore[attr-defined]
            elif kind == "{} block" and font_face:
                font_face = False
                yield from walk(token.content, False, True)  # type: ignore[attr-defined]
                continue
            line = first_line + max(0, getattr(token, "source_line", 1) - 1)
            if kind == "url" or (kind == "string" and in_image_set):
                yield _Url(token.value, line, cors)  # type: ignore[attr-defined]
            elif kind == "function":
                name = token.lower_name  # type: ignore[attr-defined]
                arguments = token.arguments  # type: ignore[attr-defined]
                if name in ("url", "src"):
                    strings = [t for t in arguments if getattr(t, "type", "") == "string"]
                    yield from (_Url(s.value, line, cors) for s in strings[:1])
                else:
                    yield from walk(arguments, name in _IMAGE_SETS, cors)
            elif kind in ("() block", "[] block", "{} block"):
                yield from walk(token.content, False, cors)  # type: ignore[attr-defined]

    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "at-rule" and rule.lower_at_keyword == "import":
            strings = [t for t in rule.prelude if t.type == "string"]
            line = first_line + rule.source_line - 1
            yield from (_Url(s.value, line) for s in strings[:1])
        prelude = getattr(rule, "prelude", None) or []
        content = getattr(rule, "content", None) or []
        # A font's sources are fetched in CORS mode.
        fonts = rule.type == "at-rule" and rule.lower_at_keyword == "font-face"
        yield from walk([*prelude, *content], False, fonts)
