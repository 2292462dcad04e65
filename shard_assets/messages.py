"""What a build says to people: its summary, warnings and notes, the plan, the text of
the errors that stop it (the gates included) and the state a failed build leaves the
files in. The front ends print these; nothing here decides anything.

Not here: the other commands' own text (``check-hosts`` in :mod:`shard_assets.check.text`
and :mod:`~shard_assets.check.model`, ``report`` in :mod:`shard_assets.report.text` and
:mod:`~shard_assets.report.html`, ``verify``'s findings in :mod:`shard_assets.verify`,
an audit independent of the build), the CLI's usage mistakes (:mod:`shard_assets.cli.args`),
and what the modules below this one say where they find it, since they cannot import
it: a mistake in a setting (:mod:`shard_assets.config`), the manifest's read and write
errors and why it cannot stand for a build (:mod:`shard_assets.manifest`), the lock
(:mod:`shard_assets.files`), a fault of the machine (:mod:`shard_assets.errors`), an
interrupt (:mod:`shard_assets.interrupts`), why an asset moved (``Move.reason``) and
the balance table (``BalanceReport.table``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from .config import Settings
from .kept import kept_stylesheet
from .manifest import PLACEMENT_SETTINGS, Manifest, render_manifest
from .placement.algorithms import jump_moved_share, jump_renumbering
from .placement.assign import Assignment
from .placement.balance import BalanceReport, PageExcess, most_uneven_page
from .placement.ring import Host
from .results import BuildResult, MissingRef


def describe_moves(assignment: Assignment, limit: int = 20) -> list[str]:
    """One line per moved asset (at most ``limit``), saying why it moved."""
    lines = [
        f"  moved {m.asset}: {m.old} -> {m.new} ({m.reason})" for m in assignment.moves[:limit]
    ]
    if len(assignment.moves) > limit:
        lines.append(f"  ... and {len(assignment.moves) - limit} more moves")
    return lines


def build_warnings(result: BuildResult) -> list[str]:
    """What a build warns about, one message each (the front ends print them as
    warnings, then :func:`summary`)."""
    return [message for _, message in warnings_by_kind(result)]


def warnings_by_kind(result: BuildResult) -> list[tuple[str, str]]:
    """:func:`build_warnings`, each with its kind, for a generator whose users silence
    one kind at a time (Sphinx's ``suppress_warnings``): ``hosts`` (what the
    placement warns about), ``missing`` (a reference to a file not in the output),
    ``undecodable`` (a document that is not text)."""
    return [
        *(("hosts", warning) for warning in result.warnings),
        *(("missing", str(missing)) for missing in result.missing),
        *(
            ("undecodable", f"{doc}: binary or not decodable; left as it was")
            for doc in result.undecodable
        ),
    ]


def summary(result: BuildResult) -> str:
    """A short human-readable account of a build, with the balance table."""
    a = result.assignment
    changed = "updated" if result.manifest_changed else "unchanged"
    return "\n".join(
        [
            f"shard-assets: {len(a.hosts_by_asset)} assets over {len(result.balance.rows)} "
            f"hosts; {result.references} references rewritten in {result.rewritten} of "
            f"{result.documents} files",
            *_handover_lines(result),
            f"  kept {a.kept}, placed {len(a.placed)} new, moved {len(a.moves)}, "
            f"dropped {len(a.dropped)} no longer referenced",
            *describe_moves(a),
            result.balance.table(),
            *_pages_line(result),
            *(f"  note: {note}" for note in result.notes),
            f"  manifest: {result.manifest} ({changed})",
            *cross_origin_notes(result),
        ]
    )


def _handover_lines(result: BuildResult) -> list[str]:
    lines = []
    if result.rewritten_at_handover:
        lines.append(
            f"  {result.rewritten_at_handover} of those files in memory, "
            "as the generator handed them over"
        )
    if result.scanned_at_handover:
        lines.append(
            f"  {result.scanned_at_handover} pages scanned as the generator handed them over"
        )
    return lines


def _pages_line(result: BuildResult) -> list[str]:
    hosts = [Host(row.host, row.weight) for row in result.balance.rows]
    worst = most_uneven_page(result.pages, hosts)
    if worst is None:
        return []
    return [
        f"  pages: the most uneven, {worst.page}, puts {worst.on_host} of its "
        f"{worst.requests} asset requests on {worst.host} "
        f"(fair share {float(worst.fair_share):.1f}, +{worst.excess} over an even split)"
    ]


def cross_origin_notes(result: BuildResult, limit: int = 10) -> list[str]:
    """What the CDN must do for files the browser fetches in CORS mode, said once."""
    lines: list[str] = []
    if result.cors:
        shown = ", ".join(result.cors[:limit])
        more = f" and {len(result.cors) - limit} more" if len(result.cors) > limit else ""
        lines += [
            f"  CORS: {len(result.cors)} asset(s) are fetched in CORS mode (web fonts, module "
            f"scripts, crossorigin elements): {shown}{more}.",
            "  The shard hosts must answer them with a CORS header, e.g. "
            "'Access-Control-Allow-Origin: *' (or your site's origin, with 'Vary: Origin').",
        ]
    if result.crossorigin:
        lines.append(
            f'  SRI: added crossorigin="anonymous" to {len(result.crossorigin)} element(s) with '
            "integrity, which browsers block from another origin without it:"
        )
        lines += [f"    {ref.document}:{ref.line}: {ref.url}" for ref in result.crossorigin[:limit]]
    return lines


def jump_warnings(
    previous: Manifest | None, settings: Settings, assets: Iterable[str]
) -> tuple[str, ...]:
    if previous is None or settings.algorithm != "jump" or previous.algorithm != "jump":
        return ()
    before = [h.name for h in previous.hosts]
    reason = jump_renumbering(before, settings.host_names)
    if reason is None:
        return ()
    share = jump_moved_share(list(assets), before, settings.host_names)
    return (
        f"{reason}: jump hashing numbers hosts by position, so {share:.0%} of the assets "
        "now hash to another host than with the old list. The manifest keeps their hosts, "
        "but a run-time jump client, and any build without this manifest, will place them "
        "elsewhere. Add and remove jump hosts at the end of the list only, or use "
        "algorithm ring or rendezvous.",
    )


def origin_ref_warnings(
    refs: Sequence[tuple[str, str, str, int, str]],
    limit: int = 20,
    cors: Collection[str] = (),
) -> tuple[str, ...]:
    """One warning per (stylesheet, its shard host, key, line, URL): a file that stays on
    the origin, named relatively by a stylesheet on a shard host, without ``site_url``.
    A key in ``cors`` (kept by ``cors_assets: origin``, the default) gets the other fix."""
    warnings = [
        f"{document}:{line}: {url} names {key}, which stays on the origin, but {document} "
        f"is on {host}, so the browser fetches {key} from {host}: set site_url (the "
        "site's public address) so the build writes its absolute URL on the origin"
        + (", or cors_assets: shard to shard it" if key in cors else "")
        for document, host, key, line, url in refs[:limit]
    ]
    if len(refs) > limit:
        warnings.append(f"... and {len(refs) - limit} more such reference(s): set site_url")
    return tuple(warnings)


def placement_notes(
    previous: Manifest | None,
    settings: Settings,
    balance: BalanceReport,
    kept: Collection[str] = (),
) -> tuple[str, ...]:
    notes: list[str] = []
    styles = sum(1 for key in kept if kept_stylesheet(key, stylesheets=settings.stylesheets))
    if styles:
        notes.append(
            f"{styles} stylesheet(s) stay on the origin, on the connection the page came "
            "on (stylesheets: origin)"
        )
    if len(kept) > styles:
        notes.append(
            f"{len(kept) - styles} asset(s) fetched in CORS mode (web fonts, module "
            "scripts, crossorigin elements) stay on the origin (cors_assets: origin)"
        )
    for pattern, host in settings.pins:
        matched = sorted(key for key in kept if fnmatch.fnmatchcase(key, pattern))
        if matched:
            kept_style = kept_stylesheet(matched[0], stylesheets=settings.stylesheets)
            why = "stylesheets" if kept_style else "cors_assets"
            notes.append(
                f"pin {pattern}={host} matches {len(matched)} file(s) kept on the origin "
                f"({why}: origin), such as {matched[0]}: they stay there; set {why}: shard "
                "to pin them"
            )
    if previous is not None and previous.algorithm != settings.algorithm:
        notes.append(
            f"the manifest was written with algorithm {previous.algorithm}: its assets keep "
            f"their hosts, and only new ones are placed with {settings.algorithm}"
        )
    for row in balance.rows:
        if row.pinned_over_cap:
            notes.append(
                f"{row.host}'s pinned assets alone exceed its cap ({row.pinned} > {row.cap}): "
                "pins never move and never fail the gate; the other hosts share the rest"
            )
    return tuple(notes)


def plan_text(
    assignment: Assignment, balance: BalanceReport, max_imbalance: Fraction, verb: str
) -> str:
    """What ``plan`` and ``rebalance`` print: the moves, the table, the gate's verdict."""
    moves = assignment.moves
    total = len(assignment.hosts_by_asset)
    share = f" ({len(moves) / total:.1%})" if total else ""
    verdict = "passes" if balance.ok else "FAILS"
    return "\n".join(
        [
            f"shard-assets: {verb} {len(moves)} of {total} assets{share}; "
            f"{len(assignment.placed)} new, {len(assignment.dropped)} dropped",
            *describe_moves(assignment, limit=len(moves)),
            balance.table(),
            f"  the gate {verdict} (max_imbalance {float(max_imbalance):g}); nothing was written",
        ]
    )


def manifest_changes(
    old: Manifest | None, new: Manifest, assignment: Assignment, path: Path
) -> list[str]:
    """How the manifest at ``path`` would change from ``old`` to ``new`` (made by
    ``assignment``), one line each (empty: it would not)."""
    if old is None:
        return [f"the manifest {path} does not exist yet"]
    if render_manifest(old) == render_manifest(new) and old.assets == new.assets:
        return []
    changes: list[str] = []
    old_hosts = {h.name: h.weight for h in old.hosts}
    new_hosts = {h.name: h.weight for h in new.hosts}
    for name in sorted(old_hosts.keys() | new_hosts.keys()):
        if name not in new_hosts:
            changes.append(f"host removed: {name}")
        elif name not in old_hosts:
            changes.append(f"host added: {name}")
        elif old_hosts[name] != new_hosts[name]:
            changes.append(f"host weight changed: {name} {old_hosts[name]} -> {new_hosts[name]}")
    if old.max_imbalance != new.max_imbalance:
        changes.append(f"max_imbalance changed: {old.max_imbalance} -> {new.max_imbalance}")
    for name in PLACEMENT_SETTINGS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(f"{name} changed: {before} -> {after}")
    a = assignment
    changes += [f"new asset: {asset} -> {a.hosts_by_asset[asset]}" for asset in a.placed]
    changes += [f"moved: {m.asset} {m.old} -> {m.new} ({m.reason})" for m in a.moves]
    changes += [f"dropped (no longer referenced): {asset}" for asset in a.dropped]
    return changes or ["the manifest file's formatting would change"]


def gate_message(balance: BalanceReport, manifest: str) -> str:
    """The text a failed gate prints: what is wrong, the table, and what to do."""
    over = [r for r in balance.rows if r.over_by]
    names = ", ".join(r.host for r in over)
    pct = f"{float(balance.max_imbalance):.0%}"
    unit = "assets" if balance.measure == "count" else f"load ({balance.measure})"
    head = (
        f"shard-assets: the {unit} {'are' if balance.measure == 'count' else 'is'} spread too "
        f"unevenly over the hosts: {names} {'carries' if len(over) == 1 else 'carry'} more "
        f"than the fair share plus max_imbalance ({pct}).\n\n{balance.table()}\n\n"
        "Nothing was rewritten and the manifest was left as it was. To fix it, either:\n"
    )
    suggestion = balance.smallest_passing_imbalance()
    if not balance.bounded:
        return head + (
            "  - set bounded to true (CLI: drop --no-bounded); it places new assets only, so "
            "delete the manifest too if every asset should be placed again within the caps;\n"
            "  - or run 'shard-assets rebalance OUTPUT_DIR' with the same settings: it moves "
            "the fewest assets needed and lists them;\n"
            f"  - or raise max_imbalance to {float(suggestion):g} or more: with bounded false "
            "the placement is the plain hash, whose spread over few hosts is uneven."
        )
    return head + (
        "  - run 'shard-assets rebalance OUTPUT_DIR' with the same settings: it moves the "
        "fewest assets needed and lists them ('--dry-run' shows them first);\n"
        f"  - or remove the over-loaded hosts' entries from {manifest} (or delete the file) "
        "so those assets are placed again;\n"
        f"  - or raise max_imbalance (to {float(suggestion):g} for this spread) if it is "
        "acceptable."
    )


def page_gate_message(excesses: Sequence[PageExcess], max_page_imbalance: Fraction) -> str:
    """The text a failed per-page gate prints."""
    pct = f"{float(max_page_imbalance):.0%}"
    listed = "\n".join(
        f"  {e.page}: {e.on_host} of its {e.requests} requests on {e.host} "
        f"(fair share {float(e.fair_share):.1f}, allowed {e.allowed})"
        for e in excesses[:20]
    )
    more = f"\n  ... and {len(excesses) - 20} more" if len(excesses) > 20 else ""
    return (
        f"shard-assets: {len(excesses)} page(s) put more than their fair share plus "
        f"max_page_imbalance ({pct}) of their asset requests on one host:\n{listed}{more}\n\n"
        "Nothing was rewritten and the manifest was left as it was. Per-page spread follows "
        "from the hash, not from the bounded-load pass, so a page with few assets is often "
        "uneven: raise max_page_imbalance, or unset it to only report the spread."
    )


def listed(items: Sequence[object], limit: int) -> str:
    """The first ``limit`` of ``items``, one indented line each, and how many more."""
    lines = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


def missing_message(missing: Sequence[MissingRef]) -> str:
    """Why a ``strict`` build stops: the references to missing files (at most 20)."""
    return (
        f"shard-assets: {len(missing)} site-local reference(s) name files that are "
        f"not in the output (strict is on, so this fails the build):\n{listed(missing, 20)}\n"
        "Fix the references or add the files; or set strict to false to only warn."
    )


def locked_message(manifest: Path, changes: Sequence[str]) -> str:
    """Why a ``locked`` build stops: how the manifest would change (at most 50 lines)."""
    return (
        f"shard-assets: locked mode: the manifest {manifest} would change, "
        f"so nothing was written:\n{listed(changes, 50)}\n"
        "Run a build without locked (or --locked) to update the manifest, review and "
        "commit it, then run the locked build again."
    )


def unsharded_copy_message(folder: Path, output_dir: Path, *, contains: bool) -> str:
    """The error for an ``unsharded_copy`` folder that is (``contains``: holds) the
    output folder, or is inside it."""
    output = output_dir.resolve()
    return (
        f"shard-assets setting 'unsharded_copy' is {folder}, which "
        f"{'contains' if contains else 'is in'} the output folder {output_dir}: put it "
        f"beside the output, e.g. {output.parent / (output.name + '-h2')}"
    )


def unsharded_copy_file_message(folder: Path) -> str:
    """The error for an ``unsharded_copy`` folder that is a file."""
    return (
        f"shard-assets setting 'unsharded_copy' is {folder}, which is a file: "
        "name a folder (it is created)"
    )


def sharded_at_the_end(reason: str) -> str:
    """Why a generator's pages are not sharded as it hands them over (``reason``: see
    :func:`shard_assets.manifest.cannot_stand`)."""
    return f"pages are sharded at the end of the build: {reason}"


def sharded_with_a_guess(files: int) -> str:
    """A first build's pages are sharded as the generator hands them over, with the
    assignment its ``files`` other files would get (see
    :meth:`shard_assets.build.handover.Handover.guess`)."""
    return (
        f"no manifest yet: pages are sharded as they are handed over with the hosts the "
        f"{files} other files the generator writes would get, each confirmed at the end"
    )


def missing_folder_message(output_dir: Path) -> str:
    """The error for a build of an output folder that does not exist."""
    return f"{output_dir}: no such folder; give the built site's output folder"


#: The state of the files after a build that failed once it had written them all.
ALL_WRITTEN = "Every file the build changes and the manifest are new"

#: The state of the files when a worker process fails to write a page for the generator.
PAGES_WRITTEN_SO_FAR = (
    "The manifest is as it was, and each page written so far is whole (put back as the "
    "generator made it where there is room)"
)


def abandoned_state(
    *, committing: bool, replaced: int, total: int, manifest_staged: bool, kept: int
) -> str:
    """What the output and the manifest hold after a build stopped while it wrote:
    before the renames (``committing`` False) or after ``replaced`` of ``total``;
    ``kept`` pages the generator wrote could not be put back (a full disk)."""
    not_put_back = (
        f"; {kept} page(s) the generator wrote could not be put back and stay sharded "
        "as they were handed over (with the manifest's hosts, those of the last good "
        "build, or on a first build the hosts guessed for it)"
        if kept
        else ""
    )
    if not committing:
        return (
            "Nothing was replaced: the output and the manifest are as they were, and the "
            f"temporary files were removed{not_put_back}"
        )
    manifest = (
        "unchanged"
        if not manifest_staged
        else "the new one"
        if replaced == total
        else "the old one"
    )
    return (
        f"{replaced} of {total} files were replaced before it stopped, each one whole, "
        f"and the others are as they were; the manifest is {manifest}{not_put_back}"
    )
