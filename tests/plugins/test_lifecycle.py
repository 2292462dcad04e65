"""The build lifecycle's helpers shared by the adapters."""

from __future__ import annotations

from pathlib import Path

from shard_assets.plugins.lifecycle import copied_files


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
