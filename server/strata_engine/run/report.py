"""What a run ends with: each cell's outcome (`CellRun`) and the run's (`RunReport`).

Apart from the events a run streams (events.py): a fully cached `strata run` answered from
the settled record (settled.py) builds a report and streams nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strata_engine.model.diagnostics import Diagnostic


class CellRun:  # not a dataclass: a cached run must not import dataclasses, inspect: ~12 ms
    """The outcome of one cell in one run (the `cells[]` items of `strata run --format json`).

    `status`: ok | error | skipped. `executed`: True when the cell's code actually ran in this
    run (not a hit, not skipped). `warnings`: what the run found wrong while the cell ran
    (`mutation_in_place`, run/mutations.py)."""

    __slots__ = (
        "cache_hit",
        "displays",
        "duration_ms",
        "error",
        "executed",
        "id",
        "key",
        "reason",
        "status",
        "stderr",
        "stdout",
        "traceback",
        "warnings",
    )

    def __init__(
        self,
        id: str,
        status: str,
        duration_ms: float = 0.0,
        cache_hit: bool = False,
        stdout: str = "",
        stderr: str = "",
        error: str | None = None,
        traceback: str | None = None,
        reason: str | None = None,
        displays: list[dict[str, str]] | None = None,
        key: str | None = None,
        executed: bool = False,
        warnings: list[Diagnostic] | None = None,
    ) -> None:
        self.id = id
        self.status = status
        self.duration_ms = duration_ms
        self.cache_hit = cache_hit
        self.stdout = stdout
        self.stderr = stderr
        self.error = error
        self.traceback = traceback
        self.reason = reason
        self.displays: list[dict[str, str]] = [] if displays is None else displays
        self.key = key
        self.executed = executed
        self.warnings: list[Diagnostic] = [] if warnings is None else warnings

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


class RunReport:  # not a dataclass: a cached run must not import dataclasses, inspect: ~12 ms
    """What `Session.run` returns: each cell's outcome in the order they settled."""

    __slots__ = ("cells", "duration_ms", "notebook")

    def __init__(
        self, notebook: str, cells: list[CellRun] | None = None, duration_ms: float = 0.0
    ) -> None:
        self.notebook = notebook
        self.cells: list[CellRun] = [] if cells is None else cells
        self.duration_ms = duration_ms

    @property
    def success(self) -> bool:
        return all(c.status == "ok" for c in self.cells)
