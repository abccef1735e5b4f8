"""What the engine asks of an executor (CellJob) and what it gets back (CellResult)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only for annotations: importing the store at run time is deferred to the point of use.
    from strata_engine.mounts.spec import JobMount
    from strata_engine.store import Entry, StoredValue

StreamCallback = Callable[[str, str], None]
"""(stream "stdout" | "stderr", text chunk), called while the cell runs."""

DisplayCallback = Callable[[dict[str, str]], None]
"""A mime bundle, called as soon as the cell displays it."""

IterationCallback = Callable[[dict[str, Any]], None]
"""A loop cell's iteration record (`kinds/loop_driver.py`), called as each one is stored."""


@dataclass(frozen=True)
class CellJob:
    cell_id: str
    language: str
    """The cell's kind (`strata_engine.kinds`): which harness runs the source."""
    source: str
    filename: str
    """Shown in tracebacks, e.g. "cells/load.py"."""
    inputs: Mapping[str, StoredValue]
    publish: Sequence[str]
    """Top-level names to store after the run (the analysis' defines)."""
    required: frozenset[str]
    """Names a downstream cell reads: failing to store one of them fails the cell."""
    env: Mapping[str, str]
    timeout: float
    """Seconds of execution, counted from the moment the cell's process exists."""
    cwd: Path
    mounts: tuple[JobMount, ...] = ()
    """The cell's mounts (SPEC 4), bound by name as paths in its namespace."""
    config: Mapping[str, object] = field(default_factory=dict)
    """Kind-specific settings the engine prepared (`CellKind.job_config`), JSON-able: what the
    kind's harness needs beyond the source (a prompt cell's model and endpoint). Never a
    secret: harnesses read keys from the environment themselves."""
    loop: Mapping[str, Any] | None = None
    """A `@loop` cell's settings (`run/loop_job.py`), JSON-able; None for every other cell.
    Only an executor whose backend has `Backend.loops` is handed one."""
    on_iteration: IterationCallback | None = field(default=None, compare=False, repr=False)
    """Told about each stored iteration of a loop, while the cell runs."""


@dataclass
class CellResult:
    status: str
    """"ok" | "error"."""
    outputs: dict[str, StoredValue]
    displays: list[dict[str, str]]
    stdout: str
    stderr: str
    error: str | None
    traceback: str | None
    duration_ms: float
    unstored: dict[str, str] = field(default_factory=dict)
    """name -> type name of publish names skipped: not storable and not required."""
    iterations: list[dict[str, Any]] = field(default_factory=list)
    """A loop cell's stored iterations, in order (also when it failed at a later one)."""
    mutations: list[dict[str, Any]] = field(default_factory=list)
    """Inputs the cell changed in place without publishing them again: {"variable",
    "line" (or None)} each (backends/local/mutation.py); the run warns about them."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def entry(self, key: str, cell_id: str, displays_digest: str | None) -> Entry:
        """The index entry that records this result under `key` (displays saved apart)."""
        import time

        from strata_engine.store import Entry

        return Entry(
            key=key,
            cell_id=cell_id,
            status=self.status,
            outputs=self.outputs,
            displays_digest=displays_digest,
            stdout=self.stdout,
            stderr=self.stderr,
            error=self.error,
            traceback=self.traceback,
            duration_ms=self.duration_ms,
            created_at=time.time(),
        )
