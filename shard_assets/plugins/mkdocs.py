"""The MkDocs plugin, registered as ``shard-assets`` (entry point ``mkdocs.plugins``)::

    plugins:
      - search
      - shard-assets:
          hosts: [cdn1.example.com, cdn2.example.com]

Settings are checked in ``on_config``; ``on_pre_build`` locks and reads the manifest.
Each page is sharded in memory as MkDocs hands it over (``on_post_page``, on worker
processes), with the manifest's hosts, or on a first build those its other files
(``on_files``) would get (:mod:`shard_assets.build.handover`); last to see it, a worker
writes it in MkDocs' place (docs/handover.md). ``on_post_build``, at -110, after every
other plugin (mkdocs-static-i18n builds other languages there, nested in ours:
:mod:`shard_assets.plugins.lifecycle`), confirms those pages, shards the rest and
writes the manifest. A failure is a ``PluginError``: no traceback. Off during
``mkdocs serve`` unless ``enabled_on_serve`` is true (the live-reload server serves it)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

from mkdocs.config import config_options as c
from mkdocs.config.base import Config, ConfigErrors, ConfigWarnings, ValidationError
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from .. import ConfigError, Settings, ShardAssetsError, load_settings
from ..config import CHOICES, DEFAULTS, KNOWN_SETTINGS
from .lifecycle import BuildLifecycle, LinesLog, PageFiles, Unsaid

log = get_plugin_logger(__name__)


def _fail(error: ShardAssetsError) -> NoReturn:
    """MkDocs prints a ``PluginError``'s message and exits 1, with no traceback."""
    raise PluginError(str(error)) from None


def _default(name: str) -> Any:
    """A setting's default (``config.DEFAULTS``), a list or dict as MkDocs holds them."""
    value = DEFAULTS[name]
    if isinstance(value, tuple):
        return list(value)
    return dict(value) if isinstance(value, Mapping) else value


class ShardAssetsConfig(Config):
    """The plugin's options; the values are validated again, fully, by the core."""

    hosts = c.Type((list, dict), default=[])
    manifest = c.Type(str, default=_default("manifest"))
    max_imbalance = c.Type((int, float), default=_default("max_imbalance"))
    scheme = c.Choice(CHOICES["scheme"], default=_default("scheme"))
    site_url = c.Optional(c.Type(str))
    exclude = c.ListOfItems(c.Type(str), default=_default("exclude"))
    attributes = c.ListOfItems(c.Type(str), default=_default("attributes"))
    strict = c.Type(bool, default=_default("strict"))
    enabled = c.Type(bool, default=_default("enabled"))
    locked = c.Type(bool, default=_default("locked"))
    verify = c.Type(bool, default=_default("verify"))
    preconnect = c.Type(bool, default=_default("preconnect"))
    report = c.Type(bool, default=_default("report"))
    enabled_on_serve = c.Type(bool, default=False)
    algorithm = c.Choice(CHOICES["algorithm"], default=_default("algorithm"))
    bounded = c.Type(bool, default=_default("bounded"))
    balance_by = c.Choice(CHOICES["balance_by"], default=_default("balance_by"))
    pin = c.Type(dict, default=_default("pin"))
    max_page_imbalance = c.Optional(c.Type((int, float)))
    jobs = c.Optional(c.Type(int))
    unsharded_copy = c.Optional(c.Type(str))
    cors_assets = c.Choice(CHOICES["cors_assets"], default=_default("cors_assets"))
    stylesheets = c.Choice(CHOICES["stylesheets"], default=_default("stylesheets"))


#: How MkDocs writes a page: ``utils.write_file(output.encode("utf-8",
#: errors="xmlcharrefreplace"), ...)``, bytes with no newline translated.
MKDOCS_FILES = PageFiles(errors="xmlcharrefreplace", newline="")

#: What MkDocs logs when a page's text is empty, which is how it is told not to write
#: one: dropped for the pages a worker writes in its place (on MkDocs' build logger
#: from the first build whose pages a worker writes).
_SKIPPED = Unsaid()


class ShardAssetsPlugin(BasePlugin[ShardAssetsConfig]):
    """Shards the built site's asset URLs over the configured hosts."""

    def __init__(self) -> None:
        self.is_serve = False
        self.settings: Settings | None = None
        self.build = BuildLifecycle(_fail, LinesLog(log))

    def load_config(
        self, options: dict[str, Any], config_file_path: str | None = None
    ) -> tuple[ConfigErrors, ConfigWarnings]:
        """MkDocs only warns about an unknown option; a typo here is an error, with a hint."""
        errors, warnings = super().load_config(options, config_file_path)
        known = sorted(name for name, _ in self.config_class._schema)
        unknown = set(options) - set(known)
        for name in sorted(unknown):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(known)}"
            errors.append((name, ValidationError(f"unknown shard-assets option: {hint}")))
        return errors, [w for w in warnings if w[0] not in unknown]

    def on_startup(self, *, command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
        self.is_serve = command == "serve"

    @event_priority(-100)  # last: mike's on_config adds the version to site_url
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        # Each core setting has an option of its name (site_url falls back to MkDocs').
        options: dict[str, Any] = {
            name: self.config[name] for name in KNOWN_SETTINGS if name != "site_url"
        }
        options["site_url"] = self.config.site_url or config.site_url or None
        config_dir = Path(config.config_file_path or ".").resolve().parent
        try:
            self.settings = load_settings(options, base_dir=config_dir, source="mkdocs.yml")
        except ConfigError as error:
            raise PluginError(str(error)) from None
        if self.is_serve and not self.config.enabled_on_serve:
            log.info("off during 'mkdocs serve' (set enabled_on_serve: true to shard there too)")
            self.settings = None
        elif not self.settings.enabled:
            self.settings = None
        return config

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        """Lock and read the manifest for the whole build (not for one nested in it)."""
        if self.build.begin(Path(config.site_dir), same_folder=True):
            self.build.abort()
            if self.settings is not None:
                direct = self._last_to_see_pages(config)
                site_dir = Path(config.site_dir)
                self.build.start(self.settings, site_dir, direct=direct, files=MKDOCS_FILES)

    def _last_to_see_pages(self, config: MkDocsConfig) -> bool:
        """Whether our ``on_post_page`` is the last: what it returns is what MkDocs
        writes, so a worker may write the page instead; the workers are then waited
        for first thing in ``on_post_build``, before any plugin reads pages."""
        events = getattr(getattr(config, "plugins", None), "events", None)
        if not isinstance(events, dict) or events.get("post_page", [None])[-1] != self.on_post_page:
            return False
        post_build = events.setdefault("post_build", [])
        if self._pages_written not in post_build:
            post_build.insert(0, self._pages_written)
        _SKIPPED.expected.clear()
        logging.getLogger("mkdocs.commands.build").addFilter(_SKIPPED)  # never twice
        return True

    def _pages_written(self, *, config: MkDocsConfig) -> None:
        self.build.drain()

    @event_priority(-100)  # last: other plugins add and remove files first
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        """On a first build, shard the pages with the hosts MkDocs' other files would get."""
        self.build.static_files(f.dest_uri for f in files if not f.is_documentation_page())
        return files

    @event_priority(-100)
    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        """Shard the page when the manifest places all its assets (or prepare the
        sharded page beside it); an empty text when a worker writes it."""
        written = self.build.page(output, page.file.dest_uri)
        if written is None:
            _SKIPPED.expected.add(f"Page skipped: '{page.file.src_uri}'. Generated empty output.")
        return written or ""

    def on_build_error(self, *, error: Exception) -> None:
        self.build.forget()
        self.build.abort()

    @event_priority(-110)
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self.build.end() and self.settings is not None and self.build.started:
            self.build.finish(self.settings, Path(config.site_dir))
