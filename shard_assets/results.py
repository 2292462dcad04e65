"""The records a build hands back to its front ends (the CLI, the plugins)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from .placement.assign import Assignment
from .placement.balance import BalanceReport, PageSpread


@dataclass(frozen=True)
class Located:
    """A URL as written in a document, and where."""

    document: str
    line: int
    url: str


class MissingRef(Located):
    """A site-local reference to a file that is not in the output."""

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.url} is not in the output"


@dataclass(frozen=True)
class BuildResult:
    """What a build did, for the front ends to report."""

    assignment: Assignment
    balance: BalanceReport
    documents: int
    rewritten: int
    references: int
    missing: tuple[MissingRef, ...]
    undecodable: tuple[str, ...]
    manifest: Path
    manifest_changed: bool
    cors: tuple[str, ...] = ()
    crossorigin: tuple[Located, ...] = ()
    pages: tuple[PageSpread, ...] = ()
    """Each page's asset requests by host (what the summary, the per-page gate and
    ``report: true`` read)."""
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    rewritten_at_handover: int = 0
    """Of the files ``rewritten``, the pages rewritten as the generator handed them
    over (a plugin's rebuild), not read back."""
    scanned_at_handover: int = 0
    """The pages whose references came from the text the generator handed over, not
    from reading them."""

    @property
    def in_memory(self) -> int:
        """Deprecated: the old name of :attr:`rewritten_at_handover`."""
        warnings.warn(
            "BuildResult.in_memory is now BuildResult.rewritten_at_handover",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.rewritten_at_handover

    @property
    def scanned(self) -> int:
        """Deprecated: the old name of :attr:`scanned_at_handover`."""
        warnings.warn(
            "BuildResult.scanned is now BuildResult.scanned_at_handover",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.scanned_at_handover

    @property
    def report(self) -> BalanceReport:
        """Deprecated: the old name of :attr:`balance`."""
        warnings.warn(
            "BuildResult.report is now BuildResult.balance", DeprecationWarning, stacklevel=2
        )
        return self.balance
