"""The ``shard-assets`` command's flags: the parser, the flags each subcommand takes,
their value types, and the settings flags turned into :class:`Settings`.

A usage mistake is three lines (:class:`Parser`): the error, a short usage and where
to see more. The settings flags take their defaults from
:data:`shard_assets.config.DEFAULTS` and become :class:`Settings` in
:func:`settings_from`, the same validation as the plugins.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .. import ConfigError, Settings, load_settings
from ..check.text import FORMATS as CHECK_FORMATS
from ..config import CHOICES, DEFAULT_MANIFEST, DEFAULTS, KNOWN_SETTINGS
from ..parallel import default_jobs
from ..report.html import RENDERERS
from ..report.model import REPORT_NAME


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage mistakes are three lines: the error, a short
    usage (the arguments that must be given, then ``[options]``) and where to see
    every option."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            2,
            f"{self.prog}: error: {message}\nusage: {self.short_usage()}\n"
            f"see '{self.prog} --help' for every option\n",
        )

    def short_usage(self) -> str:
        """The program, its required arguments, and ``[options]`` for the rest."""
        formatter = self._get_formatter()
        parts = [self.prog]
        optional = False
        for action in self._actions:
            if not action.option_strings:
                metavar = formatter._get_default_metavar_for_positional(action)
                parts.append(formatter._format_args(action, metavar))
            elif action.required:
                metavar = formatter._get_default_metavar_for_optional(action)
                parts.append(
                    f"{action.option_strings[-1]} {formatter._format_args(action, metavar)}"
                )
            else:
                optional = True
        if optional:
            parts.insert(1, "[options]")
        return " ".join(parts)


def add_quiet_argument(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=help)


def add_settings_arguments(parser: argparse.ArgumentParser, hosts_required: bool = True) -> None:
    """The flags that mirror the settings of the plugins."""
    add_site_arguments(parser, hosts_required)
    add_build_arguments(parser)


def add_site_arguments(parser: argparse.ArgumentParser, hosts_required: bool = True) -> None:
    """The flags that say which references count and where they should point (all
    that ``verify`` reads)."""
    parser.add_argument(
        "--host",
        dest="hosts",
        action="append",
        metavar="HOST[=WEIGHT]",
        required=hosts_required,
        help="a shard hostname, repeated for each host; HOST=WEIGHT gives a weight",
    )
    parser.add_argument(
        "--manifest", default=DEFAULTS["manifest"], help="manifest path (default: %(default)s)"
    )
    parser.add_argument("--site-url", help="the site's public URL, e.g. https://example.org/docs/")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never shard these asset paths (repeatable)",
    )
    _add_attribute(parser, "also rewrite this attribute")
    for name, kept in (  # what stays on the site's origin (see shard_assets.kept)
        ("cors_assets", "web fonts, module scripts and crossorigin elements"),
        ("stylesheets", "stylesheets (.css files)"),
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            default=DEFAULTS[name],
            choices=CHOICES[name],
            help=f"'origin' keeps {kept} off the shard hosts (default: %(default)s)",
        )


def _add_attribute(parser: argparse.ArgumentParser, what: str) -> None:
    """``--attribute``, repeatable; ``what`` says what it means to this command."""
    parser.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="TAG[ATTR]",
        help=f"{what}, e.g. 'img[data-src]' (repeatable)",
    )


def _add_scheme(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheme", default=DEFAULTS["scheme"], choices=CHOICES["scheme"])


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say how a build places, rewrites and checks."""
    parser.add_argument(
        "--max-imbalance",
        type=float,
        default=DEFAULTS["max_imbalance"],
        help="the gate (default: %(default)s)",
    )
    _add_scheme(parser)
    parser.add_argument("--strict", action="store_true", help="fail on references to missing files")
    parser.add_argument(
        "--preconnect",
        action="store_true",
        help='add <link rel="preconnect"> for the shard hosts each page uses',
    )
    parser.add_argument(
        "--locked",
        action="store_true",
        help="fail, writing nothing, if the manifest would change (for CI)",
    )
    parser.add_argument(
        "--unsharded-copy",
        metavar="DIR",
        help="also write the rewritten pages and stylesheets unsharded in DIR, for "
        "HTTP/2 and HTTP/3 visitors (see docs/deploy.md)",
    )
    placement = parser.add_argument_group("placement (see docs/algorithms.md)")
    placement.add_argument(
        "--algorithm",
        default=DEFAULTS["algorithm"],
        choices=CHOICES["algorithm"],
        help="how assets are placed on hosts (default: %(default)s)",
    )
    placement.add_argument(
        "--no-bounded",
        dest="bounded",
        action="store_false",
        help="place by the plain hash, without the bounded-load pass (ketama-exact with ring)",
    )
    placement.add_argument(
        "--balance-by",
        default=DEFAULTS["balance_by"],
        choices=CHOICES["balance_by"],
        help="what the caps and the gate weigh: assets, their bytes, or their page "
        "requests (default: %(default)s)",
    )
    placement.add_argument(
        "--pin",
        dest="pins",
        action="append",
        default=[],
        metavar="GLOB=HOST",
        help="keep the assets matching GLOB on HOST, a configured host (repeatable)",
    )
    placement.add_argument(
        "--max-page-imbalance",
        type=float,
        default=DEFAULTS["max_page_imbalance"],
        help="fail when a page puts more than this share over its fair share of its "
        "asset requests on one host (default: off)",
    )


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=whole_number,
        default=default_jobs(),
        metavar="N",
        help="processes that read and rewrite files; the output is the same for any N "
        "(default: the number of cores, %(default)s)",
    )


def whole_number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return number


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {value!r}")
    return number


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings the command's flags give (a setting without a flag keeps its default)."""
    given = vars(args)
    options = {name: given[name] for name in KNOWN_SETTINGS if name in given}
    options["hosts"] = _hosts(args.hosts)
    if "pins" in given:
        options["pin"] = _pins(given["pins"])
    return load_settings(options, base_dir=Path.cwd(), source="command line")


def _pins(values: Sequence[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for value in values:
        pattern, equals, host = value.rpartition("=")
        if not equals or not pattern or not host:
            raise ConfigError(f"--pin {value!r}: write GLOB=HOST, e.g. 'js/*=cdn1.example.com'")
        pins[pattern] = host
    return pins


def _hosts(values: Sequence[str]) -> list[str] | dict[str, float]:
    if not any("=" in v for v in values):
        return list(values)
    weighted: dict[str, float] = {}
    for value in values:
        name, _, weight = value.partition("=")
        try:
            weighted[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--host {value!r}: the weight after '=' must be a number") from None
    return weighted


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``report``: the manifests to read, the format and where to write."""
    parser.add_argument(
        "--manifest",
        type=Path,
        default=Path(DEFAULT_MANIFEST),
        help="the manifest the site was built with (default: %(default)s)",
    )
    parser.add_argument(
        "--since", type=Path, metavar="OLD.json", help="an earlier manifest to compare with"
    )
    parser.add_argument("--format", choices=RENDERERS, default="html", help="default: html")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help=f"where to write (default: {REPORT_NAME} beside the manifest for html, "
        "standard output for text and json)",
    )
    parser.add_argument("--site-url", help="the site_url the site was built with, if any")
    _add_attribute(parser, "an extra attribute the build rewrote")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``check-hosts``: the site's, and how to reach and fetch from the hosts."""
    add_site_arguments(parser, hosts_required=False)
    _add_scheme(parser)
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT, as curl does (repeatable)",
    )
    parser.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="HOST:PORT:HOST2:PORT2",
        help="connect to HOST2:PORT2 for HOST:PORT, as curl does (repeatable)",
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="trust these CA certificates instead of the system's (SSL_CERT_FILE works too)",
    )
    parser.add_argument(
        "--unsharded-copy",
        metavar="DIR",
        help="the unsharded copy the build wrote (unsharded_copy): fetch pages from "
        "--site-url over HTTP/1.1, HTTP/2 and HTTP/3 and check which copy each gets",
    )
    parser.add_argument(
        "--sample",
        type=whole_number,
        metavar="N",
        help="fetch N assets per host and N pages (default: every asset, 10 pages)",
    )
    parser.add_argument("--format", choices=CHECK_FORMATS, default="text", help="default: text")
    parser.add_argument(
        "--connections",
        type=whole_number,
        default=8,
        metavar="N",
        help="connections open at once (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="for each connect, read and write (default: %(default)s)",
    )
