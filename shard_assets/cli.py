"""The ``shard-assets`` command: a thin layer over the library.

Exit codes: 0 success, 1 the build failed (gate, missing files in strict mode, a
manifest problem), 2 a usage or configuration mistake. Errors are one clean message,
never a traceback.

Each subcommand is a ``_cmd_<name>(args) -> int`` function registered in
:func:`_parser`; the settings flags (defaults from :data:`shard_assets.config.DEFAULTS`)
become :class:`Settings` in :func:`_settings`, the same validation as the plugins.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from . import (
    BuildResult,
    ConfigError,
    Settings,
    ShardAssetsError,
    __version__,
    build_report,
    load_settings,
    plan_build,
    render_html,
    render_json,
    render_text,
    shard_site,
)
from .config import CHOICES, DEFAULTS, KNOWN_SETTINGS
from .manifest import json_number, read_manifest
from .messages import build_warnings, plan_text, summary
from .parallel import default_jobs
from .report import (
    FORMATS,
    REPORT_NAME,
    default_report_path,
    load_manifest,
    report_settings,
    write_report,
)
from .scan import Progress

Command = Callable[[argparse.Namespace], int]


def _add_settings_arguments(parser: argparse.ArgumentParser, hosts_required: bool = True) -> None:
    """The flags that mirror the settings of the plugins."""
    _add_site_arguments(parser, hosts_required)
    _add_build_arguments(parser)


def _add_site_arguments(parser: argparse.ArgumentParser, hosts_required: bool = True) -> None:
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
    parser.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="TAG[ATTR]",
        help="also rewrite this attribute, e.g. 'img[data-src]' (repeatable)",
    )


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say how a build places, rewrites and checks."""
    parser.add_argument(
        "--max-imbalance",
        type=float,
        default=DEFAULTS["max_imbalance"],
        help="the gate (default: %(default)s)",
    )
    parser.add_argument("--scheme", default=DEFAULTS["scheme"], choices=CHOICES["scheme"])
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


def _add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=default_jobs(),
        metavar="N",
        help="processes that read and rewrite files; the output is the same for any N "
        "(default: the number of cores, %(default)s)",
    )


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {value!r}")
    return jobs


def _settings(args: argparse.Namespace) -> Settings:
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


def _output_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder; give the built site's output folder")
    return path


def _warn(message: str) -> None:
    print(f"shard-assets: warning: {message}", file=sys.stderr)


def _report_build(result: BuildResult, quiet: bool) -> int:
    for warning in build_warnings(result):
        _warn(warning)
    if not quiet:
        print(summary(result))
    return 0


_PHASES = {"scan": "scanning", "rewrite": "rewriting"}


class ProgressBar:
    """``scanning  1200/5000 files  2400 files/s`` on one line of a terminal.

    Nothing is drawn in the first half second (short runs stay quiet), then at most
    ten times a second; :meth:`close` clears the line.
    """

    def __init__(self, stream: TextIO, delay: float = 0.5) -> None:
        self.stream = stream
        self.delay = delay
        self.start = time.monotonic()
        self.phase_start = self.start
        self.phase = ""
        self.shown = self.start + delay - 0.1
        self.drawn = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.phase_start = phase, now
        if now - self.shown < 0.1 and done < total:
            return
        if now - self.start < self.delay and not self.drawn:
            return
        self.shown = now
        rate = done / max(now - self.phase_start, 1e-6)
        width = len(str(total))
        filled = 24 * done // max(total, 1)
        self.stream.write(
            f"\rshard-assets: {_PHASES.get(phase, phase):9} [{'#' * filled:24}] "
            f"{done:>{width}}/{total} files  {rate:,.0f} files/s\x1b[K"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Clear the line, if anything was drawn."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _progress(args: argparse.Namespace) -> ProgressBar | None:
    """A progress bar on stderr when it is a terminal and ``--quiet`` is not given."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    return ProgressBar(sys.stderr)


def _shard(args: argparse.Namespace, *, rebalance: bool = False) -> BuildResult:
    bar = _progress(args)
    progress: Progress | None = bar
    try:
        return shard_site(
            _output_dir(args.output_dir),
            _settings(args),
            rebalance=rebalance,
            jobs=args.jobs,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()


def _cmd_build(args: argparse.Namespace) -> int:
    return _report_build(_shard(args), args.quiet)


def _cmd_rebalance(args: argparse.Namespace) -> int:
    output_dir = _output_dir(args.output_dir)
    settings = _settings(args)
    if args.dry_run:
        plan = plan_build(output_dir, settings, rebalance=True, jobs=args.jobs)
        print(
            plan_text(
                plan.assignment, plan.report, plan.settings.max_imbalance, "rebalance would move"
            )
        )
        return 0
    return _report_build(_shard(args, rebalance=True), args.quiet)


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify_site  # noqa: PLC0415 (BeautifulSoup loads only for verify)

    findings = verify_site(_output_dir(args.output_dir), _settings(args))
    for finding in findings:
        print(finding)
    if findings:
        print(f"shard-assets verify: {len(findings)} problem(s)", file=sys.stderr)
        return 1
    if not args.quiet:
        print(
            "shard-assets verify: every site-local asset reference is sharded as the manifest says"
        )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    output_dir = _output_dir(args.output_dir)
    if not args.hosts:
        manifest = read_manifest(Path(args.manifest))
        if manifest is None:
            raise ConfigError(
                f"{args.manifest}: no manifest to start from; give the hosts with --host"
            )
        args.hosts = [
            f"{h.name}={json_number(h.weight)}" if h.weight != 1 else h.name for h in manifest.hosts
        ]
    names = [h.partition("=")[0] for h in args.hosts]
    for host in args.remove_hosts:
        if host not in names:
            raise ConfigError(f"--remove-host {host}: not among the hosts {', '.join(names)}")
        args.hosts = [h for h in args.hosts if h.partition("=")[0] != host]
    args.hosts += args.add_hosts
    plan = plan_build(output_dir, _settings(args), jobs=args.jobs)
    print(plan_text(plan.assignment, plan.report, plan.settings.max_imbalance, "would move"))
    return 0 if plan.report.ok else 1


def _cmd_report(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest)
    since = load_manifest(args.since, "earlier manifest") if args.since else None
    report = build_report(
        _output_dir(args.output_dir),
        args.manifest,
        settings=report_settings(manifest, args.manifest, args.site_url, args.attributes),
        since=since,
        since_path=str(args.since) if args.since else None,
    )
    render = {"html": render_html, "text": render_text, "json": render_json}[args.format]
    text = render(report)
    output: Path | None = args.output
    if output is None and args.format == "html":
        output = default_report_path(args.manifest)
    if output is None:
        sys.stdout.write(text)
        return 0
    write_report(output, text, "give another --output", ConfigError)
    print(f"shard-assets: wrote {output}")
    return 0


def _subcommand(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Command,
    *,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """A subcommand that takes the built site's folder and runs ``run``."""
    parser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path, help="the built site")
    parser.set_defaults(run=run)
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shard-assets",
        description="Shard a built static site's asset URLs over several CDN hostnames.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = _subcommand(
        commands,
        "build",
        _cmd_build,
        help="rewrite the asset URLs of a built site in place and write the manifest",
        description="Rewrite every site-local asset reference in OUTPUT_DIR's HTML and CSS "
        "to a shard host, keeping assignments in the manifest across builds.",
    )
    _add_jobs_argument(build)
    _add_settings_arguments(build)
    build.add_argument(
        "--quiet",
        action="store_true",
        help="print only warnings and errors (no summary, no progress bar)",
    )

    plan = _subcommand(
        commands,
        "plan",
        _cmd_plan,
        help="dry run: which assets would move if the hosts changed, and the balance after",
        description="Show, without writing anything, which assets a host change would move "
        "and the resulting balance. Hosts start from the manifest's (or --host), then "
        "--add-host and --remove-host apply. Exit 1 if the result would fail the gate.",
    )
    _add_jobs_argument(plan)
    _add_settings_arguments(plan, hosts_required=False)
    plan.add_argument("--add-host", dest="add_hosts", action="append", default=[], metavar="HOST")
    plan.add_argument(
        "--remove-host", dest="remove_hosts", action="append", default=[], metavar="HOST"
    )

    rebalance = _subcommand(
        commands,
        "rebalance",
        _cmd_rebalance,
        help="move the fewest assets needed to bring every host within its cap",
        description="Like build, but first moves the fewest assets needed to bring the split "
        "within max_imbalance, and reports exactly which ones moved.",
    )
    _add_jobs_argument(rebalance)
    _add_settings_arguments(rebalance)
    rebalance.add_argument("--dry-run", action="store_true", help="only show what would move")
    rebalance.add_argument("--quiet", action="store_true", help="print only warnings and errors")

    verify = _subcommand(
        commands,
        "verify",
        _cmd_verify,
        help="audit a sharded site against the manifest (independently of the rewriter)",
        description="Read OUTPUT_DIR with BeautifulSoup and tinycss2 and check that every "
        "site-local asset reference is on the host the manifest names, that no shard URL "
        "names an unconfigured host or a missing file, and that nothing still loads a "
        "site-local asset from the origin. Exit 1 with the list of findings otherwise.",
    )
    _add_site_arguments(verify)
    verify.add_argument("--quiet", action="store_true", help="print only findings")
    report = _subcommand(
        commands,
        "report",
        _cmd_report,
        help="show how the assets are spread over the hosts (HTML, text or JSON)",
        description="Read the manifest and the built site in OUTPUT_DIR and report assets "
        "and bytes per host against their fair share, the gate's verdict, the pages whose "
        "assets are least evenly spread, and (with --since) what moved and why.",
    )
    report.add_argument(
        "--manifest",
        type=Path,
        default=Path("shard-manifest.json"),
        help="the manifest the site was built with (default: %(default)s)",
    )
    report.add_argument(
        "--since", type=Path, metavar="OLD.json", help="an earlier manifest to compare with"
    )
    report.add_argument("--format", choices=FORMATS, default="html", help="default: html")
    report.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help=f"where to write (default: {REPORT_NAME} beside the manifest for html, "
        "standard output for text and json)",
    )
    report.add_argument("--site-url", help="the site_url the site was built with, if any")
    report.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="TAG[ATTR]",
        help="an extra attribute the build rewrote, e.g. 'img[data-src]' (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except ConfigError as error:
        print(f"shard-assets: error: {error}", file=sys.stderr)
        return 2
    except ShardAssetsError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
