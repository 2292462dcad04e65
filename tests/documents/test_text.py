"""Decoding documents as browsers do, without losing a byte."""

from __future__ import annotations

import pytest

from shard_assets.documents.text import decode_document


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO-8859-1", "latin1", "us-ascii"])
def test_latin1_and_ascii_labels_read_as_windows_1252(label: str) -> None:
    data = f'<meta charset="{label}"><img src="\x80uro.png">\x81'.encode("latin-1")
    decoded = decode_document(data, is_css=False)
    assert decoded is not None
    assert decoded.encoding == "cp1252"
    assert '"€uro.png"' in decoded.text
    assert decoded.encode(decoded.text) == data


def test_css_charset_is_read_the_same_way() -> None:
    data = b'@charset "iso-8859-1";\na { background: url(\x80.png) }'
    decoded = decode_document(data, is_css=True)
    assert decoded is not None
    assert "url(€.png)" in decoded.text
    assert decoded.encode(decoded.text) == data
