"""Ctrl-C and SIGTERM as an exception (shard_assets/interrupts.py): raised once inside
``interrupts_raise``, the handlers given back after it, and the exit status and
message the command line gives. Interrupted builds end to end are
tests/test_faults.py's."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from shard_assets.interrupts import (
    SIGNALS,
    Interrupted,
    describe,
    exit_status,
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
