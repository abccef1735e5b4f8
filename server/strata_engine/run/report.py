"""What a run ends with: each cell's outcome (`CellRun`) and the run's (`RunReport`).

Apart from the events a run streams (events.py): a fully cached `strata run` answered from
the settled record (settled.py) builds a report and streams nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strata_engine.model.diagnostics import Diagnostic


@dataclass
class CellRun:
    """The outcome of one cell in one run (the `cells[]` items of `strata run --format json`)."""

    id: str
    status: str
    """ok | error | skipped"""
    duration_ms: float = 0.0
    cache_hit: bool = False
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    displays: list[dict[str, str]] = field(default_factory=list)
    key: str | None = None
    executed: bool = False
    """True when the cell's code actually ran in this run (not a hit, not skipped)."""
    warnings: list[Diagnostic] = field(default_factory=list)
    """What the run found wrong while the cell ran (`mutation_in_place`, run/mutations.py)."""

    def to_json(self) -> dict[str, Any]:
        """The `cells[]` item of `strata run --format json`."""
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 1),
            "cache_hit": self.cache_hit,
        }
        for name in ("stdout", "stderr", "error", "traceback", "reason"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.warnings:
            out["warnings"] = [warning_json(w) for w in self.warnings]
        return out

    def to_event_json(self) -> dict[str, Any]:
        """The cell's summary as the language server reports it: the `cells[]` items of
        `strata/runFinished`, and `strata/cellFinished` (console, displays and traceback
        travel in their own notifications)."""
        out: dict[str, Any] = {
            "cellId": self.id,
            "status": self.status,
            "durationMs": round(self.duration_ms, 1),
            "cacheHit": self.cache_hit,
            "executed": self.executed,
        }
        for name in ("reason", "error"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.warnings:
            out["warnings"] = [warning_json(w) for w in self.warnings]
        return out


def warning_json(diag: Diagnostic) -> dict[str, Any]:
    """A run warning in the run's JSON: the diagnostic, its file and its data."""
    return {**diag.to_json(), "file": diag.file, "data": diag.data}


@dataclass
class RunReport:
    """What `Session.run` returns: each cell's outcome in the order they settled."""

    notebook: str
    cells: list[CellRun] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def success(self) -> bool:
        return all(c.status == "ok" for c in self.cells)
