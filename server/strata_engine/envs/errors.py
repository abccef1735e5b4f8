"""The one error of this package."""

from __future__ import annotations

from strata_engine.model.notebook import NotebookError


class EnvironmentSyncError(NotebookError):
    """Creating, syncing or changing a notebook's environment failed, or a run cannot use it
    (`--no-sync` without a venv): the CLI exits 2 with this message."""
