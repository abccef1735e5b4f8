"""What a call would do that a person should confirm first, worded for a confirmation
prompt: the tool's own destructiveness, and, per call, running a SQL cell that writes
(`@sql write=true`), which only the notebook's text can tell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strata_engine.agent.registry import TOOLS
from strata_engine.agent.spec import ToolContext, ToolError
from strata_engine.agent.workspace import notebook_dir
from strata_engine.analysis.annotations import parse_annotations
from strata_engine.model.notebook import NotebookError


def needs_confirmation(root: Path, name: str, arguments: dict[str, Any]) -> str | None:
    """A sentence saying what needs confirming, or None. Never raises: a call that cannot be
    understood is refused by `call_tool` itself."""
    tool = TOOLS.get(name)
    if tool is None:
        return None
    ctx = ToolContext(root=Path(root).resolve(), allow_run=False)
    try:
        writers = _sql_writers(ctx, name, arguments)
    except (ToolError, NotebookError, OSError, KeyError, TypeError):
        writers = []
    if writers:
        return f"{name} runs SQL cells that write to their database: {', '.join(writers)}"
    if tool.spec.destructive:
        return _DESTRUCTIVE.get(name, "{name} changes or removes work").format(
            name=name, **{k: v for k, v in arguments.items() if isinstance(v, str)}
        )
    return None


_DESTRUCTIVE = {
    "delete_cell": "delete cell {cell} and its file",
    "run_all": "run every cell of the notebook (SQL write cells included)",
    "add_dependency": "add {package} to the notebook's environment and install it",
}


def _sql_writers(ctx: ToolContext, name: str, arguments: dict[str, Any]) -> list[str]:
    if name == "run_snippet":
        source = arguments.get("source", "")
        writes = arguments.get("language") == "sql" and parse_annotations(source).sql_write
        return ["the snippet"] if writes else []
    if name not in ("run_cell", "run_stale", "run_all"):
        return []
    from strata_engine.analysis.snapshot import take_snapshot
    from strata_engine.model.notebook import load_notebook

    snapshot = take_snapshot(load_notebook(notebook_dir(ctx, arguments)))
    cells = set(snapshot.cells)
    if name == "run_cell":
        cells = {arguments["cell"]} | snapshot.graph.upstream(arguments["cell"])
    return sorted(c for c in cells if snapshot.cells[c].annotations.sql_write)
