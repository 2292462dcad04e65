"""Golden rewriting cases: ``golden/<kind>/<name>.in.<ext>`` -> ``<name>.out.<ext>``.

Each case may have ``<name>.json`` with options: ``document`` (the file's
output-relative path), ``site_url``, ``attributes``, ``scheme``, ``preconnect``,
``cors_assets``, ``stylesheets``, ``exclude``. Every referenced
file exists except paths containing ``missing``; pages (``.html``) and excluded files
are never sharded, as in a real build, and a stylesheet is itself on a shard host
unless excluded (so its relative URLs resolve against that host). CORS-mode assets
stay on the origin, as by default (``cors_assets: origin``); the cases about how such
URLs are recognised and sharded say ``"cors_assets": "shard"``. Stylesheets and scripts
are sharded (``stylesheets: shard``) unless a case says ``"stylesheets":
"origin"`` (the default of a real build): the cases are about how their URLs are
found and rewritten. Hosts come from the
ketama ring over four hosts. Each case also checks that a second run changes nothing.

To (re)write an expected file after reviewing the change by eye, run
``SHARD_ASSETS_REGENERATE=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shard_assets.build.rewrite import Sharder, UrlRules
from shard_assets.config import load_settings
from shard_assets.documents.inventory import is_page
from shard_assets.documents.text import decode_document
from shard_assets.kept import KEPT, kept_assets
from shard_assets.placement.ring import Host, Ring

GOLDEN = Path(__file__).parent / "golden"
HOSTS = ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com", "cdn4.example.com"]
RING = Ring([Host(h) for h in HOSTS])
CASES = sorted(GOLDEN.glob("*/*.in.*"))


def _shard(case: Path, data: bytes) -> bytes:
    name = case.name.split(".in.")[0]
    options_file = case.with_name(name + ".json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    is_css = case.suffix == ".css"
    document = options.pop("document", "css/site.css" if is_css else "blog/post.html")
    settings = load_settings(
        {"hosts": HOSTS, "site_url": "https://example.org/", "stylesheets": "shard", **options},
        base_dir=case.parent,
        source=case.name,
    )
    sharder = Sharder(UrlRules.of(settings))
    decoded = decode_document(data, is_css)
    assert decoded is not None, f"{case.name}: cannot be decoded"
    refs = list(sharder.find_refs(decoded.text, document))
    keys = {
        ref.key
        for ref in refs
        if "missing" not in ref.key and not is_page(ref.key) and not sharder.is_excluded(ref.key)
    }
    if is_css and not sharder.is_excluded(document):
        keys.add(document)
    # As a build does: an asset fetched in CORS mode anywhere (here: in this document),
    # and with stylesheets: origin, every stylesheet and script.
    kept = kept_assets(
        keys,
        {ref.key for ref in refs if ref.cors},
        cors_assets=settings.cors_assets,
        stylesheets=settings.stylesheets,
    )
    hosts = {key: KEPT if key in kept else RING.lookup(key) for key in keys}
    text, _ = sharder.rewrite(decoded.text, document, hosts)
    return decoded.encode(text)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.parent.name}/{c.name.split('.in.')[0]}" for c in CASES]
)
def test_golden(case: Path) -> None:
    expected_path = case.with_name(case.name.replace(".in.", ".out.", 1))
    actual = _shard(case, case.read_bytes())
    if os.environ.get("SHARD_ASSETS_REGENERATE"):
        expected_path.write_bytes(actual)
    assert actual == expected_path.read_bytes()
    assert _shard(case, actual) == actual, "a second run must change nothing"


def test_corpus_covers_the_cases() -> None:
    assert len(CASES) >= 60
