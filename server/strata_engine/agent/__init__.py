"""The notebook as tools for agents (issue [12]): one engine API behind `strata mcp` and the
editor's language model tools. `TOOL_SPECS` lists the tools; `call_tool` runs one;
`needs_confirmation` says what a call would do that a person should confirm first."""

from strata_engine.agent.confirm import needs_confirmation
from strata_engine.agent.registry import TOOL_SPECS, call_tool
from strata_engine.agent.spec import ToolResult, ToolSpec

__all__ = ["TOOL_SPECS", "ToolResult", "ToolSpec", "call_tool", "needs_confirmation"]
