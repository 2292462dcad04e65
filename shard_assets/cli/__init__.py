"""The ``shard-assets`` command: its subcommands (``commands``) and flags (``args``)."""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
