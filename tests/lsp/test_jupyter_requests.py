"""strata/importNotebook and strata/exportNotebook against the real server (SPEC 12): the
same engine calls as `strata import` and `strata export`, refusals as invalid params."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from pygls.exceptions import JsonRpcInvalidParams

from .harness import Session

pytestmark = pytest.mark.asyncio


async def test_import_then_export(lsp: Session, tmp_path: Path) -> None:
    source = tmp_path / "study.ipynb"
    cells = [new_markdown_cell("# Study"), new_code_cell("%matplotlib inline\nx = 41\nx + 1")]
    nbformat.write(new_notebook(cells=cells), source)
    request = lsp.client.protocol.send_request_async
    report = await request("strata/importNotebook", {"path": source.as_uri()})
    directory = tmp_path / "study"
    assert report["directory"] == str(directory)
    assert report["cells"] == 2
    assert report["notes"][0] == "cell-02:1: magic_unsupported: %matplotlib inline (now a comment)"
    assert (directory / "notebook.toml").is_file()

    with pytest.raises(JsonRpcInvalidParams, match="already exists and is not empty"):
        await request("strata/importNotebook", {"path": str(source)})

    exported = await request("strata/exportNotebook", {"notebook": str(directory), "to": "md"})
    assert exported["path"] == str(tmp_path / "study.md")
    text = (tmp_path / "study.md").read_text()
    assert "# Study" in text and "x = 41" in text and "not run" in text
    with pytest.raises(JsonRpcInvalidParams, match="to must be one of"):
        await request("strata/exportNotebook", {"notebook": str(directory), "to": "pdf"})
    with pytest.raises(JsonRpcInvalidParams, match="to must be one of"):  # found by fuzzing
        await request("strata/exportNotebook", {"notebook": str(directory), "to": []})
