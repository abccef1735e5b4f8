"""Editing tools: add, edit, delete and move cells (edits.py does the writing). Nothing here
runs notebook code."""

from __future__ import annotations

from typing import Any

from strata_engine.agent.edits import choose_id, find_cell, insert_cell, load, move, remove
from strata_engine.agent.spec import CELL_PROPERTY, Tool, ToolContext, ToolResult, ToolSpec, schema
from strata_engine.agent.workspace import notebook_dir, relative_name
from strata_engine.model.notebook import LANGUAGES
from strata_engine.model.saving import write_cell_source

SOURCE_PROPERTY: dict[str, Any] = {"type": "string", "description": "The cell's full text."}
LANGUAGE_PROPERTY: dict[str, Any] = {
    "type": "string",
    "enum": list(LANGUAGES),
    "default": "python",
    "description": "The cell's language (default python).",
}
AFTER_PROPERTY: dict[str, Any] = {
    "type": ["string", "null"],
    "description": "Place the cell after this cell id (omitted: at the end; for move_cell, "
    "null: at the top).",
}
NEW_ID_PROPERTY: dict[str, Any] = {
    "type": "string",
    "description": "The new cell's id (letters, digits, _ and -). Omitted: chosen from the "
    "first name the source assigns.",
}


def add_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    notebook = load(directory)
    source = arguments["source"]
    cell_id = arguments.get("id") or choose_id(notebook, source)
    language = arguments.get("language", "python")
    cell = insert_cell(notebook, cell_id, language, source, arguments.get("after"))
    data = {"notebook": relative_name(ctx, directory), "cell": cell.id, "file": cell.path}
    return ToolResult(f"added cell {cell.id} ({cell.path}); it has not run yet", data)


def edit_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    notebook = load(directory)
    cell = find_cell(notebook, arguments["cell"])
    changed = write_cell_source(notebook, cell, arguments["source"])
    data = {"notebook": relative_name(ctx, directory), "cell": cell.id, "changed": changed}
    text = f"cell {cell.id} {'updated' if changed else 'unchanged (same text)'}"
    return ToolResult(text, data)


def delete_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    removed = remove(load(directory), arguments["cell"])
    data = {
        "notebook": relative_name(ctx, directory),
        "cell": arguments["cell"],
        "fileRemoved": removed is not None,
    }
    return ToolResult(f"deleted cell {arguments['cell']} and its file", data)


def move_cell(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    directory = notebook_dir(ctx, arguments)
    notebook = load(directory)
    order = move(notebook, arguments["cell"], arguments["after"])
    data = {"notebook": relative_name(ctx, directory), "cell": arguments["cell"], "order": order}
    return ToolResult(f"moved cell {arguments['cell']}; order: {', '.join(order)}", data)


TOOLS = [
    Tool(
        ToolSpec(
            "add_cell",
            "Add a cell (its file under cells/ and its entry in notebook.toml) without running it.",
            schema(
                {
                    "source": SOURCE_PROPERTY,
                    "id": NEW_ID_PROPERTY,
                    "language": LANGUAGE_PROPERTY,
                    "after": AFTER_PROPERTY,
                },
                ("source",),
            ),
        ),
        add_cell,
    ),
    Tool(
        ToolSpec(
            "edit_cell",
            "Replace a cell's text. Downstream cells become stale; nothing runs.",
            schema({"cell": CELL_PROPERTY, "source": SOURCE_PROPERTY}, ("cell", "source")),
        ),
        edit_cell,
    ),
    Tool(
        ToolSpec(
            "delete_cell",
            "Delete a cell: its entry in notebook.toml and its file.",
            schema({"cell": CELL_PROPERTY}, ("cell",)),
            destructive=True,
        ),
        delete_cell,
    ),
    Tool(
        ToolSpec(
            "move_cell",
            "Move a cell after another (after: null moves it to the top). Order does not "
            "change what a cell reads: the DAG does.",
            schema({"cell": CELL_PROPERTY, "after": AFTER_PROPERTY}, ("cell", "after")),
        ),
        move_cell,
    ),
]
