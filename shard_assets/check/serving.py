"""What each protocol's visitors get from the site, and what is wrong with it
(``check-hosts --unsharded-copy``).

HTTP/1.1 visitors should get the sharded pages (the output folder), HTTP/2 and HTTP/3
visitors the unsharded copy (the twin). Whoever gets the other one is a ``protocol``
problem, one per protocol, naming a page; a page that no protocol, or one protocol,
gets right (no answer, a redirect, a 404, bytes of neither copy) is one line per page.
Without a twin, a site that answers HTTP/2 serves its HTTP/2 visitors the sharded
pages: a warning with the cost this project measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .fetch import Problem
from .pages import PROTOCOLS, PageFetch, PagesFetched

#: The protocols as people write them.
LABELS = {"http/1.1": "HTTP/1.1", "http/2": "HTTP/2", "http/3": "HTTP/3"}
_COPIES = {
    "sharded": "the sharded pages",
    "twin": "the unsharded copy",
    "other": "neither copy",
    "": "no page",
}
_RECIPES = "docs/deploy.md has a tested recipe for each server"


@dataclass(frozen=True)
class Serving:
    """What the sample of pages showed, protocol by protocol.

    ``pages`` is how many pages the twin holds (the sample is taken from them);
    ``verdicts`` has one line per protocol; ``http3`` says why HTTP/3 was not probed
    ("" when it was), ``http3_at`` where it was.
    """

    output_dir: Path
    unsharded_copy: Path
    pages: int
    sampled: tuple[str, ...]
    fetches: tuple[PageFetch, ...]
    verdicts: Mapping[str, str]
    http3: str
    http3_at: str

    @property
    def right(self) -> int:
        """How many fetches got the copy meant for their protocol."""
        return sum(1 for f in self.fetches if f.copy == expected(f))


def expected(fetch: PageFetch) -> str:
    """The copy meant for the protocol the answer came in: the sharded pages over
    HTTP/1.x (also when an HTTP/2 client was answered in HTTP/1.1), the twin over
    HTTP/2 and HTTP/3."""
    return "sharded" if fetch.spoken.startswith("HTTP/1") else "twin"


def judge_serving(
    output_dir: Path,
    twin_dir: Path,
    pages: int,
    sampled: Sequence[str],
    fetched: PagesFetched,
    https: bool,
    site_host: str,
) -> tuple[Serving, list[Problem]]:
    """The verdicts and the problems of the fetched sample."""
    serving = Serving(
        output_dir=output_dir,
        unsharded_copy=twin_dir,
        pages=pages,
        sampled=tuple(sampled),
        fetches=fetched.fetches,
        verdicts=_verdicts(fetched, https),
        http3=fetched.http3,
        http3_at=fetched.http3_at,
    )
    return serving, _protocol_problems(serving, site_host) + _page_problems(serving, site_host)


def no_copy_warning(site_host: str | None, site_protocol: str) -> list[Problem]:
    """Without a twin: a warning when the site answers HTTP/2 (``site_protocol`` is
    what its TLS handshake chose by ALPN)."""
    if site_host is None or site_protocol != "h2":
        return []
    message = (
        f"no --unsharded-copy: {site_host} answers HTTP/2, so its HTTP/2 and HTTP/3 "
        "visitors get the sharded pages, which load slower for them than unsharded ones "
        "(over real round trips, 0.94x the unsharded speed with the defaults and 0.71x "
        "with everything sharded: docs/page-load.md); build with unsharded_copy, serve "
        f"it to them ({_RECIPES}), and give --unsharded-copy to check that"
    )
    return [Problem("unsharded-copy", site_host, "", message)]


def empty_copy_warning(site_host: str, output_dir: Path, twin_dir: Path) -> Problem:
    """The twin has no page (in the sample) that tells it from the output."""
    message = (
        f"{twin_dir} holds no page that differs from {output_dir}: nothing tells the two "
        "apart, so serving by protocol is not checked (is it the folder the build wrote "
        "with unsharded_copy?)"
    )
    return Problem("unsharded-copy", site_host, "", message)


def _verdicts(fetched: PagesFetched, https: bool) -> dict[str, str]:
    verdicts = {}
    for protocol in PROTOCOLS:
        mine = [f for f in fetched.fetches if f.protocol == protocol]
        if not https and protocol != "http/1.1":
            verdicts[protocol] = f"not used: browsers speak {LABELS[protocol]} only over https"
        elif protocol == "http/3" and fetched.http3:
            verdicts[protocol] = f"not probed: {fetched.http3}"
        else:
            verdicts[protocol] = _verdict(protocol, mine)
            if protocol == "http/3":
                verdicts[protocol] += f"; QUIC to {fetched.http3_at}"
    return verdicts


def _verdict(protocol: str, fetches: Sequence[PageFetch]) -> str:
    counts = Counter(f.copy for f in fetches)
    got = ", ".join(
        f"{name} ({counts[copy]} of {len(fetches)})"
        for copy, name in _COPIES.items()
        if counts[copy]
    )
    spoken = sorted({f.spoken for f in fetches if f.spoken})
    if protocol != "http/1.1" and spoken == ["HTTP/1.1"]:
        got += f" (answered in HTTP/1.1: the site does not offer {LABELS[protocol]})"
    right = all(f.copy == expected(f) for f in fetches)
    return got + (": right" if right else ": wrong (see the problems)")


def _protocol_problems(serving: Serving, site_host: str) -> list[Problem]:
    """One problem per protocol whose visitors get the other protocol's copy."""
    problems = []
    for protocol in PROTOCOLS:
        mine = [f for f in serving.fetches if f.protocol == protocol]
        wrong = [f for f in mine if f.copy in ("sharded", "twin") and f.copy != expected(f)]
        if not wrong:
            continue
        page = wrong[0]
        label = LABELS[protocol]
        counted = f"{len(wrong)} of {len(mine)} sampled page(s), e.g. {page.url}"
        if page.copy == "sharded":
            message = (
                f"{label} visitors get the sharded pages ({counted}: the bytes of "
                f"{serving.output_dir / page.key}): serve them the unsharded copy "
                f"({serving.unsharded_copy}); the server's choice by protocol is missing "
                f"or does not match ({_RECIPES})"
            )
        else:
            message = (
                f"{label} visitors get the unsharded copy ({counted}: the bytes of "
                f"{serving.unsharded_copy / page.key}): serve them the sharded output "
                f"({serving.output_dir}); the server sends every protocol to the unsharded "
                f"copy, so sharding helps no one ({_RECIPES})"
            )
        problems.append(Problem("protocol", site_host, page.key, message))
    return problems


def _page_problems(serving: Serving, site_host: str) -> list[Problem]:
    """One line per page that some protocol does not get either copy of."""
    problems = []
    for key in dict.fromkeys(f.key for f in serving.fetches):
        failed = [
            (LABELS[f.protocol], *_failure(f, serving))
            for f in serving.fetches
            if f.key == key and f.copy not in ("sharded", "twin")
        ]
        if not failed:
            continue
        url = next(f.url for f in serving.fetches if f.key == key)
        _, kind, _, fix = failed[0]
        reasons = {reason for _, _, reason, _ in failed}
        if len(reasons) == 1:
            labels = [label for label, *_ in failed]
            said = f"over {' and '.join(labels)}: {reasons.pop()}"
        else:
            said = "; ".join(f"over {label}: {reason}" for label, _, reason, _ in failed)
        problems.append(Problem(kind, site_host, key, f"{url}: {said}; {fix}"))
    return problems


def _failure(fetch: PageFetch, serving: Serving) -> tuple[str, str, str]:
    """The kind of problem, what came back, and what to do."""
    if fetch.error:
        return (
            "fetch",
            fetch.error,
            "the site must answer every protocol: is it up there, with a trusted certificate?",
        )
    if fetch.status in (404, 410):
        return (
            "missing",
            f"{fetch.status}: the site does not serve it (it is {serving.output_dir / fetch.key})",
            "deploy the whole output folder and the unsharded copy",
        )
    if fetch.status != 200:
        answered = (
            f"a redirect ({fetch.status}) to {fetch.location}, not the page"
            if fetch.location
            else f"answered {fetch.status} instead of 200 with the page"
        )
        return "status", answered, "serve the page itself, to every protocol"
    return (
        "stale",
        f"{fetch.size:,} bytes that are neither the sharded page "
        f"({serving.output_dir / fetch.key}) nor its unsharded copy "
        f"({serving.unsharded_copy / fetch.key}): a stale deploy, or another site",
        "deploy the output folder and the unsharded copy again",
    )
