"""Writing files atomically, staging a build's writes, and the manifest's lock."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import LockHeldError, fault
from .interrupts import held
from .parallel import run_each

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: builds are not locked there
    fcntl = None  # type: ignore[assignment]

#: The state of the files after a build that failed before it wrote anything.
NOTHING_WRITTEN = "Nothing was written: the output and the manifest are as they were"

#: The temporary files :func:`atomic_write` creates; a build that was killed may
#: leave one behind, and the next build deletes it.
TEMP_FILE = re.compile(r"\..+\.shard-assets-[A-Za-z0-9_]+\.tmp")


def atomic_write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one.

    The temporary file is written in the same folder (and fsynced, with ``sync``),
    takes the old file's permission bits, and is renamed over the target with
    ``os.replace``.
    """
    with held():  # an interrupt waits until the temporary file is renamed or removed
        temp = write_temporary(path, data, sync=sync)
        try:
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise


def write_temporary(path: Path, data: bytes, *, sync: bool = True) -> str:
    """Write ``data`` to a new temporary file beside ``path`` (fsynced with ``sync``,
    with the permission bits ``path`` has, or would get) and return its name; renaming
    it over ``path`` then replaces the file atomically."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temp = -1, ""
    try:
        with held():  # an interrupt comes once the file's name is known, to remove it
            fd, temp = tempfile.mkstemp(
                prefix=f".{path.name}.shard-assets-", suffix=".tmp", dir=path.parent
            )
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
        os.fchmod(fd, mode)
    except BaseException as error:
        if fd >= 0:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        if isinstance(error, OSError):
            raise _naming(error, path) from None
        raise
    os.close(fd)
    return temp


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` naming ``path`` (the file the user knows), not a temporary file."""
    return OSError(error.errno, error.strerror, str(path))


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
    cannot be replaced (checked while writing, see :func:`ensure_replaceable`) or a
    folder removed meanwhile. The price is room on the disk for a new copy of every
    file at once, and the renames run on the workers as the writes do: on ext4 a
    rename over an existing file starts writing the new one out, and one process
    doing all of them was slower (benchmarks/commit_order.py).
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, Path]] = []
        #: Files staged to be renamed after all the others (the manifest).
        self.last: list[tuple[str, Path]] = []
        self.replaced = 0
        self.committing = False

    def __len__(self) -> int:
        return len(self.pending) + len(self.last)

    def _staged(self) -> tuple[tuple[str, Path], ...]:
        return (*self.pending, *self.last)

    def add(self, temp: str, target: Path) -> None:
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


def _replace(_: None, pair: tuple[str, Path]) -> None:
    temp, target = pair
    try:
        os.replace(temp, target)
    except OSError as error:
        raise _naming(error, target) from None


def remove_temporaries(output_dir: Path, documents: Iterable[str]) -> None:
    """Remove this tool's temporary files beside ``documents`` (paths relative to
    ``output_dir``), after a failed or interrupted build: worker processes may have
    written some the build never heard of."""
    for folder in sorted({os.path.dirname(document) for document in documents}):
        with contextlib.suppress(OSError), os.scandir(output_dir / folder) as entries:
            for entry in entries:
                if TEMP_FILE.fullmatch(entry.name):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


#: ``FS_IOC_GETFLAGS`` and the inode flags that stop a rename over a file even for root.
_FS_IOC_GETFLAGS = 0x80086601
_IMMUTABLE_OR_APPEND_ONLY = 0x10 | 0x20


def ensure_replaceable(path: Path) -> None:
    """Raise :class:`PermissionError` when ``path`` is immutable or append-only (Linux
    ``chattr +i``/``+a``), so that the renames of :class:`StagedFiles` do not fail
    half-way. Where the flags cannot be read, nothing is checked."""
    if fcntl is None or not sys.platform.startswith("linux"):
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return  # the write or the rename says why
    try:
        flags = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
    except OSError:
        return  # a filesystem without inode flags
    finally:
        os.close(fd)
    if int.from_bytes(flags[:4], sys.byteorder) & _IMMUTABLE_OR_APPEND_ONLY:
        raise PermissionError(
            errno.EPERM, "Operation not permitted (the file is immutable or append-only)", str(path)
        )


#: File descriptors of the locks this process holds. A forked worker closes its
#: copies at once: an flock lasts while any copy of its descriptor is open, and a
#: worker outliving a killed build must not keep the next build out.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


@contextlib.contextmanager
def manifest_lock(manifest: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``manifest`` for the duration of a build.

    The lock is ``flock`` on ``.<manifest name>.lock``: the kernel releases it when
    the process dies, so a killed build never leaves a stale lock. A second build
    fails at once with a message instead of interleaving its writes.
    """
    if fcntl is None or not manifest.parent.is_dir():
        yield
        return
    path = manifest.with_name(f".{manifest.name}.lock")
    fd = -1
    try:
        # An interrupt between creating the lock file and setting up its removal would
        # leave it behind: Ctrl-C and SIGTERM wait until both are done, and the same
        # for the removal.
        with held():
            fd = _take_lock(path, manifest)
            _HELD_LOCKS.add(fd)
        yield
    finally:
        if fd >= 0:
            with held():
                with contextlib.suppress(OSError):  # an immutable folder keeps it, unlocked
                    os.unlink(path)
                _HELD_LOCKS.discard(fd)
                os.close(fd)


def _take_lock(path: Path, manifest: Path) -> int:
    assert fcntl is not None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise fault(error, NOTHING_WRITTEN) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(
                f"{manifest}: another shard-assets build is using this manifest (lock {path} "
                "is held); wait for it to finish, or give each build its own manifest"
            ) from None
        # The holder before us may have deleted the file after we opened it.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
