"""The exceptions shard-assets raises.

Every message names the file or setting at fault and says how to fix it, so the
front ends (CLI, MkDocs, Pelican) can show it as one clean line or block without a
traceback.
"""

from __future__ import annotations

import errno
import os
import warnings


class ShardAssetsError(Exception):
    """Base class: anything shard-assets reports as a user-facing failure."""


class ConfigError(ShardAssetsError):
    """A setting is missing or has a value that cannot work."""


class ManifestError(ShardAssetsError):
    """The manifest file cannot be read, parsed or written."""


class BalanceError(ShardAssetsError):
    """The assignment puts more assets on a host, or a page more of its requests on
    one host, than the gate allows.

    ``details`` holds the numbers behind the message, for callers that want them:
    the :class:`~shard_assets.placement.balance.BalanceReport` when a host is over
    its cap, the :class:`~shard_assets.placement.balance.PageExcess` of each page
    when pages are over ``max_page_imbalance``.
    """

    def __init__(self, message: str, details: object) -> None:
        super().__init__(message)
        self.details = details

    @property
    def report(self) -> object:
        """Deprecated: the old name of :attr:`details`."""
        warnings.warn(
            "BalanceError.report is now BalanceError.details", DeprecationWarning, stacklevel=2
        )
        return self.details


class MissingAssetError(ShardAssetsError):
    """``strict`` is on and a page references a site-local file that does not exist."""


class LockedError(ShardAssetsError):
    """``locked`` is on and the build would change the manifest."""


class LockHeldError(ShardAssetsError):
    """Another build holds the manifest's lock."""


class VerifyError(ShardAssetsError):
    """``verify`` found references that are not sharded as the manifest says."""


class MissingFolderError(ConfigError):
    """The output folder to shard does not exist (or is not a folder)."""


class FaultError(ShardAssetsError):
    """The machine failed the build: the disk is full, a file cannot be replaced, a
    folder vanished. ``path`` is the file at fault, ``reason`` the OS error in words,
    ``state`` what the output and the manifest hold now, ``fix`` what to do."""

    def __init__(self, path: str, reason: str, state: str, fix: str) -> None:
        super().__init__(f"shard-assets: {path}: {reason}.\n  {state}.\n  {fix}.")
        self.path = path
        self.reason = reason
        self.state = state
        self.fix = fix


#: What to do about an OS error, by errno; the others get :data:`_FIX_OTHER`.
_FIXES = {
    errno.ENOSPC: "Free space on that disk and run the build again: it finishes the job",
    errno.EDQUOT: "Free space (or raise the disk quota) and run the build again: it finishes "
    "the job",
    errno.EACCES: "Make it writable (chmod u+w) and run the build again: it finishes the job",
    errno.EPERM: "Make it writable (chattr -i if it is immutable, chmod u+w otherwise) and "
    "run the build again: it finishes the job",
    errno.EROFS: "Mount that filesystem read-write and run the build again: it finishes the job",
    errno.ENOENT: "It disappeared during the build (was the output folder removed or built "
    "again meanwhile?): build the site again, then shard it",
}
_FIX_OTHER = "Fix the cause and run the build again: it finishes the job"


def fault(error: OSError, state: str, *, needs: int = 0) -> FaultError:
    """The :class:`FaultError` for ``error`` (naming its file), with ``state`` saying
    what the files hold and ``needs`` how many bytes the build writes before it
    replaces a file (said when the disk is full)."""
    reason = os.strerror(error.errno).lower() if error.errno else str(error)
    fix = _FIXES.get(error.errno or 0, _FIX_OTHER)
    if needs and error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = fix.replace(
            " and run",
            f" (the build needs about {_size(needs)} for new copies of the files it "
            "changes) and run",
            1,
        )
    where = "a file of the build" if error.filename is None else os.fsdecode(error.filename)
    return FaultError(where, reason, state, fix)


def _size(count: int) -> str:
    size, unit = count / 1024, "KB"
    for bigger in ("MB", "GB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"
