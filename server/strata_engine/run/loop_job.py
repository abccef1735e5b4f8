"""The engine's side of a `@loop` cell (SPEC 9 "Loop"): what its job carries, where each
iteration is stored, how `start_from` finds the iteration it resumes from.

The iterations themselves run in the cell's process (`kinds/loop_driver.py`). Each one's
carry comes back as a record and is stored as an entry of its own under
`iteration_key(cell key, k)`: a cell key decides every iteration of its run, so the same
key finds the same iterations, and a re-run with an unchanged key is one hit on the cell's
own entry (the final outputs) without iterating. `start_from=ID@iter=K` makes ID an
ordering edge whose key enters this cell's key (annotations.py), and resumes from the entry
of iteration K under ID's current key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import xxhash

from strata_engine.analysis.snapshot import CellView
from strata_engine.backends.base import Placement
from strata_engine.store import ArtifactIndex, Entry, StoredValue

ITERATION_CELL_SUFFIX = "@iter="
"""An iteration entry's `cell_id` is `CELL@iter=K`, so listings tell it from the cell's own."""


def iteration_key(cell_key: str, iteration: int) -> str:
    """The index key of iteration `iteration` (0-based) of the run keyed `cell_key`."""
    return xxhash.xxh3_128_hexdigest(f"strata-loop-iteration\0{cell_key}\0{iteration}".encode())


def stored_iterations(get: Callable[[str], Entry | None], cell_key: str, max_iter: int) -> int:
    """How many iterations the run keyed `cell_key` stored (0 when none), for the editor's
    "Fork from iteration...": a run stores 0..n-1 in order, so a binary search for the first
    missing one asks the index about log2(max_iter) keys, not every iteration."""
    if max_iter <= 0 or get(iteration_key(cell_key, 0)) is None:
        return 0
    low, high = 1, max_iter  # iteration low-1 is stored; the answer is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if get(iteration_key(cell_key, middle)) is None:
            high = middle
        else:
            low = middle + 1
    return low


def refusal(view: CellView, placement: Placement) -> str | None:
    """Why this loop cell cannot run where it is placed (None: it can, or it is no loop)."""
    if view.annotations.loop is None:
        return None
    if "loop" not in view.kind.annotation_keys:
        return f"@loop is not available for {view.kind.label} cells; only Python cells iterate"
    backend = placement.backend
    if backend is not None:
        return backend.refusal(placement.worker, view.kind.language, view.kind.label, True)
    return None


def find_seed(
    view: CellView, keys: Mapping[str, str | None], index: ArtifactIndex
) -> StoredValue | str | None:
    """The carry `start_from` resumes from; an error message when it is not stored; None
    for a loop that starts from its upstream."""
    loop = view.annotations.loop
    if loop is None or loop.start_from is None or loop.carry is None:
        return None
    source, k = loop.start_from
    where = f"start_from={source}@iter={k}"
    source_key = keys.get(source)
    if source_key is None:
        return f"{where}: cell {source!r} has no current result; run it first"
    entry = index.get(iteration_key(source_key, k))
    value = entry.outputs.get(loop.carry) if entry is not None else None
    if entry is None or entry.status != "ok" or value is None:
        return (
            f"{where}: iteration {k} of cell {source!r} is not stored for its current "
            f"result (it stopped earlier, failed before it, or it was evicted); pick an "
            f"iteration it stored, or run {source!r} with --force to store them again"
        )
    return value


def job_settings(view: CellView, seed: StoredValue | None) -> dict[str, Any] | None:
    """`CellJob.loop`: what the loop driver needs (JSON-able), None for a plain cell."""
    loop = view.annotations.loop
    if loop is None:
        return None
    return {
        "max_iter": loop.max_iter,
        "carry": loop.carry,
        "until": view.annotations.loop_until,
        "seed": seed.to_json() if seed is not None else None,
    }


def iteration_entries(
    cell_id: str, cell_key: str, iterations: Iterable[Mapping[str, Any]]
) -> list[Entry]:
    """Index entries for the iterations a run reported (records of `loop_driver._record`)."""
    now = time.time()
    entries = []
    for record in iterations:
        k = int(record["index"])
        value = StoredValue.from_json(record["value"])
        entries.append(
            Entry(
                key=iteration_key(cell_key, k),
                cell_id=f"{cell_id}{ITERATION_CELL_SUFFIX}{k}",
                status="ok",
                outputs={str(record["carry"]): value},
                displays_digest=None,
                stdout="",
                stderr="",
                error=None,
                traceback=None,
                duration_ms=float(record.get("duration_ms") or 0.0),
                created_at=now,
            )
        )
    return entries
