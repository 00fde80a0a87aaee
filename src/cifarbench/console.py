"""The one terminal console: progress bars and summaries go to stderr, so stdout carries
only results (a table, a path, a JSON document) that a script can read."""

from __future__ import annotations

from rich.console import Console

CONSOLE = Console(stderr=True)
