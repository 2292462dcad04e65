"""What counts as a site-local asset URL, and how it resolves to a file.

Everything here works on URL *text*: a path keeps the percent-encoding it was written
with, and only the lookup key (the file's path in the output folder) is decoded.
Resolution follows the browser (WHATWG URL): dot segments are removed, including
their percent-encoded spellings, and a backslash is a slash in http(s) URLs.

Hosts follow one rule, :func:`normal_host` and :func:`normal_authority`, wherever
two are compared (site-local URLs, shard URLs, the report, ``verify``,
``check-hosts``): the URL standard's, as a browser's URL parser writes an origin.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote, unquote, urlsplit

from ..errors import ConfigError

HTML_SPACE = " \t\n\r\f"
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
#: The port each scheme's URLs go to when they name none.
DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"http": 80, "https": 443})
#: A scheme-relative URL (``//host/...``) is fetched with the page's scheme, either one.
_EITHER_DEFAULT = frozenset(DEFAULT_PORTS.values())
_LEADING_UPS = re.compile(r"(?:\.\./)+")
_DOT = frozenset({".", "%2e"})
_DOT_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})

Codec = Callable[[str], str]


@dataclass(frozen=True)
class Site:
    """Where the built output is served: its own origins and its path prefix.

    ``prefix`` always starts and ends with ``/`` (``/docs/`` for a site served under
    ``/docs/``). ``origins`` holds ``host[:port]`` strings (:func:`normal_authority`);
    absolute URLs on them count as site-local, over http or https.
    """

    prefix: str = "/"
    origins: frozenset[str] = frozenset()

    @classmethod
    def from_url(cls, site_url: str | None) -> Site:
        """Build a Site from a ``site_url`` setting such as ``https://example.org/docs/``."""
        if not site_url:
            return cls()
        parts = urlsplit(site_url.strip())
        if parts.scheme.lower() not in DEFAULT_PORTS or not parts.netloc:
            raise ConfigError(
                f"site_url {site_url!r} is not an http(s) URL: "
                "set it to the site's public address, e.g. https://example.org/"
            )
        prefix = parts.path or "/"
        if not prefix.endswith("/"):
            prefix += "/"
        return cls(prefix=prefix, origins=frozenset({normal_authority(parts.scheme, parts.netloc)}))

    def document_path(self, key: str) -> str:
        """The URL path the file ``key`` (output-relative) is served at."""
        return self.prefix + quote(key, safe="/!$&'()*+,;=:@~", errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class Ref:
    """One site-local URL found in a document.

    ``start``/``end`` delimit the URL's text in the document (whitespace around it
    excluded). The rewritten URL is ``<scheme>://<host>`` + ``path`` + ``suffix``:
    ``path`` is already escaped for where it stands, ``suffix`` is the query and
    fragment exactly as written.

    ``cors`` says the browser fetches it in CORS mode (a web font, a module script,
    an element with ``crossorigin``, or with ``integrity``, which gets
    ``crossorigin`` once sharded): from a shard host it then needs
    ``Access-Control-Allow-Origin``. ``crossorigin_at`` is where
    ``crossorigin="anonymous"`` must be inserted when the URL moves to a shard host
    (its element has ``integrity`` and no ``crossorigin``), or -1.
    """

    start: int
    end: int
    key: str
    path: str
    suffix: str
    cors: bool = False
    crossorigin_at: int = -1


def normal_host(host: str) -> str:
    """A hostname as shard-assets compares it: lower-cased, and nothing else.

    A trailing dot stays (``example.org.`` is another host, and another origin, to a
    browser); certificate names and the Public Suffix List, whose own rules ignore it,
    drop it where they are used. Non-ASCII names are not converted to their ``xn--``
    form (the URL standard's UTS #46 mapping is not Python's IDNA 2003 codec): the
    settings take hosts in ASCII, as pages write them.
    """
    return host.lower()


def normal_authority(scheme: str | None, netloc: str) -> str:
    """``host[:port]`` of a URL's ``netloc`` as a browser writes it in an origin: user
    info dropped, the host by :func:`normal_host`, and the port dropped when it is the
    default of ``scheme`` (80 for http, 443 for https), or of either when ``scheme``
    is None (a scheme-relative ``//host`` URL takes the page's); an empty port is no
    port, and a port is written without leading zeros."""
    host = netloc.rpartition("@")[2]
    if host.startswith("[") and "]" in host:  # an IPv6 address: [::1]:8443
        end = host.index("]") + 1
        host, port = host[:end], host[end + 1 :] if host[end : end + 1] == ":" else ""
    else:
        host, _, port = host.partition(":")
    host = normal_host(host)
    if not port.isdigit():
        return f"{host}:{port}" if port else host
    number = int(port)
    scheme = scheme.lower() if scheme else None
    default = _EITHER_DEFAULT if scheme is None else {DEFAULT_PORTS.get(scheme)}
    return host if number in default else f"{host}:{number}"


def url_host(url: str) -> str | None:
    """The ``host[:port]`` (:func:`normal_authority`) of an absolute (``https://h/...``)
    or scheme-relative (``//h/...``) URL as written, or None for any other URL."""
    scheme = _SCHEME.match(url)
    rest = url[scheme.end() :] if scheme else url
    if not rest.startswith("//"):
        return None
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark, 2, end)
        if found >= 0:
            end = found
    return normal_authority(scheme.group()[:-1] if scheme else None, rest[2:end]) or None


def remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of an absolute path, as a browser does."""
    segments = path.split("/")[1:]
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        lowered = segment.lower()
        if lowered in _DOT_DOT:
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif lowered in _DOT:
            if i == last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def absolute_path(url: str, base_path: str | None, site: Site) -> str | None:
    """The path ``url`` points to on the site's own origin, or None if elsewhere.

    ``url`` has no query or fragment. ``base_path`` is the absolute path URLs
    resolve against (the document's, or its ``<base href>``), or None when the base
    is on another origin: then relative and root-relative URLs point there too, and
    only absolute URLs on the site's own origin are local.
    """
    scheme = _SCHEME.match(url)
    if scheme:
        name = scheme.group()[:-1]
        if name.lower() not in DEFAULT_PORTS:
            return None
        rest = url[scheme.end() :].replace("\\", "/")
        return _on_origin(name, rest, site) if rest.startswith("//") else None
    url = url.replace("\\", "/")
    if url.startswith("//"):
        return _on_origin(None, url, site)
    if base_path is None:
        return None
    if url.startswith("/"):
        return remove_dot_segments(url)
    return remove_dot_segments(base_path[: base_path.rfind("/") + 1] + url)


def _on_origin(scheme: str | None, rest: str, site: Site) -> str | None:
    end = rest.find("/", 2)
    authority = rest[2:end] if end >= 0 else rest[2:]
    if normal_authority(scheme, authority) not in site.origins:
        return None
    return remove_dot_segments(rest[end:]) if end >= 0 else "/"


def asset_key(path: str, site: Site) -> str | None:
    """The output-relative file path for an absolute URL path, or None if outside the site."""
    if not path.startswith(site.prefix):
        return None
    # A byte that is not UTF-8 stays that byte, as os.walk names such a file.
    key = unquote(path[len(site.prefix) :], errors="surrogateescape")
    if not key or key.endswith("/"):
        return None
    return key


def _escape_html(path: str) -> str:
    return path.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#39;")


def find_ref(
    text: str,
    start: int,
    end: int,
    base_path: str | None,
    site: Site,
    *,
    decode: Codec | None = None,
    encode: Codec | None = None,
) -> Ref | None:
    """Resolve the URL written at ``text[start:end]``; None unless it is site-local.

    ``decode`` undoes the escaping of where the URL stands (HTML entities, CSS
    escapes); it is used only when the written path actually contains escapes, so
    plain URLs are copied as written. The new path is then the written text resolved
    as it stands, when that names the same path (right for HTML entities, which
    rarely spell ``/`` or ``.``); otherwise, or when ``encode`` is given, the decoded
    path re-escaped by ``encode`` (needed for CSS, where a backslash is an escape, not
    a path separator), with its non-ASCII characters percent-encoded first, as the
    browser sends them, so it fits a document in any encoding.
    """
    while start < end and text[start] in HTML_SPACE:
        start += 1
    while end > start and text[end - 1] in HTML_SPACE:
        end -= 1
    value = text[start:end]
    resolved = resolve_value(value, base_path, site, decode, encode)
    if resolved is None:
        return None
    cut, key, path = resolved
    return Ref(start, end, key, path, value[cut:])


def resolve_value(
    value: str,
    base_path: str | None,
    site: Site,
    decode: Codec | None = None,
    encode: Codec | None = None,
) -> tuple[int, str, str] | None:
    """:func:`find_ref` for a URL written as ``value`` (no space around it): where its
    path ends in ``value`` (the suffix starts there), the key and the new path; None
    unless it is site-local."""
    # Only the folder of the base matters; themes repeat the same URLs on every page.
    base_dir = None if base_path is None else base_path[: base_path.rfind("/") + 1]
    if base_dir is not None and value.startswith("../"):
        # "../../img/a.png" names the same file from every page two folders deep.
        base_dir = _climbed(base_dir, dependence(value))
    return _resolve(value, base_dir, site, decode, encode)


#: A URL resolved the same against every folder (see :func:`dependence`).
ROOTED = -1


def dependence(value: str) -> int:
    """How :func:`resolve_value` of the URL written as ``value`` depends on the folder
    it resolves against: :data:`ROOTED` (a root-relative or absolute URL) only on
    whether there is one; ``n`` > 0 (it starts with ``n`` times ``../``) only on the
    folder ``n`` steps up (:func:`folder_key`); 0 on the folder itself."""
    if value.startswith("../"):
        return len(_LEADING_UPS.match(value).group()) // 3  # type: ignore[union-attr]
    # A scheme, a "/" or "//" is there once the entities are decoded too.
    if value.startswith("/") or _SCHEME.match(value):
        return ROOTED
    return 0


def folder_key(base_dir: str | None, dependence: int) -> str | None:
    """All that :func:`resolve_value` of a URL of this :func:`dependence` takes from the
    folder ``base_dir`` (None: the base is on another origin): a URL that resolves
    alike against two folders with the same key resolves alike against both."""
    if base_dir is None or dependence == 0:
        return base_dir
    if dependence == ROOTED:
        return ""
    return _climbed(base_dir, dependence)


@functools.lru_cache(maxsize=1 << 16)
def _resolve(
    value: str, base_dir: str | None, site: Site, decode: Codec | None, encode: Codec | None
) -> tuple[int, str, str] | None:
    """:func:`find_ref`'s work, remembered: (where the path ends, key, new path)."""
    cut = _path_end(value, decode)
    written = value[:cut]
    if not written:
        return None
    url = decode(written) if decode is not None else written
    path = absolute_path(url, base_dir, site)
    if path is None:
        return None
    key = asset_key(path, site)
    if key is None:
        return None
    if url != written and decode is not None:
        as_written = absolute_path(written, base_dir, site) if encode is None else None
        if as_written is None or decode(as_written) != path:
            as_written = (encode or _escape_html)(_NON_ASCII.sub(_percent_encode, path))
        path = as_written
    return cut, key, path


@functools.lru_cache(maxsize=1024)
def _climbed(base_dir: str, ups: int) -> str:
    """A folder that a URL starting with ``ups`` times ``../`` resolves against exactly
    as against ``base_dir``, and that is the same for every ``base_dir`` those steps
    lead to the same place from: the place reached, plus ``ups`` stand-in folders."""
    return remove_dot_segments(base_dir + "../" * ups) + "_/" * ups


def _path_end(value: str, decode: Codec | None) -> int:
    """Where the path ends in ``value``: at the first ``?`` or ``#`` of the URL it spells.

    With escapes, that mark may be written as one (``&#63;``), and a ``#`` may
    belong to one (``it&#39;s.png``), so the decoded URL decides, and the cut is the
    shortest written prefix that decodes to its path.
    """
    url = value if decode is None else decode(value)
    cut = _first_mark(url)
    if decode is None or url == value:
        return cut
    if cut == len(url):
        return len(value)
    path = url[:cut]
    for i, char in enumerate(value):
        if char in "?#&\\" and decode(value[:i]) == path:
            return i
    return len(value)


def _first_mark(url: str) -> int:
    cut = len(url)
    for mark in "?#":
        found = url.find(mark, 0, cut)
        if found >= 0:
            cut = found
    return cut


def _percent_encode(m: re.Match[str]) -> str:
    return quote(m.group(), safe="", errors="surrogateescape")
