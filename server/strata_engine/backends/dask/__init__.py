"""The `dask` backend: cells run as tasks on a dask.distributed cluster (SPEC 2 `[[workers]]`).

`[workers.config]` holds `scheduler` (the scheduler's address, e.g. "tcp://host:8786") and
optionally `connect_timeout` (seconds, default 10). Every dask worker must have
`strata_engine` installed: the task runs the cell there with the engine's own harness.
Nothing of dask is imported until a dask cell runs, so cached runs and the editor stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strata_engine.backends.base import Executor, WorkerConfig, WorkerHealth
from strata_engine.backends.remote import RemoteBackend

if TYPE_CHECKING:
    from strata_engine.store import BlobStore

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DaskBackend"]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to reach the scheduler before the cell fails naming the worker and address."""


class DaskBackend(RemoteBackend):
    name = "dask"

    def open(self, worker: WorkerConfig | None, blobs: BlobStore) -> Executor:
        if worker is None:  # place() never puts the built-in local worker here
            raise ValueError("the dask backend needs a [[workers]] entry")
        # Imported here: the executor module is cheap, but keeps dask itself lazy too.
        from strata_engine.backends.dask.client import DaskExecutor

        config = worker.config
        scheduler = config.get("scheduler")
        return DaskExecutor(
            worker.name,
            scheduler if isinstance(scheduler, str) else "",
            blobs,
            connect_timeout=_connect_timeout(config.get("connect_timeout")),
        )

    def health(self, worker: WorkerConfig, timeout: float) -> WorkerHealth:
        # Imported here: dask is imported only when a probe or a dask cell needs it.
        from strata_engine.backends.dask.health import probe

        return probe(worker, timeout)


def _connect_timeout(value: object) -> float:
    """`connect_timeout` if it is a positive number of seconds, else the default."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_CONNECT_TIMEOUT
