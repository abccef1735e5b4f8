"""What a run reports while it goes: the CLI prints these, the language server forwards them."""

from __future__ import annotations

from collections.abc import Callable
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
class CellStarted:
    cell_id: str
    worker: str
    """The cell's effective worker, as placed (`@worker` > cell entry > `--worker` > default)."""
    backend: str = "local"
    """That worker's backend: anything but "local" means the cell was dispatched elsewhere."""


@dataclass
class CellStream:
    cell_id: str
    stream: str
    text: str


@dataclass
class CellDisplay:
    """A display (mime bundle) as the running cell shows it; hits replay theirs in
    `CellFinished.run.displays` instead."""

    cell_id: str
    bundle: dict[str, str]


@dataclass
class CellProgress:
    """A `@loop` cell stored one more iteration (its console streams as CellStream)."""

    cell_id: str
    iteration: int
    """0-based: the K of `start_from=ID@iter=K`; iteration + 1 of max_iter are done."""
    max_iter: int
    stopped: bool = False
    """`@loop_until` was true after this iteration: it is the last one."""
    duration_ms: float = 0.0


@dataclass
class CellFinished:
    run: CellRun


Event = CellStarted | CellStream | CellDisplay | CellProgress | CellFinished
EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    return None


@dataclass
class RunReport:
    """What `Session.run` returns: each cell's outcome in the order they settled."""

    notebook: str
    cells: list[CellRun] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def success(self) -> bool:
        return all(c.status == "ok" for c in self.cells)
