"""The manifest: which host each asset is on, kept between builds. Reading,
rendering and writing it are separate functions (JSON, version 1: the format is in
README.md, The manifest; what its ``ring`` block records, whatever the algorithm, in
docs/algorithms.md); an unreadable, malformed or unknown-version file is a
:class:`ManifestError` and is never overwritten. Also: whether a manifest stands for
a build's hosts as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .errors import ManifestError
from .files import atomic_write
from .placement.balance import balance_report, exact
from .placement.ring import DIGESTS_PER_HOST, Host

VERSION = 1
ALGORITHM = "ring"

_FIX = "fix it by hand, restore it from version control, or delete it to assign every asset afresh"

#: The placement settings a manifest records: one that differs places assets otherwise.
PLACEMENT_SETTINGS = ("algorithm", "bounded", "balance_by")


@dataclass(frozen=True)
class Manifest:
    """What a manifest file holds."""

    assets: Mapping[str, str]
    hosts: tuple[Host, ...]
    max_imbalance: Fraction
    algorithm: str = ALGORITHM
    bounded: bool = True
    balance_by: str = "count"


def read_manifest(path: Path) -> Manifest | None:
    """Load ``path``; None when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: the manifest is not UTF-8 text; {_FIX}") from None
    except json.JSONDecodeError as error:
        raise ManifestError(
            f"{path}:{error.lineno}:{error.colno}: the manifest is not valid JSON "
            f"({error.msg}); {_FIX}"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: the manifest must be a JSON object; {_FIX}")
    version = data.get("version")
    if version != VERSION:
        raise ManifestError(
            f"{path}: manifest version {version!r} is not supported (this shard-assets "
            f"reads version {VERSION}); upgrade shard-assets or {_FIX}"
        )
    assets = data.get("assets")
    if not isinstance(assets, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in assets.items()
    ):
        raise ManifestError(f"{path}: 'assets' must map asset paths to hostnames; {_FIX}")
    hosts = data.get("hosts")
    if not isinstance(hosts, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        for k, v in hosts.items()
    ):
        raise ManifestError(f"{path}: 'hosts' must map hostnames to positive weights; {_FIX}")
    ring = data.get("ring", {})
    if not isinstance(ring, dict):
        ring = {}
    imbalance = ring.get("max_imbalance", 0.1)
    if isinstance(imbalance, bool) or not isinstance(imbalance, int | float):
        imbalance = 0.1
    order = ring.get("host_order")
    host_weights = {name: exact(w) for name, w in hosts.items()}
    if isinstance(order, list) and sorted(order) == sorted(host_weights):
        # Jump numbers hosts by position: keep the order they were configured in.
        host_weights = {name: host_weights[name] for name in order}
    return Manifest(
        assets=assets,
        hosts=tuple(Host(name, weight) for name, weight in host_weights.items()),
        max_imbalance=exact(imbalance),
        algorithm=str(data.get("algorithm", ALGORITHM)),
        bounded=ring.get("bounded_load") is not False,
        balance_by=str(ring.get("balance_by", "count")),
    )


def json_number(value: Fraction) -> int | float:
    """A weight or ratio as JSON writes it: an integer when it is one, else a float."""
    return value.numerator if value.denominator == 1 else float(value)


def render_manifest(manifest: Manifest) -> bytes:
    """The manifest's exact bytes: the same input always gives the same bytes."""
    ring: dict[str, object] = {
        "bounded_load": manifest.bounded,
        "max_imbalance": json_number(manifest.max_imbalance),
    }
    if manifest.algorithm == "ring":
        ring.update(digests_per_host=DIGESTS_PER_HOST, layout="ketama")
    elif manifest.algorithm == "rendezvous":
        ring.update(hash="blake2b-64", score="weight / -ln(h)")
    elif manifest.algorithm == "jump":
        ring.update(hash="blake2b-64", host_order=[h.name for h in manifest.hosts])
    if manifest.balance_by != "count":
        ring["balance_by"] = manifest.balance_by
    data = {
        "algorithm": manifest.algorithm,
        "assets": dict(sorted(manifest.assets.items())),
        "hosts": {h.name: json_number(h.weight) for h in manifest.hosts},
        "ring": ring,
        "version": VERSION,
    }
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # A path that is not valid UTF-8 holds lone surrogates; JSON spells them \udcXX.
    return text.encode("utf-8", "backslashreplace")


def check_writable(manifest: Path) -> None:
    """Raise :class:`ManifestError` when ``manifest`` cannot be written where it is."""
    folder = manifest.parent
    if not folder.is_dir():
        raise ManifestError(
            f"{manifest}: the folder {folder} does not exist; create it or set 'manifest' "
            "to a path in an existing folder"
        )
    if not os.access(folder, os.W_OK) or (manifest.exists() and not os.access(manifest, os.W_OK)):
        raise ManifestError(
            f"{manifest}: cannot write the manifest there; make it writable or set "
            "'manifest' to another path"
        )


def manifest_update(path: Path, manifest: Manifest) -> bytes | None:
    """The bytes to write to ``path`` for ``manifest``; None when it already holds them."""
    data = render_manifest(manifest)
    try:
        if path.read_bytes() == data:
            return None
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error.strerror})") from None
    return data


def write_manifest(path: Path, manifest: Manifest) -> bool:
    """Write ``manifest`` atomically; False (and no write) when the file already holds it."""
    data = manifest_update(path, manifest)
    if data is None:
        return False
    try:
        atomic_write(path, data)
    except OSError as error:
        raise ManifestError(
            f"{path}: cannot write the manifest ({error.strerror}); "
            "make its folder writable or set 'manifest' to another path"
        ) from None
    return True


def placed_on(manifest: Manifest, hosts: Iterable[Host]) -> dict[str, str]:
    """The assets ``manifest`` puts on one of ``hosts``, and their host."""
    names = {host.name for host in hosts}
    return {key: host for key, host in manifest.assets.items() if host in names}


def cannot_stand(
    previous: Manifest | None,
    hosts: tuple[Host, ...],
    max_imbalance: Fraction,
    *,
    algorithm: str,
    bounded: bool,
    balance_by: str,
) -> str:
    """Why the manifest ``previous`` cannot stand for a build on ``hosts`` with these
    placement settings as it is ('' when it can): there is none, its hosts, weights or
    placement settings differ, or (with ``balance_by: count``) it does not pass the
    gate at ``max_imbalance``. Pages handed over are sharded at once only when it can
    (:mod:`shard_assets.build.handover`)."""
    if previous is None:
        return "no manifest yet (the first build)"
    if {(h.name, h.weight) for h in previous.hosts} != {(h.name, h.weight) for h in hosts}:
        return "the hosts differ from the manifest's"
    if (previous.algorithm, previous.bounded, previous.balance_by) != (
        algorithm,
        bounded,
        balance_by,
    ):
        return "the placement settings differ from the manifest's"
    if balance_by == "count":
        balance = balance_report(placed_on(previous, hosts), hosts, max_imbalance, bounded=bounded)
        if not balance.ok:
            return "the manifest does not pass the gate"
    return ""
