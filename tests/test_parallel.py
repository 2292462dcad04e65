"""``--jobs``: the same output and manifest for any number of worker processes, and the
progress bar only on a terminal."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shard_assets.build import scan
from shard_assets.cli.commands import ProgressBar, main
from shard_assets.parallel import PARALLEL_MIN_ITEMS

from .conftest import HOSTS, ROOT, make_site, snapshot


def _build(site: Path, manifest: Path, *extra: str) -> int:
    args = ["build", str(site), "--manifest", str(manifest), "--quiet"]
    for host in HOSTS:
        args += ["--host", host]
    return main([*args, *extra])


@pytest.fixture
def big_site(tmp_path: Path) -> Path:
    """Enough documents for the worker processes to start."""
    site = make_site(tmp_path / "original", images=30, pages=PARALLEL_MIN_ITEMS + 20)
    (site / "css" / "extra.css").write_text(
        '@import url("site.css");\n.a { background: url(../img/photo-001.png) }\n'
        ".b { background: url(../img/missing.png) }\n",
        encoding="utf-8",
    )
    return site


@pytest.mark.parametrize("budget", [scan.SPAN_BUDGET, 40])
def test_every_number_of_jobs_gives_the_same_bytes(
    tmp_path: Path, big_site: Path, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small budget: most documents' spans wait in a temporary file for pass two.
    monkeypatch.setattr(scan, "SPAN_BUDGET", budget)
    outputs = {}
    for jobs in (1, 2, 3):
        site = tmp_path / f"jobs{jobs}"
        shutil.copytree(big_site, site)
        manifest = tmp_path / f"jobs{jobs}.json"
        assert _build(site, manifest, "--jobs", str(jobs)) == 0
        outputs[jobs] = (snapshot(site), manifest.read_bytes())
        # A second run over sharded output changes nothing, with any number of jobs.
        assert _build(site, manifest, "--jobs", str(4 - jobs)) == 0
        assert (snapshot(site), manifest.read_bytes()) == outputs[jobs]
    assert outputs[1] == outputs[2] == outputs[3]
    assert outputs[1][0] != snapshot(big_site)


def test_a_host_change_with_workers_re_points_the_same_way(tmp_path: Path, big_site: Path) -> None:
    results = []
    for jobs in ("1", "2"):
        site = tmp_path / f"site{jobs}"
        shutil.copytree(big_site, site)
        manifest = tmp_path / f"m{jobs}.json"
        assert _build(site, manifest, "--jobs", jobs) == 0
        args = ["build", str(site), "--manifest", str(manifest), "--quiet", "--jobs", jobs]
        for host in [*HOSTS, "cdn5.example.com"]:
            args += ["--host", host]
        assert main(args) == 0
        results.append((snapshot(site), manifest.read_bytes()))
    assert results[0] == results[1]


def test_jobs_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _build(make_site(tmp_path / "site"), tmp_path / "m.json", "--jobs", "0")
    assert exit_info.value.code == 2
    assert "--jobs: must be a whole number of 1 or more" in capsys.readouterr().err


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path, big_site: Path) -> None:
    command = [sys.executable, "-m", "shard_assets.cli", "build", str(big_site)]
    command += ["--manifest", str(tmp_path / "m.json"), "--jobs", "2"]
    for host in HOSTS:
        command += ["--host", host]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert "\r" not in result.stderr and "files/s" not in result.stderr
    assert "references rewritten" in result.stdout


def test_the_progress_bar_draws_and_clears_one_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, delay=0)
    bar.start -= 1  # as if the build had been running for a second
    for done in range(1, 4):
        bar("scan", done, 3)
    bar("rewrite", 3, 3)
    bar.close()
    drawn = stream.getvalue()
    assert "\n" not in drawn
    assert "scanning" in drawn and "rewriting" in drawn and "3/3 files" in drawn
    assert drawn.endswith("\r\x1b[K")


def test_a_short_run_draws_nothing() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar("scan", 1, 2)
    bar.close()
    assert stream.getvalue() == ""


def _pid(context: object, item: int) -> tuple[int, int]:
    time.sleep(0.002)  # a batch takes a while, so a loaded machine still uses both workers
    return item, os.getpid()


def test_workers_are_other_processes_and_results_keep_their_order() -> None:
    from shard_assets.parallel import run_each

    items = list(range(PARALLEL_MIN_ITEMS * 3))
    results = list(run_each(_pid, iter(items), None, 2, count=len(items)))
    assert [item for item, _ in results] == items
    assert os.getpid() not in {pid for _, pid in results}
    assert len({pid for _, pid in results}) == 2


# Python 3.12+ warns on any fork with threads running; here that is the point.
@pytest.mark.filterwarnings("ignore:This process:DeprecationWarning")
def test_workers_start_while_another_thread_runs() -> None:
    """Pelican's progress display runs a thread while the build shards the output."""
    import threading

    from shard_assets.parallel import run_each

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        items = list(range(PARALLEL_MIN_ITEMS * 2))
        results = list(run_each(_pid, iter(items), None, 2, count=len(items)))
    finally:
        stop.set()
        thread.join()
    assert [item for item, _ in results] == items
    assert os.getpid() not in {pid for _, pid in results}


def test_workers_take_items_as_they_come_and_bound_the_batches_in_flight() -> None:
    """The handover's way: items given one at a time (a batch is sent when it has
    BATCH items or BATCH_SIZE of their sizes), results back in order, and at most
    IN_FLIGHT batches per worker waiting before :meth:`Workers.submit` waits."""
    from shard_assets.parallel import BATCH, BATCH_SIZE, IN_FLIGHT, Workers

    workers = Workers(_pid, None, 1)
    try:
        due = [workers.submit(item, BATCH_SIZE) for item in range(IN_FLIGHT + 3)]
        # One item per batch: the first results come due once IN_FLIGHT are in flight.
        assert [[item for item, _ in results] for results in due] == [
            *([] for _ in range(IN_FLIGHT)),
            [0],
            [1],
            [2],
        ]
        small = [workers.submit(item) for item in range(100, 100 + BATCH - 1)]
        assert small == [[] for _ in range(BATCH - 1)]  # not a batch yet: nothing waits
        rest = [item for item, _ in workers.results()]
    finally:
        workers.close()
    assert rest == [*range(3, IN_FLIGHT + 3), *range(100, 100 + BATCH - 1)]
    assert os.getpid() not in {pid for results in due for _, pid in results}


def test_workers_stop_after_every_item_or_only_the_batches_started() -> None:
    """How a handover that is given up stops its workers: direct, every page handed
    over is still written (``finish``); deferred, the pages not sent are dropped."""
    from shard_assets.parallel import BATCH, Workers

    given = range(BATCH + 3)  # one batch sent, three items not yet
    workers = Workers(_pid, None, 1)
    for item in given:
        assert workers.submit(item) == []
    assert [item for item, _ in workers.stop(finish=True)] == list(given)
    workers = Workers(_pid, None, 1)
    for item in given:
        workers.submit(item)
    # The batch sent may have started (then it finishes) or not; the rest never runs.
    assert [item for item, _ in workers.stop(finish=False)] in ([], list(range(BATCH)))


def _fail_on_seven(context: object, item: int) -> tuple[int, int]:
    if item == 7:
        raise OSError(28, "No space left on device", f"page-{item}.html")
    return item, os.getpid()


def _die_on_seven(context: object, item: int) -> tuple[int, int]:
    if item == 7:
        os._exit(9)  # as the kernel's out-of-memory killer would end it
    return item, os.getpid()


def test_a_pipe_worker_keeps_the_order_in_one_other_process_and_no_thread() -> None:
    """The direct handover's worker: items given one at a time (a batch sent at BATCH
    items or BATCH_SIZE of their sizes), done in one forked process, results back in
    order, and no thread started in the caller's process (the generator's)."""
    import threading

    from shard_assets.parallel import BATCH, BATCH_SIZE, PipeWorker

    threads = threading.active_count()
    worker = PipeWorker(_pid, None)
    items = [*range(3 * BATCH + 5), *range(1000, 1003)]
    for item in items:
        assert worker.submit(item, BATCH_SIZE if item >= 1000 else 1) == []
        assert threading.active_count() == threads
    results = list(worker.results())
    worker.close()
    assert [item for item, _ in results] == items
    pids = {pid for _, pid in results}
    assert len(pids) == 1
    assert os.getpid() not in pids


def test_a_pipe_worker_raises_a_batch_error_at_a_next_batch_and_does_the_rest() -> None:
    """A page the worker could not write (a full disk) fails the build at a next batch
    given, with the worker's error (its file named); every batch sent is done all the
    same, as the pool's are, so a direct handover given up has every other page
    written."""
    from shard_assets.parallel import BATCH, PipeWorker

    worker = PipeWorker(_fail_on_seven, None)
    given: list[int] = []
    with pytest.raises(OSError, match="No space left") as raised:
        for item in range(1000 * BATCH):  # until the worker's note of 7 is seen
            given.append(item)
            worker.submit(item)
            time.sleep(0.001)
    assert raised.value.filename == "page-7.html"
    assert len(given) % BATCH == 0  # raised as a batch was sent, that batch included
    done = [item for item, _ in worker.stop(finish=True)]
    assert done == given[BATCH:]  # all but the batch of 7
    with pytest.raises(OSError, match="No space left"):
        worker.submit(given[-1] + 1)

    worker = PipeWorker(_fail_on_seven, None)
    for item in range(3 * BATCH):
        worker.submit(item)
    with pytest.raises(OSError, match="No space left"):
        worker.results()
    # stop, as a handover given up calls it: the batches that did not fail.
    assert [item for item, _ in worker.stop(finish=True)] == list(range(BATCH, 3 * BATCH))


def test_a_pipe_worker_that_dies_is_an_error_not_missing_pages() -> None:
    from shard_assets.parallel import BATCH, BrokenWorker, PipeWorker

    worker = PipeWorker(_die_on_seven, None)
    with pytest.raises(BrokenWorker, match="exit status 9"):
        for item in range(3 * BATCH):
            worker.submit(item)
        list(worker.results())


def test_a_pipe_worker_stops_with_or_without_the_items_not_sent() -> None:
    """How a handover that is given up stops it: every item given (``finish``), or
    only the batches sent (the pipe cannot take those back)."""
    from shard_assets.parallel import BATCH, PipeWorker

    given = range(BATCH + 3)  # one batch sent, three items not yet
    worker = PipeWorker(_pid, None)
    for item in given:
        worker.submit(item)
    assert [item for item, _ in worker.stop(finish=True)] == list(given)
    worker = PipeWorker(_pid, None)
    for item in given:
        worker.submit(item)
    assert [item for item, _ in worker.stop(finish=False)] == list(range(BATCH))
    assert PipeWorker(_pid, None).stop(finish=True) == []  # never started
