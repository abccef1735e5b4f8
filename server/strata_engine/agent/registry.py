"""The one entry point of every agent surface: `call_tool(root, name, arguments)`.

Arguments are validated against the tool's schema, code-running tools are refused unless
running was allowed, every expected failure becomes an `is_error` result naming the problem
(never a traceback), and every result is scrubbed of secrets and bounded in size.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import jsonschema

from strata_engine.agent import edit_tools, graph_tools, notebook_tools, run_tools
from strata_engine.agent.bounds import MAX_TEXT, clip, fit_data
from strata_engine.agent.secrets import scrub, secret_values
from strata_engine.agent.spec import Tool, ToolContext, ToolError, ToolResult, ToolSpec
from strata_engine.agent.workspace import notebook_dir
from strata_engine.model.notebook import NotebookError, load_notebook

TOOLS: dict[str, Tool] = {
    tool.spec.name: tool
    for module in (notebook_tools, edit_tools, run_tools, graph_tools)
    for tool in module.TOOLS
}
TOOL_SPECS: list[ToolSpec] = [tool.spec for tool in TOOLS.values()]

RUN_REFUSED = (
    "{name} executes notebook code, which this server was not allowed to do: start it with "
    "`strata mcp DIR --allow-run` (in VS Code: trust the workspace)"
)


def call_tool(root: Path, name: str, arguments: dict[str, Any], *, allow_run: bool) -> ToolResult:
    tool = TOOLS.get(name)
    if tool is None:
        known = ", ".join(TOOLS)
        return ToolResult(f"unknown tool {name!r}; the tools are: {known}", is_error=True)
    problem = _argument_problem(tool.spec, arguments)
    if problem is not None:
        return ToolResult(f"{name}: bad arguments: {problem}", is_error=True)
    if tool.spec.runs_code and not allow_run:
        return ToolResult(RUN_REFUSED.format(name=name), is_error=True)
    ctx = ToolContext(root=Path(root).resolve(), allow_run=allow_run)
    try:
        result = tool.handler(ctx, arguments)
    except ToolError as exc:
        result = ToolResult(f"{name}: {exc}", is_error=True)
    except NotebookError as exc:
        result = ToolResult(f"{name}: {exc}", is_error=True)
    except Exception as exc:  # the last resort: a message a model can act on
        kind = type(exc).__name__
        result = ToolResult(f"{name}: unexpected error ({kind}: {exc})", is_error=True)
    return _finish(ctx, arguments, result)


def _argument_problem(spec: ToolSpec, arguments: object) -> str | None:
    if not isinstance(arguments, dict):
        return "arguments must be a JSON object"
    try:
        jsonschema.validate(arguments, spec.input_schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{where + ': ' if where else ''}{exc.message}"
    return None


def _finish(ctx: ToolContext, arguments: dict[str, Any], result: ToolResult) -> ToolResult:
    """Scrubbed of the notebook's secrets, then bounded."""
    manifests = []
    # No notebook involved (or a broken one): the environment's secrets are still scrubbed.
    with contextlib.suppress(ToolError, NotebookError, OSError):
        manifests.append(load_notebook(notebook_dir(ctx, arguments), read_sources=False).manifest)
    secrets = secret_values(manifests)
    text = clip(scrub(result.text, secrets), MAX_TEXT)
    data = fit_data(scrub(result.data, secrets))
    return ToolResult(text, data, result.is_error)
