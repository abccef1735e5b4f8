"""The `executor` backend: cells run on an HTTP worker speaking executor protocol v1 (SPEC 13).

`[workers.config]` holds `url` (the worker's base URL, or its `/v1/execute` endpoint) and
optionally `token_env`, the NAME of the environment variable holding the bearer token. The
token is read at request time and never enters a key, a log, an error or the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strata_engine.backends.base import Executor, WorkerConfig, WorkerHealth
from strata_engine.backends.remote import RemoteBackend

if TYPE_CHECKING:
    from strata_engine.store import BlobStore

__all__ = ["ExecutorBackend"]


class ExecutorBackend(RemoteBackend):
    name = "executor"
    parallel = False  # a strata worker runs one cell at a time and answers others 503

    def open(self, worker: WorkerConfig | None, blobs: BlobStore) -> Executor:
        if worker is None:  # place() never puts the built-in local worker here
            raise ValueError("the executor backend needs a [[workers]] entry")
        # Imported here: http.client and tarfile cost the editor's startup ~50 ms otherwise.
        from strata_engine.backends.executor.client import RemoteExecutor

        config = worker.config
        url = config.get("url")
        token_env = config.get("token_env")
        return RemoteExecutor(
            worker.name,
            url if isinstance(url, str) else "",
            blobs,
            token_env=token_env if isinstance(token_env, str) and token_env else None,
        )

    def health(self, worker: WorkerConfig, timeout: float) -> WorkerHealth:
        from strata_engine.backends.executor.health import probe

        return probe(worker, timeout)
