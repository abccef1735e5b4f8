"""strata/agentTools and strata/agentToolCall against the real server: the engine's tools as
they are, the editor's package.json tools equal to them, a call's result and refusals, and
the server's own view of the notebook following an agent's edit at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from strata_engine.agent import TOOL_SPECS

from .conftest import NotebookFactory
from .harness import Session

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
async def test_the_tools_are_the_engines(lsp: Session) -> None:
    specs = await lsp.client.protocol.send_request_async("strata/agentTools", {})
    assert specs == [spec.to_json() for spec in TOOL_SPECS]


def test_package_json_contributes_exactly_the_engines_tools() -> None:
    """The generator's --check: names, descriptions and input schemas cannot drift."""
    script = REPO / "scripts" / "agent-tools-manifest.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.asyncio
async def test_a_call_edits_runs_and_the_server_follows(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    request = lsp.client.protocol.send_request_async
    root = str(nb.parent)
    before = await request("strata/state", {"notebook": str(nb)})
    assert [c["id"] for c in before["cells"]] == ["a"]

    added = await request(
        "strata/agentToolCall",
        {
            "root": root,
            "tool": "add_cell",
            "arguments": {"notebook": "nb", "source": "y = x + 1\n"},
        },
    )
    assert not added["isError"], added["text"]
    new_id = added["data"]["cell"]
    # No watcher event is needed: the call re-reads the notebooks it touched.
    after = await request("strata/state", {"notebook": str(nb)})
    assert [c["id"] for c in after["cells"]] == ["a", new_id]

    run = {"notebook": "nb", "cell": new_id}
    refused = await request(
        "strata/agentToolCall", {"root": root, "tool": "run_cell", "arguments": run}
    )
    assert refused["isError"] and "--allow-run" in refused["text"]
    ran = await request(
        "strata/agentToolCall",
        {"root": nb.parent.as_uri(), "tool": "run_cell", "arguments": run, "allowRun": True},
    )
    assert not ran["isError"], ran["text"]
    assert [c["status"] for c in ran["data"]["cells"]] == ["ok", "ok"]


@pytest.mark.asyncio
async def test_malformed_calls_are_invalid_params(lsp: Session, tmp_path: Path) -> None:
    request = lsp.client.protocol.send_request_async
    cases = [
        ({"tool": "get_dag"}, "root"),
        ({"root": "relative/dir", "tool": "get_dag"}, "absolute"),
        ({"root": str(tmp_path / "missing"), "tool": "get_dag"}, "directory"),
        ({"root": str(tmp_path)}, "tool"),
        ({"root": str(tmp_path), "tool": "get_dag", "arguments": [1]}, "object"),
        ({"root": str(tmp_path), "tool": "run_all", "allowRun": "yes"}, "allowRun"),
    ]
    for params, words in cases:
        with pytest.raises(JsonRpcInvalidParams, match=words):
            await request("strata/agentToolCall", params)
    unknown = await request("strata/agentToolCall", {"root": str(tmp_path), "tool": "rm_rf"})
    assert unknown["isError"] and "unknown tool" in unknown["text"]
