"""Writing files atomically, the temporary files that takes (and removing those a
build left), and the manifest's lock."""

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


def write_temporary(path: str | Path, data: bytes, *, sync: bool = True) -> str:
    """Write ``data`` to a new temporary file beside ``path`` (fsynced with ``sync``,
    with the permission bits ``path`` has, or would get) and return its name; renaming
    it over ``path`` then replaces the file atomically."""
    folder, name = os.path.split(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temp = -1, ""
    try:
        with held():  # an interrupt comes once the file's name is known, to remove it
            fd, temp = tempfile.mkstemp(
                prefix=f".{name}.shard-assets-", suffix=".tmp", dir=folder or "."
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
            raise naming(error, path) from None
        raise
    os.close(fd)
    return temp


def naming(error: OSError, path: str | Path) -> OSError:
    """``error`` naming ``path`` (the file the user knows), not a temporary file."""
    return OSError(error.errno, error.strerror, str(path))


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


def ensure_replaceable(path: str | Path) -> None:
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
