"""Runs one ExecuteRequest on the engine's LocalExecutor and writes the output bundle."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.kinds import kind_for
from strata_engine.store import BlobStore, StoredValue
from strata_engine.worker.bundle import BundleContent, is_variable_name, write_bundle
from strata_engine.worker.requests import ExecuteRequest, InputValue

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
    """One warm LocalExecutor for the worker's lifetime, one cell at a time.

    Blobs live in a store under the runner's temporary directory and are wiped after each
    request: the store is scratch space for moving bytes in and out of the cell process.
    """

    def __init__(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="strata-worker-"))
        self._blobs = BlobStore(self._root / "store")
        self._executor = LocalExecutor(self._blobs)
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
            shutil.rmtree(self._blobs.root, ignore_errors=True)
            shutil.rmtree(self._root / "request", ignore_errors=True)
            self._lock.release()

    def _run(self, request: ExecuteRequest) -> Outcome:
        scratch = self._root / "request"
        cwd = scratch / "cwd"
        cwd.mkdir(parents=True)
        inputs = {
            value.name: StoredValue(
                self._blobs.put_bytes(value.data), value.format, len(value.data)
            )
            for value in request.inputs
        }
        # Not the memoized analyze_cell: a long-lived worker must not keep every source
        # it was ever sent in a process-wide cache.
        kind = kind_for("python")
        analysis = kind.analyze(request.source, cell_id=None, file=None)
        defines = analysis.defines
        # Warm the zygote the way the engine's Session does, or every pandas cell would pay
        # the import (~0.5 s) in its fork. Preloads accumulate: a worker serves one notebook's
        # cells over and over, so what one cell needed the next usually needs too.
        self._executor.preload(_preloads(kind.preload(analysis), request.inputs))
        job = CellJob(
            cell_id="remote",
            language="python",
            source=request.source,
            filename=CELL_FILENAME,
            inputs=inputs,
            publish=[name for name in defines if is_variable_name(name)],
            required=frozenset(),
            env=dict(request.env),
            timeout=request.timeout,
            cwd=cwd,
        )
        result = self._executor.run(job)
        # Outside the scratch directory: it outlives this run until the handler has sent it.
        bundle = self._root / f"bundle-{uuid.uuid4().hex}.tar"
        write_bundle(self._content(result), bundle)
        timed_out = result.traceback is None and (result.error or "").startswith(_TIMEOUT_PREFIX)
        return Outcome(timed_out=timed_out, error=result.error, bundle=bundle)

    def _content(self, result: CellResult) -> BundleContent:
        return BundleContent(
            success=result.ok,
            outputs=result.outputs,
            blob_paths={name: self._blobs.path(v.digest) for name, v in result.outputs.items()},
            stdout=result.stdout,
            stderr=result.stderr,
            displays=result.displays,
            error=result.error,
            traceback=result.traceback,
            extra={"unstored": result.unstored} if result.unstored else {},
        )

    def close(self) -> None:
        self._executor.close()
        shutil.rmtree(self._root, ignore_errors=True)


_FORMAT_MODULES = {"arrow/ipc": ("pyarrow", "pandas")}
"""What decoding an input of each format imports in the cell process: a cell that reads a
DataFrame it did not build need not import pandas itself."""


def _preloads(imports: tuple[str, ...], inputs: Sequence[InputValue]) -> list[str]:
    modules = list(imports)
    for value in inputs:
        modules.extend(_FORMAT_MODULES.get(value.format, ()))
    return list(dict.fromkeys(modules))
