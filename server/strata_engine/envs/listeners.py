"""Who else hears a sync's output (kept apart from sync.py, which is heavy to import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

LISTENERS: list[Callable[[Path, str], None]] = []
"""Also told every output line of every sync, with its notebook directory (the language
server forwards them as `strata/environmentLog`, whoever started the sync)."""
