"""The ``shard-assets`` command: a thin layer over the library.

Exit codes: 0 success, 1 the build failed (gate, missing files in strict mode, a
manifest problem), 2 a usage or configuration mistake. Errors are one clean message,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import load_settings
from .errors import ConfigError, ShardAssetsError
from .pipeline import shard_site, summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shard-assets",
        description="Shard a built static site's asset URLs over several CDN hostnames.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="rewrite the asset URLs of a built site in place and write the manifest",
        description="Rewrite every site-local asset reference in OUTPUT_DIR's HTML and CSS "
        "to a shard host, keeping assignments in the manifest across builds.",
    )
    build.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path, help="the built site")
    build.add_argument(
        "--host",
        dest="hosts",
        action="append",
        metavar="HOST[=WEIGHT]",
        required=True,
        help="a shard hostname, repeated for each host; HOST=WEIGHT gives a weight",
    )
    build.add_argument(
        "--manifest", default="shard-manifest.json", help="manifest path (default: %(default)s)"
    )
    build.add_argument(
        "--max-imbalance", type=float, default=0.10, help="the gate (default: %(default)s)"
    )
    build.add_argument("--scheme", default="https", choices=["https", "http", "relative"])
    build.add_argument("--site-url", help="the site's public URL, e.g. https://example.org/docs/")
    build.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never shard these asset paths",
    )
    build.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="TAG[ATTR]",
        help="also rewrite this attribute, e.g. 'img[data-src]'",
    )
    build.add_argument("--strict", action="store_true", help="fail on references to missing files")
    build.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if not args.output_dir.is_dir():
            raise ConfigError(
                f"{args.output_dir}: no such folder; give the built site's output folder"
            )
        settings = load_settings(
            {
                "hosts": _hosts(args.hosts),
                "manifest": args.manifest,
                "max_imbalance": args.max_imbalance,
                "scheme": args.scheme,
                "site_url": args.site_url,
                "exclude": args.exclude,
                "attributes": args.attributes,
                "strict": args.strict,
            },
            base_dir=Path.cwd(),
            source="command line",
        )
        result = shard_site(args.output_dir, settings)
    except ConfigError as error:
        print(f"shard-assets: error: {error}", file=sys.stderr)
        return 2
    except ShardAssetsError as error:
        print(error, file=sys.stderr)
        return 1
    for missing in result.missing:
        print(f"shard-assets: warning: {missing}", file=sys.stderr)
    for document in result.undecodable:
        print(
            f"shard-assets: warning: {document}: cannot be decoded; left as it was", file=sys.stderr
        )
    if not args.quiet:
        print(summary(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
