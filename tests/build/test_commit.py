"""The two-phase commit seen from the build (shard_assets/build/commit.py): what a
build that fails or is interrupted cleans up, and the state it says the output and
the manifest are in. Whole builds failing on real faults are tests/test_faults.py's."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.build.commit import StagedFiles, build_state, staged_writes
from shard_assets.errors import FaultError, LockedError, ShardAssetsError
from shard_assets.files import NOTHING_WRITTEN, TEMP_FILE
from shard_assets.interrupts import Interrupted
from shard_assets.messages import ALL_WRITTEN

NOTHING_REPLACED = (
    "Nothing was replaced: the output and the manifest are as they were, and the "
    "temporary files were removed"
)


def _disk_full(path: Path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMP_FILE.fullmatch(p.name))


DOCUMENTS = ("index.html", "blog/post.html", "css/site.css")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """An output folder with two pages and a stylesheet, and the manifest beside it."""
    site = tmp_path / "site"
    (site / "blog").mkdir(parents=True)
    (site / "css").mkdir()
    for name in DOCUMENTS:
        (site / name).write_bytes(b"old " + name.encode())
    (tmp_path / "manifest.json").write_bytes(b"old manifest")
    return site


def _contents(output: Path, but: str = "") -> dict[str, bytes]:
    """The documents' bytes (but the one named ``but``) and the manifest's."""
    files = {name: (output / name).read_bytes() for name in DOCUMENTS if name != but}
    files["manifest"] = (output.parent / "manifest.json").read_bytes()
    return files


def _stage_all(staged: StagedFiles, output: Path, *, manifest: bool = True) -> None:
    """Stage new contents for every document (and the manifest, last)."""
    for name in DOCUMENTS:
        staged.stage(output / name, b"new " + name.encode())
    if manifest:
        staged.stage(output.parent / "manifest.json", b"new manifest", last=True)


# ------------------------------------------------------------------------- build_state


@pytest.mark.parametrize(
    ("done", "state"), [(False, NOTHING_WRITTEN), (True, ALL_WRITTEN)], ids=["before", "after"]
)
def test_a_fault_becomes_a_fault_error_with_the_state(
    tmp_path: Path, done: bool, state: str
) -> None:
    with pytest.raises(FaultError) as raised, build_state() as written:
        written.done = done
        raise _disk_full(tmp_path / "index.html")
    error = raised.value
    assert (error.path, error.reason, error.state) == (
        str(tmp_path / "index.html"),
        "no space left on device",
        state,
    )
    assert error.fix.startswith("Free space on that disk")
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize(
    "make",
    [lambda: Interrupted(15), KeyboardInterrupt, lambda: RuntimeError("a bug")],
    ids=["SIGTERM", "Ctrl-C", "other"],
)
@pytest.mark.parametrize(
    ("done", "state"), [(False, NOTHING_WRITTEN), (True, ALL_WRITTEN)], ids=["before", "after"]
)
def test_anything_else_carries_the_state_as_a_note(
    make: Callable[[], BaseException], done: bool, state: str
) -> None:
    error = make()
    with pytest.raises(type(error)) as raised, build_state() as written:
        written.done = done
        raise error
    assert raised.value is error
    assert error.__notes__ == [state]


def test_a_note_given_inside_is_kept_alone() -> None:
    error = Interrupted(2)
    with pytest.raises(Interrupted), build_state() as written:
        written.done = True
        error.add_note("3 of 7 files were replaced")
        raise error
    assert error.__notes__ == ["3 of 7 files were replaced"]


@pytest.mark.parametrize(
    "make",
    [lambda: LockedError("the manifest would change"), lambda: FaultError("f", "r", "s", "x")],
    ids=["locked", "fault"],
)
def test_the_packages_own_errors_pass_as_they_are(make: Callable[[], ShardAssetsError]) -> None:
    error = make()
    with pytest.raises(ShardAssetsError) as raised, build_state():
        raise error
    assert raised.value is error
    assert not getattr(error, "__notes__", None)


def test_a_build_that_succeeds_is_left_alone() -> None:
    with build_state() as written:
        assert written.done is False
        written.done = True
    assert written.done


# ------------------------------------------------------------------------ staged_writes


def test_a_fault_before_the_renames_leaves_every_file_and_no_temporary(output: Path) -> None:
    before = _contents(output)
    with (
        pytest.raises(FaultError) as raised,
        staged_writes(output, DOCUMENTS, discard=None, needs=lambda: 3 << 20) as staged,
    ):
        _stage_all(staged, output)
        assert len(_temporaries(output.parent)) == 4
        raise _disk_full(output / "css" / "site.css")
    assert _contents(output) == before
    assert _temporaries(output.parent) == []
    error = raised.value
    assert error.path == str(output / "css" / "site.css")
    assert error.state == NOTHING_REPLACED
    assert "(the build needs about 3.0 MB for new copies of the files it changes)" in error.fix


def test_the_temporary_files_of_workers_are_removed_too(output: Path) -> None:
    # A worker process may have written one the build never heard of.
    strays = [
        output / "blog" / ".post.html.shard-assets-x1y2.tmp",
        output / ".a.shard-assets-z.tmp",
    ]
    for stray in strays:
        stray.write_bytes(b"half")
    # Only the documents' folders are looked in, and only this tool's temporary files.
    elsewhere = output.parent / ".other.shard-assets-q.tmp"
    elsewhere.write_bytes(b"")
    (output / "blog" / "notes.tmp").write_bytes(b"mine")
    with (
        pytest.raises(KeyboardInterrupt),
        staged_writes(output, DOCUMENTS, discard=None, needs=lambda: 0),
    ):
        raise KeyboardInterrupt
    assert not any(stray.exists() for stray in strays)
    assert elsewhere.exists() and (output / "blog" / "notes.tmp").exists()


def test_an_interrupt_before_the_renames_carries_the_state(output: Path) -> None:
    before = _contents(output)
    error = Interrupted(2)
    with (
        pytest.raises(Interrupted) as raised,
        staged_writes(output, DOCUMENTS, discard=None, needs=lambda: 0) as staged,
    ):
        _stage_all(staged, output)
        raise error
    assert raised.value is error
    assert error.__notes__ == [NOTHING_REPLACED]
    assert _contents(output) == before
    assert _temporaries(output.parent) == []


@pytest.mark.parametrize(
    ("kept", "said"),
    [
        (0, ""),
        (
            2,
            "; 2 page(s) the generator wrote could not be put back and stay sharded as "
            "they were handed over (with the manifest's hosts, those of the last good build, "
            "or on a first build the hosts guessed for it)",
        ),
    ],
)
def test_pages_handed_over_are_given_back(output: Path, kept: int, said: str) -> None:
    calls: list[int] = []

    def discard() -> int:
        calls.append(kept)
        return kept

    with (
        pytest.raises(KeyboardInterrupt) as raised,
        staged_writes(output, DOCUMENTS, discard=discard, needs=lambda: 0),
    ):
        raise KeyboardInterrupt
    assert calls == [kept]
    assert raised.value.__notes__ == [NOTHING_REPLACED + said]


@pytest.mark.parametrize(
    ("manifest", "state"),
    [
        (
            True,
            "1 of 4 files were replaced before it stopped, each one whole, and the others "
            "are as they were; the manifest is the old one",
        ),
        (
            False,
            "1 of 3 files were replaced before it stopped, each one whole, and the others "
            "are as they were; the manifest is unchanged",
        ),
    ],
)
def test_a_fault_during_the_renames_says_how_many_were_replaced(
    output: Path, manifest: bool, state: str
) -> None:
    before = _contents(output)
    with (
        pytest.raises(FaultError) as raised,
        staged_writes(output, DOCUMENTS, discard=None, needs=lambda: 0) as staged,
    ):
        _stage_all(staged, output, manifest=manifest)
        # The second file cannot be replaced any more: a folder took its name.
        (output / "blog" / "post.html").unlink()
        (output / "blog" / "post.html").mkdir()
        (output / "blog" / "post.html" / "x").write_bytes(b"")
        staged.commit()
    error = raised.value
    assert error.path == str(output / "blog" / "post.html")
    assert error.state == state
    after = _contents(output, but="blog/post.html")
    assert after["index.html"] == b"new index.html"
    assert after["css/site.css"] == before["css/site.css"]
    assert after["manifest"] == before["manifest"]
    assert _temporaries(output.parent) == []


def test_an_interrupt_after_the_renames_says_everything_is_new(output: Path) -> None:
    with (
        pytest.raises(KeyboardInterrupt) as raised,
        staged_writes(output, DOCUMENTS, discard=None, needs=lambda: 0) as staged,
    ):
        _stage_all(staged, output)
        staged.commit()
        raise KeyboardInterrupt
    assert raised.value.__notes__ == [
        "4 of 4 files were replaced before it stopped, each one whole, and the others are "
        "as they were; the manifest is the new one"
    ]
    assert _contents(output) == {
        **{name: b"new " + name.encode() for name in DOCUMENTS},
        "manifest": b"new manifest",
    }


def test_a_build_that_succeeds_commits_and_cleans_nothing(output: Path) -> None:
    def discard() -> int:
        raise AssertionError("nothing to give back")

    stray = output / ".index.html.shard-assets-k.tmp"
    with staged_writes(output, DOCUMENTS, discard=discard, needs=lambda: 0) as staged:
        _stage_all(staged, output)
        stray.write_bytes(b"")  # a killed build's: the pipeline removes those itself
        staged.commit()
    assert stray.exists()
    assert _contents(output)["manifest"] == b"new manifest"
