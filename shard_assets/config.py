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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

from .documents.urls import Site, normal_host
from .errors import ConfigError
from .placement.algorithms import ALGORITHMS
from .placement.balance import MEASURES, exact
from .placement.ring import Host

SCHEMES = ("https", "http", "relative")
#: Where CORS-mode assets (web fonts, module scripts, ``crossorigin`` elements) go;
#: the first is the default (docs/page-load.md measured it faster on both protocols).
CORS_ASSETS = ("origin", "shard")
#: Where stylesheets (a page renders only once they are in) go; the first is the
#: default (docs/page-load.md: 1.68x against 1.42x over HTTP/1.1, real round trips).
STYLESHEETS = ("origin", "shard")

#: Every setting's default, the one place for them: :func:`load_settings`, the CLI's
#: flags and the MkDocs options read them from here. ``hosts`` has none.
DEFAULTS: Mapping[str, object] = MappingProxyType(
    {
        "algorithm": ALGORITHMS[0],
        "attributes": (),
        "balance_by": MEASURES[0],
        "bounded": True,
        "cors_assets": CORS_ASSETS[0],
        "enabled": True,
        "exclude": (),
        "jobs": None,
        "locked": False,
        "manifest": "shard-manifest.json",
        "max_imbalance": 0.10,
        "max_page_imbalance": None,
        "pin": MappingProxyType({}),
        "preconnect": False,
        "stylesheets": STYLESHEETS[0],
        "report": False,
        "scheme": SCHEMES[0],
        "site_url": None,
        "strict": False,
        "unsharded_copy": None,
        "verify": False,
    }
)
DEFAULT_MANIFEST = str(DEFAULTS["manifest"])
#: The settings that take one of a few values, and those values (the first is the default).
CHOICES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "algorithm": ALGORITHMS,
        "balance_by": MEASURES,
        "cors_assets": CORS_ASSETS,
        "stylesheets": STYLESHEETS,
        "scheme": SCHEMES,
    }
)
KNOWN_SETTINGS = tuple(sorted([*DEFAULTS, "hosts"]))

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_Fail = Callable[[str, str], ConfigError]
_ATTRIBUTE_SPEC = re.compile(r"([A-Za-z][A-Za-z0-9:-]*)\[([^\]\s\"'=<>]+)\]")


@dataclass(frozen=True)
class Settings:
    """Everything a build needs to know, validated (made by :func:`load_settings`,
    which fills in the :data:`DEFAULTS`)."""

    hosts: tuple[Host, ...]
    manifest: Path
    max_imbalance: Fraction
    scheme: str
    site_url: str | None
    exclude: tuple[str, ...]
    strict: bool
    attributes: tuple[tuple[str, str, str], ...]
    enabled: bool
    locked: bool
    verify: bool
    preconnect: bool
    report: bool
    site: Site
    algorithm: str
    bounded: bool
    balance_by: str
    pins: tuple[tuple[str, str], ...]
    max_page_imbalance: Fraction | None
    #: Processes that read and rewrite files; None for the number of cores.
    jobs: int | None
    #: The folder for the unsharded twin of the rewritten documents, or None.
    unsharded_copy: Path | None
    #: "origin" keeps assets fetched in CORS mode off the shard hosts.
    cors_assets: str
    #: "origin" keeps stylesheets off the shard hosts.
    stylesheets: str

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

    options = {**DEFAULTS, **options}
    hosts = _hosts(options.get("hosts"), fail)
    manifest = options["manifest"]
    if not isinstance(manifest, str | Path) or not str(manifest).strip():
        raise fail("manifest", f"must be a file path, got {manifest!r}")
    manifest_path = _path(manifest, base_dir)
    twin = options["unsharded_copy"]
    unsharded_copy: Path | None = None
    if isinstance(twin, str | Path) and str(twin).strip():
        unsharded_copy = _path(twin, base_dir)
    elif twin is not None:
        raise fail("unsharded_copy", f"must be a folder path such as site-h2, got {twin!r}")

    max_imbalance = _imbalance(options["max_imbalance"], "max_imbalance", fail)
    page_imbalance = options["max_page_imbalance"]
    max_page_imbalance = (
        None if page_imbalance is None else _imbalance(page_imbalance, "max_page_imbalance", fail)
    )
    algorithm = _choice(options["algorithm"], "algorithm", ALGORITHMS, fail)
    if algorithm == "jump" and any(h.weight != 1 for h in hosts):
        raise fail(
            "algorithm",
            "is 'jump', which does not support host weights: give hosts as a plain list, "
            "or use algorithm 'ring' or 'rendezvous' to keep the weights",
        )
    balance_by = _choice(options["balance_by"], "balance_by", MEASURES, fail)

    scheme = options["scheme"]
    if scheme not in SCHEMES:
        raise fail("scheme", f"must be one of {', '.join(SCHEMES)}, got {scheme!r}")

    site_url = options["site_url"]
    if site_url is not None and not isinstance(site_url, str):
        raise fail("site_url", f"must be a URL such as https://example.org/, got {site_url!r}")
    try:
        site = Site.from_url(site_url)
    except ConfigError as error:
        raise fail("site_url", str(error).removeprefix("site_url ")) from None

    return Settings(
        hosts=hosts,
        manifest=manifest_path,
        max_imbalance=max_imbalance,
        scheme=str(scheme),
        site_url=site_url or None,
        exclude=_strings(options["exclude"], "exclude", fail),
        strict=_flag(options["strict"], "strict", fail),
        attributes=_attributes(options["attributes"], fail),
        enabled=_flag(options["enabled"], "enabled", fail),
        locked=_flag(options["locked"], "locked", fail),
        verify=_flag(options["verify"], "verify", fail),
        preconnect=_flag(options["preconnect"], "preconnect", fail),
        report=_flag(options["report"], "report", fail),
        jobs=_jobs(options["jobs"], fail),
        site=site,
        algorithm=algorithm,
        bounded=_flag(options["bounded"], "bounded", fail),
        balance_by=balance_by,
        pins=_pins(options["pin"], hosts, fail),
        max_page_imbalance=max_page_imbalance,
        unsharded_copy=unsharded_copy,
        cors_assets=_choice(options["cors_assets"], "cors_assets", CORS_ASSETS, fail),
        stylesheets=_choice(options["stylesheets"], "stylesheets", STYLESHEETS, fail),
    )


def _path(value: str | Path, base_dir: Path) -> Path:
    """``value`` as a path, relative ones anchored at ``base_dir``."""
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


def check_hostname(host: object) -> str | None:  # noqa: PLR0911  one check, one message each, in order
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
        if normal_host(name) in seen:
            raise fail("hosts", f"lists {name!r} twice: remove one")
        seen[normal_host(name)] = name
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


def _imbalance(value: object, name: str, fail: _Fail) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(name, f"must be a number such as 0.10, got {value!r}")
    if not 0 <= value < float("inf"):
        raise fail(name, f"must be 0 or more (0.10 allows 10% over the fair share), got {value!r}")
    return exact(value)


def _choice(value: object, name: str, choices: tuple[str, ...], fail: _Fail) -> str:
    if isinstance(value, str) and value in choices:
        return value
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(choices)}"
    raise fail(name, f"must be one of {', '.join(choices)}, got {value!r}: {hint}")


def _pins(value: object, hosts: tuple[Host, ...], fail: _Fail) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise fail(
            "pin",
            f'must map asset globs to hosts, e.g. {{"js/*": "cdn1.example.com"}}, got {value!r}',
        )
    names = [h.name for h in hosts]
    pins: list[tuple[str, str]] = []
    for pattern, host in value.items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise fail("pin", f"has an empty or non-string glob {pattern!r}")
        if host in names:
            pins.append((pattern, host))
            continue
        by_case = {normal_host(n): n for n in names}
        if isinstance(host, str) and normal_host(host) in by_case:
            hint = f"write it as configured: {by_case[normal_host(host)]!r}"
        else:
            close = difflib.get_close_matches(str(host), names, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"configured hosts: {', '.join(names)}"
            )
        raise fail("pin", f"pins {pattern!r} to {host!r}, which is not in hosts: {hint}")
    return tuple(pins)


def _jobs(value: object, fail: _Fail) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail("jobs", f"must be a whole number of 1 or more (processes), got {value!r}")
    return value


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
