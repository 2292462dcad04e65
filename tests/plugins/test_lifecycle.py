"""The build lifecycle's helpers shared by the adapters."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from shard_assets.plugins.lifecycle import BuildLifecycle, PageBuffer, copied_files


def test_copied_files_lists_folders_and_files_under_the_target(tmp_path: Path) -> None:
    """As Pelican copies THEME_STATIC_PATHS into THEME_STATIC_DIR: a folder's files
    keep their path below it, a file its name, and IGNORE_FILES patterns are skipped."""
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "css" / "main.css").write_text("a{}")
    (tmp_path / "static" / "logo.png").write_bytes(b"png")
    (tmp_path / "static" / ".#logo.png").write_bytes(b"lock")
    (tmp_path / "favicon.ico").write_bytes(b"ico")
    sources = [tmp_path / "static", tmp_path / "favicon.ico", tmp_path / "missing"]
    assert list(copied_files(sources, "theme", [".#*"])) == [
        "theme/css/main.css",
        "theme/logo.png",
        "theme/favicon.ico",
    ]
    assert list(copied_files([tmp_path / "favicon.ico"], "", ())) == ["favicon.ico"]


class _Interrupted:
    """A build whose ``page`` is interrupted, as by Ctrl-C while it shards."""

    calls = 0

    def page(self, text: str, document: str) -> str | None:
        self.calls += 1
        raise KeyboardInterrupt


def test_a_page_buffer_interrupted_while_closing_is_closed_once(tmp_path: Path) -> None:
    """Ctrl-C out of the build's ``page``: the generator's page is written as it was,
    and the buffer is closed, so the close of its finalizer (at the garbage
    collection) does nothing, rather than write to the closed file ("Exception ignored
    in ... I/O operation on closed file" as Pelican exited, seen in CI)."""
    build = _Interrupted()
    page = tmp_path / "page.html"
    buffer = PageBuffer(page.open("w"), cast(BuildLifecycle, build), "page.html")
    buffer.write("<p>text</p>")
    with pytest.raises(KeyboardInterrupt):
        buffer.close()
    assert buffer.closed
    buffer.close()  # what IOBase's finalizer does
    assert build.calls == 1
    assert page.read_text() == "<p>text</p>"
