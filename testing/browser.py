"""Headless Chromium through Playwright, and the checks a person would make on a page.

Shared by ``tests/test_browser.py``, ``tests/test_report.py`` and the page-load
benchmarks. Playwright drives Debian's Chromium
(``executable_path``); it never downloads a browser of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .servers import skip_or_fail

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Playwright, Request, Response

    from .cdn_server import CdnServer

# Chromium must not phone home: no sync, no component or field-trial downloads.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM``, else ``chromium`` or ``chromium-browser`` on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """Chromium's path, after checking Playwright imports; otherwise skip the test (or
    the module, at import time), except in CI (``CI`` set), where ``.ci/run`` installs
    both and a skip would hide a broken setup: there it fails."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed: pip install -e '.[test]'"
        skip_or_fail(reason, "the browser tests", module_level=True)
    chromium = find_chromium()
    if chromium is None:
        reason = "Chromium is not installed: apt-get install chromium (or set CHROMIUM)"
        skip_or_fail(reason, "the browser tests", module_level=True)
    return chromium


def launch(
    playwright: Playwright, resolver_rules: str, executable: str, extra: Sequence[str] = ()
) -> Browser:
    """Start headless Chromium with ``resolver_rules`` (``--host-resolver-rules``) and
    the ``extra`` flags."""
    return playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=[*CHROMIUM_FLAGS, f"--host-resolver-rules={resolver_rules}", *extra],
    )


# Runs in the page after its load event: bring every lazy image into view, wait for
# every image to decode and every font face to load (unused faces too, so a broken
# font URL cannot hide), then report what the page holds.
_INSPECT = """async (probes) => {
  for (const img of document.images) img.scrollIntoView();
  window.scrollTo(0, 0);
  const images = await Promise.all([...document.images].map(async (img) => {
    let error = null;
    try { await img.decode(); } catch (e) { error = String(e); }
    return {src: img.currentSrc || img.src, width: img.naturalWidth, error};
  }));
  await Promise.all([...document.fonts].map((f) => f.load().catch(() => null)));
  await document.fonts.ready;
  const fonts = [...document.fonts].map((f) => ({family: f.family, status: f.status}));
  const results = {};
  for (const [name, code] of Object.entries(probes)) {
    try { results[name] = Boolean(eval(code)); } catch (e) { results[name] = String(e); }
  }
  return {images, fonts, probes: results};
}"""


@dataclass
class PageResult:
    """What one page load showed: ``problems`` is empty when all is well."""

    path: str
    images: int = 0
    fonts: int = 0
    stylesheets: int = 0
    problems: list[str] = field(default_factory=list)


class _Load:
    """A page loaded in its own browser context, listened to until :meth:`finish`."""

    def __init__(
        self, browser: Browser, server: CdnServer, path: str, probes: Mapping[str, str]
    ) -> None:
        self.result = PageResult(path)
        problems = self.result.problems
        self.context = browser.new_context()
        try:
            self.page = page = self.context.new_page()
            page.on("console", self._console)
            page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
            page.on("requestfailed", self._request_failed)
            page.on("response", self._response)
            self.sheets: list[dict[str, Any]] = []
            cdp = self.context.new_cdp_session(page)
            cdp.on("CSS.styleSheetAdded", lambda event: self.sheets.append(event["header"]))
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            page.goto(server.url(path), wait_until="load")
            self.report: dict[str, Any] = page.evaluate(_INSPECT, dict(probes))
        except BaseException:
            self.context.close()
            raise

    def _console(self, message: ConsoleMessage) -> None:
        # Info and debug messages (the MkDocs search worker's) are not problems.
        if message.type == "error":
            self.result.problems.append(f"console error: {message.text}")

    def _request_failed(self, request: Request) -> None:
        # Chromium cancels an image request (net::ERR_ABORTED) when the srcset
        # candidate it picked changes as the page lays out: the Pelican sample's
        # sizes="(min-width: 40em) 192px, 128px" depends on the font size, known once
        # the stylesheet is in, which a busy machine delays. The image it keeps must
        # decode (checked in finish), and a host that fails fails differently
        # (ERR_NAME_NOT_RESOLVED, ERR_CONNECTION_REFUSED, an HTTP error).
        if request.failure == "net::ERR_ABORTED" and request.resource_type == "image":
            return
        self.result.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.result.problems.append(f"HTTP {response.status}: {response.url}")

    def finish(self) -> PageResult:
        """Wait for the network to go quiet (late requests, such as the MkDocs search
        worker's index, must succeed too), close the context, and judge the page."""
        try:
            self.page.wait_for_load_state("networkidle")
            url = self.page.url
        finally:
            self.context.close()
        result, report = self.result, self.report
        problems = result.problems
        result.images = len(report["images"])
        for image in report["images"]:
            if image["error"] or not image["width"]:
                problems.append(f"image not decoded: {image['src']} ({image['error']})")
        result.fonts = len(report["fonts"])
        problems += [
            f"font {font['family']!r} {font['status']}"
            for font in report["fonts"]
            if font["status"] != "loaded"
        ]
        external = [s for s in self.sheets if not s.get("isInline") and s["sourceURL"] != url]
        result.stylesheets = len(external)
        problems += [
            f"stylesheet not applied: {s['sourceURL']}"
            for s in sorted(external, key=lambda s: str(s["sourceURL"]))
            if s.get("loadingFailed") or not s.get("length")
        ]
        problems += [
            f"probe {name!r} is {value!r}, not true"
            for name, value in sorted(report["probes"].items())
            if value is not True
        ]
        return result


def check_page(
    browser: Browser, server: CdnServer, path: str, probes: Mapping[str, str] | None = None
) -> PageResult:
    """Load ``path`` from ``server``'s origin in a fresh context and check it.

    Problems: a failed request or an HTTP error, a console error or uncaught
    exception, an image that did not decode, a font face that did not load, a
    stylesheet that failed or came back empty, a ``probes`` expression (name -> JS
    expression) that is not true.
    """
    return _Load(browser, server, path, probes or {}).finish()


def check_site(
    browser: Browser,
    server: CdnServer,
    pages: Sequence[str],
    hosts_by_asset: Mapping[str, str],
    probes: Mapping[str, str] | None = None,
) -> list[str]:
    """Check every page (as :func:`check_page`), then every request the server saw;
    return all problems, each prefixed with its page.

    Pages load one after another, each in a fresh context (nothing cached), and
    stay open while the next loads, so their waits for a quiet network overlap.
    With ``hosts_by_asset`` (the manifest's ``assets``), every request for a listed
    asset must have gone to its host and shard hosts must serve nothing else; an
    empty mapping (an unsharded build) means everything comes from the origin.
    """
    server.clear()
    loads: list[_Load] = []
    try:
        for path in pages:
            loads.append(_Load(browser, server, path, probes or {}))
        results = [load.finish() for load in loads]
    finally:
        for load in loads:
            load.context.close()
    problems = [f"{r.path}: {problem}" for r in results for problem in r.problems]
    return problems + host_problems(server, hosts_by_asset)


def host_problems(server: CdnServer, hosts_by_asset: Mapping[str, str]) -> list[str]:
    """Requests that went to another host than the manifest names, or failed there."""
    problems = []
    for hit in server.hits():
        expected = hosts_by_asset.get(hit.key, server.origin)
        if hit.host != expected:
            problems.append(f"{hit.key} was requested from {hit.host}, not {expected}")
        elif hit.status >= 400:
            problems.append(f"{hit.host} answered {hit.status} for {hit.key}")
    return sorted(set(problems))
