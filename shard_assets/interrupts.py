"""Ctrl-C and SIGTERM: an interrupted build cleans up as a failed one does.

Python turns SIGINT into :class:`KeyboardInterrupt`; SIGTERM kills the process at
once, leaving temporary files, and worker processes until the kernel's parent-death
signal reaches them. Worker processes ignore both signals and leave them to the
build's process (:func:`shard_assets.parallel.die_with_parent`), which cleans up:

- The command line's build runs in :func:`interrupts_raise`: both signals raise
  :class:`Interrupted`, which unwinds the build: the worker pool is stopped, the
  temporary files are removed, the lock is released, and the pipeline notes on the
  exception what state the output and the manifest are in (see
  :func:`shard_assets.build.pipeline.apply_plan`). A second signal while that
  cleanup runs is not raised again, so the cleanup finishes.
- :func:`held` keeps both signals out of the few steps that must not be cut in two
  (a temporary file created and its name kept, the lock taken and its release set
  up); they arrive when the step is done.
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
        if _hold(signum):
            return
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


#: Signals that came during a :func:`held` step of the main thread (sent again after it),
#: and how deep the main thread is in such steps.
_HELD: list[int] = []
_holding = 0


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Within this block, Ctrl-C and SIGTERM wait; when it ends they go where they
    would have gone (an exception they raise comes out of the ``with``).

    For steps that must not be cut in two. The signals are blocked in this thread, and
    one that reaches Python's handler through another thread (the kernel gives a
    signal to any thread that does not block it) is kept by this module's handlers
    and sent again at the end. Outside the main thread, which alone runs signal
    handlers, nothing changes.
    """
    global _holding  # noqa: PLW0603 (the main thread's depth in held steps)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
        kept = [] if _holding else _HELD[:]
        if not _holding:
            _HELD.clear()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a blocked one arrives now
        for signum in kept:
            signal.raise_signal(signum)


def _hold(signum: int) -> bool:
    """For this module's handlers: keep ``signum`` for the end of the :func:`held`
    step going on, if any."""
    if not _holding:
        return False
    if signum not in _HELD:
        _HELD.append(signum)
    return True


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
