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
- A generator's build belongs to the generator, which handles Ctrl-C its own way:
  :class:`InterruptGuard` cleans up first and then hands the signal on, as if the
  plugin had not been there.
- :func:`held` keeps both signals out of the few steps that must not be cut in two
  (a temporary file created and its name kept, the lock taken and its release set
  up); they arrive when the step is done.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

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

    previous = {}
    try:  # a signal as soon as the first handler is in raises here: it goes back too
        for signum in SIGNALS:
            previous[signum] = signal.getsignal(signum)  # before: the handler may run next
            signal.signal(signum, handler)
        yield
    finally:
        for installed, old in previous.items():
            if old is not None:  # None: a handler from outside Python, which stays ours
                signal.signal(installed, old)


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
    # Python runs a handler at the first check after a call returns (pthread_sigmask's
    # too), for a signal another thread received: the depth counts before the signals
    # are blocked and until they are unblocked, so such a handler keeps its signal
    # rather than raise where the mask would stay blocked.
    _holding += 1
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a blocked one is kept now
    finally:
        _holding -= 1
        while not _holding and _HELD:
            signal.raise_signal(_HELD.pop(0))


def _hold(signum: int) -> bool:
    """For this module's handlers: keep ``signum`` for the end of the :func:`held`
    step going on, if any."""
    if not _holding:
        return False
    if signum not in _HELD:
        _HELD.append(signum)
    return True


#: What :func:`signal.getsignal` gives: a function, SIG_DFL or SIG_IGN, or None.
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class InterruptGuard:
    """Ctrl-C and SIGTERM during a generator's build, while shard-assets holds files
    in it (the manifest's lock, temporary files beside the pages, worker processes
    writing them): ``clean_up`` runs first, then the signal goes where it would have
    gone without the plugin. The generator ends as it always does (MkDocs prints
    "Aborted!", Pelican logs "Keyboard interrupt received", Sphinx prints
    "Interrupted!", SIGTERM ends the process by the signal), and nothing of ours is
    left behind.

    - In the generator's code, where most of a build is spent, the handler runs
      ``clean_up`` at once, puts the generator's handlers back and sends the signal
      again: Python's default handler raises :class:`KeyboardInterrupt` there, and
      SIGTERM, with no handler, ends the process.
    - In shard-assets' own code (within :meth:`ours`), the handler raises
      :class:`Interrupted` instead, once, so that code unwinds as the command line's
      does; its caller cleans up and calls :meth:`uninstall`, which sends the signal on.
    - Signals that come while it cleans up (or after :meth:`defer`) are sent on
      afterwards. A signal the process ignores stays ignored, and a handler the
      generator installs later is left alone.
    - Only the main thread runs signal handlers. Elsewhere, and whatever else ends the
      build, ``clean_up`` runs at the interpreter's exit (:mod:`atexit`) for a build
      that did not end.

    Why not a handler that raises, as the command line's does: an exception of ours in
    the generator's code would change how it ends (MkDocs would say "Aborted!" for a
    SIGTERM and exit 1, instead of ending by the signal), and Python's exit comes too
    late: the worker pool's own exit handler first waits for every page queued.
    """

    def __init__(self, clean_up: Callable[[], None]) -> None:
        self._clean_up = clean_up
        self._handler = self._on_signal  # one bound method, to know it again
        self._previous: dict[int, Handler] = {}
        self._pid = 0  # the process that installed it (0: not installed)
        self._ours = 0
        self._stopping = False
        self._signals: list[int] = []

    def install(self) -> None:
        """From now until :meth:`uninstall`, clean up first on Ctrl-C and SIGTERM."""
        if self._pid:
            return
        self._pid = os.getpid()
        atexit.register(self._at_exit)
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if previous is None or previous == signal.SIG_IGN:
                continue  # ignored, or a handler from outside Python: left alone
            self._previous[signum] = previous
            signal.signal(signum, self._handler)

    @contextlib.contextmanager
    def ours(self) -> Iterator[None]:
        """Shard-assets' own code: a signal raises :class:`Interrupted` here (once)."""
        main = threading.current_thread() is threading.main_thread()
        self._ours += main
        try:
            yield
        finally:
            self._ours -= main

    def defer(self) -> None:
        """From now until :meth:`uninstall`, signals wait (while the caller cleans up)."""
        if self._pid:
            self._stopping = True

    def uninstall(self) -> None:
        """Put the generator's handlers back and send them the signals that came
        meanwhile: the generator's handler may raise :class:`KeyboardInterrupt` here,
        or the process end."""
        if not self._pid:
            return
        atexit.unregister(self._at_exit)
        with held():  # sent when the generator's handlers are back
            for signum, previous in self._previous.items():
                if signal.getsignal(signum) is self._handler:
                    signal.signal(signum, previous)
            _HELD.extend(signum for signum in self._signals if signum not in _HELD)
            self._previous.clear()
            self._signals = []
            self._stopping = False
            self._pid = 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:  # a process forked meanwhile: as without us
            _as_before(signum, frame, self._previous.get(signum))
            return
        if _hold(signum):
            return
        if signum not in self._signals:
            self._signals.append(signum)
        if self._stopping:
            return  # sent on when the clean-up is done
        self._stopping = True
        if self._ours:
            raise Interrupted(signum)
        try:
            self._clean_up()
        finally:
            self.uninstall()

    def _at_exit(self) -> None:
        if os.getpid() == self._pid and not self._stopping:
            self._stopping = True
            self._clean_up()


def _as_before(signum: int, frame: FrameType | None, previous: Handler) -> None:
    """Do what ``previous``, the handler before ours, does with ``signum``."""
    if callable(previous):
        previous(signum, frame)
    elif previous is None or previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


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
