"""Hypothesis strategies for HTML and CSS documents full of URLs, and the properties
every rewrite must keep. Shared by ``tests/test_properties.py`` (a quick run in the
suite) and ``fuzz/run.py`` (a long run)."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from shard_assets.build.rewrite import Sharder, UrlRules
from shard_assets.config import load_settings
from shard_assets.placement.ring import Host, Ring

HOSTS = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com"]
RING = Ring([Host(h) for h in HOSTS])
SETTINGS = load_settings(
    {"hosts": HOSTS, "site_url": "https://example.org/", "attributes": ["img[data-src]"]},
    base_dir=__import__("pathlib").Path("."),
    source="fuzz",
)
SHARD_URL = re.compile(r"https://cdn[1-3]\.example\.com/")

urls = st.one_of(
    st.sampled_from(
        [
            "img/a.png",
            "/img/a.png",
            "../img/b.png",
            "./c.png",
            "img/a.png?v=1&amp;x=2#f",
            "https://example.org/img/d.png",
            "//example.org/img/e.png",
            "http://example.org/f.png",
            "https://other.net/g.png",
            "data:image/png;base64,AAAA",
            "#frag",
            "mailto:a@b.c",
            "img/caf%C3%A9.png",
            "img/café 1.png",
            "img/a,b.png",
            "..%2f..%2fetc/passwd",
            "",
            " ",
            "img/<x>.png",
            'img/"q".png',
            "img/'s.png",
            "javascript:alert(1)",
        ]
    ),
    st.text(alphabet="abc/.%?#&;:=, '\"<>()\\", max_size=12),
)
quote = st.sampled_from(['"', "'", ""])
names = st.sampled_from(
    ["img", "IMG", "script", "link", "source", "a", "div", "video", "use", "image"]
)
attributes = st.sampled_from(
    ["src", "SRC", "href", "srcset", "poster", "data-src", "xlink:href", "style", "rel"]
)


@st.composite
def tags(draw: st.DrawFn) -> str:
    parts = [f"<{draw(names)}"]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(attributes)
        q = draw(quote)
        if name == "rel":
            value = draw(st.sampled_from(["stylesheet", "icon", "canonical", "preload"]))
        elif name == "srcset":
            value = ", ".join(
                f"{draw(urls)} {draw(st.sampled_from(['1x', '2x', '480w', '']))}"
                for _ in range(draw(st.integers(1, 3)))
            )
        elif name == "style":
            value = f"background: url({draw(urls)})"
        else:
            value = draw(urls)
        parts.append(f" {name}={q}{value}{q}")
    parts.append(draw(st.sampled_from([">", "/>", " >", ""])))
    return "".join(parts)


chunks = st.one_of(
    tags(),
    st.sampled_from(
        [
            "<!-- <img src=img/a.png> -->",
            "<![CDATA[ <img src=img/a.png> ]]>",
            "<script>",
            "</script>",
            "<style>a{background:url(img/a.png)}</style>",
            "<textarea>",
            "</textarea>",
            '<pre><code>&lt;img src="img/a.png"&gt;</code></pre>',
            '<base href="/sub/">',
            "<",
            ">",
            "&amp;",
            '"',
            "'",
            "\r\n",
            "\x00",
            "\udcff",
            "é",
            "<!--",
            "-->",
        ]
    ),
    st.text(max_size=20),
)
html_documents = st.lists(chunks, max_size=25).map("".join)

css_chunks = st.one_of(
    urls.map(lambda u: f"a {{ background: url({u}) }}\n"),
    urls.map(lambda u: f'@import "{u}";\n'),
    urls.map(lambda u: f"b {{ background: image-set(\"{u}\" 1x, url('{u}') 2x) }}\n"),
    st.sampled_from(["/*", "*/", '"', "'", "(", ")", "\\", "url(", "@import", "{", "}", ";"]),
    st.text(max_size=20),
)
css_documents = st.lists(css_chunks, max_size=20).map("".join)


def shard(text: str, document: str) -> tuple[str, Sharder]:
    """Rewrite ``text`` as a build would, every referenced file existing."""
    sharder = Sharder(UrlRules.of(SETTINGS))
    keys = {ref.key for ref in sharder.find_refs(text, document)}
    hosts = {key: RING.lookup(key) for key in keys}
    rewritten, _ = sharder.rewrite(text, document, hosts)
    return rewritten, sharder


def check_rewrite(text: str, document: str) -> None:
    """The properties: never raises, idempotent, only URL text changes, and every
    site-local reference ends up on the host the ring assigns."""
    once, sharder = shard(text, document)
    twice, _ = shard(once, document)
    assert twice == once, "a second run changed the output"
    # The output is the input with some URL spans replaced by shard URLs, and
    # nothing else: rebuild it from the input's pieces between the spans.
    rebuilt, last = [], 0
    for ref in sorted(sharder.find_refs(text, document), key=lambda r: r.start):
        if ref.start < last:
            continue
        url = f"https://{RING.lookup(ref.key)}{ref.path}{ref.suffix}"
        rebuilt += (text[last : ref.start], url)
        last = ref.end
    rebuilt.append(text[last:])
    assert "".join(rebuilt) == once
    # Every site-local reference of the output is on its ring host.
    for ref in Sharder(UrlRules.of(SETTINGS)).find_refs(once, document):
        written = once[ref.start : ref.end]
        assert SHARD_URL.match(written), written
        assert written.startswith(f"https://{RING.lookup(ref.key)}/"), written
