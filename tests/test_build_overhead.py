"""benchmarks/build_overhead.py cannot rot: its Sphinx site builds with and without the
extension in every way the benchmark times, the scale run's output is what it says,
and the tables compare each sharded run with the plain run of its own round."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import scale
from benchmarks.generators import Sphinx
from benchmarks.sites import HOSTS, IMAGES_PER_PAGE, scale_output
from benchmarks.timing import Build, Rounds, Run, alternate, rows

pytest.importorskip("sphinx")


def test_the_sphinx_site_builds_every_way_the_benchmark_times(tmp_path: Path) -> None:
    site = Sphinx(tmp_path, 8, "alabaster")
    builds = site.builds()
    # Each build's own check runs too: the sharded ones wrote their summary, the
    # incremental plain build read exactly the changed page.
    rounds = alternate(builds, 1)
    labels = [row[0] for row in rows(rounds)]
    assert labels == [b.label for b in builds]
    assert {b.key for b in builds} >= {"plain", "first", "rebuild", "rebuild, empty"}
    plain, _ = site.folders("plain")
    sharded, _ = site.folders("sharded")
    pages = sorted(p.relative_to(plain) for p in plain.glob("section-*/page-*.html"))
    assert len(pages) == 8 - 1 - 1  # the root and one section's index are the others
    for page in pages:
        unsharded = (plain / page).read_text(encoding="utf-8")
        images = re.findall(r'<img [^>]*src="\.\./_images/(shot-\d+\.png)"', unsharded)
        assert len(images) == IMAGES_PER_PAGE, page
        assert all((plain / "_images" / name).is_file() for name in images)
        assert "_static/css/bench.css" in unsharded
        text = (sharded / page).read_text(encoding="utf-8")
        on_hosts = re.findall(r'<img [^>]*src="https://(cdn\d\.example\.com)/_images/', text)
        assert len(on_hosts) == IMAGES_PER_PAGE, page
        assert set(on_hosts) <= set(HOSTS)
    stylesheet = (plain / "_static" / "css" / "bench.css").read_text(encoding="utf-8")
    assert stylesheet.count("url(") >= 4
    assert site.manifest.is_file()


def test_the_scale_output_has_its_pages_of_about_4_kb(tmp_path: Path) -> None:
    output = scale_output(tmp_path, 1200)
    pages = sorted(output.rglob("*.html"))
    assert len(pages) == 1200
    sizes = [p.stat().st_size for p in pages if p.name != "index.html"]
    assert 4100 < sum(sizes) / len(sizes) < 4500
    page = pages[1].read_text(encoding="utf-8")
    images = re.findall(r'src="\.\./(images/gallery/shot-\d+\.png)"', page)
    assert len(images) == IMAGES_PER_PAGE
    assert all((output / image).is_file() for image in images)
    for link in re.findall(r'href="\.\./(section-\d+/page-\d+\.html)"', page):
        assert (output / link).is_file()
    assert scale_output(tmp_path, 1200) == output  # made once, then kept


def test_the_scale_run_shards_a_copy_and_reports_peak_memory(tmp_path: Path) -> None:
    text = scale.bench_scale(tmp_path, 150, 1)
    assert "| first build (no manifest) |" in text
    assert "| rebuild (manifest present) |" in text
    assert re.search(r"\| \d+ MB \| \d+ MB \|\n", text)
    # The output the runs sharded copies of is still unsharded.
    original = (tmp_path / "scale-150" / "section-000" / "page-000000.html").read_text()
    assert "cdn1.example.com" not in original
    assert (tmp_path / "scale.json").is_file()


def test_the_scale_run_runs_another_tree_in_the_same_rounds(tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    (before / "sitecustomize.py").write_text(
        "import os\nopen(os.environ['MARK'], 'a').write('before ')\n"
    )
    mark = tmp_path / "mark"
    env = {"PYTHONPATH": str(before), "MARK": str(mark)}
    text = scale.bench_scale(tmp_path, 150, 1, env)
    assert "| first build (no manifest), before |" in text
    assert "| rebuild (manifest present), before |" in text
    assert mark.read_text() == "before before "  # two runs with its environment, only


def _run(wall: float, cpu: float) -> Run:
    return Run(wall, cpu, "", 1.0)


def test_a_build_is_compared_with_the_plain_build_of_its_own_round() -> None:
    def never() -> Run:
        raise AssertionError

    builds = [Build("plain", "plain", never, base=None), Build("with", "with", never)]
    # The machine slows down round by round; the second and third pairs add 5% and
    # 3.3%, the first (a burst of load during the sharded build) 150%. The ratio of
    # the medians (25/20) would say +25%; the median of the pairs says +5%.
    rounds = Rounds(
        builds,
        {
            "plain": [_run(10.0, 10.0), _run(20.0, 5.0), _run(30.0, 5.0)],
            "with": [_run(25.0, 12.0), _run(21.0, 6.0), _run(31.0, 6.0)],
        },
    )
    (plain_row, with_row) = rows(rounds)
    assert plain_row[2] == ""
    assert with_row[1] == "25.00 s (21.00-31.00)"
    assert with_row[2] == "+5.0% (+3.3..+150.0%)"
    assert with_row[4] == "+20.0% (+20.0..+20.0%)"


def sharded_workers_time(project: Path, *arguments: str) -> float:
    """Run benchmarks/processes.py for one round on ``project``: check its two rows
    (the plain build, with no worker; the sharded one) and return the CPU seconds of
    the sharded build's workers."""
    script = Path(scale.__file__).with_name("processes.py")
    command = [sys.executable, str(script), *arguments, "--project", str(project)]
    done = subprocess.run([*command, "--repeat", "1"], capture_output=True, text=True, check=True)
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines()[2:]]
    assert [[cell.strip() for cell in row[:2]] for row in rows] == [
        ["1", "plain"],
        ["1", "sharded"],
    ]
    (_, _, _, _, plain_workers), (_, _, _, _, sharded_workers) = rows
    assert plain_workers.strip() == "0.00 s, 0.00 s"
    user, system = (float(t.strip().rstrip(" s")) for t in sharded_workers.split(","))
    return user + system


def test_processes_splits_the_cpu_between_mkdocs_and_the_workers(tmp_path: Path) -> None:
    """benchmarks/processes.py: a row per build, the plain one with no worker, the
    sharded one with the plugin's worker process."""
    pytest.importorskip("mkdocs")
    from .generators import copy_mkdocs

    project = copy_mkdocs(tmp_path / "project")
    config = (project / "mkdocs.yml").read_text()
    (project / "mkdocs-sharded.yml").write_text(
        config.replace("      max_imbalance", "      jobs: 2\n      max_imbalance")
    )
    (project / "mkdocs-plain.yml").write_text(
        config.replace("      max_imbalance", "      enabled: false\n      max_imbalance")
    )
    # The worker's time is counted apart from MkDocs'.
    assert sharded_workers_time(project) > 0
    assert "cdn1.example.com" in (project / "site" / "index.html").read_text()


def test_processes_splits_the_cpu_between_pelican_and_the_worker(tmp_path: Path) -> None:
    """benchmarks/processes.py --generator pelican: the plain build has no plugin, so
    no worker; the sharded one has the plugin's worker, and shards the pages."""
    pytest.importorskip("pelican")
    from .generators import copy_pelican

    project = copy_pelican(tmp_path / "project")
    settings = project / "pelicanconf.py"  # a worker even on one core
    settings.write_text(settings.read_text() + '\nSHARD_ASSETS["jobs"] = 2\n')
    assert sharded_workers_time(project, "--generator", "pelican") > 0
    assert "cdn1.example.com" in (project / "output" / "index.html").read_text()
