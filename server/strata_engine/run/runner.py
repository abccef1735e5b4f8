"""Running a notebook against the cache: plan, hit or execute each cell, record the results.

One `Run` takes each cell once, in dependency order; independent cells execute at the same
time (scheduler.py). Each cell's key is computed from its upstream cells' *current* outputs,
once they are all done, so a re-run upstream that produced byte-identical values leaves its
consumers' keys unchanged (early cutoff) and they are served from the cache.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.backends.base import Executor
from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.cache.provenance import Provenance
from strata_engine.cache.state import CellStatus, cell_provenance, rendered_status
from strata_engine.mounts.for_job import job_mounts
from strata_engine.run import loop_job
from strata_engine.run.events import (
    CellDisplay,
    CellFinished,
    CellProgress,
    CellRun,
    CellStarted,
    CellStream,
    Event,
    EventSink,
    RunReport,
)
from strata_engine.run.mutations import mutation_warnings
from strata_engine.run.scheduler import Launch, Lender, Scheduler
from strata_engine.run.variant_runs import (
    MemberRun,
    combine,
    job_inputs,
    member_entry,
    plan_members,
    run_members,
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


class Run:
    """One pass over the selected cells. Not reusable; `Session.run` creates one per call.

    The scheduler (scheduler.py) decides when each cell's turn comes; these are the turns.
    Everything but `execute` runs on the scheduler thread, which alone touches the outputs,
    keys, failures and the store index."""

    def __init__(
        self,
        snapshot: Snapshot,
        blobs: BlobStore,
        index: ArtifactIndex,
        executors: Lender,
        *,
        on_event: EventSink,
        default_timeout: float | None = None,
        cancelled: threading.Event | None = None,
        jobs: int = 1,
    ) -> None:
        self.snapshot = snapshot
        self.blobs = blobs
        self.index = index
        self._executors = executors
        self._sink = on_event
        self._sink_lock = threading.Lock()
        self._timeout_override = default_timeout
        self._cancelled = cancelled or threading.Event()
        self._jobs = jobs
        self.outputs: dict[str, Mapping[str, StoredValue]] = {}
        self.keys: dict[str, str | None] = {}
        self.failed: set[str] = set()
        last_runs = index.last_runs(snapshot.notebook.notebook_id)
        self._last_keys = {cell: record.key for cell, record in last_runs.items()}
        self._last_seconds = {cell: r.duration_ms / 1000 for cell, r in last_runs.items()}
        self._prefetched: dict[str, Entry] = {}
        """Entries under the last runs' keys, read in one query when the run starts: a warm
        run of 10,000 cells asked the index 10,000 times (~0.3 ms each)."""
        self._hits: list[str] = []
        self._served: dict[str, tuple[Provenance, Entry]] = {}
        """What each cell that ended ok was keyed from and the entry it ended with."""
        self._selected: set[str] = set()
        self._forced: set[str] = set()
        self._members: dict[str, list[MemberRun]] = {}
        """`@per_variant` cells about to execute: each member's run (variant_runs.py)."""
        self._member_results: dict[str, dict[str, CellResult]] = {}
        self._loop_seeds: dict[str, StoredValue] = {}
        """A `start_from` loop's first carry, found when it was keyed."""

    def execute(self, selected: set[str], forced: set[str]) -> RunReport:
        started = time.perf_counter()
        self._selected, self._forced = selected, forced
        self._prefetched = self.index.get_many(self._last_keys.values())
        scheduler = Scheduler(
            self.snapshot.graph,
            self,
            self._executors,
            jobs=self._jobs,
            cancelled=self._cancelled,
        )
        report = RunReport(self.snapshot.notebook.notebook_id, scheduler.run())
        self.index.touch(self._hits)
        report.duration_ms = (time.perf_counter() - started) * 1000
        return report

    def statuses(self) -> dict[str, CellStatus]:
        """After `execute`: the state of each cell this run left ready, as `compute_states`
        would find it now (cells that failed, were skipped or not selected are left out)."""
        out: dict[str, CellStatus] = {}
        for cell_id, view in self.snapshot.cells.items():
            if not view.kind.executes:
                out[cell_id] = rendered_status(view)
            elif cell_id in self._served:
                provenance, entry = self._served[cell_id]
                out[cell_id] = CellStatus(
                    cell_id, "ready", key=entry.key, provenance=provenance, entry=entry
                )
        return out

    def _emit(self, event: Event) -> None:
        # Cells on other threads stream at the same time: the sink sees one event at a time.
        with self._sink_lock:
            self._sink(event)

    # -- the scheduler's steps ---------------------------------------------------------------
    def settle(self, cell_id: str) -> CellRun | Launch | None:
        view = self.snapshot.cells[cell_id]
        if cell_id not in self._selected:
            self._adopt_cached(view)
            return None
        return self._prepare(view, force=cell_id in self._forced)

    def started(self, launch: Launch) -> None:
        backend = launch.placement.backend
        name = backend.name if backend is not None else ""
        self._emit(CellStarted(launch.cell_id, launch.placement.worker, name))

    def execute_job(self, launch: Launch, executor: Executor) -> CellResult:
        if launch.cell_id in self._members:
            return self._execute_members(launch, executor)
        job = self._job(self.snapshot.cells[launch.cell_id])
        cell_id = launch.cell_id

        def stream(name: str, text: str) -> None:
            self._emit(CellStream(cell_id, name, text))

        def show(bundle: dict[str, str]) -> None:
            self._emit(CellDisplay(cell_id, bundle))

        def iterated(record: dict[str, Any]) -> None:
            self._emit(
                CellProgress(
                    cell_id,
                    int(record["index"]),
                    int(record["max_iter"]),
                    bool(record.get("stopped")),
                    float(record.get("duration_ms") or 0.0),
                )
            )

        if job.loop is not None:
            job = dataclasses.replace(job, on_iteration=iterated)
        return executor.run(job, stream, show)

    def land(self, launch: Launch, result: CellResult) -> CellRun:
        view = self.snapshot.cells[launch.cell_id]
        if self._cancelled.is_set() and result.status != "ok":
            result.error = "cancelled"
        self._store_members(view)
        for entry in loop_job.iteration_entries(view.id, launch.key, result.iterations):
            self.index.put(entry)  # kept when a later iteration failed
        self._store(view, launch.key, launch.provenance, result)
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
            key=launch.key,
            executed=True,
            warnings=mutation_warnings(self.snapshot, view, result.mutations),
        )

    def finish(self, run: CellRun) -> None:
        if run.status != "ok":
            self.failed.add(run.id)
        self._emit(CellFinished(run))

    # -- one cell ----------------------------------------------------------------------------
    def _adopt_cached(self, view: CellView) -> None:
        """A cell outside the selection still provides its cached outputs downstream."""
        if not view.kind.executes or not view.runnable:
            return
        provenance = cell_provenance(self.snapshot, view, self.outputs, self.keys)
        key = provenance.key()
        entry = self._lookup(key) if key else None
        self.keys[view.id] = key
        if entry is not None and entry.status == "ok":
            self.outputs[view.id] = entry.outputs

    def _prepare(self, view: CellView, *, force: bool) -> CellRun | Launch:
        """Its upstream is done: its outcome without executing, or what to execute."""
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
        refused = loop_job.refusal(view, placement)
        if refused is not None:
            return CellRun(view.id, "error", error=refused)
        provenance = cell_provenance(self.snapshot, view, self.outputs, self.keys)
        key = provenance.key()
        if key is None:
            return CellRun(view.id, "error", error=self._missing_input_message(provenance))
        self.keys[view.id] = key
        reusable = not (force or self._uncacheable(view))
        entry = self._lookup(key) if reusable else None
        if entry is not None and entry.status == "ok":
            return self._serve_hit(view, entry, provenance)
        seed = loop_job.find_seed(view, self.keys, self.index)
        if isinstance(seed, str):
            return CellRun(view.id, "error", error=seed, key=key)
        if seed is not None:
            self._loop_seeds[view.id] = seed
        if view.id in self.snapshot.graph.per_variant:
            self._members[view.id] = plan_members(
                self.snapshot, view, self.outputs, self.keys, self.index, force=force
            )
        expected = self._last_seconds.get(view.id)
        return Launch(view.id, key, provenance, placement, reusable, expected)

    def _lookup(self, key: str) -> Entry | None:
        """The entry of `key`: prefetched (each at most once: a later put may replace it),
        else asked of the index."""
        entry = self._prefetched.pop(key, None)
        return entry if entry is not None else self.index.get(key)

    def _failed_upstream(self, view: CellView) -> bool:
        # Its direct upstream: producers (every member of a sweep group read) and @after.
        return any(up in self.failed for up in self.snapshot.graph.direct_upstream(view.id))

    def _execute_members(self, launch: Launch, executor: Executor) -> CellResult:
        """A `@per_variant` cell: each member that is not a hit, then the combined result."""
        view, cell_id = self.snapshot.cells[launch.cell_id], launch.cell_id

        def stream(name: str, text: str) -> None:
            self._emit(CellStream(cell_id, name, text))

        def show(bundle: dict[str, str]) -> None:
            self._emit(CellDisplay(cell_id, bundle))

        def run_one(member: str) -> CellResult:
            return executor.run(self._job(view, member), stream, show)

        members = self._members[cell_id]
        results = self._member_results[cell_id] = run_members(members, run_one, stream)
        return combine(self.blobs, members, results)

    def _store_members(self, view: CellView) -> None:
        """A `@per_variant` cell's member runs, each under its own key (variant_runs.py)."""
        results = self._member_results.pop(view.id, {})
        for member in self._members.pop(view.id, []):
            result = results.get(member.variant)
            if result is not None:
                displays = save_displays(self.blobs, result.displays)
                self.index.put(member_entry(view.id, member, result, displays))
            elif member.entry is not None:
                self._hits.append(member.entry.key)

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
        self._served[view.id] = (provenance, entry)
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

    def _job(self, view: CellView, member: str | None = None) -> CellJob:
        graph = self.snapshot.graph
        inputs = job_inputs(self.snapshot, view, self.outputs, self.blobs, member)
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
            loop=loop_job.job_settings(view, self._loop_seeds.get(view.id)),
        )

    def _store(self, view: CellView, key: str, provenance: Provenance, result: CellResult) -> None:
        entry = result.entry(key, view.id, save_displays(self.blobs, result.displays))
        self.index.put(entry)
        if entry.status == "ok":
            self._served[view.id] = (provenance, entry)
        self._record(view, key, provenance, result.status, result.duration_ms)

    def _record(
        self, view: CellView, key: str, provenance: Provenance, status: str, duration_ms: float
    ) -> None:
        record = RunRecord(key, status, provenance.to_record(), time.time(), duration_ms)
        self.index.record_run(self.snapshot.notebook.notebook_id, view.id, record)
