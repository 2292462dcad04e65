"""The command line: exit codes, messages, and the same results as the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shard_assets.cli import main

from ..conftest import HOSTS, snapshot


def run(site: Path, *extra: str) -> int:
    args = ["build", str(site), "--manifest", str(site.parent / "m.json")]
    for host in HOSTS:
        args += ["--host", host]
    return main([*args, *extra])


def test_build_prints_a_summary_and_writes_the_manifest(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site) == 0
    out = capsys.readouterr().out
    # 43 files, less the two stylesheets (stylesheets: origin).
    assert "41 assets over 4 hosts" in out
    assert "cdn4.example.com" in out
    assert json.loads((site.parent / "m.json").read_text())["version"] == 1


def test_quiet(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_weights_on_the_command_line(site: Path) -> None:
    args = [
        "build",
        str(site),
        "--manifest",
        str(site.parent / "m.json"),
        "--host",
        "a.example.com=3",
        "--host",
        "b.example.com",
    ]
    assert main(args) == 0
    assert json.loads((site.parent / "m.json").read_text())["hosts"] == {
        "a.example.com": 3,
        "b.example.com": 1,
    }


def test_plan_keeps_fractional_weights(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest's weights round-trip through ``plan``: 1.5 is not written back as '3/2'."""
    manifest = str(site.parent / "m.json")
    hosts = ["--host", "a.example.com=1.5", "--host", "b.example.com"]
    assert main(["build", str(site), "--manifest", manifest, "--quiet", *hosts]) == 0
    capsys.readouterr()
    # Exit 0 or 1 is the gate's verdict on the plan; a weight it cannot read back is 2.
    assert main(["plan", str(site), "--manifest", manifest, "--add-host", "c.example.com"]) in (
        0,
        1,
    )
    out, err = capsys.readouterr()
    assert err == "" and "nothing was written" in out
    # a's fair share is 41 assets x 1.5 / 3.5: the weight came back as 1.5.
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("a.example"))
    assert row[3] == "17.6", out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--host", "https://cdn5.example.com"], "has a scheme"),
        (["--host", "cdn1.example.com"], "twice"),
        (["--site-url", "nope"], "not an http(s) URL"),
    ],
)
def test_configuration_mistakes_exit_2_and_touch_nothing(
    site: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    before = snapshot(site)
    assert run(site, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("shard-assets: error: command line: ")
    assert message in err
    assert "Traceback" not in err
    assert snapshot(site) == before
    assert not (site.parent / "m.json").exists()


def test_missing_output_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path / "nope"), "--host", "a.example.com"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["build"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    ("argv", "error", "usage"),
    [
        (
            ["build", "site"],
            "shard-assets build: error: the following arguments are required: --host",
            "usage: shard-assets build [options] OUTPUT_DIR --host HOST[=WEIGHT]",
        ),
        (
            ["report", "site", "--format", "pdf"],
            "shard-assets report: error: argument --format: invalid choice: 'pdf' "
            "(choose from 'html', 'text', 'json')",
            "usage: shard-assets report [options] OUTPUT_DIR",
        ),
        (
            ["bild", "site"],
            "shard-assets: error: argument COMMAND: invalid choice: 'bild' "
            "(choose from 'build', 'plan', 'rebalance', 'verify', 'report', 'check-hosts')",
            "usage: shard-assets [options] COMMAND ...",
        ),
    ],
)
def test_a_usage_mistake_is_the_error_a_short_usage_and_where_to_see_more(
    capsys: pytest.CaptureFixture[str], argv: list[str], error: str, usage: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    prog = error.partition(": error")[0]
    assert capsys.readouterr().err.splitlines() == [
        error,
        usage,
        f"see '{prog} --help' for every option",
    ]


def test_short_flags(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = site.parent / "m.json"
    hosts = [arg for host in HOSTS for arg in ("--host", host)]
    assert main(["build", str(site), "-q", "-j", "2", "--manifest", str(manifest), *hosts]) == 0
    assert capsys.readouterr().out == ""
    before = snapshot(site)
    rebalance = ["rebalance", str(site), "-n", "-j", "1", "--manifest", str(manifest), *hosts]
    assert main(rebalance) == 0
    assert "nothing was written" in capsys.readouterr().out
    assert snapshot(site) == before
    report = site.parent / "report.json"
    assert (
        main(
            [
                "report",
                str(site),
                "--manifest",
                str(manifest),
                "--format",
                "json",
                "-o",
                str(report),
            ]
        )
        == 0
    )
    assert json.loads(report.read_text())
    assert main(["verify", str(site), "-q", "--manifest", str(manifest), *hosts]) == 0
    assert capsys.readouterr().out == f"shard-assets: wrote {report}\n"


def test_gate_failure_exits_1_with_the_table(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "--quiet") == 0
    manifest = site.parent / "m.json"
    data = json.loads(manifest.read_text())
    data["assets"] = dict.fromkeys(data["assets"], HOSTS[1])
    manifest.write_text(json.dumps(data))
    assert run(site) == 1
    err = capsys.readouterr().err
    assert "over cap by" in err and "cdn2.example.com" in err
    assert manifest.read_text() == json.dumps(data)


def test_strict_missing_exits_1(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "index.html").write_text('<img src="img/nope.png">')
    assert run(site, "--strict") == 1
    assert "index.html:1: img/nope.png is not in the output" in capsys.readouterr().err


def test_missing_warns_without_strict(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "index.html").write_text('<img src="img/nope.png">')
    assert run(site, "--quiet") == 0
    assert "warning: index.html:1: img/nope.png is not in the output" in capsys.readouterr().err
