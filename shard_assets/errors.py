"""The exceptions shard-assets raises.

Every message names the file or setting at fault and says how to fix it, so the
front ends (CLI, MkDocs, Pelican) can show it as one clean line or block without a
traceback.
"""

from __future__ import annotations


class ShardAssetsError(Exception):
    """Base class: anything shard-assets reports as a user-facing failure."""


class ConfigError(ShardAssetsError):
    """A setting is missing or has a value that cannot work."""


class ManifestError(ShardAssetsError):
    """The manifest file cannot be read, parsed or written."""


class BalanceError(ShardAssetsError):
    """The assignment puts more assets on a host than the gate allows.

    ``report`` holds the numbers behind the message, for callers that want them.
    """

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class MissingAssetError(ShardAssetsError):
    """``strict`` is on and a page references a site-local file that does not exist."""


class LockedError(ShardAssetsError):
    """``locked`` is on and the build would change the manifest."""


class LockHeldError(ShardAssetsError):
    """Another build holds the manifest's lock."""


class VerifyError(ShardAssetsError):
    """``verify`` found references that are not sharded as the manifest says."""
