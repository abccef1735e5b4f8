"""The `local` backend: this machine's interpreter, through the warm fork server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strata_engine.backends.base import HEALTHY, Backend, Executor, WorkerConfig, WorkerHealth
from strata_engine.cache.provenance import environment_fingerprint

if TYPE_CHECKING:
    from strata_engine.store import BlobStore


class LocalBackend(Backend):
    name = "local"
    loops = True  # the harness iterates in the cell's process (kinds/loop_driver.py)

    def environment_fingerprint(self, worker: WorkerConfig | None) -> str:
        return environment_fingerprint()

    def open(self, worker: WorkerConfig | None, blobs: BlobStore) -> Executor:
        from strata_engine.backends.local.executor import LocalExecutor

        return LocalExecutor(blobs)

    def health(self, worker: WorkerConfig, timeout: float) -> WorkerHealth:
        # This process's own machine: if the engine runs, so can its cells.
        return WorkerHealth(worker.name, self.name, HEALTHY, target="this machine")
