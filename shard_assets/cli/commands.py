"""The ``shard-assets`` command: a thin layer over the library.

Exit codes: 0 success, 1 the build failed (gate, missing files in strict mode, a
manifest problem, a fault of the machine such as a full disk), 2 a usage or
configuration mistake, 130 Ctrl-C, 143 SIGTERM. Errors are one clean message, never a
traceback; a usage mistake prints the error, a one-line usage and where to see more.

Each subcommand is a ``_cmd_<name>(args) -> int`` function registered in
:func:`_parser`; its flags, and the settings they give, are in :mod:`.cli_args`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .. import (
    BuildResult,
    ConfigError,
    MissingFolderError,
    ShardAssetsError,
    __version__,
    build_report,
    plan_build,
    shard_site,
)
from ..build.scan import Progress
from ..check.connect import Routes
from ..interrupts import describe, exit_status, interrupts_raise
from ..manifest import json_number, read_manifest
from ..messages import build_warnings, missing_folder_message, plan_text, summary
from ..report.html import RENDERERS
from ..report.model import (
    default_report_path,
    load_manifest,
    report_settings,
    write_report,
)
from .args import (
    Parser,
    add_check_arguments,
    add_jobs_argument,
    add_quiet_argument,
    add_report_arguments,
    add_settings_arguments,
    add_site_arguments,
    settings_from,
)

Command = Callable[[argparse.Namespace], int]


def _output_dir(path: Path) -> Path:
    if not path.is_dir():
        raise MissingFolderError(missing_folder_message(path))
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
            settings_from(args),
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
    settings = settings_from(args)
    if args.dry_run:
        plan = plan_build(output_dir, settings, rebalance=True, jobs=args.jobs)
        print(
            plan_text(
                plan.assignment, plan.balance, plan.settings.max_imbalance, "rebalance would move"
            )
        )
        return 0
    return _report_build(_shard(args, rebalance=True), args.quiet)


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..verify import verify_site  # noqa: PLC0415 (BeautifulSoup loads only for verify)

    findings = verify_site(_output_dir(args.output_dir), settings_from(args))
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


def _hosts_from_manifest(args: argparse.Namespace) -> None:
    """With no ``--host``, the hosts are the manifest's."""
    if args.hosts:
        return
    manifest = read_manifest(Path(args.manifest))
    if manifest is None:
        raise ConfigError(f"{args.manifest}: no manifest to start from; give the hosts with --host")
    args.hosts = [
        f"{h.name}={json_number(h.weight)}" if h.weight != 1 else h.name for h in manifest.hosts
    ]


def _cmd_check_hosts(args: argparse.Namespace) -> int:
    from ..check.hosts import RENDERERS, CheckOptions, check_hosts  # noqa: PLC0415 (loads asyncio)

    _hosts_from_manifest(args)
    options = CheckOptions(
        routes=Routes.parse(args.resolve, args.connect_to),
        ca_file=args.ca_file,
        sample=args.sample,
        connections=args.connections,
        timeout=args.timeout,
    )
    found = check_hosts(_output_dir(args.output_dir), settings_from(args), options)
    sys.stdout.write(RENDERERS[args.format](found))
    return 0 if found.ok else 1


def _cmd_plan(args: argparse.Namespace) -> int:
    output_dir = _output_dir(args.output_dir)
    _hosts_from_manifest(args)
    names = [h.partition("=")[0] for h in args.hosts]
    for host in args.remove_hosts:
        if host not in names:
            raise ConfigError(f"--remove-host {host}: not among the hosts {', '.join(names)}")
        args.hosts = [h for h in args.hosts if h.partition("=")[0] != host]
    args.hosts += args.add_hosts
    plan = plan_build(output_dir, settings_from(args), jobs=args.jobs)
    print(plan_text(plan.assignment, plan.balance, plan.settings.max_imbalance, "would move"))
    return 0 if plan.balance.ok else 1


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
    text = RENDERERS[args.format](report)
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
    commands: argparse._SubParsersAction[Parser],
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
    parser = Parser(
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
    add_jobs_argument(build)
    add_settings_arguments(build)
    add_quiet_argument(build, "print only warnings and errors (no summary, no progress bar)")

    plan = _subcommand(
        commands,
        "plan",
        _cmd_plan,
        help="dry run: which assets would move if the hosts changed, and the balance after",
        description="Show, without writing anything, which assets a host change would move "
        "and the resulting balance. Hosts start from the manifest's (or --host), then "
        "--add-host and --remove-host apply. Exit 1 if the result would fail the gate.",
    )
    add_jobs_argument(plan)
    add_settings_arguments(plan, hosts_required=False)
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
    add_jobs_argument(rebalance)
    add_settings_arguments(rebalance)
    rebalance.add_argument("-n", "--dry-run", action="store_true", help="only show what would move")
    add_quiet_argument(rebalance, "print only warnings and errors")

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
    add_site_arguments(verify)
    add_quiet_argument(verify, "print only findings")
    report = _subcommand(
        commands,
        "report",
        _cmd_report,
        help="show how the assets are spread over the hosts (HTML, text or JSON)",
        description="Read the manifest and the built site in OUTPUT_DIR and report assets "
        "and bytes per host against their fair share, the gate's verdict, the pages whose "
        "assets are least evenly spread, and (with --since) what moved and why.",
    )
    add_report_arguments(report)
    _add_check_hosts(commands)
    return parser


def _add_check_hosts(commands: argparse._SubParsersAction[Parser]) -> None:
    check = _subcommand(
        commands,
        "check-hosts",
        _cmd_check_hosts,
        help="after deploying: check the live shard hosts (TLS, HTTP/2, every asset)",
        description="Connect to each shard host and report its addresses, certificate, "
        "protocol (ALPN), whether it is same-site with --site-url and what HTTP/1.1 and "
        "HTTP/2 visitors pay for it; then fetch every asset (or --sample N per host) from "
        "the host the manifest names and compare it with OUTPUT_DIR. With --unsharded-copy, "
        "fetch a sample of pages from --site-url over HTTP/1.1, HTTP/2 and HTTP/3 and say "
        "which copy each protocol gets. Exit 1 on a missing, stale or CORS-blocked asset, a "
        "certificate that does not cover its host, an unreachable host, or pages served to "
        "the wrong protocol.",
    )
    add_check_arguments(check)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    run: Command = args.run
    with interrupts_raise():
        try:
            return run(args)
        except ConfigError as error:
            print(f"shard-assets: error: {error}", file=sys.stderr)
            return 2
        except ShardAssetsError as error:
            print(error, file=sys.stderr)
            return 1
        except KeyboardInterrupt as error:
            print(describe(error), file=sys.stderr)
            return exit_status(error)
