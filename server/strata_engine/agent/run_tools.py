"""Tools that execute: run a cell (with its upstream), the stale cells, everything, or a
snippet added as a cell; and reading a variable's cached value. Every run goes through the
engine's `Session.run`, so a cell whose inputs and text are unchanged is a cache hit and
costs no execution."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from strata_engine.agent.edit_tools import AFTER_PROPERTY, LANGUAGE_PROPERTY, SOURCE_PROPERTY
from strata_engine.agent.edits import find_cell, insert_cell, load, snippet_id
from strata_engine.agent.outputs import entry_outputs, run_outcome, run_summary
from strata_engine.agent.sessions import open_session
from strata_engine.agent.spec import (
    CELL_PROPERTY,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSpec,
    schema,
)
from strata_engine.agent.values import preview
from strata_engine.agent.workspace import notebook_dir, relative_name
from strata_engine.library import NotebookValueError, open_notebook
from strata_engine.model.saving import write_cell_source

TIMEOUT_PROPERTY: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 86400,
    "description": "Per-cell limit in seconds for cells that set none.",
}


def _run(
    ctx: ToolContext, directory: Path, mode: str, cells: list[str], arguments: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with open_session(directory) as session:
        report = session.run(mode, cells, timeout=arguments.get("timeout"))
        outcomes = [run_outcome(c, session.blobs) for c in report.cells]
        data: dict[str, Any] = {
            "notebook": relative_name(ctx, directory),
            "success": report.success,
            "durationMs": round(report.duration_ms, 1),
            "executed": sum(c.executed for c in report.cells),
            "cells": outcomes,
        }
        targets = set(cells)
        states = session.states() if targets else {}
        for cell_id in sorted(targets):
            entry = states[cell_id].entry if cell_id in states else None
            if entry is not None:
                data.setdefault("outputs", {})[cell_id] = entry_outputs(session.blobs, entry)
    return outcomes, data


def _result(outcomes: list[dict[str, Any]], data: dict[str, Any]) -> ToolResult:
    text = run_summary(outcomes)
    for cell_id, outputs in data.get("outputs", {}).items():
        names = [f"{v['name']}: {v['type']}" for v in outputs["variables"][:10]]
        if names:
            text += f"\n{cell_id} published: {', '.join(names)}"
        if outputs.get("stdout"):
            text += f"\n{cell_id} stdout:\n{outputs['stdout']}"
    return ToolResult(text, data, is_error=not data["success"])


def run_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    mode = "force" if arguments.get("force") else "cells"
    return _result(*_run(ctx, directory, mode, [arguments["cell"]], arguments))


def run_stale(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    return _result(*_run(ctx, notebook_dir(ctx, arguments), "stale", [], arguments))


def run_all(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    return _result(*_run(ctx, notebook_dir(ctx, arguments), "all", [], arguments))


def run_snippet(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    """The cell is named by the snippet's text unless an id is given, so the same snippet
    finds the same cell, and its unchanged key is a hit: nothing executes the second time."""
    directory = notebook_dir(ctx, arguments)
    notebook = load(directory)
    source = arguments["source"]
    cell_id = arguments.get("id") or snippet_id(source)
    language = arguments.get("language", "python")
    existing = next((c for c in notebook.cells if c.id == cell_id), None)
    if existing is None:
        insert_cell(notebook, cell_id, language, source, arguments.get("after"))
    elif existing.language != language:
        raise ToolError(f"cell {cell_id!r} exists with language {existing.language}")
    else:
        write_cell_source(notebook, find_cell(notebook, cell_id), source)
    outcomes, data = _run(ctx, directory, "cells", [cell_id], arguments)
    data["cell"] = cell_id
    result = _result(outcomes, data)
    return ToolResult(f"snippet cell {cell_id}\n{result.text}", result.data, result.is_error)


def read_variable(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    name = arguments["name"]
    with closing(open_notebook(directory)) as handle:
        try:
            cell = arguments.get("cell") or handle.producer(name)
            entry = handle.cell_entry(cell)
        except NotebookValueError as exc:
            raise ToolError(str(exc)) from None
        stored = entry.outputs.get(name)
        if stored is None:
            published = ", ".join(sorted(entry.outputs)) or "nothing"
            raise ToolError(f"cell {cell!r} did not publish {name!r}; it publishes {published}")
        info = preview(handle.session.blobs, name, stored, allow_run=ctx.allow_run)
    info["cell"] = cell
    shape = f", shape {info['shape']}" if "shape" in info else ""
    text = f"{name} (from cell {cell}): {info['type']}{shape}\n{info.get('preview', '')}"
    return ToolResult(text, info)


_RUN_SCHEMA = {"timeout": TIMEOUT_PROPERTY}
TOOLS = [
    Tool(
        ToolSpec(
            "run_cell",
            "Run one cell and the upstream cells it needs. Cached cells are served from the "
            "cache (no execution). Returns each cell's outcome and the cell's outputs.",
            schema(
                {
                    "cell": CELL_PROPERTY,
                    "force": {"type": "boolean", "description": "Ignore the cache for it."},
                    **_RUN_SCHEMA,
                },
                ("cell",),
            ),
            runs_code=True,
        ),
        run_cell,
    ),
    Tool(
        ToolSpec(
            "run_stale",
            "Run every stale or never-run cell (and what they need).",
            schema(dict(_RUN_SCHEMA)),
            runs_code=True,
        ),
        run_stale,
    ),
    Tool(
        ToolSpec(
            "run_all",
            "Run the whole notebook against the cache (SQL write cells included).",
            schema(dict(_RUN_SCHEMA)),
            destructive=True,
            runs_code=True,
        ),
        run_all,
    ),
    Tool(
        ToolSpec(
            "run_snippet",
            "Add a cell and run it in one call: a cached scratchpad. The same snippet again "
            "finds the same cell and, while its inputs are unchanged, costs no execution. "
            "Give an id to keep it under a name (re-using the id replaces its text).",
            schema(
                {
                    "source": SOURCE_PROPERTY,
                    "id": {
                        "type": "string",
                        "description": "The cell's id (default: from the snippet's text).",
                    },
                    "language": LANGUAGE_PROPERTY,
                    "after": AFTER_PROPERTY,
                    **_RUN_SCHEMA,
                },
                ("source",),
            ),
            runs_code=True,
        ),
        run_snippet,
    ),
    Tool(
        ToolSpec(
            "read_variable",
            "A variable's cached value, bounded: a table's head, shape and column types; other "
            "values by a short repr. Refuses values that are not current (run first).",
            schema(
                {
                    "name": {"type": "string", "description": "The variable's name."},
                    "cell": {
                        "type": "string",
                        "description": "The producing cell (default: "
                        "the last cell that defines the name).",
                    },
                },
                ("name",),
            ),
        ),
        read_variable,
    ),
]
