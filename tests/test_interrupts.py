"""Ctrl-C and SIGTERM (shard_assets/interrupts.py): raised once inside
``interrupts_raise``, the handlers given back after it, and the exit status and
message the command line gives; ``held`` steps; the guard of a generator's build
(``InterruptGuard``). Interrupted builds end to end are tests/test_faults.py's (the
command line) and tests/test_generator_interrupts.py's (the generators)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shard_assets.interrupts import (
    SIGNALS,
    Interrupted,
    InterruptGuard,
    describe,
    exit_status,
    held,
    interrupts_raise,
)

from .conftest import ROOT


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_a_signal_inside_raises_interrupted(signum: signal.Signals) -> None:
    with interrupts_raise(), pytest.raises(Interrupted) as raised:
        signal.raise_signal(signum)
    assert raised.value.signum == signum
    assert isinstance(raised.value, KeyboardInterrupt)  # unwinds what Ctrl-C unwinds


def test_a_second_signal_is_not_raised_while_the_first_unwinds() -> None:
    cleaned_up = False
    with pytest.raises(Interrupted) as raised, interrupts_raise():
        try:
            signal.raise_signal(signal.SIGINT)
        finally:
            signal.raise_signal(signal.SIGTERM)  # impatient: the clean-up goes on
            signal.raise_signal(signal.SIGINT)
            cleaned_up = True
    assert cleaned_up
    assert raised.value.signum == signal.SIGINT


def test_the_handlers_before_are_given_back() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not mine")

    before = {signum: signal.signal(signum, mine) for signum in SIGNALS}
    try:
        with interrupts_raise():
            assert all(signal.getsignal(s) is not mine for s in SIGNALS)
        assert all(signal.getsignal(s) is mine for s in SIGNALS)
        with pytest.raises(Interrupted), interrupts_raise():
            signal.raise_signal(signal.SIGTERM)
        assert all(signal.getsignal(s) is mine for s in SIGNALS)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_signal_between_the_two_handlers_put_in_gives_both_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal as soon as the first handler is in (Python runs it right after the
    call that put it in) raises there: the handler already put in goes back too."""
    real = signal.signal

    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not mine")

    def put_in(signum: int, handler: Any) -> Any:
        previous = real(signum, handler)
        if signum == SIGNALS[0] and handler is not mine:
            handler(signum, None)  # the first one in: a signal comes now
        return previous

    before = {signum: real(signum, mine) for signum in SIGNALS}
    try:
        monkeypatch.setattr(signal, "signal", put_in)
        with pytest.raises(Interrupted), interrupts_raise():
            pytest.fail("the block ran")
        monkeypatch.undo()
        assert all(signal.getsignal(s) is mine for s in SIGNALS)
    finally:
        for signum, handler in before.items():
            real(signum, handler)


def test_outside_the_main_thread_nothing_changes() -> None:
    # Python lets only the main thread set handlers; a build run on another thread
    # (a generator's server, a test runner) must not fail for it.
    before = {s: signal.getsignal(s) for s in SIGNALS}
    seen: list[object] = []

    def build() -> None:
        try:
            with interrupts_raise():
                seen.append({s: signal.getsignal(s) for s in SIGNALS})
        except BaseException as error:
            seen.append(error)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    assert seen == [before]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (KeyboardInterrupt(), 130),
        (Interrupted(signal.SIGINT), 130),
        (Interrupted(signal.SIGTERM), 143),
    ],
    ids=["Ctrl-C", "SIGINT", "SIGTERM"],
)
def test_exit_status_is_128_plus_the_signal(error: KeyboardInterrupt, status: int) -> None:
    assert exit_status(error) == status


@pytest.mark.parametrize(
    ("signum", "notes", "expected"),
    [
        (
            signal.SIGINT,
            [],
            "shard-assets: interrupted by Ctrl-C (SIGINT).\n"
            "  Every file is old or new, each one whole.\n"
            "  Run the build again: it finishes the job.",
        ),
        (
            signal.SIGTERM,
            ["Nothing was written: the output and the manifest are as they were"],
            "shard-assets: interrupted by SIGTERM.\n"
            "  Nothing was written: the output and the manifest are as they were.\n"
            "  Run the build again: it finishes the job.",
        ),
        (
            signal.SIGTERM,
            ["3 of 7 files were replaced", "the manifest is the old one"],
            "shard-assets: interrupted by SIGTERM.\n"
            "  3 of 7 files were replaced.\n"
            "  the manifest is the old one.\n"
            "  Run the build again: it finishes the job.",
        ),
    ],
    ids=["no-note", "one-note", "two-notes"],
)
def test_describe_names_the_signal_and_the_state(
    signum: int, notes: list[str], expected: str
) -> None:
    error = Interrupted(signum)
    for note in notes:
        error.add_note(note)
    assert describe(error) == expected


def test_a_plain_keyboard_interrupt_is_ctrl_c() -> None:
    assert describe(KeyboardInterrupt()).startswith("shard-assets: interrupted by Ctrl-C (SIGINT).")


CHILD = """\
import sys, time
from shard_assets.interrupts import describe, exit_status, interrupts_raise
with interrupts_raise():
    try:
        print("ready", flush=True)
        time.sleep(30)
    except KeyboardInterrupt as error:
        error.add_note("cleaned up")
        print(describe(error), file=sys.stderr)
        sys.exit(exit_status(error))
"""


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_a_signal_from_another_process_unwinds_the_build(signum: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    # Not killed by the signal (-signum), nor done sleeping (0): unwound, and exited.
    assert child.returncode == 128 + signum
    assert "  cleaned up.\n  Run the build again" in err


def _checks() -> None:
    """Run some bytecode: Python runs a pending signal handler between instructions."""
    for _ in range(100):
        pass


def test_a_signal_in_a_held_step_comes_at_its_end() -> None:
    steps = []
    with pytest.raises(Interrupted), interrupts_raise():
        with held():
            signal.raise_signal(signal.SIGINT)
            _checks()
            steps.append("the step")
        steps.append("after it")
    assert steps == ["the step"]


def test_a_signal_through_another_thread_waits_for_the_held_step_too() -> None:
    # The step blocks the signals in this thread; the kernel gives the process's
    # signal to another thread, and Python runs the handler here all the same.
    start, sent = threading.Event(), threading.Event()

    def kill() -> None:
        start.wait()
        os.kill(os.getpid(), signal.SIGINT)
        sent.set()

    thread = threading.Thread(target=kill)
    thread.start()
    steps = []
    with pytest.raises(Interrupted), interrupts_raise():
        with held():
            start.set()
            assert sent.wait(10)
            thread.join()
            _checks()
            steps.append("the step")
        steps.append("after it")
    assert steps == ["the step"]


@pytest.mark.parametrize("edge", ["entering", "leaving"])
def test_a_signal_at_the_edge_of_a_held_step_never_leaves_the_signals_blocked(
    edge: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal another thread received runs Python's handler in this thread at the
    first check after a call returns: here, right after the step blocks (or unblocks)
    the signals. It comes once, at the end of the step, and the signals are not left
    blocked in this thread (where a later SIGTERM would never arrive: a build that
    hung in CI, Python 3.13)."""
    real = signal.pthread_sigmask
    wanted = signal.SIG_BLOCK if edge == "entering" else signal.SIG_SETMASK
    fired = []

    def sigmask(how: int, mask: object) -> set[signal.Signals]:
        before = real(how, mask)  # type: ignore[arg-type]
        if how == wanted and not fired:
            fired.append(how)
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler)
            handler(signal.SIGTERM, None)  # as Python runs it, after the call
        return before

    steps = []
    try:
        with pytest.raises(Interrupted), interrupts_raise():
            monkeypatch.setattr(signal, "pthread_sigmask", sigmask)
            with held():
                steps.append("the step")
            steps.append("after it")
        left = real(signal.SIG_BLOCK, [])
    finally:
        real(signal.SIG_UNBLOCK, SIGNALS)  # for the tests after this one, whatever happened
    assert fired and steps == ["the step"]
    assert not set(SIGNALS) & left, "the signals are left blocked"


@pytest.fixture
def generator_handlers() -> Iterator[list[str]]:
    """Handlers of the generator's own for both signals, which note what they get."""
    got: list[str] = []

    def generator(signum: int, frame: object) -> None:
        got.append(f"generator {signal.Signals(signum).name}")

    before = {signum: signal.signal(signum, generator) for signum in SIGNALS}
    yield got
    for signum, handler in before.items():
        signal.signal(signum, handler)


def test_in_the_generators_code_the_guard_cleans_up_then_the_generator_gets_it(
    generator_handlers: list[str],
) -> None:
    events = generator_handlers
    guard = InterruptGuard(lambda: events.append("clean-up"))
    guard.install()
    signal.raise_signal(signal.SIGTERM)
    _checks()
    assert events == ["clean-up", "generator SIGTERM"]
    assert all(signal.getsignal(s) is not guard._handler for s in SIGNALS)  # given back
    signal.raise_signal(signal.SIGINT)  # after the build: the generator's alone
    _checks()
    assert events == ["clean-up", "generator SIGTERM", "generator SIGINT"]


def test_python_s_own_ctrl_c_still_raises_keyboard_interrupt_after_the_clean_up() -> None:
    cleaned: list[str] = []
    guard = InterruptGuard(lambda: cleaned.append("clean-up"))
    guard.install()
    try:
        with pytest.raises(KeyboardInterrupt) as raised:
            signal.raise_signal(signal.SIGINT)
            _checks()
    finally:
        guard.uninstall()
    assert cleaned == ["clean-up"]
    assert type(raised.value) is KeyboardInterrupt  # Python's, not ours: as without the guard
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_in_our_own_code_the_guard_raises_and_the_signal_goes_on_after(
    generator_handlers: list[str],
) -> None:
    events = generator_handlers
    guard = InterruptGuard(lambda: events.append("clean-up at once"))
    guard.install()
    with pytest.raises(Interrupted) as raised, guard.ours():
        signal.raise_signal(signal.SIGTERM)
        _checks()
    events.append("unwound")
    guard.uninstall()
    _checks()
    assert raised.value.signum == signal.SIGTERM
    assert events == ["unwound", "generator SIGTERM"]


def test_signals_during_the_clean_up_go_on_after_it(generator_handlers: list[str]) -> None:
    events = generator_handlers

    def clean_up() -> None:
        events.append("clean-up")
        signal.raise_signal(signal.SIGINT)  # impatient
        signal.raise_signal(signal.SIGTERM)
        _checks()
        events.append("clean-up done")

    guard = InterruptGuard(clean_up)
    guard.install()
    signal.raise_signal(signal.SIGINT)
    _checks()
    assert events == ["clean-up", "clean-up done", "generator SIGINT", "generator SIGTERM"]


def test_an_ignored_signal_stays_ignored_and_a_later_handler_stays() -> None:
    def later(signum: int, frame: object) -> None:
        pass

    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        guard = InterruptGuard(lambda: None)
        guard.install()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        signal.signal(signal.SIGINT, later)  # the generator's, after ours
        guard.uninstall()
        assert signal.getsignal(signal.SIGINT) is later
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


GUARDED = """\
import sys, time
from shard_assets.interrupts import InterruptGuard
guard = InterruptGuard(lambda: print("cleaned up", flush=True))
guard.install()
print("ready", flush=True)
if sys.argv[1] == "exit":
    sys.exit(3)  # the build never ended: the clean-up runs at exit
time.sleep(30)
"""


@pytest.mark.parametrize("end", ["SIGTERM", "exit"])
def test_sigterm_still_ends_the_process_and_an_unended_build_is_cleaned_at_exit(end: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", GUARDED, end],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stderr is not None
            assert child.stdout.readline() == "ready\n"
            if end == "SIGTERM":
                child.send_signal(signal.SIGTERM)
            out, err = child.stdout.read(), child.stderr.read()  # readline's buffers
            child.wait(timeout=60)
        finally:
            child.kill()
    assert out == "cleaned up\n", err
    # Killed by the signal, as with no handler (not an exit status of ours).
    assert child.returncode == (-signal.SIGTERM if end == "SIGTERM" else 3)
