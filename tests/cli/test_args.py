"""The command's flags (shard_assets/cli/args.py): each settings flag gives the
Settings the same option gives a plugin, the value types, the three-line usage
mistakes and the short usage. The subcommands themselves are test_commands.py's."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from shard_assets.cli.args import (
    Parser,
    add_check_arguments,
    add_jobs_argument,
    add_report_arguments,
    add_settings_arguments,
    seconds,
    settings_from,
    whole_number,
)
from shard_assets.config import KNOWN_SETTINGS, Settings, load_settings
from shard_assets.errors import ConfigError
from shard_assets.parallel import default_jobs

from ..conftest import HOSTS

HOST_FLAGS = [flag for host in HOSTS for flag in ("--host", host)]
Adder = Callable[[argparse.ArgumentParser], None]


def _parser(*adders: Adder, prog: str = "shard-assets build") -> Parser:
    """A parser that takes an output folder and the flags ``adders`` add."""
    parser = Parser(prog=prog)
    parser.add_argument("output_dir", metavar="OUTPUT_DIR")
    for add in adders:
        add(parser)
    return parser


def _build_flags(*flags: str) -> argparse.Namespace:
    return _parser(add_settings_arguments, add_jobs_argument).parse_args(["site", *flags])


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative manifest path is relative to the folder the command runs in."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("flags", "options"),
    [
        ([], {}),
        (["--manifest", "state/m.json"], {"manifest": "state/m.json"}),
        (["--site-url", "https://example.org/docs/"], {"site_url": "https://example.org/docs/"}),
        (["--exclude", "img/*", "--exclude", "*.svg"], {"exclude": ["img/*", "*.svg"]}),
        (["--attribute", "img[data-src]"], {"attributes": ["img[data-src]"]}),
        (["--cors-assets", "shard"], {"cors_assets": "shard"}),
        (["--stylesheets", "shard"], {"stylesheets": "shard"}),
        (["--max-imbalance", "0.25"], {"max_imbalance": 0.25}),
        (["--scheme", "relative"], {"scheme": "relative"}),
        (["--strict"], {"strict": True}),
        (["--preconnect"], {"preconnect": True}),
        (["--locked"], {"locked": True}),
        (["--unsharded-copy", "site-h2"], {"unsharded_copy": "site-h2"}),
        (["--algorithm", "rendezvous"], {"algorithm": "rendezvous"}),
        (["--no-bounded"], {"bounded": False}),
        (["--balance-by", "bytes"], {"balance_by": "bytes"}),
        (["--pin", "js/*=cdn2.example.com"], {"pin": {"js/*": "cdn2.example.com"}}),
        # The last "=" splits: a glob may hold one.
        (["--pin", "a=b/*=cdn2.example.com"], {"pin": {"a=b/*": "cdn2.example.com"}}),
        (["--max-page-imbalance", "0.5"], {"max_page_imbalance": 0.5}),
        (["-j", "3"], {"jobs": 3}),
    ],
    ids=lambda value: " ".join(value) or "no-flag" if isinstance(value, list) else "",
)
def test_each_flag_gives_the_setting_a_plugin_option_gives(
    tmp_path: Path, flags: list[str], options: dict[str, object]
) -> None:
    settings = settings_from(_build_flags(*HOST_FLAGS, *flags))
    expected = load_settings(
        {"hosts": HOSTS, "jobs": default_jobs(), **options}, base_dir=tmp_path, source="test"
    )
    assert settings == expected


@pytest.mark.parametrize(
    ("flags", "hosts"),
    [
        (["--host", "a.example", "--host", "b.example"], ["a.example", "b.example"]),
        (["--host", "a.example=2", "--host", "b.example"], {"a.example": 2.0, "b.example": 1.0}),
        (["--host", "a.example=0.5", "--host", "b.example="], {"a.example": 0.5, "b.example": 1}),
    ],
)
def test_hosts_and_their_weights(tmp_path: Path, flags: list[str], hosts: object) -> None:
    settings = settings_from(_build_flags(*flags))
    assert settings == load_settings(
        {"hosts": hosts, "jobs": default_jobs()}, base_dir=tmp_path, source="test"
    )


def test_every_setting_of_a_build_has_a_flag() -> None:
    """But the three that mean nothing to the command (it has ``verify`` and
    ``report`` commands, and a command run is always enabled)."""
    given = set(vars(_build_flags(*HOST_FLAGS)))
    named = {"pins": "pin"}
    flagged = {named.get(dest, dest) for dest in given} & set(KNOWN_SETTINGS)
    assert set(KNOWN_SETTINGS) - flagged == {"enabled", "report", "verify"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pin", "js/*"], "--pin 'js/*': write GLOB=HOST, e.g. 'js/*=cdn1.example.com'"),
        (["--pin", "=cdn1.example.com"], "--pin '=cdn1.example.com': write GLOB=HOST"),
        (["--pin", "js/*="], "--pin 'js/*=': write GLOB=HOST"),
        (
            ["--pin", "js/*=cdn9.example.com"],
            "command line: shard-assets setting 'pin' pins 'js/*' to 'cdn9.example.com', "
            "which is not in hosts",
        ),
        (
            ["--host", "cdn5.example.com=heavy"],
            "--host 'cdn5.example.com=heavy': the weight after '=' must be a number",
        ),
        (
            ["--max-imbalance", "-1"],
            "command line: shard-assets setting 'max_imbalance' must be 0 or more",
        ),
        (
            ["--site-url", "example.org"],
            "command line: shard-assets setting 'site_url' 'example.org' is not an http(s) URL",
        ),
    ],
)
def test_a_wrong_value_is_a_config_error_that_names_it(flags: list[str], message: str) -> None:
    args = _build_flags(*HOST_FLAGS, *flags)
    with pytest.raises(ConfigError) as raised:
        settings_from(args)
    assert message in str(raised.value)


BUILD_USAGE = "usage: shard-assets build [options] OUTPUT_DIR --host HOST[=WEIGHT]"
CHECK_USAGE = "usage: shard-assets check-hosts [options] OUTPUT_DIR"


@pytest.mark.parametrize(
    ("adders", "flags", "error", "usage"),
    [
        (
            [add_settings_arguments],
            [],
            "the following arguments are required: --host",
            BUILD_USAGE,
        ),
        (
            [add_settings_arguments, add_jobs_argument],
            [*HOST_FLAGS, "-j", "0"],
            "argument -j/--jobs: must be a whole number of 1 or more, got '0'",
            BUILD_USAGE,
        ),
        (
            [add_settings_arguments, add_jobs_argument],
            [*HOST_FLAGS, "--jobs", "two"],
            "argument -j/--jobs: must be a whole number of 1 or more, got 'two'",
            BUILD_USAGE,
        ),
        (
            [add_settings_arguments],
            [*HOST_FLAGS, "--max-imbalance", "lots"],
            "argument --max-imbalance: invalid float value: 'lots'",
            BUILD_USAGE,
        ),
        (
            [add_settings_arguments],
            [*HOST_FLAGS, "--cors-assets", "shards"],
            "argument --cors-assets: invalid choice: 'shards' (choose from 'origin', 'shard')",
            BUILD_USAGE,
        ),
        (
            [add_check_arguments],
            ["--timeout", "inf"],
            "argument --timeout: must be a number of seconds above 0, got 'inf'",
            CHECK_USAGE,
        ),
        (
            [add_check_arguments],
            ["--sample", "-1"],
            "argument --sample: must be a whole number of 1 or more, got '-1'",
            CHECK_USAGE,
        ),
        (
            [add_check_arguments],
            ["--format", "html"],
            "argument --format: invalid choice: 'html' (choose from 'text', 'json')",
            CHECK_USAGE,
        ),
    ],
    ids=["no-host", "jobs-0", "jobs-two", "float", "choice", "timeout", "sample", "format"],
)
def test_a_usage_mistake_is_three_lines_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    adders: list[Adder],
    flags: list[str],
    error: str,
    usage: str,
) -> None:
    prog = usage.removeprefix("usage: ").partition(" [")[0]
    with pytest.raises(SystemExit) as exit_:
        _parser(*adders, prog=prog).parse_args(["site", *flags])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        f"{prog}: error: {error}\n{usage}\nsee '{prog} --help' for every option\n"
    )


def _required_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="DIR")


def _optional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true")


def _many(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("more", nargs="*", metavar="FILE")


@pytest.mark.parametrize(
    ("adders", "usage"),
    [
        ([], "prog OUTPUT_DIR"),
        ([_optional], "prog [options] OUTPUT_DIR"),
        ([_required_option], "prog OUTPUT_DIR --to DIR"),
        ([_optional, _required_option], "prog [options] OUTPUT_DIR --to DIR"),
        ([_many], "prog OUTPUT_DIR [FILE ...]"),
    ],
)
def test_short_usage_names_what_must_be_given(adders: list[Adder], usage: str) -> None:
    # argparse's own -h/--help counts as an option; without it, no [options].
    parser = Parser(prog="prog", add_help=False)
    parser.add_argument("output_dir", metavar="OUTPUT_DIR")
    for add in adders:
        add(parser)
    assert parser.short_usage() == usage


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("16", 16), (" 2 ", 2)])
def test_whole_number(text: str, value: int) -> None:
    assert whole_number(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "", "two"])
def test_not_a_whole_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"got {text!r}$"):
        whole_number(text)


@pytest.mark.parametrize(("text", "value"), [("10", 10.0), ("0.5", 0.5), ("1e-3", 0.001)])
def test_seconds(text: str, value: float) -> None:
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "", "soon"])
def test_not_seconds(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="must be a number of seconds above 0"):
        seconds(text)


@pytest.mark.parametrize(
    ("adders", "defaults"),
    [
        (
            [add_report_arguments],
            {
                "manifest": Path("shard-manifest.json"),
                "since": None,
                "format": "html",
                "output": None,
                "site_url": None,
                "attributes": [],
            },
        ),
        (
            [add_check_arguments],
            {
                "hosts": None,
                "manifest": "shard-manifest.json",
                "scheme": "https",
                "resolve": [],
                "connect_to": [],
                "ca_file": None,
                "unsharded_copy": None,
                "sample": None,
                "format": "text",
                "connections": 8,
                "timeout": 10.0,
            },
        ),
        ([add_jobs_argument], {"jobs": default_jobs()}),
    ],
    ids=["report", "check-hosts", "jobs"],
)
def test_defaults(adders: list[Adder], defaults: dict[str, object]) -> None:
    given = vars(_parser(*adders).parse_args(["site"]))
    assert {name: given[name] for name in defaults} == defaults


def test_repeated_flags_add_up() -> None:
    resolve = ["--resolve", "a:443:127.0.0.1", "--resolve", "b:443:127.0.0.2"]
    rest = ["--connect-to", "a:443:b:8443", "--ca-file", "ca.pem", "--sample", "3"]
    args = _parser(add_check_arguments).parse_args(["site", *resolve, *rest])
    assert args.resolve == ["a:443:127.0.0.1", "b:443:127.0.0.2"]
    assert args.connect_to == ["a:443:b:8443"]
    assert (args.ca_file, args.sample) == (Path("ca.pem"), 3)


def test_settings_from_check_flags_has_the_plugin_defaults(tmp_path: Path) -> None:
    # check-hosts takes the site's flags, not the build's: the rest are defaults.
    args = _parser(add_check_arguments).parse_args(["site", *HOST_FLAGS])
    settings: Settings = settings_from(args)
    assert settings == load_settings({"hosts": HOSTS}, base_dir=tmp_path, source="test")
