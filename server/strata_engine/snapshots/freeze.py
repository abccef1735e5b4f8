"""`strata freeze DIR`: what exactly ran, as `strata.lock` beside notebook.toml.

JSON (stdlib, `sort_keys`): the same notebook frozen twice from the same store gives the
same bytes except `frozen_at`. Only `ready` cells can be frozen: a lock describes results
that exist, so a stale, never-run or failed cell refuses the whole freeze (there is no
`--allow-stale`; run the notebook first).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata_engine.cache.provenance import environment_fingerprint
from strata_engine.cache.state import CellStatus
from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import NotebookError

LOCK_FILE = "strata.lock"
LOCK_VERSION = 1


class FreezeRefused(NotebookError):
    """Some cell has no current result; `cells` names them with their state."""

    def __init__(self, cells: Mapping[str, str]) -> None:
        self.cells = dict(cells)
        listed = ", ".join(f"{cell} ({state})" for cell, state in self.cells.items())
        super().__init__(
            f"cannot freeze: {len(self.cells)} cell(s) have no current result: {listed}; "
            "run the notebook (strata run DIR) and freeze again"
        )


@dataclass(frozen=True, slots=True)
class LockedCell:
    key: str
    environment: str
    reads_mounts: bool
    outputs: dict[str, dict[str, str]]
    """name -> {"digest", "content_type"}"""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "environment": self.environment,
            "reads_mounts": self.reads_mounts,
            "outputs": self.outputs,
        }


def locked_cell(status: CellStatus) -> LockedCell | None:
    """The lock's record of a ready cell; None for cells with nothing to lock (markdown)."""
    if status.entry is None or status.key is None or status.provenance is None:
        return None
    provenance = status.provenance
    return LockedCell(
        key=status.key,
        environment=provenance.environment,
        reads_mounts=any(label.startswith("mount ") for label, _ in provenance.external),
        outputs={
            name: {"digest": value.digest, "content_type": value.content_type}
            for name, value in sorted(status.entry.outputs.items())
        },
    )


def lock_document(
    notebook_id: str, states: Mapping[str, CellStatus], order: list[str], now: float
) -> dict[str, Any]:
    not_ready = {c: states[c].state for c in order if states[c].state != "ready"}
    if not_ready:
        raise FreezeRefused(not_ready)
    cells = {}
    for cell_id in order:
        record = locked_cell(states[cell_id])
        if record is not None:
            cells[cell_id] = record.to_json()
    return {
        "version": LOCK_VERSION,
        "notebook_id": notebook_id,
        "frozen_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "environment": environment_fingerprint(),
        "cells": cells,
    }


def freeze(directory: Path) -> tuple[Path, dict[str, Any]]:
    """Write `DIR/strata.lock` from the store's current results (nothing executes)."""
    from strata_engine.run.session import Session

    with Session(directory) as session:
        snapshot = session.snapshot()
        states = session.states(snapshot)
        document = lock_document(
            session.notebook.notebook_id, states, list(snapshot.graph.order), time.time()
        )
    path = directory / LOCK_FILE
    atomic_write(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path, document


def read_lock(directory: Path) -> dict[str, Any]:
    """The parsed lock, or a NotebookError that names the file and the fix."""
    path = directory / LOCK_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotebookError(
            f"{path}: no lock; freeze the notebook first (strata freeze {directory})"
        ) from None
    except (OSError, ValueError) as exc:
        raise NotebookError(
            f"{path}: not a readable lock ({exc}); freeze again to rewrite it"
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("cells"), dict):
        raise NotebookError(f"{path}: not a strata lock (no cells table); freeze again")
    if document.get("version") != LOCK_VERSION:
        raise NotebookError(
            f"{path}: lock version {document.get('version')!r}, this strata reads "
            f"{LOCK_VERSION}; freeze again"
        )
    return document
