"""Compare an unsharded build of a site with a sharded one, file by file.

BeautifulSoup reads the sharded output here: it is not the rewriter, so it can
check it. Two properties are checked:

1. Nothing but URLs changed. The two texts are cut into the same tokens at the
   characters that end a URL in HTML and CSS (whitespace, quotes, brackets,
   commas); every token pair must be equal, or the sharded token must hold a
   shard URL where the unsharded one holds a URL that resolves, against the
   document's URL, to the same path, query and fragment on the site's origin.
   So the sharded text, with each shard URL mapped back to its original, is the
   unsharded text. Every other file is byte for byte the same.
2. Everything a browser loads with the page is on a shard host: every asset
   reference (img, source, link stylesheet/icon/preload, script, media, embed,
   object, input type=image, SVG image, url() and @import in style attributes,
   style elements and CSS files) that names a file of the site is a shard URL,
   and every shard URL names a file that exists. SVG <use> must stay on the
   site's origin (browsers do not load it from another origin).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

DOCUMENT_SUFFIXES = (".html", ".htm", ".css")
PAGE_SUFFIXES = (".html", ".htm")
ASSET_RELS = frozenset(
    {
        "stylesheet",
        "icon",
        "apple-touch-icon",
        "apple-touch-icon-precomposed",
        "mask-icon",
        "preload",
        "modulepreload",
        "prefetch",
    }
)
# (element, attribute, holds a srcset)
ASSET_ATTRIBUTES = (
    ("img", "src", False),
    ("img", "srcset", True),
    ("source", "src", False),
    ("source", "srcset", True),
    ("script", "src", False),
    ("video", "src", False),
    ("video", "poster", False),
    ("audio", "src", False),
    ("track", "src", False),
    ("embed", "src", False),
    ("object", "data", False),
    ("image", "href", False),
    ("image", "xlink:href", False),
)
_TOKEN_END = re.compile(r"([\s\"'(),<>]+)")
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_URL = re.compile(
    r"(?<![\w-])url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^\"'()\s]*))\s*\)"
    r"|@import\s*(?:\"([^\"]*)\"|'([^']*)')",
    re.IGNORECASE,
)


@dataclass
class Comparison:
    """What the comparison saw, for the tests to check it saw enough."""

    documents: int = 0
    changed: int = 0
    shard_refs: Counter[str] = field(default_factory=Counter)
    kept_refs: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def compare_builds(plain: Path, sharded: Path, site_url: str, hosts: Sequence[str]) -> Comparison:
    """Check properties 1 and 2 for two builds of one site; problems are listed, not raised."""
    result = Comparison()
    plain_files = _files(plain)
    sharded_files = _files(sharded)
    if set(plain_files) != set(sharded_files):
        result.problems.append(
            f"the builds differ in files: {sorted(set(plain_files) ^ set(sharded_files))}"
        )
    shard_url = re.compile(
        r"(?:https?:)?//(?:" + "|".join(re.escape(h) for h in hosts) + r")(?=/)", re.IGNORECASE
    )
    site = _Site(site_url, shard_url, frozenset(sharded_files))
    for key in sorted(set(plain_files) & set(sharded_files)):
        before, after = plain_files[key].read_bytes(), sharded_files[key].read_bytes()
        if not key.lower().endswith(DOCUMENT_SUFFIXES):
            if before != after:
                result.problems.append(f"{key}: not a document, yet it changed")
            continue
        result.documents += 1
        result.changed += before != after
        url = urljoin(site_url, quote(key))
        plain_text = before.decode("utf-8", "surrogateescape")
        sharded_text = after.decode("utf-8", "surrogateescape")
        result.problems += _only_urls_changed(key, plain_text, sharded_text, url, shard_url)
        refs = (
            _css_refs(sharded_text, "css url()")
            if key.lower().endswith(".css")
            else _html_refs(sharded_text)
        )
        base = url if key.lower().endswith(".css") else _base_url(sharded_text, url)
        for ref in refs:
            _check_ref(result, site, key, ref, base)
    return result


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _only_urls_changed(
    key: str, plain: str, sharded: str, url: str, shard_url: re.Pattern[str]
) -> list[str]:
    if plain == sharded:
        return []
    a, b = _TOKEN_END.split(plain), _TOKEN_END.split(sharded)
    if len(a) != len(b):
        return [f"{key}: the sharded text has {len(b)} tokens, the unsharded {len(a)}"]
    problems = []
    own = urlsplit(url).netloc.lower()
    for before, after in zip(a, b, strict=True):
        if before == after:
            continue
        m = shard_url.search(after)
        if m is None or after[: m.start()] != before[: m.start()]:
            problems.append(f"{key}: {before!r} became {after!r}, which is not a shard URL")
            continue
        original = urlsplit(urljoin(url, before[m.start() :]))
        moved = urlsplit(after[m.start() :])
        if original.netloc.lower() != own or original[2:] != moved[2:]:
            problems.append(f"{key}: {before!r} became {after!r}, which names something else")
    return problems


def _base_url(html: str, document_url: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    base = soup.find("base", href=True)
    return urljoin(document_url, str(base["href"])) if isinstance(base, Tag) else document_url


def _html_refs(html: str) -> Iterator[tuple[str, str]]:  # noqa: PLR0912  one block per kind of tag
    soup = BeautifulSoup(html, "html.parser")
    for name, attribute, is_srcset in ASSET_ATTRIBUTES:
        for tag in soup.find_all(name):
            value = tag.get(attribute)
            if not isinstance(value, str):
                continue
            kind = f"{name}[{attribute}]"
            if is_srcset:
                for candidate in value.split(","):
                    if candidate.strip():
                        yield kind, candidate.split()[0]
            else:
                yield kind, value.strip()
    for tag in soup.find_all("link"):
        rels = {r.lower() for r in tag.get_attribute_list("rel") or [] if r}
        href = tag.get("href")
        if rels & ASSET_RELS and isinstance(href, str):
            yield f"link[{'/'.join(sorted(rels & ASSET_RELS))}]", href.strip()
    for tag in soup.find_all("input"):
        src = tag.get("src")
        if str(tag.get("type", "")).lower() == "image" and isinstance(src, str):
            yield "input[type=image]", src.strip()
    for tag in soup.find_all("use"):
        for attribute in ("href", "xlink:href"):
            value = tag.get(attribute)
            if isinstance(value, str):
                yield "use", value.strip()
    for tag in soup.find_all(style=True):
        yield from _css_refs(str(tag["style"]), "style attribute url()")
    for tag in soup.find_all("style"):
        yield from _css_refs(tag.get_text(), "style element url()")


def _css_refs(css: str, kind: str) -> Iterator[tuple[str, str]]:
    for m in _CSS_URL.finditer(_CSS_COMMENT.sub("", css)):
        yield kind, next(g for g in m.groups() if g is not None).strip()


@dataclass(frozen=True)
class _Site:
    url: str
    shard_url: re.Pattern[str]
    files: frozenset[str]

    def key(self, url: str) -> str | None:
        """The output file a URL on the site's origin names, if it is under the site."""
        parts, site = urlsplit(url), urlsplit(self.url)
        prefix = site.path or "/"
        path = unquote(parts.path)
        if parts.netloc and parts.netloc.lower() != site.netloc.lower():
            return None
        return path[len(prefix) :] if path.startswith(prefix) else None


def _check_ref(
    result: Comparison, site: _Site, where: str, ref: tuple[str, str], base: str
) -> None:
    kind, url = ref
    if not url or url.startswith(("data:", "#")):
        return
    if site.shard_url.match(url):
        result.shard_refs[kind] += 1
        if kind == "use":
            result.problems.append(f"{where}: <use> points at a shard host: {url}")
        path = unquote(urlsplit(url).path)
        prefix = urlsplit(site.url).path or "/"
        if not path.startswith(prefix) or path[len(prefix) :] not in site.files:
            result.problems.append(f"{where}: {kind} {url} names no file of the site")
        return
    result.kept_refs[kind] += 1
    key = site.key(urljoin(base, url))
    if key in site.files and not key.lower().endswith(PAGE_SUFFIXES) and kind != "use":
        result.problems.append(f"{where}: {kind} {url} is a site asset left unsharded")
