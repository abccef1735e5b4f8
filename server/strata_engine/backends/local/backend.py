"""The `local` backend: this machine, through the warm fork server.

A notebook with its own pyproject.toml runs in its `.venv` (SPEC 7): the fingerprint, the
interpreter of the warm zygote and import resolution all come from `strata_engine.envs`;
a notebook without one runs in the engine's own interpreter.
"""

from __future__ import annotations

from pathlib import Path
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

    def environment_for(self, worker: WorkerConfig | None, notebook: Path | None) -> str:
        if notebook is None:
            return environment_fingerprint()
        from strata_engine.envs import detect

        return detect.detect(notebook).fingerprint

    def open(self, worker: WorkerConfig | None, blobs: BlobStore) -> Executor:
        return self.open_for(worker, blobs, None)

    def open_for(
        self, worker: WorkerConfig | None, blobs: BlobStore, notebook: Path | None
    ) -> Executor:
        from strata_engine.backends.local.executor import LocalExecutor

        if notebook is None:
            return LocalExecutor(blobs)
        from strata_engine.envs import detect

        # The run synced (or refused) the venv before anything was keyed, so a venv
        # notebook's interpreter exists here.
        return LocalExecutor(blobs, python=detect.detect(notebook).executable)

    def unresolved_imports(
        self,
        worker: WorkerConfig | None,
        notebook: Path | None,
        language: str,
        modules: tuple[str, ...],
    ) -> tuple[str, ...]:
        if notebook is None:
            return ()
        from strata_engine.envs import imports

        return imports.unresolved(notebook, language, modules)

    def health(self, worker: WorkerConfig, timeout: float) -> WorkerHealth:
        # This process's own machine: if the engine runs, so can its cells.
        return WorkerHealth(worker.name, self.name, HEALTHY, target="this machine")
