"""The build comparison catches what it is meant to catch."""

from __future__ import annotations

from pathlib import Path

import pytest

from .compare import compare_builds
from .conftest import HOSTS, png

SITE_URL = "https://example.org/"
PAGE = '<link rel="stylesheet" href="css/a.css"><img src="img/a.png" alt="a, b">{}\n'
CSS = ".a { background: url(../img/a.png) }\n"
GOOD_PAGE = PAGE.replace("css/a.css", "https://cdn1.example.com/css/a.css").replace(
    "img/a.png", "https://cdn2.example.com/img/a.png"
)
GOOD_CSS = CSS.replace("../img/a.png", "https://cdn2.example.com/img/a.png")


def _build(root: Path, page: str, css: str) -> Path:
    (root / "css").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "img" / "a.png").write_bytes(png())
    (root / "css" / "a.css").write_text(css, encoding="utf-8")
    (root / "index.html").write_text(page, encoding="utf-8")
    return root


def _problems(tmp_path: Path, page: str, css: str = GOOD_CSS, extra: str = "") -> list[str]:
    plain = _build(tmp_path / "plain", PAGE.format(extra), CSS)
    sharded = _build(tmp_path / "sharded", page.format(extra), css)
    return compare_builds(plain, sharded, SITE_URL, HOSTS).problems


def test_a_correct_rewrite_passes(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD_PAGE) == []


@pytest.mark.parametrize(
    ("page", "css", "problem"),
    [
        (GOOD_PAGE.replace('alt="a, b"', 'alt="ab"'), GOOD_CSS, "tokens"),
        (GOOD_PAGE.replace('alt="a, b"', 'alt="a; b"'), GOOD_CSS, "not a shard URL"),
        (
            GOOD_PAGE.replace("cdn2.example.com/img/a.png", "cdn2.example.com/img/b.png"),
            GOOD_CSS,
            "names something else",
        ),
        (
            GOOD_PAGE.replace("https://cdn2.example.com/img/a.png", "img/a.png"),
            GOOD_CSS,
            "left unsharded",
        ),
        (GOOD_PAGE, CSS, "left unsharded"),
    ],
)
def test_a_wrong_rewrite_is_caught(tmp_path: Path, page: str, css: str, problem: str) -> None:
    problems = _problems(tmp_path, page, css)
    assert any(problem in p for p in problems), problems


def test_use_must_stay_on_the_origin(tmp_path: Path) -> None:
    use = '<svg><use href="{}img/a.png#i"/></svg>'
    page = GOOD_PAGE.replace("{}", use.format("https://cdn2.example.com/"))
    plain = _build(tmp_path / "plain", PAGE.replace("{}", use.format("")), CSS)
    sharded = _build(tmp_path / "sharded", page, GOOD_CSS)
    problems = compare_builds(plain, sharded, SITE_URL, HOSTS).problems
    assert any("<use>" in p for p in problems), problems
