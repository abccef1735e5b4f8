"""`strata/promoteCell` and `strata/lock`: the engine's `strata promote` and the frozen
notebook's lock for the editor. Only parameter checks and translation live here; a refusal
is an invalid-params error carrying the engine's message, shown as is by the extension."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from strata_engine.model.notebook import MANIFEST, NotebookError
from strata_engine.promote import promote
from strata_engine.snapshots.freeze import LOCK_FILE, read_lock


def promote_cell(params: Any) -> dict[str, Any]:
    """{notebook, cell, to} -> {cell, names, module, test, cell_file}. Writes the module, its
    skeleton test and the cell file; the editor picks the cell file up from disk."""
    directory = _notebook_dir(params)
    cell, target = _string(params, "cell"), _string(params, "to")
    try:
        return promote(directory, cell, Path(target)).to_json()
    except NotebookError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


def notebook_lock(params: Any) -> dict[str, Any] | None:
    """{notebook} -> the parsed strata.lock, or None when the notebook is not frozen."""
    directory = _notebook_dir(params)
    if not (directory / LOCK_FILE).is_file():
        return None
    try:
        return read_lock(directory)
    except NotebookError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


def _string(params: Any, name: str) -> str:
    value = params.get(name) if isinstance(params, dict) else None
    if not isinstance(value, str) or not value:
        raise JsonRpcInvalidParams(f"{name} (a non-empty string) is required")
    return value


def _notebook_dir(params: Any) -> Path:
    value = _string(params, "notebook")
    path = Path(to_fs_path(value) or value) if value.startswith("file:") else Path(value)
    return path.parent if path.name == MANIFEST else path
