"""A long fuzz run of the rewriters: ``python fuzz/run.py [EXAMPLES]``.

Runs the same properties as tests/test_properties.py (never raises, idempotent, only
URL text changes, every site-local reference on its ring host) over many more
generated HTML and CSS documents, and prints how many were tried and how many
failed. Hypothesis stops at the first failure and shrinks it; the failing document
is printed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.strategies import check_rewrite, css_documents, html_documents


def run(kind: str, examples: int) -> tuple[int, int]:
    tried = 0
    strategy, document = (
        (html_documents, "blog/post.html") if kind == "html" else (css_documents, "css/site.css")
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def prop(text: str) -> None:
        nonlocal tried
        tried += 1
        check_rewrite(text, document)

    try:
        prop()
    except Exception as error:  # report and count, do not hide
        print(f"{kind}: FAILED: {error!r}")
        return tried, 1
    return tried, 0


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    failures = 0
    for kind in ("html", "css"):
        started = time.perf_counter()
        tried, failed = run(kind, examples)
        failures += failed
        seconds = time.perf_counter() - started
        print(f"{kind}: {tried} documents tried, {failed} failures, {seconds:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
