"""strata/cellProgress: a running `@loop` cell reports each stored iteration (SPEC 9)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "seed": "n = 0\n",
    "count": "# @loop max_iter=6 carry=n\n# @loop_until n >= 4\nn = n + 1\nprint('n', n)\n",
}


def events(lsp: Session, method: str, run_id: str, after: int) -> list[dict[str, Any]]:
    return [p for p in lsp.recorder.all(method, after) if p["runId"] == run_id]


async def test_each_iteration_is_a_progress_notification(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    lsp.open_notebook(directory, CELLS)
    await lsp.state(directory, lambda cells: cells["count"]["state"] == "never_run")
    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "all")
    assert finished["success"] is True
    progress = events(lsp, "strata/cellProgress", finished["runId"], mark)
    assert [(p["cellId"], p["iteration"], p["maxIter"], p["stopped"]) for p in progress] == [
        ("count", 0, 6, False),
        ("count", 1, 6, False),
        ("count", 2, 6, False),
        ("count", 3, 6, True),
    ]
    assert all(p["durationMs"] >= 0 for p in progress)
    streams = events(lsp, "strata/cellStream", finished["runId"], mark)
    text = "".join(s["text"] for s in streams if s["cellId"] == "count")
    assert text == "n 1\nn 2\nn 3\nn 4\n"

    mark = lsp.mark()
    again = await lsp.run_to_end(directory, "all")
    assert events(lsp, "strata/cellProgress", again["runId"], mark) == []
