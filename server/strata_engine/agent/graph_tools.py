"""The notebook's shape: its DAG, its static checks, and its environment's dependencies."""

from __future__ import annotations

from typing import Any

from strata_engine.agent.bounds import clip
from strata_engine.agent.spec import Tool, ToolContext, ToolResult, ToolSpec, schema
from strata_engine.agent.workspace import notebook_dir, relative_name


def get_dag(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    from strata_engine.analysis.dag_payload import dag_payload, loop_fields
    from strata_engine.analysis.snapshot import take_snapshot
    from strata_engine.model.notebook import load_notebook

    directory = notebook_dir(ctx, arguments)
    notebook = load_notebook(directory)
    snapshot = take_snapshot(notebook)
    payload = dag_payload(notebook.notebook_id, snapshot.graph, loop_fields(snapshot))
    edges = [
        f"{e['from']} -> {e['to']}" + (f" ({e['variable']})" if e.get("variable") else "")
        for e in payload.get("edges", [])
    ]
    text = f"order: {', '.join(snapshot.graph.order)}\nedges:\n" + "\n".join(edges)
    return ToolResult(clip(text, 6000), {"notebook": relative_name(ctx, directory), "dag": payload})


def validate(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    from strata_engine.analysis.validation import validate_notebook

    directory = notebook_dir(ctx, arguments)
    result = validate_notebook(directory)
    lines = [result.summary_line()]
    for d in result.diagnostics[:40]:
        where = d.file or "notebook.toml"
        lines.append(f"{where}:{d.line or 0}: {d.severity} [{d.code}] {d.message}")
    return ToolResult("\n".join(lines), result.to_json())


def add_dependency(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
    from strata_engine import envs

    directory = notebook_dir(ctx, arguments)
    output: list[str] = []
    env = envs.add_package(directory, arguments["package"], output.append)
    data = {"notebook": relative_name(ctx, directory), "environment": env.to_json()}
    log = clip("".join(output)[-3000:], 3000)
    return ToolResult(f"added {arguments['package']} to pyproject.toml and synced\n{log}", data)


TOOLS = [
    Tool(
        ToolSpec(
            "get_dag",
            "The dependency graph: execution order and edges (which cell reads which "
            "variables from which). Static: nothing runs.",
            schema({}),
        ),
        get_dag,
    ),
    Tool(
        ToolSpec(
            "validate",
            "Every static check (undefined names, cycles, bad annotations, ...) with file "
            "and line. Nothing runs.",
            schema({}),
        ),
        validate,
    ),
    Tool(
        ToolSpec(
            "add_dependency",
            "Add a package to the notebook's own environment (pyproject.toml) and sync its "
            ".venv with uv; installing packages can run their build code.",
            schema(
                {
                    "package": {
                        "type": "string",
                        "description": "A requirement, e.g. 'polars' or 'polars>=1.0'.",
                    }
                },
                ("package",),
            ),
            destructive=True,
            runs_code=True,
        ),
        add_dependency,
    ),
]
