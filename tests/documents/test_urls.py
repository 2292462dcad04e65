"""URL rules that golden files cannot show: the keys references resolve to."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shard_assets.build.pipeline import shard_site
from shard_assets.config import Settings
from shard_assets.documents.urls import (
    ROOTED,
    Site,
    _resolve,
    asset_key,
    dependence,
    find_ref,
    folder_key,
    normal_authority,
    normal_host,
    resolve_value,
    url_host,
)

from ..conftest import png

SITE = Site.from_url("https://example.org/")


def _key(url: str, document_path: str = "/blog/post.html") -> str | None:
    ref = find_ref(url, 0, len(url), document_path, SITE, decode=html.unescape, encode=html.escape)
    return None if ref is None else ref.key


def test_entities_are_decoded_before_the_path_is_cut() -> None:
    assert _key("img/it&#39;s.png") == "blog/img/it's.png"
    assert _key("img/a&amp;b.png?x=1&amp;y=2") == "blog/img/a&b.png"
    assert _key("img/a.png&#63;v=1") == "blog/img/a.png"
    assert _key("&#35;fragment") is None


def test_undecodable_bytes_round_trip_between_paths_and_keys() -> None:
    # os.walk names a file whose name is not UTF-8 with lone surrogates.
    assert SITE.document_path("caf\udce9/index.html") == "/caf%E9/index.html"
    assert asset_key("/caf%E9/img/a.png", SITE) == "caf\udce9/img/a.png"
    assert _key("img/a.png", "/caf%E9/index.html") == "caf\udce9/img/a.png"


def test_a_page_with_an_undecodable_name_is_sharded(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    site = tmp_path / "site"
    page = site / "caf\udce9"
    page.mkdir(parents=True)
    (site / "img").mkdir()
    (site / "img" / "a.png").write_bytes(png())
    (page / "index.html").write_text('<img src="../img/a.png">', encoding="utf-8")
    result = shard_site(site, make_settings())
    assert result.references == 1
    assert "cdn" in (page / "index.html").read_text(encoding="utf-8")


_segments = st.sampled_from(["a", "b", "docs", "..", ".", "%2e", "%2E%2e", "", "x.y"])
_rests = st.sampled_from(
    ["img/a.png", "/img/a.png", "&#47;img/a.png", "..", "../", "&#46;&#46;/a.png", "?q", "#f"]
)


@given(
    base=st.lists(_segments, max_size=5).map(lambda s: "/" + "/".join(s) + "/page.html"),
    ups=st.integers(1, 6),
    rest=_rests,
)
def test_remembered_resolution_of_leading_dot_dots_is_exact(base: str, ups: int, rest: str) -> None:
    """find_ref resolves ``../`` URLs against a shared stand-in folder; same result."""
    value = "../" * ups + rest
    for decode, encode in ((html.unescape, None), (html.unescape, html.escape), (None, None)):
        ref = find_ref(value, 0, len(value), base, SITE, decode=decode, encode=encode)
        direct = _resolve.__wrapped__(  # type: ignore[attr-defined]
            value, base[: base.rfind("/") + 1], SITE, decode, encode
        )
        got = None if ref is None else (ref.end - len(ref.suffix), ref.key, ref.path)
        assert got == direct


_values = st.lists(
    st.sampled_from(
        [
            *("../", "./", "/", "//", "\\", "a", "img/a.png", "%2e%2e/", "&#46;&#46;/", "&#47;"),
            *("https:", "HTTPS://example.org/", "//example.org/", "data:", "x:", "?q", "#f", " "),
        ]
    ),
    max_size=6,
).map("".join)
_bases = st.one_of(
    st.none(),
    st.lists(_segments, max_size=5).map(lambda s: "/" + "/".join(s) + "/page.html"),
)


@settings(max_examples=500)
@given(value=_values, base=_bases, other=_bases)
@example(value="/img/a.png", base=None, other="/a/page.html")
@example(value="../img/a.png", base=None, other="/a/b/page.html")
@example(value="img/a.png", base="/a/page.html", other="/b/page.html")
def test_a_url_resolves_alike_in_folders_with_one_key(
    value: str, base: str | None, other: str | None
) -> None:
    """resolve_value's answer depends on the folder only through folder_key (what the
    HTML scanner remembers a tag's references by)."""
    folders = [None if b is None else b[: b.rfind("/") + 1] for b in (base, other)]
    kind = dependence(value)
    if folder_key(folders[0], kind) != folder_key(folders[1], kind):
        return
    for decode, encode in ((html.unescape, None), (html.unescape, html.escape), (None, None)):
        assert resolve_value(value, base, SITE, decode, encode) == resolve_value(
            value, other, SITE, decode, encode
        )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("../a.png", 1),
        ("../../../a.png", 3),
        ("../a/../b.png", 1),
        ("/a.png", ROOTED),
        ("//cdn.example.org/a.png", ROOTED),
        ("https://example.org/a.png", ROOTED),
        ("data:image/png;base64,x", ROOTED),
        ("a.png", 0),
        ("./a.png", 0),
        ("..", 0),
        ("&#46;&#46;/a.png", 0),
        ("&#47;a.png", 0),
    ],
)
def test_dependence(value: str, kind: int) -> None:
    assert dependence(value) == kind


@pytest.mark.parametrize(
    ("scheme", "netloc", "expected"),
    [
        # Lower-cased, without user info.
        ("https", "Me:secret@Example.ORG", "example.org"),
        # The scheme's own default port only.
        ("https", "example.org:443", "example.org"),
        ("HTTP", "example.org:80", "example.org"),
        ("http", "example.org:443", "example.org:443"),
        ("https", "example.org:80", "example.org:80"),
        ("https", "example.org:8443", "example.org:8443"),
        # A scheme-relative URL takes the page's scheme: either default.
        (None, "example.org:443", "example.org"),
        (None, "example.org:80", "example.org"),
        (None, "example.org:8080", "example.org:8080"),
        # An empty port is no port; a port is a number.
        ("https", "example.org:", "example.org"),
        ("https", "example.org:0443", "example.org"),
        ("http", "example.org:08080", "example.org:8080"),
        # IPv6 addresses keep their brackets.
        ("https", "[::1]:443", "[::1]"),
        ("http", "[FE80::1]:8080", "[fe80::1]:8080"),
        ("https", "[::1]", "[::1]"),
        # A trailing dot is another host to a browser; a Unicode name is not converted.
        ("https", "Example.ORG.:443", "example.org."),
        ("https", "BÜCHER.example", "bücher.example"),
    ],
)
def test_one_rule_for_every_host_and_authority(
    scheme: str | None, netloc: str, expected: str
) -> None:
    assert normal_authority(scheme, netloc) == expected
    url = f"{scheme}://{netloc}/a.png" if scheme else f"//{netloc}/a.png"
    assert url_host(url) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("CDN1.Example.com", "cdn1.example.com"),
        ("cdn1.example.com.", "cdn1.example.com."),
        ("127.0.0.1", "127.0.0.1"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_a_hostname_is_compared_lower_cased(host: str, expected: str) -> None:
    assert normal_host(host) == expected
    assert normal_authority("https", host) == expected


@pytest.mark.parametrize(
    ("url", "site_local"),
    [
        ("https://example.org/img/a.png", True),
        ("https://example.org:443/img/a.png", True),
        ("http://example.org:80/img/a.png", True),
        ("//example.org:443/img/a.png", True),
        # Changed by the one rule: :443 over http and :80 over https are other ports,
        # not the site's origin (each default port was dropped whatever the scheme).
        ("http://example.org:443/img/a.png", False),
        ("https://example.org:80/img/a.png", False),
        # Changed too: an empty port is no port (it was kept, and not the site's).
        ("https://example.org:/img/a.png", True),
        ("https://example.org./img/a.png", False),
    ],
)
def test_site_local_absolute_urls_follow_the_rule(url: str, site_local: bool) -> None:
    assert (_key(url) is not None) is site_local
