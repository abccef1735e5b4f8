"""strata/dag for loop cells: a loop's node says its max_iter and carry, and after a run how
many iterations its current result stored (the bound of the editor's "Fork from
iteration...")."""

from __future__ import annotations

import pytest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "seed": "n = 0\n",
    "count": "# @loop max_iter=40 carry=n\n# @loop_until n >= 12\nn = n + 1\n",
}


async def test_loop_node_reports_the_stored_iterations(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    lsp.open_notebook(directory, CELLS)
    await lsp.state(directory, lambda c: c["count"]["state"] == "never_run")
    request = lsp.client.protocol.send_request_async
    dag = await request("strata/dag", {"notebook": str(directory)})
    nodes = {n["id"]: n for n in dag["nodes"]}
    # Its upstream never ran: it has no key yet, so nothing to count.
    assert nodes["count"]["loop"] == {"maxIter": 40, "carry": "n"}
    await lsp.run_to_end(directory, "all")
    await lsp.state(directory, lambda c: c["count"]["state"] == "ready")
    dag = await request("strata/dag", {"notebook": str(directory)})
    nodes = {n["id"]: n for n in dag["nodes"]}
    assert nodes["count"]["loop"] == {"maxIter": 40, "carry": "n", "iterations": 12}
    assert "loop" not in nodes["seed"]
