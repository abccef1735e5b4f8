"""What runs inside a dask worker: one cell, through the engine's LocalExecutor.

Only plain values cross the wire (str, float, bytes, lists, dicts), so the task needs
nothing from the engine side but this importable function. Inputs arrive as
(name, content_type, bytes) and run through the same scratch runner as `strata worker`
(backends/local/scratch.py); outputs leave the same way. The scratch store is wiped after
each task.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strata_engine.backends.local.scratch import ScratchCellRunner

Blob = tuple[str, str, bytes]
"""(variable name, content type, the blob's bytes)."""

CELL_FILENAME = "dask_cell.py"

_lock = threading.Lock()
_runner: ScratchCellRunner | None = None


def _new_runner() -> ScratchCellRunner:
    """One warm LocalExecutor per dask worker process, reused by every task it runs."""
    from strata_engine.backends.local.scratch import ScratchCellRunner

    runner = ScratchCellRunner("strata-dask-")
    # The dask worker never tells a task's module it is shutting down: stop the warm
    # process and remove the scratch directory when its interpreter exits.
    atexit.register(runner.close)
    return runner


def run_cell(
    source: str,
    env: dict[str, str],
    timeout: float,
    inputs: list[Blob],
    publish: list[str],
    required: list[str],
    mounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run one cell; returns its outcome as plain values (see `_outcome`). `mounts`: SPEC 13
    `params.mounts` entries (remote URIs; the engine refuses `file://` before sending)."""
    global _runner
    # A dask worker may run several tasks at once on its threads; the executor runs one
    # cell at a time anyway, and the scratch store must not be wiped under a running cell.
    with _lock:
        if _runner is None:
            _runner = _new_runner()
        return _run(_runner, source, env, timeout, inputs, publish, required, mounts or [])


def _run(
    runner: ScratchCellRunner,
    source: str,
    env: dict[str, str],
    timeout: float,
    inputs: list[Blob],
    publish: list[str],
    required: list[str],
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    from strata_engine.mounts.spec import JobMount

    # No cache path from the engine's machine: this worker uses its own per-user cache.
    job_mounts = [JobMount.from_json({**m, "cache": None}) for m in mounts]
    with runner.run(
        cell_id="dask",
        filename=CELL_FILENAME,
        source=source,
        inputs=inputs,
        publish=publish,
        required=required,
        env=env,
        timeout=timeout,
        mounts=job_mounts,
    ) as result:
        outputs = [
            (name, value.content_type, runner.blobs.get_bytes(value.digest))
            for name, value in result.outputs.items()
        ]
    return {
        "status": result.status,
        "outputs": outputs,
        "displays": result.displays,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "error": result.error,
        "traceback": result.traceback,
        "unstored": result.unstored,
    }
