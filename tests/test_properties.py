"""Property tests for the rewriters over generated HTML and CSS (a quick run; the long
run is ``python fuzz/run.py``)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from .strategies import check_rewrite, css_documents, html_documents


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_documents)
def test_html_rewrite_properties(text: str) -> None:
    check_rewrite(text, "blog/post.html")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(css_documents)
def test_css_rewrite_properties(text: str) -> None:
    check_rewrite(text, "theme/css/site.css")
