"""`strata mcp` end to end: the mcp SDK's own stdio client spawns the real server on a copy of
the quickstart notebook and drives it as an agent would."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from strata_engine.agent import TOOL_SPECS

REPO = Path(__file__).resolve().parents[2]
STRATA = Path(sys.executable).parent / "strata"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "samples" / "quickstart", tmp_path / "qs", ignore=_no_store)
    return tmp_path


def _no_store(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in (".strata", "clean.test.py")]


Session = Any
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


def _drive(
    root: Path, flags: list[str], script: Callable[[Session, Call], Awaitable[None]]
) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=str(STRATA), args=["mcp", str(root), *flags])

    async def main() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()

            async def call(name: str, arguments: dict[str, Any]) -> Any:
                return await session.call_tool(name, arguments)

            await script(session, call)

    anyio.run(main)


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


def test_an_agent_lists_adds_runs_reads_and_edits(workspace: Path) -> None:
    async def script(session: Session, call: Call) -> None:
        listed = await session.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) == {spec.name for spec in TOOL_SPECS}
        assert tools["run_cell"].input_schema["required"] == ["cell"]
        assert tools["delete_cell"].annotations.destructive_hint is True

        notebooks = await call("list_notebooks", {})
        assert notebooks.structured_content["notebooks"][0]["notebook"] == "qs"

        added = await call(
            "add_cell",
            {"notebook": "qs", "id": "top", "source": "top = orders.nlargest(3, 'revenue')\n"},
        )
        assert not added.is_error, _text(added)
        assert (workspace / "qs" / "cells" / "top.py").is_file()
        assert 'id = "top"' in (workspace / "qs" / "notebook.toml").read_text()

        ran = await call("run_cell", {"notebook": "qs", "cell": "top"})
        assert not ran.is_error, _text(ran)
        outcomes = {c["cell"]: c for c in ran.structured_content["cells"]}
        assert outcomes["top"]["status"] == "ok" and outcomes["top"]["executed"]
        assert set(outcomes) == {"load_data", "clean", "top"}  # and its upstream only

        value = await call("read_variable", {"notebook": "qs", "name": "top"})
        assert not value.is_error, _text(value)
        assert value.structured_content["shape"][0] == 3
        assert "revenue" in value.structured_content["preview"]

        edited = await call(
            "edit_cell",
            {"notebook": "qs", "cell": "top", "source": "top = orders.nlargest(5, 'revenue')\n"},
        )
        assert edited.structured_content["changed"] is True
        cell = await call("get_cell", {"notebook": "qs", "cell": "top"})
        assert cell.structured_content["state"] == "stale"
        assert "nlargest(5" in cell.structured_content["source"]

        rerun = await call("run_cell", {"notebook": "qs", "cell": "top"})
        outcomes = {c["cell"]: c for c in rerun.structured_content["cells"]}
        assert outcomes["clean"]["cacheHit"] and outcomes["top"]["executed"]
        value = await call("read_variable", {"notebook": "qs", "name": "top"})
        assert value.structured_content["shape"][0] == 5

        escape = await call("get_notebook", {"notebook": "../.."})
        assert escape.is_error and "outside" in _text(escape)

    _drive(workspace, ["--allow-run"], script)


def test_a_cached_snippet_executes_nothing_the_second_time(workspace: Path) -> None:
    marker = workspace / "executions.txt"
    snippet = f"with open({str(marker)!r}, 'a') as f:\n    f.write('ran\\n')\nanswer = 6 * 7\n"

    async def script(_session: Session, call: Call) -> None:
        first = await call("run_snippet", {"notebook": "qs", "source": snippet})
        assert not first.is_error, _text(first)
        assert first.structured_content["executed"] == 1
        second = await call("run_snippet", {"notebook": "qs", "source": snippet})
        assert second.structured_content["executed"] == 0
        assert second.structured_content["cells"][0]["cacheHit"] is True
        assert second.structured_content["cell"] == first.structured_content["cell"]

    _drive(workspace, ["--allow-run"], script)
    assert marker.read_text() == "ran\n"


def test_without_allow_run_nothing_executes(workspace: Path) -> None:
    async def script(_session: Session, call: Call) -> None:
        for name, arguments in (
            ("run_cell", {"notebook": "qs", "cell": "clean"}),
            ("run_all", {"notebook": "qs"}),
            ("run_snippet", {"notebook": "qs", "source": "x = 1\n"}),
        ):
            refused = await call(name, arguments)
            assert refused.is_error and "--allow-run" in _text(refused)
        state = await call("get_notebook", {"notebook": "qs"})
        assert {c["state"] for c in state.structured_content["cells"][1:]} == {"never_run"}

    _drive(workspace, [], script)
    assert not (workspace / "qs" / ".strata").exists()
    assert len(list((workspace / "qs" / "cells").iterdir())) == 7  # no snippet cell added


def test_http_needs_a_token_and_serves_on_loopback_with_it(workspace: Path) -> None:
    import os
    import subprocess
    import urllib.error
    import urllib.request

    env = {k: v for k, v in os.environ.items() if k != "STRATA_MCP_TOKEN"}
    refused = subprocess.run(
        [str(STRATA), "mcp", str(workspace), "--http", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "STRATA_MCP_TOKEN" in refused.stderr

    token = "t0ken-" + "a" * 20
    server = subprocess.Popen(
        [str(STRATA), "mcp", str(workspace), "--http", "--port", "0"],
        env={**env, "STRATA_MCP_TOKEN": token},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()  # printed once the socket listens
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp"), line
        for header in ({}, {"Authorization": "Bearer wrong"}):
            request = urllib.request.Request(url, data=b"{}", headers=header, method="POST")
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(request, timeout=30)
            assert denied.value.code == 401
        names = anyio.run(_http_tool_names, url, token)
        assert "run_snippet" in names
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _http_tool_names(url: str, token: str) -> list[str]:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        notebooks = await session.call_tool("list_notebooks", {})
        assert notebooks.structured_content["notebooks"][0]["notebook"] == "qs"
        return [tool.name for tool in listed.tools]
