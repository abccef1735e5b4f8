"""`strata/agentTools` and `strata/agentToolCall` (docs/lsp-protocol.md, "Agent tools"): the
engine's agent tools (`strata_engine.agent`, the same ones `strata mcp` serves) for the
editor's language model tools, so Copilot's agent mode drives a notebook through one API.

Only parameter checks and forwarding live here: what each tool does, which ones run code and
what a result says are the engine's. A call leaves the event loop (a run may take minutes);
afterwards the notebooks the server has open under the root are re-read, so states and
diagnostics follow the agent's edits and runs without waiting for the file watcher.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from strata_engine.agent import TOOL_SPECS, ToolResult, call_tool

from .documents import normalize
from .notebooks import Notebooks

log = logging.getLogger(__name__)


def tool_specs(_params: Any) -> list[dict[str, Any]]:
    """-> every tool's {name, description, inputSchema, destructive, runsCode}."""
    return [spec.to_json() for spec in TOOL_SPECS]


class AgentTools:
    def __init__(self, notebooks: Notebooks) -> None:
        self._notebooks = notebooks

    async def call(self, params: Any) -> dict[str, Any]:
        """{root, tool, arguments?, allowRun?} -> the engine's ToolResult JSON. A tool's own
        failure (a bad cell id, a refused run) is a result with isError, for the model to read;
        only malformed requests are protocol errors."""
        root, tool, arguments, allow_run = _parameters(params)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, _call, root, tool, arguments, allow_run)
        self._refresh(root)
        return result.to_json()

    def _refresh(self, root: Path) -> None:
        for directory, host in list(self._notebooks.hosts.items()):
            if not directory.is_relative_to(root):
                continue
            self._notebooks.load(host)  # cells or notebook.toml may have changed on disk
            if host.session is not None:
                host.session.forget_lookups()  # and the store, after a run
            self._notebooks.schedule(host)


def _call(root: Path, tool: str, arguments: dict[str, Any], allow_run: bool) -> ToolResult:
    try:
        return call_tool(root, tool, arguments, allow_run=allow_run)
    except Exception as exc:
        log.exception("agent tool %s under %s failed", tool, root)
        raise JsonRpcInternalError(f"internal error in Strata's {tool} tool: {exc!r}") from exc


def _parameters(params: Any) -> tuple[Path, str, dict[str, Any], bool]:
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams("strata/agentToolCall takes {root, tool, arguments, allowRun}")
    root_value, tool = params.get("root"), params.get("tool")
    arguments, allow_run = params.get("arguments", {}), params.get("allowRun", False)
    if not isinstance(root_value, str) or not root_value:
        raise JsonRpcInvalidParams("root (the directory the tools act under) is required")
    if not isinstance(tool, str) or not tool:
        raise JsonRpcInvalidParams("tool (a tool name from strata/agentTools) is required")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise JsonRpcInvalidParams(f"arguments of {tool} must be an object")
    if not isinstance(allow_run, bool):
        raise JsonRpcInvalidParams("allowRun must be true or false")
    path = Path(to_fs_path(root_value) or root_value) if root_value.startswith("file:") else None
    root = Path(root_value) if path is None else path
    if not root.is_absolute() or not root.is_dir():
        raise JsonRpcInvalidParams(f"root {root_value!r} is not an absolute path to a directory")
    return normalize(root), tool, arguments, allow_run
