"""Running a notebook against the cache: plan, hit or execute each cell, record the results.

One `Run` walks the topological order once. Each cell's key is computed from its upstream
cells' *current* outputs, so a re-run upstream that produced byte-identical values leaves its
consumers' keys unchanged (early cutoff) and they are served from the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.backends import Executor, Placement
from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.cache.provenance import Provenance
from strata_engine.cache.state import cell_provenance
from strata_engine.mounts.for_job import job_mounts
from strata_engine.run.events import (
    CellDisplay,
    CellFinished,
    CellRun,
    CellStarted,
    CellStream,
    EventSink,
)
from strata_engine.store import (
    ArtifactIndex,
    BlobStore,
    Entry,
    RunRecord,
    StoredValue,
    load_displays,
    save_displays,
)

MODES = ("all", "stale", "cells", "force")


@dataclass
class RunReport:
    notebook: str
    cells: list[CellRun] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def success(self) -> bool:
        return all(c.status == "ok" for c in self.cells)


class Run:
    """One pass over the selected cells. Not reusable; `Session.run` creates one per call."""

    def __init__(
        self,
        snapshot: Snapshot,
        blobs: BlobStore,
        index: ArtifactIndex,
        executor: Callable[[Placement], Executor],
        *,
        on_event: EventSink,
        default_timeout: float | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.blobs = blobs
        self.index = index
        self._executor = executor
        self._emit = on_event
        self._timeout_override = default_timeout
        self._cancelled = cancelled or threading.Event()
        self.outputs: dict[str, Mapping[str, StoredValue]] = {}
        self.keys: dict[str, str | None] = {}
        self.failed: set[str] = set()
        self._last_keys = {
            cell: record.key
            for cell, record in index.last_runs(snapshot.notebook.notebook_id).items()
        }
        self._hits: list[str] = []

    def execute(self, selected: set[str], forced: set[str]) -> RunReport:
        started = time.perf_counter()
        report = RunReport(self.snapshot.notebook.notebook_id)
        for cell_id in self.snapshot.graph.order:
            view = self.snapshot.cells[cell_id]
            if cell_id not in selected:
                self._adopt_cached(view)
                continue
            result = self._run_cell(view, force=cell_id in forced)
            if result.status != "ok":
                self.failed.add(cell_id)
            report.cells.append(result)
            self._emit(CellFinished(result))
        self.index.touch(self._hits)
        report.duration_ms = (time.perf_counter() - started) * 1000
        return report

    def _adopt_cached(self, view: CellView) -> None:
        """A cell outside the selection still provides its cached outputs downstream."""
        if not view.kind.executes or not view.runnable:
            return
        provenance = cell_provenance(self.snapshot, view, self.outputs, self.keys)
        key = provenance.key()
        entry = self.index.get(key) if key else None
        self.keys[view.id] = key
        if entry is not None and entry.status == "ok":
            self.outputs[view.id] = entry.outputs

    def _run_cell(self, view: CellView, *, force: bool) -> CellRun:
        if not view.kind.executes:
            return CellRun(view.id, "ok")  # rendered, never executed
        if not view.runnable:
            return CellRun(view.id, "error", error=view.error_summary)
        if self._cancelled.is_set():
            return CellRun(view.id, "skipped", reason="cancelled")
        upstream_failed = self._failed_upstream(view)
        if upstream_failed:
            return CellRun(view.id, "skipped", reason="upstream failed")
        placement = self.snapshot.placement(view)
        if placement.problem is not None:
            # Never somewhere else in its place: the key names this worker's runtime.
            return CellRun(view.id, "error", error=placement.problem)
        provenance = cell_provenance(self.snapshot, view, self.outputs, self.keys)
        key = provenance.key()
        if key is None:
            return CellRun(view.id, "error", error=self._missing_input_message(provenance))
        self.keys[view.id] = key
        entry = None if force or self._uncacheable(view) else self.index.get(key)
        if entry is not None and entry.status == "ok":
            return self._serve_hit(view, entry, provenance)
        return self._execute(view, key, provenance, placement)

    def _failed_upstream(self, view: CellView) -> bool:
        producers = self.snapshot.graph.producers.get(view.id, {}).values()
        return any(up in self.failed for up in [*producers, *view.annotations.after])

    def _missing_input_message(self, provenance: Provenance) -> str:
        missing = next(i for i in provenance.inputs if i.digest is None)
        return (
            f"cell {missing.producer!r} did not produce {missing.name!r} (it was not bound "
            f"when that cell finished); bind it unconditionally there, or run that cell first"
        )

    def _uncacheable(self, view: CellView) -> bool:
        """`@nocache`, or a read-write mount (SPEC 6)."""
        return view.annotations.nocache or any(m.mode == "rw" for m in self.snapshot.mounts(view))

    def _serve_hit(self, view: CellView, entry: Entry, provenance: Provenance) -> CellRun:
        self.outputs[view.id] = entry.outputs
        self._hits.append(entry.key)
        if self._last_keys.get(view.id) != entry.key:
            self._record(view, entry.key, provenance, "ok", entry.duration_ms)
        return CellRun(
            view.id,
            "ok",
            duration_ms=0.0,
            cache_hit=True,
            stdout=entry.stdout,
            stderr=entry.stderr,
            displays=load_displays(self.blobs, entry.displays_digest),
            key=entry.key,
        )

    def _execute(
        self, view: CellView, key: str, provenance: Provenance, placement: Placement
    ) -> CellRun:
        backend = placement.backend.name if placement.backend is not None else ""
        self._emit(CellStarted(view.id, placement.worker, backend))
        job = self._job(view)

        def stream(name: str, text: str) -> None:
            self._emit(CellStream(view.id, name, text))

        def show(bundle: dict[str, str]) -> None:
            self._emit(CellDisplay(view.id, bundle))

        result = self._executor(placement).run(job, stream, show)
        if self._cancelled.is_set() and result.status != "ok":
            result.error = "cancelled"
        self._store(view, key, provenance, result)
        if result.status == "ok":
            self.outputs[view.id] = result.outputs
        return CellRun(
            view.id,
            result.status,
            duration_ms=result.duration_ms,
            stdout=result.stdout,
            stderr=result.stderr,
            error=result.error,
            traceback=result.traceback,
            displays=result.displays,
            key=key,
            executed=True,
        )

    def _job(self, view: CellView) -> CellJob:
        graph = self.snapshot.graph
        inputs: dict[str, StoredValue] = {}
        for name, producer in graph.producers.get(view.id, {}).items():
            inputs[name] = self.outputs[producer][name]
        return CellJob(
            cell_id=view.id,
            language=view.language,
            source=view.source or "",
            filename=view.file,
            inputs=inputs,
            publish=list(view.analysis.defines),
            required=frozenset(graph.consumers.get(view.id, {})),
            env=self.snapshot.env(view),
            timeout=self.snapshot.timeout(view, self._timeout_override),
            cwd=self.snapshot.notebook.directory,
            mounts=job_mounts(self.snapshot, view),
            config=view.kind.job_config(view, self.snapshot.notebook.manifest),
        )

    def _store(self, view: CellView, key: str, provenance: Provenance, result: CellResult) -> None:
        entry = Entry(
            key=key,
            cell_id=view.id,
            status=result.status,
            outputs=result.outputs,
            displays_digest=save_displays(self.blobs, result.displays),
            stdout=result.stdout,
            stderr=result.stderr,
            error=result.error,
            traceback=result.traceback,
            duration_ms=result.duration_ms,
            created_at=time.time(),
        )
        self.index.put(entry)
        self._record(view, key, provenance, result.status, result.duration_ms)

    def _record(
        self, view: CellView, key: str, provenance: Provenance, status: str, duration_ms: float
    ) -> None:
        record = RunRecord(key, status, provenance.to_record(), time.time(), duration_ms)
        self.index.record_run(self.snapshot.notebook.notebook_id, view.id, record)
