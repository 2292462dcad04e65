"""Property tests for the rewriters over generated HTML and CSS (a quick run; the long
run is ``python fuzz/run.py``)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings

from .strategies import check_rewrite, css_documents, html_documents


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_documents)
# Found by fuzz/run.py: a lone surrogate (an invalid UTF-8 byte) in a URL.
@example('<img src="img/a.png\udcff<img">')
def test_html_rewrite_properties(text: str) -> None:
    check_rewrite(text, "blog/post.html")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(css_documents)
# Found by fuzz/run.py: a bad string inside image-set(), and an escaped newline.
@example("b { background: image-set(\"':\\\" 1x, url('':\\') 2x) }\n")
@example("a { background: url(\\a) }\n")
@example("a { background: url(\\a:) }\n")
def test_css_rewrite_properties(text: str) -> None:
    check_rewrite(text, "theme/css/site.css")
