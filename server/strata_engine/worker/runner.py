"""Runs one ExecuteRequest on the engine's LocalExecutor and writes the output bundle."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from strata_engine.backends.jobs import CellResult
from strata_engine.backends.local.scratch import ScratchCellRunner
from strata_engine.worker.bundle import BundleContent, is_variable_name, write_bundle
from strata_engine.worker.requests import ExecuteRequest

CELL_FILENAME = "remote_cell.py"
_TIMEOUT_PREFIX = "cell timed out after"


class Busy(Exception):
    """Another cell is running: the client retries after a while (503 + Retry-After)."""


@dataclass(frozen=True)
class Outcome:
    timed_out: bool
    error: str | None
    bundle: Path
    """The tar to send; the caller deletes it once sent."""


class CellRunner:
    """One warm LocalExecutor for the worker's lifetime, one cell at a time; the blobs of a
    request live in a scratch store wiped after it (`ScratchCellRunner`)."""

    def __init__(self) -> None:
        self._scratch = ScratchCellRunner("strata-worker-")
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def run(self, request: ExecuteRequest) -> Outcome:
        """Raises Busy if a cell is running. The runner is free again when this returns
        (before the bundle is sent), so a client's next request never races the upload."""
        if not self._lock.acquire(blocking=False):
            raise Busy
        try:
            return self._run(request)
        finally:
            self._lock.release()

    def _run(self, request: ExecuteRequest) -> Outcome:
        with self._scratch.run(
            cell_id="remote",
            filename=CELL_FILENAME,
            source=request.source,
            inputs=[(value.name, value.format, value.data) for value in request.inputs],
            publish=is_variable_name,
            required=(),
            env=request.env,
            timeout=request.timeout,
            mounts=request.mounts,
        ) as result:
            # Outside the scratch store: it outlives this run until the handler has sent it.
            bundle = self._scratch.root / f"bundle-{uuid.uuid4().hex}.tar"
            write_bundle(self._content(result), bundle, strata_blobs=request.strata_blobs)
        timed_out = result.traceback is None and (result.error or "").startswith(_TIMEOUT_PREFIX)
        return Outcome(timed_out=timed_out, error=result.error, bundle=bundle)

    def _content(self, result: CellResult) -> BundleContent:
        blobs = self._scratch.blobs
        return BundleContent(
            success=result.ok,
            outputs=result.outputs,
            blob_paths={name: blobs.path(v.digest) for name, v in result.outputs.items()},
            stdout=result.stdout,
            stderr=result.stderr,
            displays=result.displays,
            error=result.error,
            traceback=result.traceback,
            extra={"unstored": result.unstored} if result.unstored else {},
        )

    def close(self) -> None:
        self._scratch.close()
