"""Running a cell whose inputs arrive as bytes: the far side of a remote backend (the
`strata worker` HTTP server, a dask task).

Inputs go into a scratch BlobStore, the cell runs on one warm LocalExecutor, and the
caller reads the outputs out of that store before `run` wipes it. The zygote preloads what
each cell imports and what decoding its inputs needs, as the engine's Session does, or every
pandas cell would pay the import (~0.5 s) in its fork; preloads accumulate because a remote
worker usually serves one notebook's cells over and over.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.kinds import kind_for
from strata_engine.mounts.spec import JobMount
from strata_engine.store import BlobStore, StoredValue

InputBytes = tuple[str, str, bytes]
"""(variable name, content type, the blob's bytes)."""

_FORMAT_MODULES = {"arrow/ipc": ("pyarrow", "pandas")}
"""What decoding an input of each format imports in the cell process: a cell that reads a
DataFrame it did not build need not import pandas itself."""


class ScratchCellRunner:
    """One warm LocalExecutor and a scratch store under a private temporary directory.
    Not thread-safe: callers serialise `run` (one cell at a time)."""

    def __init__(self, prefix: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.blobs = BlobStore(self.root / "store")
        self.executor = LocalExecutor(self.blobs)

    @contextmanager
    def run(
        self,
        *,
        cell_id: str,
        filename: str,
        source: str,
        inputs: Sequence[InputBytes],
        publish: Sequence[str] | Callable[[str], bool],
        required: Sequence[str],
        env: Mapping[str, str],
        timeout: float,
        mounts: Sequence[JobMount] = (),
    ) -> Iterator[CellResult]:
        """Run the cell and yield its result; its outputs are readable from `self.blobs`
        until the block ends. `publish`: the names to store, or a test that picks them
        among the source's top-level defines. `mounts` are remote ones only (the caller
        refuses `file://`); their copies go to this user's mount cache."""
        cwd = self.root / "request" / "cwd"
        try:
            cwd.mkdir(parents=True)
            stored = {
                name: StoredValue(self.blobs.put_bytes(data), content_type, len(data))
                for name, content_type, data in inputs
            }
            # Not the memoized analyze_cell: a long-lived worker must not keep every source
            # it was ever sent in a process-wide cache.
            kind = kind_for("python")
            analysis = kind.analyze(source, cell_id=None, file=None)
            self.executor.preload(_preloads(kind.preload(analysis), inputs))
            job = CellJob(
                cell_id=cell_id,
                language="python",
                source=source,
                filename=filename,
                inputs=stored,
                publish=[n for n in analysis.defines if publish(n)]
                if callable(publish)
                else list(publish),
                required=frozenset(required),
                env=dict(env),
                timeout=timeout,
                cwd=cwd,
                mounts=tuple(mounts),
            )
            yield self.executor.run(job)
        finally:
            shutil.rmtree(self.blobs.root, ignore_errors=True)
            shutil.rmtree(self.root / "request", ignore_errors=True)

    def close(self) -> None:
        self.executor.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _preloads(imports: tuple[str, ...], inputs: Sequence[InputBytes]) -> list[str]:
    modules = list(imports)
    for _, content_type, _ in inputs:
        modules.extend(_FORMAT_MODULES.get(content_type, ()))
    return list(dict.fromkeys(modules))
