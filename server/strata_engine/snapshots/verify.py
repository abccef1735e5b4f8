"""`strata verify DIR`: re-execute every cell from scratch and compare with `strata.lock`.

The run uses a scratch store in a temporary directory, never the notebook's own store, so
nothing is served from a cache and the notebook's `.strata` is not touched. Each output is
compared by digest (bit-identical or not). Why a cell differs, first match wins:
`mounts` (the cell reads a mount: data outside the notebook), `environment` (the cell's
environment fingerprint differs from the lock's), `upstream` (an upstream cell's outputs
differ, so this cell read other inputs), `key_changed` (same environment and inputs, but
the cell's key differs: its source or annotations were edited), `nondeterminism` (same key
in the same environment, different bytes). A cell absent from the lock is `missing`.

A different environment alone is not a failure: outputs that are still bit-identical verify
(another machine has other installed distributions, so its fingerprint always differs).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.cache.state import CellStatus
from strata_engine.model.manifest import StoreSpec
from strata_engine.model.notebook import load_notebook
from strata_engine.run.events import RunReport
from strata_engine.snapshots.freeze import LockedCell, locked_cell, read_lock


@dataclass
class CellVerdict:
    id: str
    status: str
    """identical | differs | missing (not in the lock) | error (failed or did not run)"""
    reason: str | None = None
    key_matches: bool = False
    environment_matches: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    """name -> identical | differs | not_produced (in the lock only) | not_locked (new)"""
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "key_matches": self.key_matches,
            "environment_matches": self.environment_matches,
            "outputs": self.outputs,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class VerifyReport:
    notebook: str
    cells: list[CellVerdict]

    @property
    def identical(self) -> bool:
        return all(c.status == "identical" for c in self.cells)

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "identical": self.identical,
            "cells": [c.to_json() for c in self.cells],
        }


def verify(directory: Path, *, sync: bool = True) -> VerifyReport:
    """Run every cell in a scratch store and compare its outputs with the lock."""
    from strata_engine.run.session import Session

    lock = read_lock(directory)
    locked: Mapping[str, Any] = lock["cells"]
    notebook = load_notebook(directory)
    with tempfile.TemporaryDirectory(prefix="strata-verify-") as scratch:
        # Only where the artifacts go changes; keys do not include the store.
        notebook.manifest = notebook.manifest._replace(
            store=StoreSpec(str(Path(scratch) / "artifacts"), None, {})
        )
        with Session(directory, notebook=notebook) as session:
            report = session.run("force", sync=sync)
            snapshot = session.snapshot()
            states = session.states(snapshot)
            order = list(snapshot.graph.order)
            upstream = {c: snapshot.graph.direct_upstream(c) for c in order}
    return VerifyReport(notebook.notebook_id, _verdicts(order, upstream, states, report, locked))


def _verdicts(
    order: list[str],
    upstream: Mapping[str, set[str]],
    states: Mapping[str, CellStatus],
    report: RunReport,
    locked: Mapping[str, Any],
) -> list[CellVerdict]:
    runs = {run.id: run for run in report.cells}
    verdicts: dict[str, CellVerdict] = {}
    for cell_id in order:
        run = runs.get(cell_id)
        status = states[cell_id]
        if run is not None and run.status != "ok":
            verdicts[cell_id] = CellVerdict(
                cell_id, "error", message=run.error or run.reason or run.status
            )
            continue
        now = locked_cell(status)
        if now is None:
            continue  # nothing to compare (markdown)
        verdicts[cell_id] = _compare(cell_id, now, locked.get(cell_id), upstream, verdicts)
    return list(verdicts.values())


def _compare(
    cell_id: str,
    now: LockedCell,
    then: Any,
    upstream: Mapping[str, set[str]],
    verdicts: Mapping[str, CellVerdict],
) -> CellVerdict:
    if not isinstance(then, dict):
        return CellVerdict(
            cell_id,
            "missing",
            reason="missing",
            outputs=dict.fromkeys(now.outputs, "not_locked"),
            message="the cell is not in strata.lock (added after the freeze?)",
        )
    then_outputs: Mapping[str, Any] = then.get("outputs") or {}
    outputs: dict[str, str] = {}
    for name in sorted(set(now.outputs) | set(then_outputs)):
        if name not in then_outputs:
            outputs[name] = "not_locked"
        elif name not in now.outputs:
            outputs[name] = "not_produced"
        else:
            same = now.outputs[name]["digest"] == then_outputs[name].get("digest")
            outputs[name] = "identical" if same else "differs"
    verdict = CellVerdict(
        cell_id,
        "identical" if set(outputs.values()) <= {"identical"} else "differs",
        key_matches=now.key == then.get("key"),
        environment_matches=now.environment == then.get("environment"),
        outputs=outputs,
    )
    if verdict.status == "differs":
        changed_upstream = [
            u for u in sorted(upstream.get(cell_id, ())) if _differs(verdicts.get(u))
        ]
        verdict.reason = _reason(now, verdict, changed_upstream)
        if changed_upstream:
            verdict.message = f"upstream cells differ: {', '.join(changed_upstream)}"
    return verdict


def _differs(verdict: CellVerdict | None) -> bool:
    return verdict is not None and verdict.status != "identical"


def _reason(now: LockedCell, verdict: CellVerdict, changed_upstream: list[str]) -> str:
    if now.reads_mounts:
        return "mounts"
    if not verdict.environment_matches:
        return "environment"
    if changed_upstream:
        return "upstream"
    if not verdict.key_matches:
        return "key_changed"
    return "nondeterminism"
