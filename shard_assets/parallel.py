"""Running one pass of a build over many documents on several processes.

Workers only compute per-document results and write the documents they are given;
the parent receives the results in the order of the input, whatever the number of
workers, so everything it merges (the asset set, the warnings, the counts) is the
same for every ``jobs``. The parent alone reads and writes the manifest and holds
its lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any, Generic, TypeVar

from .interrupts import SIGNALS, held

Context = TypeVar("Context")
Item = TypeVar("Item")
Result = TypeVar("Result")

#: Fewer documents than this are done in the calling process: starting workers
#: costs more than they would save.
PARALLEL_MIN_ITEMS = 64

#: Items per task sent to a worker (or, at most, their total size: see
#: :meth:`Workers.submit`), and tasks in flight per worker.
BATCH = 16
BATCH_SIZE = 1 << 20
IN_FLIGHT = 4

_CONTEXT: Any = None
_PR_SET_PDEATHSIG = 1


def default_jobs() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_each(
    function: Callable[[Context, Item], Result],
    items: Iterable[Item],
    context: Context,
    jobs: int,
    *,
    count: int,
) -> Generator[Result, None, None]:
    """Yield ``function(context, item)`` for each item, in order, on up to ``jobs`` processes.

    ``count`` is the number of items (an iterable may be consumed lazily, so at
    most a few batches are held at a time). ``function`` must be a module-level
    function, and ``context`` picklable where processes are not forked.
    """
    if jobs <= 1 or count < PARALLEL_MIN_ITEMS:
        for item in items:
            yield function(context, item)
        return
    workers = Workers(function, context, jobs)
    try:
        for item in items:
            yield from workers.submit(item)
        yield from workers.results()
    except BaseException:
        # A fault, an interrupt, or the caller stopped: the workers finish the
        # batch at hand and take no other, so nothing writes after this returns.
        workers.close(cancel=True)
        raise
    workers.close()


class Workers(Generic[Context, Item, Result]):
    """``function(context, item)`` for items given one at a time, on ``jobs`` worker
    processes (started with the first batch), the results handed back in the order
    the items came.

    Items go to the workers in batches (:data:`BATCH` items, or :data:`BATCH_SIZE`
    of the sizes given to :meth:`submit`), with at most :data:`IN_FLIGHT` batches per
    worker in flight: past that, :meth:`submit` waits for the oldest, so memory stays
    bounded however fast the items come. ``function`` must be a module-level
    function, and ``context`` picklable where processes are not forked.
    """

    def __init__(self, function: Callable[[Context, Item], Result], context: Context, jobs: int):
        self.function = function
        self.context = context
        self.jobs = jobs
        self._batch: list[Item] = []
        self._size = 0
        self._pending: deque[Future[list[Result]]] = deque()
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, item: Item, size: int = 0) -> list[Result]:
        """Give ``item`` to the workers (``size``: what it counts towards
        :data:`BATCH_SIZE`, such as its characters); returns the results that came
        due, in order (often none)."""
        self._batch.append(item)
        self._size += size
        if len(self._batch) < BATCH and self._size < BATCH_SIZE:
            return []
        self._send()
        due: list[Result] = []
        while len(self._pending) > self.jobs * IN_FLIGHT:
            due += self._pending.popleft().result()
        return due

    def results(self) -> Iterator[Result]:
        """The results not returned yet, in order, as the workers finish them."""
        self._send()
        while self._pending:
            yield from self._pending.popleft().result()

    def close(self, *, cancel: bool = False) -> None:
        """Stop the worker processes, once they finish the batch at hand and (unless
        ``cancel``) the batches given to them."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None

    def stop(self, *, finish: bool) -> list[Result]:
        """Stop the workers, once they have done every item given (``finish``) or only
        the batches they started (the others are dropped); the results of the batches
        done, in order, a batch that failed left out (its failure was raised already,
        or no longer matters)."""
        if finish:
            with contextlib.suppress(Exception):
                self._send()
        self._batch = []
        self._size = 0
        self.close(cancel=not finish)
        done: list[Result] = []
        while self._pending:
            future = self._pending.popleft()
            if not future.cancelled() and future.exception() is None:
                done += future.result()
        return done

    def _send(self) -> None:
        if not self._batch:
            return
        if self._pool is None:
            self._pool = _start_pool(self.jobs, self.context)
        self._pending.append(self._pool.submit(_run_batch, self.function, self._batch))
        self._batch = []
        self._size = 0


def _start_pool(jobs: int, context: object) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes, started, each holding ``context``."""
    start = _start_method()
    # A forked worker's parent is this process (0: do not check).
    parent = os.getpid() if start.get_start_method() == "fork" else 0
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=start, initializer=_set_context, initargs=(context, parent)
    )
    # The first task starts the workers. With Ctrl-C and SIGTERM held, they start with
    # both blocked, and ignore them (die_with_parent) before they can see one: a
    # terminal's Ctrl-C to a worker just forked would raise KeyboardInterrupt in it.
    try:
        with held():
            pool.submit(int)
    except BaseException:  # a signal held meanwhile: the caller never gets the pool
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return pool


def _start_method() -> BaseContext:
    # Forking is the cheapest start and shares the compiled patterns. A forked copy of
    # a lock that another thread held stays locked in the child, so it is safe only
    # because a worker runs nothing but this package's scanning and writing: no
    # logging, no console, no imports (Pelican's progress display runs a thread).
    # A fork server or fresh interpreters would re-import the generator's main
    # script in every worker. Off Linux, each worker is a fresh interpreter.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _set_context(context: object, parent: int) -> None:
    global _CONTEXT  # noqa: PLW0603 (one context per worker process, set once)
    _CONTEXT = context
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the build's process dies (Linux), so a
    killed build leaves no worker writing files behind it; and leave Ctrl-C and
    SIGTERM to the parent, which stops the workers and cleans up (a terminal sends
    Ctrl-C to every process of the group)."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # blocked while it started
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run_batch(function: Callable[[Any, Item], Result], batch: list[Item]) -> list[Result]:
    return [function(_CONTEXT, item) for item in batch]
