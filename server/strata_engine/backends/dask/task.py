"""What runs inside a dask worker: one cell, through the engine's LocalExecutor.

Only plain values cross the wire (str, float, bytes, lists, dicts), so the task needs
nothing from the engine side but this importable function. Inputs arrive as
(name, content_type, bytes) and are written into a scratch BlobStore; outputs leave the
same way, read back from it. The scratch store is wiped after each task.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

Blob = tuple[str, str, bytes]
"""(variable name, content type, the blob's bytes)."""

CELL_FILENAME = "dask_cell.py"

_lock = threading.Lock()
_runner: _Runner | None = None


class _Runner:
    """One warm LocalExecutor per dask worker process, reused by every task it runs."""

    def __init__(self) -> None:
        from strata_engine.backends.local.executor import LocalExecutor
        from strata_engine.store import BlobStore

        self.root = Path(tempfile.mkdtemp(prefix="strata-dask-"))
        self.blobs = BlobStore(self.root / "store")
        self.executor = LocalExecutor(self.blobs)
        # The dask worker never tells a task's module it is shutting down: stop the warm
        # process and remove the scratch directory when its interpreter exits.
        atexit.register(self.close)

    def close(self) -> None:
        self.executor.close()
        shutil.rmtree(self.root, ignore_errors=True)


def run_cell(
    source: str,
    env: dict[str, str],
    timeout: float,
    inputs: list[Blob],
    publish: list[str],
    required: list[str],
) -> dict[str, Any]:
    """Run one cell; returns its outcome as plain values (see `_outcome`)."""
    global _runner
    # A dask worker may run several tasks at once on its threads; the executor runs one
    # cell at a time anyway, and the scratch store must not be wiped under a running cell.
    with _lock:
        if _runner is None:
            _runner = _Runner()
        return _run(_runner, source, env, timeout, inputs, publish, required)


def _run(
    runner: _Runner,
    source: str,
    env: dict[str, str],
    timeout: float,
    inputs: list[Blob],
    publish: list[str],
    required: list[str],
) -> dict[str, Any]:
    from strata_engine.backends.jobs import CellJob
    from strata_engine.store import StoredValue

    cwd = runner.root / "cwd"
    try:
        cwd.mkdir(parents=True)
        stored = {
            name: StoredValue(runner.blobs.put_bytes(data), content_type, len(data))
            for name, content_type, data in inputs
        }
        job = CellJob(
            cell_id="dask",
            language="python",
            source=source,
            filename=CELL_FILENAME,
            inputs=stored,
            publish=publish,
            required=frozenset(required),
            env=env,
            timeout=timeout,
            cwd=cwd,
        )
        result = runner.executor.run(job)
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
    finally:
        shutil.rmtree(runner.blobs.root, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)
