"""Which stored result a notebook shows for each cell (the editor restores these outputs).

A frozen notebook (`strata.lock`) shows what the lock pins: the entry under the lock's key
whose output digests are the lock's, even when the current key differs (another machine's
environment, a mount that moved on). Cells the lock does not pin, or whose pinned result is
not in this store, fall back to the current result. An unfrozen notebook shows the current
results (each ready cell's entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from strata_engine.cache.state import CellStatus
from strata_engine.model.notebook import NotebookError
from strata_engine.snapshots.freeze import LOCK_FILE, read_lock
from strata_engine.store import Entry


def shown_entries(
    directory: Path,
    states: Mapping[str, CellStatus],
    lookup: Callable[[str], Entry | None],
) -> dict[str, Entry]:
    """cell id -> the entry whose outputs to show; `lookup` reads the index by key."""
    shown = {cell: s.entry for cell, s in states.items() if s.entry is not None}
    if not (directory / LOCK_FILE).is_file():
        return shown
    try:
        locked = read_lock(directory)["cells"]
    except NotebookError:
        return shown  # an unreadable lock is reported by `strata verify`, not here
    for cell_id, record in locked.items():
        if cell_id not in states or not isinstance(record, dict):
            continue
        key = record.get("key")
        entry = lookup(key) if isinstance(key, str) else None
        if entry is not None and _pinned(entry, record.get("outputs")):
            shown[cell_id] = entry
    return shown


def _pinned(entry: Entry, outputs: object) -> bool:
    if not isinstance(outputs, dict):
        return False
    stored = {name: value.digest for name, value in entry.outputs.items()}
    wanted = {n: o.get("digest") for n, o in outputs.items() if isinstance(o, dict)}
    return stored == wanted
