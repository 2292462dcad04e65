"""The settings, validated once into a frozen object.

The three front ends (MkDocs, Pelican, the CLI) use the same names; each turns its
own configuration into a plain mapping and calls :func:`load_settings`, which is the
only place that checks values. Every error names the setting, where it came from,
the bad value and the fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .balance import exact
from .errors import ConfigError
from .ring import Host
from .urls import Site

DEFAULT_MANIFEST = "shard-manifest.json"
SCHEMES = ("https", "http", "relative")
KNOWN_SETTINGS = (
    "attributes",
    "enabled",
    "exclude",
    "hosts",
    "locked",
    "manifest",
    "max_imbalance",
    "preconnect",
    "report",
    "scheme",
    "site_url",
    "strict",
    "verify",
)

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_Fail = Callable[[str, str], ConfigError]
_ATTRIBUTE_SPEC = re.compile(r"([A-Za-z][A-Za-z0-9:-]*)\[([^\]\s\"'=<>]+)\]")


@dataclass(frozen=True)
class Settings:
    """Everything a build needs to know, validated."""

    hosts: tuple[Host, ...]
    manifest: Path
    max_imbalance: Fraction = Fraction(1, 10)
    scheme: str = "https"
    site_url: str | None = None
    exclude: tuple[str, ...] = ()
    strict: bool = False
    attributes: tuple[tuple[str, str, str], ...] = ()
    enabled: bool = True
    locked: bool = False
    verify: bool = False
    preconnect: bool = False
    report: bool = False
    site: Site = field(default_factory=Site)

    @property
    def url_prefix(self) -> str:
        """What goes before the hostname in a rewritten URL."""
        return "//" if self.scheme == "relative" else f"{self.scheme}://"

    @property
    def host_names(self) -> tuple[str, ...]:
        """The configured hostnames, in configured order."""
        return tuple(h.name for h in self.hosts)


def load_settings(
    options: Mapping[str, object],
    *,
    base_dir: Path,
    source: str,
) -> Settings:
    """Validate ``options`` (setting name -> value) into :class:`Settings`.

    ``base_dir`` is the folder a relative ``manifest`` path is relative to, and
    ``source`` names where the options came from (``mkdocs.yml``), for messages.
    """
    for name in options:
        if name not in KNOWN_SETTINGS:
            close = difflib.get_close_matches(name, KNOWN_SETTINGS, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known settings: {', '.join(KNOWN_SETTINGS)}"
            )
            raise ConfigError(f"{source}: unknown shard-assets setting {name!r}: {hint}")

    def fail(name: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: shard-assets setting {name!r} {problem}")

    hosts = _hosts(options.get("hosts"), fail)
    manifest = options.get("manifest", DEFAULT_MANIFEST)
    if not isinstance(manifest, str | Path) or not str(manifest).strip():
        raise fail("manifest", f"must be a file path, got {manifest!r}")
    manifest_path = Path(manifest)
    if not manifest_path.is_absolute():
        manifest_path = base_dir / manifest_path

    max_imbalance = options.get("max_imbalance", 0.10)
    if isinstance(max_imbalance, bool) or not isinstance(max_imbalance, int | float):
        raise fail("max_imbalance", f"must be a number such as 0.10, got {max_imbalance!r}")
    if not 0 <= max_imbalance < float("inf"):
        raise fail(
            "max_imbalance",
            f"must be 0 or more (0.10 allows 10% over the fair share), got {max_imbalance!r}",
        )

    scheme = options.get("scheme", "https")
    if scheme not in SCHEMES:
        raise fail("scheme", f"must be one of {', '.join(SCHEMES)}, got {scheme!r}")

    site_url = options.get("site_url")
    if site_url is not None and not isinstance(site_url, str):
        raise fail("site_url", f"must be a URL such as https://example.org/, got {site_url!r}")
    try:
        site = Site.from_url(site_url)
    except ConfigError as error:
        raise fail("site_url", str(error).removeprefix("site_url ")) from None

    return Settings(
        hosts=hosts,
        manifest=manifest_path,
        max_imbalance=exact(max_imbalance),
        scheme=str(scheme),
        site_url=site_url or None,
        exclude=_strings(options.get("exclude", ()), "exclude", fail),
        strict=_flag(options.get("strict", False), "strict", fail),
        attributes=_attributes(options.get("attributes", ()), fail),
        enabled=_flag(options.get("enabled", True), "enabled", fail),
        locked=_flag(options.get("locked", False), "locked", fail),
        verify=_flag(options.get("verify", False), "verify", fail),
        preconnect=_flag(options.get("preconnect", False), "preconnect", fail),
        report=_flag(options.get("report", False), "report", fail),
        site=site,
    )


def check_hostname(host: object) -> str | None:
    """Why ``host`` is not a bare hostname, or None when it is one."""
    if not isinstance(host, str) or not host.strip():
        return f"{host!r} is empty or not a string"
    if host != host.strip() or any(c.isspace() for c in host):
        return f"{host!r} contains whitespace"
    if "://" in host:
        bare = host.split("://", 1)[1].split("/", 1)[0]
        return f"{host!r} has a scheme: write the bare hostname {bare!r} (set scheme separately)"
    if "/" in host:
        return f"{host!r} has a path: write only the hostname {host.split('/', 1)[0]!r}"
    if re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*:\d+", host):
        return f"{host!r} has a port: shard hosts are served on the scheme's default port"
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        return f"{host!r} is not a valid hostname (letters, digits, '-' and '.' only)"
    return None


def _hosts(value: object, fail: _Fail) -> tuple[Host, ...]:
    if not value:
        raise fail(
            "hosts",
            "is required: list the shard hostnames, e.g. [cdn1.example.com, cdn2.example.com]",
        )
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = [(h, 1) for h in value]
    else:
        raise fail(
            "hosts", f"must be a list of hostnames or a mapping hostname -> weight, got {value!r}"
        )
    hosts: list[Host] = []
    seen: dict[str, str] = {}
    for name, weight in pairs:
        problem = check_hostname(name)
        if problem:
            raise fail("hosts", f"has a bad entry: {problem}")
        assert isinstance(name, str)
        if name.lower() in seen:
            raise fail("hosts", f"lists {name!r} twice: remove one")
        seen[name.lower()] = name
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not 0 < weight < float("inf")
        ):
            raise fail(
                "hosts", f"gives {name!r} the weight {weight!r}: weights must be positive numbers"
            )
        hosts.append(Host(name, exact(weight)))
    return tuple(hosts)


def _flag(value: object, name: str, fail: _Fail) -> bool:
    if not isinstance(value, bool):
        raise fail(name, f"must be true or false, got {value!r}")
    return value


def _strings(value: object, name: str, fail: _Fail) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise fail(name, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _attributes(value: object, fail: _Fail) -> tuple[tuple[str, str, str], ...]:
    specs = _strings(value, "attributes", fail)
    parsed = []
    for spec in specs:
        m = _ATTRIBUTE_SPEC.fullmatch(spec.strip())
        if not m:
            raise fail("attributes", f"has {spec!r}: write element[attribute], e.g. img[data-src]")
        tag, attribute = m.group(1).lower(), m.group(2).lower()
        parsed.append((tag, attribute, "srcset" if attribute.endswith("srcset") else "url"))
    return tuple(parsed)
