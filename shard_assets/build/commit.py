"""The build's two-phase commit seen from the build: the staged files of its write
phase (:class:`shard_assets.files.StagedFiles`), and when it fails or is interrupted,
the clean-up and the state the output and the manifest are in."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from ..errors import ShardAssetsError, fault
from ..files import NOTHING_WRITTEN, StagedFiles, remove_temporaries
from ..interrupts import held
from ..messages import ALL_WRITTEN, abandoned_state


class Written:
    """Whether a build has written its files (the build sets :attr:`done`)."""

    done = False


@contextlib.contextmanager
def build_state() -> Iterator[Written]:
    """Say what state a build that fails by a fault or an interrupt leaves the files
    in: an :class:`OSError` becomes a :class:`shard_assets.errors.FaultError`, anything
    else (an interrupt) carries the state as a note unless it carries one already
    (from :func:`staged_writes`). A :class:`ShardAssetsError` passes as it is."""
    written = Written()
    try:
        yield written
    except ShardAssetsError:
        raise
    except BaseException as error:
        state = ALL_WRITTEN if written.done else NOTHING_WRITTEN
        if isinstance(error, OSError):
            raise fault(error, state) from None
        if not getattr(error, "__notes__", None):
            error.add_note(state)
        raise


@contextlib.contextmanager
def staged_writes(
    output_dir: Path,
    documents: Collection[str],
    *,
    discard: Callable[[], int] | None,
    needs: Callable[[], int],
) -> Iterator[StagedFiles]:
    """The staged files of a build's write phase over ``documents``.

    A failure inside gives back the pages a generator handed over (``discard``, how
    many could not be put back), removes every temporary file, and says what state the
    files are in: an :class:`OSError` becomes a :class:`shard_assets.errors.FaultError`
    (``needs()``: the bytes the new files take), anything else (an interrupt) carries
    it as a note.
    """
    staged = StagedFiles()
    try:
        yield staged
    except BaseException as error:
        state = _abandon(staged, output_dir, documents, discard)
        if isinstance(error, OSError):
            raise fault(error, state, needs=needs()) from None
        error.add_note(state)
        raise


def _abandon(
    staged: StagedFiles,
    output_dir: Path,
    documents: Collection[str],
    discard: Callable[[], int] | None,
) -> str:
    """Clean up after a build that failed or was interrupted while it wrote, and say
    what state the output and the manifest are in."""
    with held():  # a second interrupt (or a first, after a fault) waits for the clean-up
        kept = discard() if discard is not None else 0
        staged.discard()
        # Worker processes may have written temporary files the build never heard of.
        remove_temporaries(output_dir, documents)
    return abandoned_state(
        committing=staged.committing,
        replaced=staged.replaced,
        total=len(staged),
        manifest_staged=bool(staged.last),
        kept=kept,
    )
