"""Ctrl-C and SIGTERM as exceptions, so an interrupted build cleans up as a failed one does.

Python turns SIGINT into :class:`KeyboardInterrupt`; SIGTERM kills the process at
once, leaving temporary files, and worker processes until the kernel's parent-death
signal reaches them. Inside :func:`interrupts_raise`, both raise
:class:`Interrupted`, which unwinds the build: the worker pool is stopped, the
temporary files are removed, the lock is released, and the pipeline notes on the
exception what state the output and the manifest are in (see
:func:`shard_assets.build.pipeline.apply_plan`). A second signal while that cleanup runs is
not raised again, so the cleanup finishes. Worker processes ignore both signals and
leave them to the parent (:func:`shard_assets.parallel.die_with_parent`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: The signals a build stops on, cleaning up.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: What the state of the files is when the exception carries no note: the build was
#: stopped before it started, or after it finished.
_NO_STATE = "Every file is old or new, each one whole"


class Interrupted(KeyboardInterrupt):
    """The build was stopped by ``signum`` (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within this block, SIGINT and SIGTERM raise :class:`Interrupted` (once); outside
    a main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def exit_status(error: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + getattr(error, "signum", signal.SIGINT)


def describe(error: KeyboardInterrupt) -> str:
    """The message for an interrupted build: which signal, the state of the files, what to do."""
    name = signal.Signals(getattr(error, "signum", signal.SIGINT)).name
    how = "Ctrl-C (SIGINT)" if name == "SIGINT" else name
    notes = getattr(error, "__notes__", None) or [_NO_STATE]
    state = "\n  ".join(f"{note}." for note in notes)
    return (
        f"shard-assets: interrupted by {how}.\n  {state}\n"
        "  Run the build again: it finishes the job."
    )
