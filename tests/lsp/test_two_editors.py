"""Two editors (two language server processes) and a `strata run` CLI on one notebook at
once (issue [11]): each editor edits and saves a different cell while both editors and the
CLI run the notebook. Afterwards nothing is lost or corrupted (notebook.toml parses, both
edits are on disk, the store's index is intact and names no missing blob) and the results
agree: both servers, `strata status` and the stored values say the same thing.

No sleeps: every step waits on a protocol answer, a notification or a process exit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from strata_engine.library import open_notebook
from strata_engine.model.notebook import load_notebook
from strata_engine.model.saving import write_cell_source
from strata_engine.store import ArtifactIndex, BlobStore

from .conftest import NotebookFactory
from .harness import GUARD_S, SERVER, Session, start, stop

pytestmark = pytest.mark.asyncio

CELLS = {
    "a": "base = 20\n",
    "b": "doubled = base * 2\n",
    "c": "tripled = base * 3\n",
    "d": "total = doubled + tripled\n",
}
EDITS = {"b": "doubled = base * 2 + 1\n", "c": "tripled = base * 3 + 2\n"}
EXPECTED = {"base": 20, "doubled": 41, "tripled": 62, "total": 103}


async def cli(*argv: str | Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "strata_engine.cli",
        *map(str, argv),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), GUARD_S * 4)
    return int(process.returncode or 0), out.decode(), err.decode()


async def edit_and_save(editor: Session, directory: Path, uris: dict[str, str], cell: str) -> None:
    """What VS Code does: the unsaved edit reaches the server, then the save writes the cell
    file through the engine's atomic write and the server hears didSave."""
    notebook_uri = f"strata:{directory}/notebook.strata"
    mark = editor.mark()
    version = editor.edit_cell(notebook_uri, uris[cell], EDITS[cell])
    await editor.wait_for(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        lambda p: p.uri == uris[cell] and p.version == version,
        after=mark,
    )
    notebook = load_notebook(directory, read_sources=False)
    target = notebook.cell(cell)
    assert target is not None
    await asyncio.to_thread(write_cell_source, notebook, target, EDITS[cell])
    editor.client.notebook_document_did_save(
        types.DidSaveNotebookDocumentParams(types.NotebookDocumentIdentifier(notebook_uri))
    )


async def reload(editor: Session, uris: dict[str, str], directory: Path, cell: str) -> None:
    """The other editor's save reaching this one: VS Code reloads the changed cell into the
    open notebook, which the server sees as a change of that cell's text."""
    mark = editor.mark()
    version = editor.edit_cell(f"strata:{directory}/notebook.strata", uris[cell], EDITS[cell])
    await editor.wait_for(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
        lambda p: p.uri == uris[cell] and p.version == version,
        after=mark,
    )


def check_store(root: Path) -> None:
    db = sqlite3.connect(root / "index.sqlite")
    try:
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        db.close()
    blobs = BlobStore(root)
    with ArtifactIndex(root / "index.sqlite") as index:
        for refs in index.iter_refs():
            assert refs.required is not None
            assert all(blobs.has(digest) for digest in refs.required), refs.key


def summary(cells: list[dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    return {c["id"]: (c["state"], c.get("key")) for c in cells}


async def test_two_editors_and_a_cli_run_on_one_notebook(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    other = await start(SERVER)
    try:
        editors = (lsp, other)
        uris = [editor.open_notebook(directory, CELLS) for editor in editors]
        for editor in editors:
            await editor.state(directory, lambda c: set(c) == set(CELLS))
        # Everything at once: two saves of different cells, two editor runs, one CLI run.
        results = await asyncio.gather(
            edit_and_save(lsp, directory, uris[0], "b"),
            edit_and_save(other, directory, uris[1], "c"),
            lsp.run_to_end(directory, "all"),
            other.run_to_end(directory, "all"),
            cli("run", directory, "--quiet", "--no-sync"),
        )
        code, _, err = results[-1]
        assert code == 0 and "Traceback" not in err, err
        for finished in results[2:4]:
            assert finished["success"] is True and "error" not in finished, finished
        # Nothing lost or corrupted: both edits on disk, the manifest parses, the store is whole.
        notebook = load_notebook(directory)
        assert [cell.id for cell in notebook.cells] == list(CELLS)
        assert {c.id: c.source for c in notebook.cells} == {**CELLS, **EDITS}
        check_store(directory / ".strata" / "artifacts")
        # Runs that started before a save computed the old text: one more run settles it.
        await reload(lsp, uris[0], directory, "c")
        await reload(other, uris[1], directory, "b")
        code, _, err = await cli("run", directory, "--quiet", "--no-sync")
        assert code == 0, err
        code, out, err = await cli("status", directory)
        assert code == 0, err
        cli_view = summary(json.loads(out)["cells"])
        assert {state for state, _ in cli_view.values()} == {"ready"}, cli_view
        for editor in editors:
            answer = await editor.client.protocol.send_request_async(
                "strata/state", {"notebook": str(directory)}
            )
            assert summary(answer["cells"]) == cli_view
            rerun = await editor.run_to_end(directory, "all")
            assert rerun["success"] is True, rerun
            assert {c["cellId"]: c["cacheHit"] for c in rerun["cells"]} == dict.fromkeys(
                CELLS, True
            )
        with open_notebook(directory) as values:
            assert {name: values[name] for name in EXPECTED} == EXPECTED
        check_store(directory / ".strata" / "artifacts")
    finally:
        await stop(other)
