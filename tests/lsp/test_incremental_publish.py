"""What the server publishes after each keystroke-sized edit equals a fresh analysis.

Edits that keep the cell graph take the edit path (only the edited cell's documents and
states are republished: strata_lsp/routing.py, states.py); the others regroup everything.
After each edit, every cell's last published diagnostics must be those of a fresh engine
snapshot of the same texts, and the last notebookState must be the full state payload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from strata_engine.run.session import Session as EngineSession

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "c0": "a = 1\n",
    "c1": "b = a + 1\n",
    "c2": "# @timout 3\nc = b\n",
    "c3": "d = 4\n",
    "c4": "e = d\n",
}
EDITS = [
    ("c0", "a = 2  # typed\n"),  # graph kept: the edit path
    ("c3", "d = (\n"),  # a syntax error
    ("c3", "d = 5\n"),  # fixed
    ("c2", "c = b\n"),  # the misspelt annotation removed, graph kept
    ("c0", "a = e\n"),  # a forward reference
    ("c0", "a = e  # still\n"),  # kept, on the edit path
    ("c1", "# @after c4\nb = a + 1\n"),  # and a cycle through @after
    ("c1", "# @after c4\nb = a + 2\n"),  # the cycle's cell edited, graph kept
    ("c4", "e = d\nb = 1\n"),  # a duplicate definition
    ("c4", "e = d\n"),  # fixed
    ("c1", "b = a + 1\n"),  # the cycle broken
    ("c0", "a = 1\n"),
]


def _expected(directory: Path, texts: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    session = EngineSession(directory)
    try:
        snapshot = session.snapshot(texts)
    finally:
        session.close()
    return {
        cell_id: [(d.code, d.message, d.span.line - 1 if d.span else 0) for d in view.diagnostics]
        for cell_id, view in snapshot.cells.items()
    }


def _published(lsp: Session, uris: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    found = lsp.recorder.all(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    last = {p.uri: p.diagnostics for p in found}
    return {
        cell_id: [(d.code, d.message, d.range.start.line) for d in last.get(uri, [])]
        for cell_id, uri in uris.items()
    }


async def test_each_edit_publishes_what_a_fresh_analysis_finds(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    uris = lsp.open_notebook(directory, CELLS)
    notebook_uri = f"strata:{directory}/notebook.strata"
    texts = dict(CELLS)
    request = lsp.client.protocol.send_request_async
    await request("strata/state", {"notebook": str(directory)})
    for step, (cell_id, text) in enumerate(EDITS):
        texts[cell_id] = text
        lsp.edit_cell(notebook_uri, uris[cell_id], text)
        # Answered after the edit is analyzed and published (requests refresh first).
        state = await request("strata/state", {"notebook": str(directory)})
        assert _published(lsp, uris) == _expected(directory, texts), f"step {step}"
        sent = lsp.recorder.all("strata/notebookState")[-1]
        assert sent["cells"] == state["cells"], f"step {step}"


async def test_a_pause_refreshes_what_no_edit_announced(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "import helper_mod_zz\nx = 1\n", "b": "y = 2\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    unresolved = await lsp.diagnostics(uris["a"], bool)
    assert [d.code for d in unresolved] == ["import_unresolved"]
    (directory / "helper_mod_zz.py").write_text("V = 1\n")  # no watched-file event follows
    mark = lsp.mark()
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["b"], "y = 3\n")
    # The edit of b leaves a's analysis as it was; the full refresh once edits pause
    # (computed off the event loop) finds the module.
    assert await lsp.diagnostics(uris["a"], lambda found: not found, after=mark) == []
