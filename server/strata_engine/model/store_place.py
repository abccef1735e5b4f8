"""Where a notebook's artifact store lives, from its `[cache] store` setting as written.

On its own so that a settled notebook's record (run/settled.py) finds the store by the same
rule as `Notebook.store_location` without loading the notebook.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_STORE = Path(".strata") / "artifacts"


def store_place(directory: Path, written: str | None) -> str:
    """The `[cache] store` URI as written, or a path: `.strata/artifacts` by default, else
    `written` resolved against the notebook directory. Raises OSError, RuntimeError or
    ValueError for a path that cannot be resolved (null byte, symlink loop)."""
    if written is None:
        return str(directory / DEFAULT_STORE)
    if "://" in written:
        return written
    return str((directory / written).resolve())
