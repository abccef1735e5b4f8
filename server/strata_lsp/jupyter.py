"""`strata/importNotebook` and `strata/exportNotebook`: the engine's `strata import` and
`strata export` for the editor (SPEC 12). Only parameter checks and translation live here;
a refusal (a used target directory, not a notebook) is an invalid-params error carrying the
engine's message, which the extension shows as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from strata_engine.jupyter.exporter import FORMATS, export_notebook
from strata_engine.jupyter.importer import import_notebook
from strata_engine.model.notebook import MANIFEST, NotebookError


def import_ipynb(params: Any) -> dict[str, Any]:
    """{path, target?} -> the import report (`directory`, `notes`, ...)."""
    source = _required_path(params, "path")
    try:
        return import_notebook(source, _path(params, "target")).to_json()
    except NotebookError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


def export(params: Any) -> dict[str, Any]:
    """{notebook, to, output?} -> {path, cells, notes, files}. Reads the files on disk and
    the store (read-only, like `strata status`); runs nothing."""
    directory = _required_path(params, "notebook")
    if directory.name == MANIFEST:
        directory = directory.parent
    to = params.get("to") if isinstance(params, dict) else None
    if not isinstance(to, str) or to not in FORMATS:  # a list is no key of FORMATS
        raise JsonRpcInvalidParams(f"to must be one of {', '.join(FORMATS)}, not {to!r}")
    try:
        result = export_notebook(directory, str(to), _path(params, "output"))
    except NotebookError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    return {
        "path": str(result.path),
        "cells": result.cells,
        "notes": result.notes,
        "files": [str(f) for f in result.extra_files],
    }


def _path(params: Any, name: str) -> Path | None:
    value = params.get(name) if isinstance(params, dict) else None
    return None if value is None else _required_path(params, name)


def _required_path(params: Any, name: str) -> Path:
    value = params.get(name) if isinstance(params, dict) else None
    if not isinstance(value, str) or not value:
        raise JsonRpcInvalidParams(f"{name} (a file path or file: URI) is required")
    return Path(to_fs_path(value) or value) if value.startswith("file:") else Path(value)
