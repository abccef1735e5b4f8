"""The agent tool contract: what a tool is (`ToolSpec`), what a call returns (`ToolResult`),
and the registry entry that binds a spec to its handler (`Tool`).

Both agent surfaces (`strata mcp` and the editor's language model tools) list `ToolSpec`s and
call `call_tool`; neither knows any tool by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    name: str
    """snake_case, stable: clients key confirmations and settings on it."""
    description: str
    input_schema: dict[str, Any]
    """A JSON Schema object; arguments are validated against it before the handler runs."""
    destructive: bool = False
    """Deletes or overwrites work, writes through SQL, runs everything or changes the
    environment: the editor asks before invoking it."""
    runs_code: bool = False
    """Executes notebook code (or installs packages): needs --allow-run / a trusted workspace."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "destructive": self.destructive,
            "runsCode": self.runs_code,
        }


@dataclass(frozen=True)
class ToolResult:
    text: str
    """A short, model-friendly summary (bounded)."""
    data: dict[str, Any] = field(default_factory=dict)
    """The structured result, JSON-able and bounded."""
    is_error: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "data": self.data, "isError": self.is_error}


class ToolError(Exception):
    """An expected refusal or failure: becomes an `is_error` result with this message."""


@dataclass(frozen=True)
class ToolContext:
    """What a handler may rely on: the confining root and whether code may run."""

    root: Path
    """Resolved: every notebook path must stay inside it."""
    allow_run: bool


Handler = Callable[[ToolContext, dict[str, Any]], ToolResult]


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    handler: Handler


def schema(
    properties: dict[str, Any], required: tuple[str, ...] = (), *, notebook: bool = True
) -> dict[str, Any]:
    """An object schema; `notebook` adds the common optional notebook argument."""
    props = dict(properties)
    if notebook:
        props = {"notebook": NOTEBOOK_PROPERTY, **props}
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


NOTEBOOK_PROPERTY: dict[str, Any] = {
    "type": "string",
    "description": "The notebook directory, relative to the server's root (as list_notebooks "
    "gives it). Optional when the root holds exactly one notebook.",
}
CELL_PROPERTY: dict[str, Any] = {"type": "string", "description": "The cell's id."}
