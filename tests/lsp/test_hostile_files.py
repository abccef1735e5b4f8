"""The language server keeps answering when a notebook holds files no cell should be: a FIFO
in cells/ used to block its loader forever, taking every request (shutdown included) with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs"),
]


def replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)  # nobody ever writes to it: a blocking open would never return


async def test_fifo_cell_is_reported_and_the_server_keeps_serving(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"ok": "x = 1\n", "pipe": "y = x\n"}
    directory = make_notebook(cells)
    replace_with_fifo(directory / "cells" / "pipe.py")
    uris = lsp.open_notebook(directory, cells)
    found = await lsp.diagnostics(uris["pipe"], bool)
    assert [d.code for d in found] == ["parse_failed"]
    assert "FIFO" in found[0].message and "cells/pipe.py" in found[0].message
    states = await lsp.state(directory, lambda c: {"ok", "pipe"} <= set(c))
    assert states["ok"]["state"] == "never_run"
    # the fixture's shutdown must be answered too: the server is not wedged


async def test_fifo_manifest_does_not_wedge_the_server(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"ok": "x = 1\n"}
    directory = make_notebook(cells)
    replace_with_fifo(directory / "notebook.toml")
    lsp.open_notebook(directory, cells)
    healthy = make_notebook({"fine": "z = 1\n"}, name="healthy")
    uris = lsp.open_notebook(healthy, {"fine": "z = 1\n"})
    assert await lsp.diagnostics(uris["fine"]) == []
