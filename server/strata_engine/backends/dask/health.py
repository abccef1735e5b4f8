"""Is a dask worker up? Ask its scheduler who it is and how many workers it has.

One RPC round trip (`identity`, then `versions` for the dask version) over the scheduler's
own comm protocol, within a short timeout; no `distributed.Client` (it would start a loop
thread and register with the scheduler). Healthy means reachable with at least one worker:
a scheduler without workers would hold the cell until its timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

from strata_engine.backends.base import HEALTHY, UNHEALTHY, WorkerConfig, WorkerHealth

BACKEND = "dask"
NOT_INSTALLED = (
    "dask is not installed in the Strata server's environment: "
    "pip install 'strata-vscode-server[dask]'"
)


def probe(worker: WorkerConfig, timeout: float) -> WorkerHealth:
    scheduler = worker.config.get("scheduler")
    if not isinstance(scheduler, str) or not scheduler:
        error = 'has no scheduler: set [workers.config] scheduler = "tcp://host:8786"'
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, error=error)
    try:
        import distributed  # noqa: F401  (only to tell "not installed" from "unreachable")
    except ImportError:
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, scheduler, error=NOT_INSTALLED)
    try:
        # Bounded twice: dask's connect retries until `timeout`, the whole exchange too.
        identity, versions = asyncio.run(asyncio.wait_for(_ask(scheduler, timeout), timeout + 1.0))
    except TimeoutError:
        error = f"dask scheduler {scheduler} did not answer within {timeout:g}s"
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, scheduler, error=error)
    except Exception as exc:  # refused, unreachable, not a dask scheduler, bad address
        error = f"dask scheduler {scheduler} is not reachable ({type(exc).__name__}: {exc})"
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, scheduler, error=error)
    return _judge(worker.name, scheduler, identity, versions)


async def _ask(address: str, timeout: float) -> tuple[Any, Any]:
    from distributed.core import rpc

    async with rpc(address, timeout=timeout) as scheduler:  # type: ignore[no-untyped-call]
        identity = await scheduler.identity(n_workers=0)
        try:
            versions = await scheduler.versions()
        except Exception:  # an older scheduler: the count is what matters
            versions = None
    return identity, versions


def _judge(name: str, scheduler: str, identity: Any, versions: Any) -> WorkerHealth:
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        error = f"{scheduler} answered, but not as a dask scheduler"
        return WorkerHealth(name, BACKEND, UNHEALTHY, scheduler, error=error)
    count = identity.get("n_workers")
    if not isinstance(count, int):
        count = len(identity.get("workers") or {})
    version = _dask_version(versions)
    if count == 0:
        error = f"dask scheduler {scheduler} has no workers: a cell sent now would wait"
        return WorkerHealth(name, BACKEND, UNHEALTHY, scheduler, version, workers=0, error=error)
    return WorkerHealth(name, BACKEND, HEALTHY, scheduler, version, workers=count)


def _dask_version(versions: Any) -> str | None:
    packages = versions.get("packages") if isinstance(versions, dict) else None
    version = packages.get("distributed") if isinstance(packages, dict) else None
    return f"distributed {version}" if isinstance(version, str) else None
