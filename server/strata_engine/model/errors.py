"""The error every command reports as "strata: <message>" and exit 2, on its own so the CLI
can catch it without importing the notebook loader (a fully cached `strata run` never loads
the notebook: run/settled.py)."""

from __future__ import annotations


class NotebookError(Exception):
    """The notebook cannot be loaded at all (the CLI exits 2)."""
