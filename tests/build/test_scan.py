"""Pass one's kept spans (shard_assets/build/scan.py, KeptSpans) and pass two's tasks
made from them (shard_assets/build/rewrite.py, rewrite_tasks)."""

from __future__ import annotations

from array import array

import pytest

from shard_assets.build import scan
from shard_assets.build.rewrite import Rewrite, rewrite_tasks
from shard_assets.build.scan import KeptSpans

#: (document, stamp, spans: start, end, target, crossorigin_at for each reference)
DOCUMENTS = [
    ("index.html", (120, 7), [10, 30, 0, -1, 40, 52, 1, 38]),
    ("blog/a.html", (99, 8), [5, 9, 2, -1]),
    ("css/site.css", (64, 9), [1, 20, 0, -1, 22, 40, 3, -1, 41, 60, 1, -1]),
    ("blog/b.html", (1 << 40, 1 << 62), [0, 1 << 33, 4, -1]),
]


def kept(documents: list[tuple[str, tuple[int, int], list[int]]]) -> KeptSpans:
    spans = KeptSpans()
    for document, stamp, found in documents:
        spans.keep(document, stamp, array("q", found))
    return spans


@pytest.mark.parametrize(("budget", "held"), [(scan.SPAN_BUDGET, 28), (8, 8), (0, 0)])
def test_kept_spans_come_back_in_order_from_memory_or_the_file(
    budget: int, held: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8: the first in memory, the rest in the temporary file; 0: all in the file.
    monkeypatch.setattr(scan, "SPAN_BUDGET", budget)
    spans = kept(DOCUMENTS)
    expected = [(d, (stamp, array("q", found))) for d, stamp, found in DOCUMENTS]
    assert list(spans.items()) == expected
    assert list(spans.items()) == expected  # read again, from the same file
    assert list(spans.values()) == [entry for _, entry in expected]
    assert list(spans) == [d for d, _, _ in DOCUMENTS]
    assert len(spans) == len(DOCUMENTS)
    assert spans.held == held
    for document, entry in reversed(expected):
        assert spans[document] == entry
    assert "css/site.css" in spans
    assert "missing.html" not in spans
    with pytest.raises(KeyError):
        spans["missing.html"]
    # Kept after a lookup built the index: found too.
    spans.keep("late.html", (1, 2), array("q", [3, 4, 0, -1]))
    assert spans["late.html"] == ((1, 2), array("q", [3, 4, 0, -1]))
    assert list(spans)[-1] == "late.html"


def test_the_budget_is_counted_in_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "SPAN_BUDGET", 12)
    spans = kept(DOCUMENTS)
    # index.html (8) fits, blog/a.html (4) fits exactly, the others go to the file.
    assert spans.held == 12
    assert spans._file is not None
    assert dict(spans.items()) == {d: (s, array("q", f)) for d, s, f in DOCUMENTS}


def test_no_file_within_the_budget() -> None:
    spans = kept(DOCUMENTS)
    assert spans._file is None
    assert spans.held == sum(len(f) for _, _, f in DOCUMENTS)


def test_rewrite_tasks_send_the_spans_of_documents_with_a_new_url() -> None:
    spans = kept(DOCUMENTS)
    # Targets 0 and 1 have a new URL; 2, 3 and 4 none (no host: kept as they are).
    urls = [("https://cdn1.example.com/a.png", "cdn1.example.com")] * 2 + [None] * 3
    tasks = list(rewrite_tasks(urls, spans, frozenset({"blog/b.html", "css/other.css"})))
    assert tasks == [
        Rewrite("index.html", (120, 7), array("q", DOCUMENTS[0][2])),
        # blog/a.html: its one target has no new URL, nothing to do.
        Rewrite("css/site.css", (64, 9), array("q", DOCUMENTS[2][2])),
        Rewrite("blog/b.html", (1 << 40, 1 << 62), None),  # restyled: scanned again
        Rewrite("css/other.css", (0, 0), None),
    ]
