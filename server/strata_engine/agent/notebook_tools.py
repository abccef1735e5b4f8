"""Reading tools: the notebooks under the root, one notebook's cells and states, one cell's
source, annotations, diagnostics and cached outputs. Nothing here runs notebook code."""

from __future__ import annotations

from typing import Any

from strata_engine.agent.bounds import clip
from strata_engine.agent.outputs import entry_outputs
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
from strata_engine.agent.workspace import find_notebooks, notebook_dir, relative_name
from strata_engine.cache.state import CellStatus
from strata_engine.model.notebook import load_notebook

MAX_SOURCE = 6000


def list_notebooks(ctx: ToolContext, _arguments: dict[str, Any]) -> ToolResult:
    found: list[dict[str, Any]] = []
    for directory in find_notebooks(ctx.root):
        try:
            notebook = load_notebook(directory, read_sources=False)
        except Exception as exc:  # one broken notebook must not hide the others
            found.append({"notebook": relative_name(ctx, directory), "problem": str(exc)})
            continue
        found.append(
            {
                "notebook": relative_name(ctx, directory),
                "name": notebook.name,
                "cells": len(notebook.cells),
            }
        )
    lines = [f"{n['notebook']}: {n.get('name', n.get('problem'))}" for n in found]
    text = f"{len(found)} notebooks under {ctx.root}\n" + "\n".join(lines)
    return ToolResult(text, {"root": str(ctx.root), "notebooks": found})


def _reasons(status: CellStatus) -> list[str]:
    return [r.describe() for r in status.reasons]


def get_notebook(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    with open_session(directory) as session:
        snapshot = session.snapshot()
        states = session.states(snapshot)
        cells = []
        for cell in session.notebook.cells:
            view = snapshot.cells.get(cell.id)
            status = states.get(cell.id)
            item: dict[str, Any] = {"id": cell.id, "language": cell.language, "file": cell.path}
            if status is not None:
                item["state"] = status.state
                if status.reasons:
                    item["reasons"] = _reasons(status)
                if status.message:
                    item["message"] = clip(status.message, 400)
            if view is not None:
                item["defines"] = list(view.analysis.defines)
                errors = [d for d in view.diagnostics if d.severity == "error"]
                if errors:
                    item["errors"] = [clip(d.message, 300) for d in errors[:3]]
            cells.append(item)
    name = relative_name(ctx, directory)
    lines = [
        f"{c['id']} [{c['language']}] {c.get('state', '?')}"
        + (f" ({'; '.join(c['reasons'])})" if c.get("reasons") else "")
        for c in cells
    ]
    text = f"{session.notebook.name} ({name}), {len(cells)} cells in order:\n" + "\n".join(lines)
    return ToolResult(text, {"notebook": name, "name": session.notebook.name, "cells": cells})


def get_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    cell_id = arguments["cell"]
    with open_session(directory) as session:
        snapshot = session.snapshot()
        view = snapshot.cells.get(cell_id)
        if view is None:
            raise ToolError(_no_cell(cell_id, list(snapshot.cells)))
        status = session.states(snapshot)[cell_id]
        data: dict[str, Any] = {
            "id": cell_id,
            "language": view.language,
            "file": view.file,
            "source": clip(view.source or "", MAX_SOURCE),
            "annotations": [
                {"key": d.key, "value": d.value, "line": d.line}
                for d in view.annotations.directives
            ],
            "defines": list(view.analysis.defines),
            "references": list(view.analysis.references),
            "diagnostics": [d.to_json() for d in view.diagnostics[:30]],
            "state": status.state,
            "reasons": _reasons(status),
        }
        entry, current = status.entry, True
        if entry is None and status.last_run is not None:
            entry, current = session.entry(status.last_run.key), False
        if entry is not None:
            data["outputs"] = entry_outputs(session.blobs, entry)
            data["outputs"]["current"] = current
    return ToolResult(_cell_text(data), data)


def _cell_text(data: dict[str, Any]) -> str:
    parts = [f"cell {data['id']} [{data['language']}] {data['state']}"]
    if data["reasons"]:
        parts[0] += f" ({'; '.join(data['reasons'])})"
    parts.append(clip(data["source"], 3000))
    for d in data["diagnostics"][:10]:
        parts.append(f"line {d['line']}: {d['severity']} [{d['code']}] {d['message']}")
    outputs = data.get("outputs")
    if outputs:
        which = "current" if outputs["current"] else "last run (stale)"
        parts.append(f"outputs ({which}):")
        for v in outputs["variables"][:20]:
            shape = f" shape {v['shape']}" if "shape" in v else ""
            parts.append(f"  {v['name']}: {v['type']}{shape}")
        for name in ("error", "stdout", "stderr"):
            if outputs.get(name):
                parts.append(f"{name}: {clip(outputs[name], 600)}")
    return "\n".join(parts)


def _no_cell(cell_id: str, known: list[str]) -> str:
    listed = ", ".join(known[:30]) or "none"
    return f"no cell {cell_id!r} in this notebook; its cells are: {listed}"


TOOLS = [
    Tool(
        ToolSpec(
            "list_notebooks",
            "List the Strata notebooks (directories with notebook.toml) under the root.",
            schema({}, notebook=False),
        ),
        list_notebooks,
    ),
    Tool(
        ToolSpec(
            "get_notebook",
            "A notebook's cells in order: id, language, state (ready, stale, never_run, "
            "error) with the reasons a cell is stale, what each defines, and errors.",
            schema({}),
        ),
        get_notebook,
    ),
    Tool(
        ToolSpec(
            "get_cell",
            "One cell: source, annotations, diagnostics, state and reasons, and its cached "
            "outputs (console, displays as text with images referenced, published variables).",
            schema({"cell": CELL_PROPERTY}, ("cell",)),
        ),
        get_cell,
    ),
]
