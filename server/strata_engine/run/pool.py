"""The session's warm executors, lent to one running cell at a time.

An executor runs one cell at a time (the `Executor` protocol), so a run with several cells in
flight borrows one executor per cell: an idle one of the cell's worker (the most recently
used, so a sequential run keeps reusing one warm process), else a new one. Executors stay
open between runs; an idle one whose environment fingerprint changed is closed instead of
lent (the modules it preloaded are stale, and its results would be stored under the new
environment's keys).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from strata_engine.backends.base import Executor, Placement

if TYPE_CHECKING:
    from strata_engine.store import BlobStore


@dataclass
class _Warm:
    worker: str
    executor: Executor
    environment: str
    """The environment fingerprint of the worker when this executor was opened."""


class ExecutorPool:
    """Thread-safe: the runner borrows and returns from its scheduler thread, while cancel
    and close may come from any thread (the editor's cancel request)."""

    def __init__(self, blobs: Callable[[], BlobStore]) -> None:
        self._blobs = blobs
        self._lock = threading.Lock()  # _idle, _lent, _preload
        self._idle: dict[str, list[_Warm]] = {}
        self._lent: dict[int, _Warm] = {}
        """Executors running a cell now, by id()."""
        self._preload: list[str] = []

    def warm(self, worker: str) -> list[Executor]:
        """The open executors of `worker`, idle ones first (the most recently used first)."""
        with self._lock:
            idle = [w.executor for w in reversed(self._idle.get(worker, []))]
            lent = [w.executor for w in self._lent.values() if w.worker == worker]
        return idle + lent

    def preload(self, modules: Iterable[str]) -> None:
        """What every executor, open now or opened later, should import."""
        names = list(modules)
        with self._lock:
            self._preload = names
            everyone = self._all()
        for warm in everyone:
            warm.executor.preload(names)
        if names:  # a worker started ahead of a first run (cold store) may start on them now
            from strata_engine.backends.local import prestart

            prestart.preload(names)

    def all_busy(self, placement: Placement) -> bool:
        """True if borrowing for `placement` now would open another executor next to ones of
        its worker that are all running cells (none idle with its environment)."""
        environment = placement.fingerprint()
        with self._lock:
            idle = self._idle.get(placement.worker, [])
            if any(w.environment == environment for w in idle):
                return False
            return any(w.worker == placement.worker for w in self._lent.values())

    def borrow(self, placement: Placement) -> Executor:
        """An executor for a cell placed there (placement.problem is None), until `give_back`."""
        assert placement.backend is not None
        environment = placement.fingerprint()
        with self._lock:
            idle = self._idle.setdefault(placement.worker, [])
            stale = [w for w in idle if w.environment != environment]
            idle[:] = [w for w in idle if w.environment == environment]
            warm = idle.pop() if idle else None
            preload = list(self._preload)
        for old in stale:
            old.executor.close()
        if warm is None:
            executor = placement.open(self._blobs())
            executor.preload(preload)
            warm = _Warm(placement.worker, executor, environment)
        with self._lock:
            self._lent[id(warm.executor)] = warm
        return warm.executor

    def give_back(self, executor: Executor) -> None:
        with self._lock:
            warm = self._lent.pop(id(executor), None)
            if warm is not None:
                self._idle.setdefault(warm.worker, []).append(warm)

    def cancel(self) -> None:
        """Stop every running cell (each executor kills its own)."""
        with self._lock:
            everyone = self._all()
        for warm in everyone:
            warm.executor.cancel()

    def close(self) -> None:
        with self._lock:
            everyone = self._all()
            self._idle.clear()
            self._lent.clear()
        for warm in everyone:
            warm.executor.close()

    def _all(self) -> list[_Warm]:
        return [w for ws in self._idle.values() for w in ws] + list(self._lent.values())
