"""Runs INSIDE the original Strata's venv (.tools/strata-original, Python 3.12): sends one cell
to an executor worker with the original's own client code and prints what came back as JSON.

The client is `CellExecutor._dispatch_http_executor` (strata/notebook/executor.py), the code
path the original's notebook server uses for a cell on an `executor` worker: it builds the
multipart body (metadata as a file part, one file part per input), posts it with httpx, checks
the protocol headers and unpacks the bundle with `unpack_notebook_output_bundle`. Inputs are
written by the original's `serialize_value` and outputs read by its `deserialize_value`, so the
bytes are exactly the original's on both legs.

Usage: python original_client.py REQUESTS_JSON (a list; one JSON report per request, in a list)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from strata.notebook.executor import CellExecutor
from strata.notebook.models import WorkerSpec
from strata.notebook.parser import parse_notebook
from strata.notebook.serializer import deserialize_value, serialize_value
from strata.notebook.session import NotebookSession
from strata.notebook.writer import create_notebook

INPUTS: dict[str, Any] = {
    "df": pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
    "scale": 10,
    "pair": (1, 2),
}


async def dispatch(request: dict[str, Any], root: Path) -> dict[str, Any]:
    notebook = create_notebook(root, "nb", initialize_environment=False)
    executor = CellExecutor(NotebookSession(parse_notebook(notebook), notebook))
    worker = WorkerSpec.model_validate(
        {
            "name": "ours",
            "backend": "executor",
            "config": {"url": request["url"], "token_env": request.get("token_env")},
        }
    )
    staging = root / "inputs"
    staging.mkdir()
    specs = {name: dict(serialize_value(INPUTS[name], staging, name)) for name in request["inputs"]}
    try:
        result, out_dir, method, _ = await executor._dispatch_http_executor(
            worker, request["source"], specs, [], staging, {}, float(request["timeout"])
        )
    except Exception as exc:  # the client's own refusal: report it, as the server would
        return {"raised": f"{type(exc).__name__}: {exc}"}
    values = {}
    for name, meta in result["variables"].items():
        if "error" in meta or name == "_":
            continue
        value = deserialize_value(meta["content_type"], out_dir / meta["file"])
        values[name] = {
            "content_type": meta["content_type"],
            "type": type(value).__name__,
            "repr": value.to_dict("list") if isinstance(value, pd.DataFrame) else repr(value),
        }
    return {
        "method": method,
        "success": result["success"],
        "stdout": result["stdout"],
        "error": result["error"],
        "traceback": result["traceback"],
        "values": values,
    }


async def dispatch_all(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reports = []
    for request in requests:  # one process: importing the original's executor takes seconds
        with tempfile.TemporaryDirectory(prefix="strata-original-client-") as root:
            reports.append(await dispatch(request, Path(root)))
    return reports


def main() -> None:
    print(json.dumps(asyncio.run(dispatch_all(json.loads(sys.argv[1])))))


if __name__ == "__main__":
    main()
