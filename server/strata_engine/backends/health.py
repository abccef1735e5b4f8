"""The health of a notebook's `[[workers]]`: each asked through its backend, all at once.

Network I/O (up to about `timeout` seconds in all, not per worker): call it from a
background thread, never per keystroke. The editor polls it; nothing here caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from strata_engine.backends.base import (
    HEALTHY,
    UNHEALTHY,
    UNKNOWN,
    WorkerConfig,
    WorkerHealth,
)
from strata_engine.backends.registry import place

__all__ = ["HEALTHY", "PROBE_TIMEOUT", "UNHEALTHY", "UNKNOWN", "WorkerHealth", "probe_all"]

PROBE_TIMEOUT = 2.0
"""Seconds each worker has to answer."""
_MAX_PARALLEL = 8


def probe_all(
    workers: Sequence[WorkerConfig], *, timeout: float = PROBE_TIMEOUT
) -> list[WorkerHealth]:
    """One `WorkerHealth` per entry, in order. Never raises: a probe that fails in an
    unexpected way is that worker's error."""
    if not workers:
        return []
    with ThreadPoolExecutor(min(len(workers), _MAX_PARALLEL), "strata-health") as pool:
        return list(pool.map(lambda worker: probe(worker, timeout), workers))


def probe(worker: WorkerConfig, timeout: float = PROBE_TIMEOUT) -> WorkerHealth:
    """The health of one `[[workers]]` entry through its backend."""
    placement = place(worker.name, lambda _name: worker)
    if placement.backend is None:  # a backend Strata does not know
        return WorkerHealth(worker.name, worker.backend, UNHEALTHY, error=placement.problem)
    try:
        return placement.backend.health(worker, timeout)
    except Exception as exc:  # a backend's probe must not take the poller down
        error = f"the health check failed: {type(exc).__name__}: {exc}"
        return WorkerHealth(worker.name, worker.backend, UNHEALTHY, error=error)


def remote(workers: Sequence[WorkerConfig]) -> list[WorkerConfig]:
    """The entries worth polling: those whose cells do not run on this machine (a backend
    Strata does not know included: its answer says so)."""
    return [worker for worker in workers if not _runs_here(worker)]


def _runs_here(worker: WorkerConfig) -> bool:
    backend = place(worker.name, lambda _name: worker).backend
    return backend is not None and backend.runs_here
