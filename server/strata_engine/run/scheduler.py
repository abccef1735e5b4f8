"""Which cell runs when: independent cells run at the same time, each as soon as the cells it
depends on are done.

One scheduler thread owns every piece of shared state (outputs, keys, failures, the store
index): it keys a cell only once all its direct upstream cells have finished (so early cutoff
works as in a sequential run), serves hits and skips on the spot, and hands a cell that has
to execute to a thread of its own with an executor borrowed from the pool. Only the
executor's `run` happens on that thread; its result comes back to the scheduler, which
stores it and releases the cell's downstream.

Concurrency is limited per lane: cells whose backend runs them on this machine share
`jobs` slots; a worker that runs one cell at a time (a `strata worker`) gets one slot of its
own; cells on a backend that schedules for itself (a dask cluster) are not limited here, as
they wait on the network rather than on this machine's cores.

A free local slot does not always mean a new warm worker: when every executor of the cell's
worker is busy, opening another starts a process that imports everything again (a second
pandas, 1-3 s of CPU on a cold run). The cell waits for one of them instead, and gets its own
only once it has waited about as long as such a start takes.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from strata_engine.analysis.graph import Graph
from strata_engine.backends.base import Executor, Placement
from strata_engine.backends.jobs import CellResult
from strata_engine.cache.provenance import Provenance
from strata_engine.run.events import CellRun

_CANCEL_RECHECK_S = 0.25
_ANOTHER_WORKER_AFTER_S = 3.0
"""How long a ready local cell waits for a busy warm worker before opening another: about
what starting a zygote that preloads pandas costs on a loaded 2-core machine (1-3 s), during
which it also takes a core from the cells running."""

_WORTH_WAITING_S = 1.0
"""A busy worker whose cell should end within this is waited for: about a zygote's start on
an idle machine, so a known two-second cell's neighbour still runs in parallel."""

LOCAL_SLOTS = "local"
"""The lane of every cell that runs on this machine: `jobs` slots."""


@dataclass
class Launch:
    """A cell that has to execute: keyed (from its upstream's final outputs) and placed."""

    cell_id: str
    key: str
    provenance: Provenance
    placement: Placement
    reusable: bool = True
    """Its result may serve another cell of the same key (not forced, not `@nocache`)."""
    expected_s: float | None = None
    """How long its last run took (None: never ran): whether waiting for it is worth it."""


class Steps(Protocol):
    """What one cell's turn means; the run (runner.py) decides, the scheduler sequences."""

    def settle(self, cell_id: str) -> CellRun | Launch | None:
        """On the scheduler thread, once the cell's upstream is done: its outcome without
        executing (hit, skip, error), a Launch, or None for a cell outside the selection."""
        ...

    def started(self, launch: Launch) -> None: ...

    def execute_job(self, launch: Launch, executor: Executor) -> CellResult:
        """On the cell's own thread: only the executor's run."""
        ...

    def land(self, launch: Launch, result: CellResult) -> CellRun:
        """On the scheduler thread: store the result."""
        ...

    def finish(self, run: CellRun) -> None: ...


class Lender(Protocol):
    def all_busy(self, placement: Placement) -> bool: ...
    def borrow(self, placement: Placement) -> Executor: ...
    def give_back(self, executor: Executor) -> None: ...


@dataclass
class _Flight:
    launch: Launch
    executor: Executor
    lane: str | None
    started: float = field(default_factory=time.monotonic)


Landing = tuple[str, CellResult | BaseException]


class Scheduler:
    """One pass over the cells in `graph.order`. Not reusable."""

    def __init__(
        self,
        graph: Graph,
        steps: Steps,
        executors: Lender,
        *,
        jobs: int,
        cancelled: threading.Event,
    ) -> None:
        self._graph = graph
        self._steps = steps
        self._executors = executors
        self._jobs = jobs
        self._cancelled = cancelled
        self._position = {cell: i for i, cell in enumerate(graph.order)}
        self._blockers = {cell: len(self._upstream(cell)) for cell in graph.order}
        self._open = set(graph.order)
        """Cells not taken up yet (blocked on their upstream, or ready)."""
        self._ready = [(self._position[c], c) for c, n in self._blockers.items() if n == 0]
        heapq.heapify(self._ready)
        self._queued: dict[str | None, list[tuple[int, str]]] = {}
        self._launches: dict[str, Launch] = {}
        self._running: dict[str | None, int] = {}
        self._claimed: set[str] = set()
        """Keys of cells queued or running: a cell with the same key waits and is then
        served the first one's result, as it would be in a sequential run."""
        self._same_key: dict[str, list[str]] = {}
        self._flights: dict[str, _Flight] = {}
        self._landed: queue.SimpleQueue[Landing] = queue.SimpleQueue()
        self._held_since: dict[str, float] = {}
        """Ready local cells waiting for a busy warm worker (monotonic time they began to)."""
        self.results: dict[str, CellRun] = {}

    def run(self) -> list[CellRun]:
        """Every selected cell's outcome, in topological order (as a sequential run lists
        them), whatever order they finished in."""
        try:
            while self._step():
                pass
        except BaseException:
            self._abort()
            raise
        order = self._graph.order
        return [self.results[cell] for cell in order if cell in self.results]

    def _step(self) -> bool:
        """Settle what is ready, start what fits, else wait for one cell to land; False when
        every cell is done."""
        self._settle_ready()
        self._start_queued()
        if self._ready:
            return True
        if self._flights:
            landing = self._next_landing()
            if landing is not None:  # else a held cell may now open a worker of its own
                self._land(*landing)
            return True
        if self._open:
            # Nothing runs and nothing is ready, so the rest is behind a cycle (which a run
            # refuses up front): take them in order, as a sequential run would.
            first = min(self._open, key=self._position.__getitem__)
            heapq.heappush(self._ready, (self._position[first], first))
            return True
        return False

    def _next_landing(self) -> Landing | None:
        while True:
            wait = _CANCEL_RECHECK_S
            if self._held_since:
                due = min(self._held_since.values()) + _ANOTHER_WORKER_AFTER_S
                wait = min(wait, max(0.0, due - time.monotonic()))
            try:
                return self._landed.get(timeout=wait)
            except queue.Empty:
                if self._held_since and wait < _CANCEL_RECHECK_S:
                    return None
                if self._cancelled.is_set():
                    # A cell handed to its thread just before the cancel may not have reached
                    # its executor yet (nothing to kill then): cancel again until it lands.
                    for flight in self._flights.values():
                        flight.executor.cancel()

    def _upstream(self, cell_id: str) -> set[str]:
        return self._graph.direct_upstream(cell_id) & self._position.keys()

    def _settle_ready(self) -> None:
        while self._ready:
            _, cell_id = heapq.heappop(self._ready)
            if cell_id not in self._open:
                continue
            self._open.discard(cell_id)
            outcome = self._steps.settle(cell_id)
            if outcome is None:
                self._done(cell_id)
            elif isinstance(outcome, CellRun):
                self._finish(outcome)
            elif outcome.reusable and outcome.key in self._claimed:
                self._same_key.setdefault(outcome.key, []).append(cell_id)
            else:
                if outcome.reusable:
                    self._claimed.add(outcome.key)
                self._launches[cell_id] = outcome
                entry = (self._position[cell_id], cell_id)
                heapq.heappush(self._queued.setdefault(_lane(outcome.placement), []), entry)

    def _start_queued(self) -> None:
        for lane, waiting in self._queued.items():
            while waiting and self._fits(lane) and not self._hold(lane, waiting[0][1]):
                _, cell_id = heapq.heappop(waiting)
                self._held_since.pop(cell_id, None)
                launch = self._launches.pop(cell_id)
                if self._cancelled.is_set():
                    self._release_key(launch.key)
                    self._finish(CellRun(cell_id, "skipped", reason="cancelled"))
                else:
                    self._fly(launch, lane)

    def _hold(self, lane: str | None, cell_id: str) -> bool:
        """Whether a ready local cell should keep waiting for a busy warm worker."""
        # Without a flight of this run, nothing would come back to wake it: never hold then.
        if lane != LOCAL_SLOTS or not self._flights or self._cancelled.is_set():
            return False
        if not self._busy_worker_frees_soon():
            return False  # the running cells take longer than starting another worker
        if not self._executors.all_busy(self._launches[cell_id].placement):
            self._held_since.pop(cell_id, None)
            return False
        since = self._held_since.setdefault(cell_id, time.monotonic())
        return time.monotonic() - since < _ANOTHER_WORKER_AFTER_S

    def _busy_worker_frees_soon(self) -> bool:
        """A running local cell is expected to end within `_WORTH_WAITING_S` (by its last
        run's duration), or the durations are unknown (a first run: waiting, at most
        `_ANOTHER_WORKER_AFTER_S`, is what saves a second pandas import). Cells known to take
        longer get their parallel worker now."""
        now = time.monotonic()
        remaining = [
            None if f.launch.expected_s is None else f.launch.expected_s - (now - f.started)
            for f in self._flights.values()
            if f.lane == LOCAL_SLOTS
        ]
        return any(r is None or r < _WORTH_WAITING_S for r in remaining)

    def _fits(self, lane: str | None) -> bool:
        capacity = self._jobs if lane == LOCAL_SLOTS else (None if lane is None else 1)
        return capacity is None or self._running.get(lane, 0) < capacity

    def _fly(self, launch: Launch, lane: str | None) -> None:
        executor = self._executors.borrow(launch.placement)
        self._flights[launch.cell_id] = _Flight(launch, executor, lane)
        self._running[lane] = self._running.get(lane, 0) + 1
        self._steps.started(launch)
        thread = threading.Thread(
            target=self._work,
            args=(launch, executor),
            name=f"strata-cell-{launch.cell_id}",
            daemon=True,
        )
        thread.start()

    def _work(self, launch: Launch, executor: Executor) -> None:
        try:
            outcome: CellResult | BaseException = self._steps.execute_job(launch, executor)
        except BaseException as exc:  # a callback raised: the scheduler re-raises it
            outcome = exc
        self._landed.put((launch.cell_id, outcome))

    def _land(self, cell_id: str, outcome: CellResult | BaseException) -> None:
        flight = self._flights.pop(cell_id)
        self._running[flight.lane] -= 1
        self._executors.give_back(flight.executor)
        if isinstance(outcome, BaseException):
            raise outcome
        run = self._steps.land(flight.launch, outcome)
        self._release_key(flight.launch.key)
        self._finish(run)

    def _release_key(self, key: str) -> None:
        self._claimed.discard(key)
        for cell_id in self._same_key.pop(key, []):
            self._open.add(cell_id)  # keyed again: now a hit (or run, if it failed)
            heapq.heappush(self._ready, (self._position[cell_id], cell_id))

    def _finish(self, run: CellRun) -> None:
        self.results[run.id] = run
        self._steps.finish(run)
        self._done(run.id)

    def _done(self, cell_id: str) -> None:
        for downstream in self._graph.direct_downstream(cell_id):
            if downstream not in self._blockers:
                continue
            self._blockers[downstream] -= 1
            if self._blockers[downstream] == 0:
                heapq.heappush(self._ready, (self._position[downstream], downstream))

    def _abort(self) -> None:
        """Interrupted (Ctrl-C, or an event sink raised): kill every running cell and wait
        for each to come back, so none outlives the run. Their results are not stored."""
        for flight in self._flights.values():
            flight.executor.cancel()
        while self._flights:
            cell_id, _outcome = self._landed.get()
            flight = self._flights.pop(cell_id)
            self._executors.give_back(flight.executor)


def _lane(placement: Placement) -> str | None:
    """Which slots a cell takes: this machine's, its worker's own one, or none."""
    backend = placement.backend
    assert backend is not None  # placed cells only
    if backend.runs_here:
        return LOCAL_SLOTS
    return None if backend.parallel else f"worker:{placement.worker}"
