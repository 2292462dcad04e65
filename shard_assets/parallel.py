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
import pickle
import select
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
#: Linux's ``fcntl`` to set a pipe's size (a bigger buffer lets the parent write a
#: batch without waiting for the worker to read the one before).
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 1 << 20


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


def forks() -> bool:
    """Whether worker processes are forked here (Linux): :class:`PipeWorker` needs it."""
    return _start_method().get_start_method() == "fork"


class BrokenWorker(RuntimeError):
    """A worker process ended before it finished the items it was given (killed, or
    out of memory)."""


class PipeWorker(Generic[Context, Item, Result]):
    """``function(context, item)`` for items given one at a time, on one forked worker
    process, the results handed back in order once every item is done: for a caller
    that keeps working meanwhile (a generator writing its pages), with no thread in
    its process.

    :class:`Workers` runs on :class:`~concurrent.futures.ProcessPoolExecutor`, whose
    two threads in the caller (the queue's feeder and the executor's manager) pickle,
    wake up and take Python's lock from the generator for every batch: measured on a
    1,000-article Pelican rebuild, this class saves about 0.06 s of wall time into the
    full output folder and 0.17 s into an empty one (docs/performance.md). Here the
    caller pickles each batch (:data:`BATCH` items, or :data:`BATCH_SIZE` of the sizes
    given) and writes it to a pipe of
    :data:`_PIPE_SIZE` bytes itself; a worker slower than the caller makes that write
    wait, which bounds memory as :data:`IN_FLIGHT` does. The worker keeps each
    batch's results (pickled) and sends them all when the caller asks for them. A
    batch that raises is noted at once on a second pipe: the next batch given raises
    that error in the caller; the batches after it are still done, as a pool does.
    Linux only (see :func:`forks`).
    """

    def __init__(self, function: Callable[[Context, Item], Result], context: Context):
        self.function = function
        self.context = context
        self._batch: list[Item] = []
        self._size = 0
        self._sent = 0
        self._pid = 0
        self._tasks = -1
        self._results = -1
        self._errors = -1
        #: Once the worker has ended: the results of its batches, and the first error.
        self._done: list[Result] | None = None
        self._error: BaseException | None = None

    def submit(self, item: Item, size: int = 0) -> list[Result]:
        """Give ``item`` to the worker (``size``: what it counts towards
        :data:`BATCH_SIZE`). Returns nothing (the results come at the end), or raises
        the error of a batch given before."""
        if self._done is not None:
            raise self._error or BrokenWorker("the worker process has ended")
        self._batch.append(item)
        self._size += size
        if len(self._batch) >= BATCH or self._size >= BATCH_SIZE:
            self._send()
        return []

    def results(self) -> Iterator[Result]:
        """Every result, in order, once the worker has done every item; raises the
        first error of a batch, if any."""
        self._send()
        done = self._end()
        if self._error is not None:
            raise self._error
        return iter(done)

    def stop(self, *, finish: bool) -> list[Result]:
        """Stop the worker once it has done the items given (``finish``: the ones not
        sent yet too) and return the results of the batches that did not fail."""
        if finish:
            with contextlib.suppress(Exception):
                self._send()
        self._batch = []
        self._size = 0
        return self._end()

    def close(self) -> None:
        """Stop the worker once it has done the items sent."""
        self._end()

    def _send(self) -> None:
        """Send the batch, then raise the error of one sent before, if any (the batch
        is done all the same, as a pool does: direct, its pages are written)."""
        if self._done is not None:  # ended by an error: raise it again
            if self._error is not None:
                raise self._error
            return
        if not self._batch:
            return
        if not self._pid:
            self._start()
        data = pickle.dumps(self._batch, protocol=pickle.HIGHEST_PROTOCOL)
        self._batch = []
        self._size = 0
        try:
            # Whole or not at all: an interrupt waits until the batch is in the pipe.
            with held():
                _write_all(self._tasks, len(data).to_bytes(8, "little") + data)
                self._sent += 1
        except BrokenPipeError:  # the worker is gone
            self._end()
            raise self._error or BrokenWorker("the worker process ended") from None
        if _readable(self._errors):
            self._end()
            raise self._error or BrokenWorker("the worker process failed a batch")

    def _start(self) -> None:
        import fcntl  # noqa: PLC0415 (Linux only, as forking here)

        tasks, self._tasks = os.pipe()
        with contextlib.suppress(OSError):  # a smaller pipe only waits more often
            fcntl.fcntl(self._tasks, _F_SETPIPE_SZ, _PIPE_SIZE)
        self._results, results = os.pipe()
        self._errors, errors = os.pipe()
        parent = os.getpid()
        # The worker starts with Ctrl-C and SIGTERM blocked, and ignores them
        # (die_with_parent) before it can see one, as Workers' do.
        with held():
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker (coverage does not follow a fork)
                code = 1
                try:
                    for fd in (self._tasks, self._results, self._errors):
                        os.close(fd)
                    die_with_parent(parent)
                    _serve(self.function, self.context, tasks, results, errors)
                    code = 0
                finally:
                    os._exit(code)
            self._pid = pid
            for fd in (tasks, results, errors):
                os.close(fd)

    def _end(self) -> list[Result]:
        """Tell the worker there is no more, take its results and wait for it to exit
        (once; an interrupt waits until then)."""
        if self._done is not None:
            return self._done
        done: list[Result] = []
        if not self._pid:
            self._done = done
            return done
        with held():
            with contextlib.suppress(BrokenPipeError):
                _write_all(self._tasks, bytes(8))
            os.close(self._tasks)
            data = _read_all(self._results)
            _, status = os.waitpid(self._pid, 0)
            for fd in (self._results, self._errors):
                os.close(fd)
            self._pid = 0
            batches = 0
            view = memoryview(data)
            while len(view) >= 8:
                size = int.from_bytes(view[:8], "little")
                if len(view) < 8 + size:
                    break
                ok, value = pickle.loads(view[8 : 8 + size])
                view = view[8 + size :]
                batches += 1
                if ok:
                    done += value
                elif self._error is None:
                    self._error = value
            if batches < self._sent and self._error is None:
                self._error = BrokenWorker(
                    f"the worker process ended before it finished ({_ended(status)})"
                )
            self._done = done
        return done


def _serve(
    function: Callable[[Any, Item], Result], context: object, tasks: int, results: int, errors: int
) -> None:
    """A :class:`PipeWorker`'s process: each batch from ``tasks`` done, its results kept
    (an error noted on ``errors``), all of them written to ``results`` at the end."""
    done: list[bytes] = []
    while size := int.from_bytes(_read_exactly(tasks, 8), "little"):
        batch = pickle.loads(_read_exactly(tasks, size))
        try:
            data = pickle.dumps((True, [function(context, item) for item in batch]), -1)
        except Exception as error:  # handed to the caller, which raises it
            try:
                data = pickle.dumps((False, error), -1)
            except Exception:  # an error that cannot be pickled
                data = pickle.dumps((False, BrokenWorker(repr(error))), -1)
            os.write(errors, b"!")
        done.append(len(data).to_bytes(8, "little") + data)
    for data in done:
        _write_all(results, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError("the caller went away")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, _PIPE_SIZE):
        chunks.append(chunk)
    return b"".join(chunks)


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
