"""What ``shard-assets check-hosts`` found (a :class:`HostsCheck`), written for a person
(text) and for programs (JSON).

The CLI imports this module on every command, for the ``--format`` choices: it loads
nothing the CLI has not loaded already (the check's types are for type checking).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .connect import iso_date

if TYPE_CHECKING:
    from .model import HostCheck, HostsCheck
    from .serving import Serving

#: The protocols, as the check names them and as people write them.
_PROTOCOLS = (("http/1.1", "HTTP/1.1"), ("http/2", "HTTP/2"), ("http/3", "HTTP/3"))

#: Problems, in the order the text output lists them; each fails the check.
PROBLEM_KINDS = (
    "unreachable",
    "certificate",
    "misdirected",
    "protocol",
    "missing",
    "status",
    "stale",
    "cors",
    "fetch",
)


def render_text(result: HostsCheck) -> str:
    """For a person: one line per host, the verdicts, then the problems by kind."""
    lines = [
        f"shard-assets check-hosts: {len(result.shard_hosts)} shard host(s) over "
        f"{result.scheme}" + (f", site {result.site_url}" if result.site_url else "")
    ]
    lines += [f"  {_host_line(check)}" for check in result.hosts]
    for protocol, label in _PROTOCOLS:
        if protocol in result.summary:
            lines.append(f"{label} visitors: {result.summary[protocol]}")
    for check in result.shard_hosts:
        if check.verdicts.get("http/2") and check.coalesces is False:
            lines.append(f"  {check.host}, HTTP/2: {check.verdicts['http/2']}")
    if result.serving is not None:
        lines += _serving_lines(result.serving)
    for kind in PROBLEM_KINDS:
        found = [p for p in result.problems if p.kind == kind]
        if found:
            lines.append(f"{kind} ({len(found)}):")
            lines += [f"  {p.message}" for p in found]
    if result.warnings:
        lines.append(f"warnings ({len(result.warnings)}):")
        lines += [f"  {w.message}" for w in result.warnings]
    checked = sum(len(c.fetched) for c in result.shard_hosts)
    sound = sum(c.sound for c in result.shard_hosts)
    total = sum(c.assets for c in result.shard_hosts)
    verdict = "ok" if result.ok else "FAILED"
    serving = result.serving
    lines.append(
        f"shard-assets check-hosts: {verdict}: {len(result.problems)} problem(s), "
        f"{len(result.warnings)} warning(s); {sound} of {checked} fetched asset(s) sound"
        + (f" (a sample of {total})" if result.sampled and checked < total else "")
        + (
            f"; {serving.right} of {len(serving.fetches)} page(s) fetched as their protocol's copy"
            if serving
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def _serving_lines(serving: Serving) -> list[str]:
    """What each protocol's visitors get: a heading, then one line per protocol."""
    lines = [
        f"Pages by protocol: {len(serving.sampled)} of the {serving.pages} page(s) of "
        f"{serving.unsharded_copy}, each compared with {serving.output_dir}"
    ]
    lines += [
        f"  {label}: {serving.verdicts[protocol]}"
        for protocol, label in _PROTOCOLS
        if protocol in serving.verdicts
    ]
    return lines


def _host_line(check: HostCheck) -> str:
    name = check.host + (" (the site)" if check.role == "site" else "")
    if check.error:
        return f"{name}  {', '.join(check.addresses) or '-'}  {check.error}"
    handshake = check.handshake
    parts = [name, handshake.address if handshake else "-"]
    if handshake:
        parts.append(handshake.protocol)
    if handshake and handshake.not_after:
        parts.append(
            f"certificate to {iso_date(handshake.not_after)}, covers "
            f"{len(check.covered)} configured host(s)"
        )
    if check.same_site is not None:
        parts.append("same-site" if check.same_site else f"cross-site ({check.site})")
    if check.role == "shard":
        parts.append(f"{check.sound}/{len(check.fetched)} assets sound")
        controls = Counter(f.cache_control for f in check.fetched if f.cache_control)
        if controls:
            parts.append(f"Cache-Control {controls.most_common(1)[0][0]!r}")
        if check.coalesces is not None:
            parts.append(
                "HTTP/2: " + ("shared connection" if check.coalesces else "own connection")
            )
    return "  ".join(parts)


def render_json(result: HostsCheck) -> str:
    """For programs: stable, sorted keys, 2-space indent."""
    data = {
        "ok": result.ok,
        "problems": [p.as_json() for p in result.problems],
        "scheme": result.scheme,
        "site_url": result.site_url,
        "summary": dict(result.summary),
        "warnings": [w.as_json() for w in result.warnings],
        "hosts": [_host_json(c) for c in result.hosts],
        "serving": _serving_json(result.serving) if result.serving else None,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _host_json(check: HostCheck) -> dict[str, object]:
    handshake = check.handshake
    certificate = None
    if handshake and (handshake.names or handshake.untrusted):
        certificate = {
            "covers": list(check.covered),
            "names": list(handshake.names),
            "not_after": iso_date(handshake.not_after) if handshake.not_after else None,
            "not_before": iso_date(handshake.not_before) if handshake.not_before else None,
            "trusted": not handshake.untrusted,
            "untrusted_because": handshake.untrusted or None,
        }
    cache = Counter(f.cache_control or "" for f in check.fetched if f.status == 200)
    return {
        "address": handshake.address if handshake else None,
        "addresses": list(check.addresses),
        "assets": {
            "cors_mode": check.cors_assets,
            "fetched": len(check.fetched),
            "sound": check.sound,
            "total": check.assets,
        },
        "cache_control": dict(sorted(cache.items())),
        "certificate": certificate,
        "coalesces_with_site": check.coalesces,
        "error": check.error or None,
        "etags": sum(1 for f in check.fetched if f.etag),
        "host": check.host,
        "http_versions": sorted({f.http_version for f in check.fetched if f.http_version}),
        "port": check.port,
        "protocol": check.protocol or None,
        "role": check.role,
        "same_site": check.same_site,
        "site": check.site,
        "tls_version": handshake.tls_version if handshake and handshake.tls_version else None,
        "verdicts": dict(check.verdicts),
        "with_age": sum(1 for f in check.fetched if f.age is not None),
    }


def _serving_json(serving: Serving) -> dict[str, object]:
    return {
        "output_dir": str(serving.output_dir),
        "unsharded_copy": str(serving.unsharded_copy),
        "pages": serving.pages,
        "sampled": list(serving.sampled),
        "verdicts": dict(serving.verdicts),
        "http3_not_probed_because": serving.http3 or None,
        "http3_at": serving.http3_at or None,
        "fetches": [
            {
                "url": f.url,
                "protocol": f.protocol,
                "http_version": f.spoken or None,
                "status": f.status or None,
                "copy": f.copy or None,
                "location": f.location,
                "error": f.error or None,
            }
            for f in serving.fetches
        ],
    }


RENDERERS: Mapping[str, Callable[[HostsCheck], str]] = {"text": render_text, "json": render_json}
#: The formats ``check-hosts --format`` takes (the CLI's choices).
FORMATS = tuple(RENDERERS)
