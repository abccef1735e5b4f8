"""strata/runCellTests against the real server (docs/lsp-protocol.md, "Cell tests"): a
notebook's cells/<id>.test.py run through the engine's pytest runner, one result per test
with the failing line in the test file; bad selections and a run in progress are refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {"base": "numbers = [3, 1, 2]\n", "ordered": "ordered = sorted(numbers)\n"}
TESTS = """\
def test_sorted(cell):
    assert cell.ordered == [1, 2, 3]


def test_reversed(cell):
    values = cell["ordered"]
    assert values == [3, 2, 1]
"""


async def request(lsp: Session, params: dict[str, Any]) -> Any:
    return await lsp.client.protocol.send_request_async("strata/runCellTests", params)


async def test_one_passing_and_one_failing_cell_test(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    test_file = directory / "cells" / "ordered.test.py"
    test_file.write_text(TESTS)
    answer = await request(lsp, {"notebook": directory.as_uri()})
    assert answer["exitCode"] == 1, answer["output"]
    tests = {t["name"]: t for t in answer["tests"]}
    assert set(tests) == {"test_sorted", "test_reversed"}
    assert tests["test_sorted"]["outcome"] == "passed"
    assert tests["test_sorted"]["file"] == str(test_file) and tests["test_sorted"]["line"] == 1
    failed = tests["test_reversed"]
    assert failed["outcome"] == "failed" and failed["line"] == 5 and failed["failureLine"] == 7
    assert "assert values == [3, 2, 1]" in failed["message"]
    assert failed["durationMs"] >= 0

    only = await request(
        lsp, {"notebook": str(directory), "file": test_file.as_uri(), "names": ["test_sorted"]}
    )
    assert only["exitCode"] == 0 and [t["name"] for t in only["tests"]] == ["test_sorted"]


async def test_bad_selections_are_refused(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook(CELLS)
    with pytest.raises(JsonRpcInvalidParams, match="give file too"):
        await request(lsp, {"notebook": str(directory), "names": ["test_sorted"]})
    with pytest.raises(JsonRpcInvalidParams, match="is not a cell test of"):
        await request(lsp, {"notebook": str(directory), "file": str(directory / "cells/base.py")})
    (directory / "cells" / "nope.test.py").write_text("def test_x():\n    pass\n")
    with pytest.raises(JsonRpcInvalidParams, match="no cell 'nope'"):
        await request(lsp, {"notebook": str(directory)})
    (directory / "cells" / "nope.test.py").unlink()
    none = await request(lsp, {"notebook": str(directory)})
    assert none["tests"] == [] and none["exitCode"] == 5


async def test_refused_while_a_run_of_the_notebook_is_in_progress(
    lsp: Session, make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    cells = {"wait": f"with open({str(gate)!r}) as f:\n    got = f.read()\n"}
    directory = make_notebook(cells)
    (directory / "cells" / "wait.test.py").write_text("def test_got(cell):\n    assert cell.got\n")
    lsp.open_notebook(directory, cells)
    mark = lsp.mark()
    run_id = await lsp.run(directory, "all")
    await lsp.wait_for("strata/cellStarted", lambda p: p["cellId"] == "wait", after=mark)
    with pytest.raises(JsonRpcInvalidRequest, match="run of this notebook is in progress"):
        await request(lsp, {"notebook": str(directory)})
    with open(gate, "w") as f:  # let the cell finish
        f.write("go")
    finished = await lsp.wait_for("strata/runFinished", lambda p: p["runId"] == run_id, after=mark)
    assert finished["success"]
    answer = await request(lsp, {"notebook": str(directory)})
    assert answer["exitCode"] == 0 and [t["outcome"] for t in answer["tests"]] == ["passed"]
