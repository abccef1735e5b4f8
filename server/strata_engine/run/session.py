"""The engine's front door: one open notebook, its store and its warm executor.

The CLI and the language server both drive a `Session`, so `strata run` in CI and Run All in
the editor take the same path and hit the same cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from strata_engine import envs
from strata_engine.analysis.snapshot import (
    CellView,
    Snapshot,
    check_worker_override,
    take_snapshot,
)
from strata_engine.analysis.stored import analyses_for
from strata_engine.cache.state import CellStatus, compute_states
from strata_engine.model import manifest_cache
from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import Notebook, NotebookError, load_notebook
from strata_engine.model.timeouts import valid_timeout
from strata_engine.run import loop_job, settled
from strata_engine.run.events import EventSink, RunReport, ignore_events
from strata_engine.run.pool import ExecutorPool
from strata_engine.run.runner import MODES, Run
from strata_engine.store import (
    ArtifactIndex,
    BlobStore,
    Entry,
    RunRecord,
    Store,
    StoreError,
    open_store,
)


class InvocationError(NotebookError):
    """The notebook cannot be run as a whole (cycle, duplicate ids): the CLI exits 2."""


class StoreOpenError(NotebookError):
    """The artifact store cannot be used (not available, not writable, damaged): exit 2."""


class Session:
    def __init__(
        self, directory: Path, *, notebook: Notebook | None = None, worker: str | None = None
    ) -> None:
        """`notebook`: an already loaded model of `directory` (the editor loads it from its
        unsaved notebook.toml); by default it is loaded from disk. `worker` (`strata run
        --worker NAME`): where cells that name no worker run, over the notebook's default;
        every snapshot of this session uses it, so keys, states and runs agree."""
        self.notebook: Notebook = notebook or load_notebook(directory)
        self._from_disk = notebook is None
        """Whether the notebook is the one on disk (not the editor's unsaved model)."""
        problem = check_worker_override(self.notebook, worker)
        if problem is not None:
            raise InvocationError(problem)
        self.worker = worker
        self._store: Store | None = None
        self._index: ArtifactIndex | None = None
        """The open store's index (None once closed)."""
        self.executors = ExecutorPool(lambda: self.blobs)
        """Warm executors by worker, lent to each running cell."""
        self._cancelled = threading.Event()
        self._lookups: _IndexMemo | None = None
        self._store_generation = 0
        """Bumped whenever this session may have changed the store (memoized lookups expire)."""

    # -- store --------------------------------------------------------------------------
    def _open_store(self, *, writable: bool = True) -> Store:
        """Read-write for runs and collection. Read-only for what only looks (states, the
        editor): it creates nothing, and a store that does not exist yet reads as empty."""
        store = self._store
        if (
            store is None
            or self._index is None
            or not store.current()
            or (writable and not store.writable)
        ):
            if store is not None:
                store.close()
            self._store = self._index = None
            self._store_generation += 1  # memoized lookups hold the index just closed
            with _store_errors():
                store = open_store(
                    self.notebook.store_location,
                    writable=writable,
                    options=self.notebook.manifest.store.options,
                    cache_dir=self.notebook.directory / ".strata",
                )
            self._store, self._index = store, store.index
            strata_dir = self.notebook.directory / ".strata"
            ignore = strata_dir / ".gitignore"
            if writable and strata_dir.is_dir() and not ignore.exists():
                atomic_write(ignore, "*\n", durable=False)
        return store

    @property
    def index(self) -> ArtifactIndex:
        """The index, opened for writing (garbage collection)."""
        return self._open_store().index

    @property
    def blobs(self) -> BlobStore:
        return self._open_store(writable=False).blobs

    # -- static views ---------------------------------------------------------------------
    def reload(self) -> Notebook:
        self.notebook = load_notebook(self.notebook.directory)
        self._from_disk = True
        return self.notebook

    def snapshot(
        self,
        overrides: Mapping[str, str] | None = None,
        *,
        check_imports: bool = True,
        reuse: Mapping[str, CellView] | None = None,
    ) -> Snapshot:
        """`reuse`: an earlier snapshot's `bases` of this notebook (see take_snapshot)."""
        return take_snapshot(
            self.notebook, overrides, worker=self.worker, check_imports=check_imports, reuse=reuse
        )

    def states(
        self,
        snapshot: Snapshot | None = None,
        *,
        only: Collection[str] | None = None,
        reuse: Mapping[str, CellStatus] | None = None,
    ) -> dict[str, CellStatus]:
        """Each cell's state; `only`: a cell set closed under upstream (see compute_states);
        `reuse`: statuses of a previous call still valid if the store did not change."""
        envs.forget(self.notebook.directory)  # checked once per pass, not once per cell
        index = self._open_store(writable=False).index  # reopened if it appeared or went
        lookups = self._lookups
        if lookups is None or lookups.generation != self._store_generation:
            # A run may end while this builds (the editor asks from another thread): the
            # generation check makes the next call start over.
            lookups = self._lookups = _IndexMemo(index, self._store_generation)
            lookups.prefetch(self.notebook.notebook_id)
            reuse = None  # the store may have changed since those statuses were computed
        return compute_states(snapshot or self.snapshot(), lookups, only, reuse)

    def stored_iterations(self, cell_key: str, max_iter: int) -> int:
        """How many iterations the loop run keyed `cell_key` stored (read-only lookups)."""
        index = self._open_store(writable=False).index
        return loop_job.stored_iterations(index.get, cell_key, max_iter)

    def entry(self, key: str) -> Entry | None:
        """The stored entry of `key`, read-only (the variables view shows a stale cell's
        last result)."""
        return self._open_store(writable=False).index.get(key)

    @property
    def lookups(self) -> object | None:
        """The memo of index answers `states` uses, as an opaque token: another object (or
        None) after the store changed, when `states` ignores its `reuse`."""
        return self._lookups

    def forget_lookups(self) -> None:
        """Drop memoized index answers: the store changed behind this session's back (another
        process ran cells, or garbage collection). Runs of this session do it themselves."""
        self._lookups = None

    # -- running --------------------------------------------------------------------------
    def run(
        self,
        mode: str = "all",
        cell_ids: Iterable[str] = (),
        *,
        overrides: Mapping[str, str] | None = None,
        on_event: EventSink = ignore_events,
        timeout: float | None = None,
        jobs: int | None = None,
        sync: bool = True,
        on_env_output: envs.Output | None = None,
        snapshot: Snapshot | None = None,
    ) -> RunReport:
        """`snapshot`: one the caller just took of the same `overrides` (the CLI prints its
        diagnostics first), reused unless the notebook has an environment of its own, whose
        sync may change what its imports resolve to.
        `jobs`: how many cells may run on this machine at once (default: one per core);
        cells on remote workers do not count against it. A notebook with its own
        pyproject.toml first gets its `.venv` synced when it is missing or out of date
        (`sync`; uv's output to `on_env_output`); with `sync=False` such a venv is refused
        (EnvironmentSyncError). Nothing runs uv when the venv is current."""
        if mode not in MODES:
            raise InvocationError(f"unknown run mode {mode!r}; use one of {', '.join(MODES)}")
        if timeout is not None and valid_timeout(timeout) is None:
            raise InvocationError(
                f"timeout {timeout!r} is not a number of seconds in (0, 86400]; pass e.g. 300"
            )
        if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
            raise InvocationError(f"jobs {jobs!r} is not a whole number >= 1; pass e.g. 4")
        env = envs.ensure_environment(self.notebook.directory, sync=sync, on_output=on_env_output)
        if snapshot is None or env.kind == envs.VENV_KIND:
            snapshot = self.snapshot(overrides)
        snapshot.mount_max_age = 0.0  # a run keys cells with fresh mount listings
        _refuse_unrunnable(snapshot)
        store = self._open_store()
        analyses_for(self.notebook.directory).persist()  # .strata/ may have just appeared
        manifest_cache.save_pending(self.notebook.directory / ".strata")  # so may the parse's
        # Held from planning to the end: garbage collection spares the entries the plan
        # relies on and everything the run writes and reads.
        with _store_errors(), store.lease():
            selected, forced = self._plan(snapshot, mode, list(cell_ids))
            self._cancelled.clear()
            run = Run(
                snapshot,
                store.blobs,
                store.index,
                self.executors,
                on_event=on_event,
                default_timeout=timeout,
                cancelled=self._cancelled,
                jobs=jobs or default_jobs(),
            )
            # The warm worker starts only when a cell actually executes; a fully cached run
            # never pays for it. Until then, remember what it should import.
            self.executors.preload(_preloads(snapshot, selected))
            self._store_generation += 1
            try:
                report = run.execute(selected, forced)
            finally:
                self._store_generation += 1
        if report.success and self._from_disk and not overrides:
            # The next `strata status` or cached run may skip the analysis (run/settled.py).
            settled.remember(snapshot, run.statuses(), self.notebook.store_location)
        return report

    def _plan(
        self, snapshot: Snapshot, mode: str, cell_ids: list[str]
    ) -> tuple[set[str], set[str]]:
        unknown = [c for c in cell_ids if c not in snapshot.cells]
        if unknown:
            raise InvocationError(f"no cell with id {unknown[0]!r} in {self.notebook.name}")
        every = set(snapshot.cells)
        if mode == "all" or (mode == "force" and not cell_ids):
            return every, (every if mode == "force" else set())
        if mode == "stale":
            states = self.states(snapshot)  # reuses the index answers the editor memoized
            stale = {c for c, s in states.items() if s.state in ("stale", "never_run")}
            return stale | snapshot.graph.upstream_of(stale), set()
        targets = set(cell_ids)
        forced = targets if mode == "force" else set()
        return targets | snapshot.graph.upstream_of(targets), forced

    def cancel(self) -> None:
        self._cancelled.set()
        self.executors.cancel()

    def close(self) -> None:
        self.executors.close()
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def default_jobs() -> int:
    """Cells that may run on this machine at once when not told: one per core."""
    return os.cpu_count() or 1


class _IndexMemo:
    """The index as staleness sees it, memoized between runs: the editor recomputes every
    cell's state on each keystroke, and an entry found for a key stays valid until the store
    changes. Misses are not memoized (a run adds entries)."""

    def __init__(self, index: ArtifactIndex, generation: int) -> None:
        self._index = index
        self.generation = generation
        self._entries: dict[str, Entry] = {}
        self._last_runs: dict[str, dict[str, RunRecord]] = {}

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._index.get(key)
            if entry is not None:
                self._entries[key] = entry
        return entry

    def prefetch(self, notebook_id: str) -> None:
        """Read the entries under the last runs' keys in one query: mostly still the keys."""
        keys = [run.key for run in self.last_runs(notebook_id).values()]
        self._entries.update(self._index.get_many(keys))

    def last_runs(self, notebook_id: str) -> dict[str, RunRecord]:
        if notebook_id not in self._last_runs:
            self._last_runs[notebook_id] = self._index.last_runs(notebook_id)
        return self._last_runs[notebook_id]


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except StoreError as exc:
        raise StoreOpenError(str(exc)) from exc


def _preloads(snapshot: Snapshot, selected: set[str]) -> list[str]:
    """What the warm workers should import for the cells about to run, by their kinds."""
    names: set[str] = set()
    for cell_id in selected:
        view = snapshot.cells[cell_id]
        names.update(view.kind.preload(view.analysis))
    return sorted(names)


def _refuse_unrunnable(snapshot: Snapshot) -> None:
    for diag in snapshot.all_diagnostics():
        if diag.code in ("dag_cycle", "duplicate_cell_id"):
            raise InvocationError(f"{snapshot.notebook.manifest_path}: {diag.message}")
