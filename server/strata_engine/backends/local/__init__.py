"""Local execution of Python cells: a warm fork server, one clean process per cell.

Importing this package is cheap: it does not import pandas, pyarrow, numpy, matplotlib or
cloudpickle (the zygote process does, not the engine).

    executor = LocalExecutor(blobs, preload=["pandas"])
    result = executor.run(CellJob(...), on_stream=lambda stream, text: ...)
"""

from strata_engine.backends.jobs import CellJob, CellResult, DisplayCallback, StreamCallback
from strata_engine.backends.local.capture import DEFAULT_LIMIT as DEFAULT_OUTPUT_LIMIT
from strata_engine.backends.local.executor import LocalExecutor

__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "CellJob",
    "CellResult",
    "DisplayCallback",
    "LocalExecutor",
    "StreamCallback",
]
