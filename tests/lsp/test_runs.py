"""strata/run and strata/cancel over stdio, and the states they leave behind."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

PIPELINE = {
    "load": "print('loading')\nx = 20\n",
    "double": "y = x * 2\ndisplay(Markdown(f'**{y}**'))\n",
    "report": "import sys\nprint('report', y, file=sys.stderr)\n",
}


def console(streams: list[dict[str, Any]], cell_id: str, stream: str) -> str:
    return "".join(s["text"] for s in streams if s["cellId"] == cell_id and s["stream"] == stream)


def events(lsp: Session, method: str, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    return [p for p in lsp.recorder.all(method, after) if p["runId"] == run_id]


async def test_run_all_streams_events_then_hits_the_cache(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(PIPELINE)
    lsp.open_notebook(directory, PIPELINE)
    await lsp.state(directory, lambda cells: cells["load"]["state"] == "never_run")

    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "all")
    run_id = finished["runId"]
    assert finished["success"] is True
    assert [c["cellId"] for c in finished["cells"]] == ["load", "double", "report"]
    assert [p["cellId"] for p in events(lsp, "strata/cellStarted", run_id, mark)] == [
        "load",
        "double",
        "report",
    ]
    streams = events(lsp, "strata/cellStream", run_id, mark)
    assert console(streams, "load", "stdout") == "loading\n"  # chunks may split anywhere
    assert any(s["cellId"] == "report" and s["stream"] == "stderr" for s in streams)
    outputs = events(lsp, "strata/cellOutput", run_id, mark)
    assert outputs[0]["cellId"] == "double"
    assert outputs[0]["output"]["text/markdown"] == "**40**"
    done = events(lsp, "strata/cellFinished", run_id, mark)
    assert [(d["cellId"], d["status"], d["cacheHit"]) for d in done] == [
        ("load", "ok", False),
        ("double", "ok", False),
        ("report", "ok", False),
    ]
    await lsp.state(
        directory, lambda cells: all(c["state"] == "ready" for c in cells.values()), after=mark
    )

    mark = lsp.mark()
    again = await lsp.run_to_end(directory, "all")
    hits = events(lsp, "strata/cellCacheHit", again["runId"], mark)
    assert [h["cellId"] for h in hits] == ["load", "double", "report"]
    replayed = events(lsp, "strata/cellStream", again["runId"], mark)
    assert {"cellId": "load", "text": "loading\n", "replayed": True}.items() <= replayed[0].items()
    assert (
        events(lsp, "strata/cellOutput", again["runId"], mark)[0]["output"]["text/markdown"]
        == "**40**"
    )
    assert events(lsp, "strata/cellStarted", again["runId"], mark) == []


async def test_editing_a_cell_makes_its_downstream_stale_at_once(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(PIPELINE)
    uris = lsp.open_notebook(directory, PIPELINE)
    await lsp.run_to_end(directory, "all")
    await lsp.state(directory, lambda cells: cells["report"]["state"] == "ready")

    mark = lsp.mark()
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["load"], "print('loading')\nx = 21\n")
    cells = await lsp.state(directory, lambda c: c["report"]["state"] == "stale", after=mark)
    assert cells["load"]["state"] == "stale"
    assert cells["load"]["reasons"] == [{"reason": "source_changed"}]
    assert cells["double"]["reasons"] == [
        {"reason": "upstream_changed", "cell": "load", "variable": "x"}
    ]
    assert cells["report"]["reasons"] == [
        {"reason": "upstream_changed", "cell": "double", "variable": "y"}
    ]


async def test_runs_use_the_unsaved_text_and_run_stale_only(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(PIPELINE)
    uris = lsp.open_notebook(directory, PIPELINE)
    await lsp.run_to_end(directory, "all")
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["double"], "y = x * 3\ndisplay(y)\n")
    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "stale")
    executed = [c["cellId"] for c in finished["cells"] if c["executed"]]
    assert executed == ["double", "report"]
    output = events(lsp, "strata/cellOutput", finished["runId"], mark)[0]
    assert output["output"]["text/plain"] == "60"
    assert (directory / "cells" / "double.py").read_text() == PIPELINE["double"]


async def test_error_cell_reports_and_skips_downstream(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "x = 1 / 0\n", "b": "y = x + 1\n", "c": "z = 3\n"}
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "all")
    assert finished["success"] is False
    errors = events(lsp, "strata/cellError", finished["runId"], mark)
    assert [e["cellId"] for e in errors] == ["a"]
    assert "ZeroDivisionError" in errors[0]["error"] + (errors[0]["traceback"] or "")
    statuses = {c["cellId"]: (c["status"], c.get("reason")) for c in finished["cells"]}
    assert statuses == {
        "a": ("error", None),
        "b": ("skipped", "upstream failed"),
        "c": ("ok", None),
    }
    await lsp.state(directory, lambda c: c["a"]["state"] == "error" and c["c"]["state"] == "ready")


async def test_cancel_stops_a_running_cell(lsp: Session, make_notebook: NotebookFactory) -> None:
    cells = {
        "slow": "import time\nprint('started', flush=True)\ntime.sleep(60)\n",
        "after": "z = 1\n",
    }
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    mark = lsp.mark()
    run_id = await lsp.run(directory, "all")
    await lsp.wait_for("strata/cellStream", lambda p: p["runId"] == run_id, after=mark)
    state = await lsp.state(directory, lambda c: c["slow"]["state"] == "running", after=mark)
    assert state["after"]["state"] == "never_run"
    result = await lsp.client.protocol.send_request_async("strata/cancel", {"runId": run_id})
    assert result == {"cancelled": True}
    finished = await lsp.wait_for("strata/runFinished", lambda p: p["runId"] == run_id, after=mark)
    assert finished["cancelled"] is True
    assert finished["success"] is False
    slow = next(c for c in finished["cells"] if c["cellId"] == "slow")
    assert slow["status"] == "error"


async def test_run_request_errors(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "x = 1\n"})
    with pytest.raises(JsonRpcInvalidParams):
        await lsp.client.protocol.send_request_async(
            "strata/run", {"notebook": str(directory), "mode": "sometimes"}
        )
    with pytest.raises(JsonRpcInvalidParams):
        await lsp.client.protocol.send_request_async(
            "strata/run", {"notebook": str(directory.parent), "mode": "all"}
        )
    unknown = await lsp.run_to_end(directory, "cells", ["nope"])
    assert unknown["success"] is False
    assert "nope" in unknown["error"]


async def test_cached_outputs_and_dag(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook(PIPELINE)
    uris = lsp.open_notebook(directory, PIPELINE)
    await lsp.run_to_end(directory, "all")
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["report"], "z = y\n")
    request = lsp.client.protocol.send_request_async
    cached = await request("strata/cachedOutputs", {"notebook": str(directory), "cellIds": []})
    by_id = {c["cellId"]: c for c in cached["cells"]}
    assert set(by_id) == {"load", "double"}  # `report` was edited: no entry for its text
    assert by_id["load"]["stdout"] == "loading\n"
    assert by_id["double"]["outputs"] == [{"text/markdown": "**40**", "text/plain": "**40**"}]
    graph = await request("strata/dag", {"notebook": str(directory)})
    assert graph["order"] == ["load", "double", "report"]
    assert {(e["from"], e["to"], e["variable"]) for e in graph["edges"]} == {
        ("load", "double", "x"),
        ("double", "report", "y"),
    }
    # One payload: `strata dag` prints the same graph (the edit kept report reading y), but
    # names the notebook by its id where the server names it by its directory.
    cli = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "dag", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert {**json.loads(cli.stdout), "notebook": graph["notebook"]} == graph


async def test_displays_arrive_while_the_cell_runs(
    lsp: Session, make_notebook: NotebookFactory, tmp_path: Any
) -> None:
    gate = tmp_path / "gate"
    cells = {
        "show": (
            "import pathlib, time\n"
            "display(Markdown('first'))\n"
            f"while not pathlib.Path({str(gate)!r}).exists():\n"
            "    time.sleep(0.01)\n"
            "display(Markdown('second'))\n"
        ),
    }
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    mark = lsp.mark()
    run_id = await lsp.run(directory, "all")
    first = await lsp.wait_for("strata/cellOutput", lambda p: p["runId"] == run_id, after=mark)
    assert first["output"]["text/markdown"] == "first"
    assert events(lsp, "strata/cellFinished", run_id, mark) == []  # still running
    gate.write_text("go")
    finished = await lsp.wait_for("strata/runFinished", lambda p: p["runId"] == run_id, after=mark)
    assert finished["success"] is True
    shown = [o["output"]["text/markdown"] for o in events(lsp, "strata/cellOutput", run_id, mark)]
    assert shown == ["first", "second"]
