"""The build's two-phase commit: :class:`StagedFiles` (every new file written, then
all renamed into place) and, when the build fails or is interrupted, the clean-up
and the state the output and the manifest are left in."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from ..errors import ShardAssetsError, fault
from ..files import NOTHING_WRITTEN, naming, remove_temporaries, write_temporary
from ..interrupts import held
from ..messages import ALL_WRITTEN, abandoned_state
from ..parallel import run_each


class StagedFiles:
    """Files replaced together, in two phases.

    Every new content is first written to a temporary file beside its target
    (:meth:`stage`, or :meth:`add` for one written elsewhere); only when all were
    written are they renamed over their targets, those staged ``last`` after all the
    others (:meth:`commit`).
    A fault or an interrupt while writing leaves every target as it was
    (:meth:`discard` removes the temporary files); one during the renames leaves each
    target old or new, and :attr:`replaced` says how many are new.

    Why this order: a full disk or an unwritable folder fails a write, and the writes
    come first, so they fail before any file changed. Renames only fail on a file that
    cannot be replaced (checked while writing, see
    :func:`shard_assets.files.ensure_replaceable`) or a folder removed meanwhile.
    The price is room on the disk for a new copy of every file at once, and the
    renames run on the workers as the writes do: on ext4 a rename over an existing
    file starts writing the new one out, and one process doing all of them was
    slower (benchmarks/commit_order.py).
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, str | Path]] = []
        #: Files staged to be renamed after all the others (the manifest).
        self.last: list[tuple[str, str | Path]] = []
        self.replaced = 0
        self.committing = False

    def __len__(self) -> int:
        return len(self.pending) + len(self.last)

    def _staged(self) -> tuple[tuple[str, str | Path], ...]:
        return (*self.pending, *self.last)

    def add(self, temp: str, target: str | Path) -> None:
        """Rename ``temp`` over ``target`` at :meth:`commit`."""
        self.pending.append((temp, target))

    def stage(self, target: Path, data: bytes, *, sync: bool = False, last: bool = False) -> None:
        """Write ``data`` to a temporary file beside ``target``, to replace it at
        :meth:`commit` (after every other file, with ``last``)."""
        with held():  # kept before an interrupt can stop the build: discard() removes it
            temp = write_temporary(target, data, sync=sync)
            if last:
                self.last.append((temp, target))
            else:
                self.add(temp, target)

    def commit(self, jobs: int = 1) -> None:
        """Rename every temporary file over its target, on up to ``jobs`` processes,
        then the ones staged ``last``, in this process; on a fault, remove the temporary files
        not renamed and raise (naming the target). :attr:`replaced` counts the files
        renamed, whatever stopped the renames."""
        self.committing = True
        try:
            with contextlib.closing(
                run_each(_replace, self.pending, None, jobs, count=len(self.pending))
            ) as done:
                for _ in done:
                    pass
            for pair in self.last:
                _replace(None, pair)
        except BaseException:
            # Workers may have renamed more than the results said: a renamed file is gone.
            self.replaced = sum(not os.path.lexists(temp) for temp, _ in self._staged())
            self.discard()
            raise
        self.replaced = len(self)

    def discard(self) -> None:
        """Remove the temporary files not renamed yet."""
        for temp, _ in self._staged():  # a renamed one is gone
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _replace(_: None, pair: tuple[str, str | Path]) -> None:
    temp, target = pair
    try:
        os.replace(temp, target)
    except OSError as error:
        raise naming(error, target) from None


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
