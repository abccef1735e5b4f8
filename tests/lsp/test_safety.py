"""Safety and robustness: nothing runs on open, a crashing analysis degrades one cell, files
changed outside the editor are picked up."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.uris import from_fs_path

from .conftest import NotebookFactory
from .harness import Session, start, stop

pytestmark = pytest.mark.asyncio

FAULTY = [sys.executable, str(Path(__file__).with_name("faulty_server.py"))]


@pytest_asyncio.fixture
async def faulty_lsp() -> AsyncIterator[Session]:
    session = await start(FAULTY)
    try:
        yield session
    finally:
        await stop(session)


async def test_opening_and_analyzing_never_runs_code(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    marker = make_notebook({"x": "x = 1\n"}, name="elsewhere") / "ran"
    source = f"open({str(marker)!r}, 'w').write('ran')\nvalue = 1\n"
    cells = {"side_effect": source, "user": "# @timeout 5\nuse = value\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda c: c["side_effect"]["state"] == "never_run")
    await lsp.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uris["user"]), types.Position(1, 7))
    )
    assert not marker.exists()


async def test_a_crashing_analysis_degrades_only_that_cell(
    faulty_lsp: Session, make_notebook: NotebookFactory
) -> None:
    lsp = faulty_lsp
    cells = {"ok": "# @timeout never\nx = 1\n", "bad": "# CRASH_ME\ny = 2\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    bad = await lsp.diagnostics(uris["bad"], bool)
    assert [d.code for d in bad] == ["analysis_failed"]
    assert "injected analysis fault" in bad[0].message
    assert [d.code for d in await lsp.diagnostics(uris["ok"], bool)] == ["timeout_not_numeric"]
    logged = await lsp.wait_for(
        types.WINDOW_LOG_MESSAGE, lambda p: "analysis of cell 'bad'" in p.message
    )
    assert logged.type == types.MessageType.Error
    states = await lsp.state(directory, lambda c: "bad" in c)
    assert states["bad"]["state"] == "error"
    assert states["ok"]["state"] == "never_run"
    # still serving, and the cell recovers once the analysis does
    mark = lsp.mark()
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["bad"], "y = 2\n")
    assert await lsp.diagnostics(uris["bad"], after=mark) == []


def add_cell_on_disk(directory: Path, cell_id: str, source: str) -> Path:
    """Add a cell as another tool would: its file, then its notebook.toml entry."""
    (directory / "cells" / f"{cell_id}.py").write_text(source)
    manifest = directory / "notebook.toml"
    entry = f'\n[[cells]]\nid = "{cell_id}"\nfile = "{cell_id}.py"\nlanguage = "python"\n'
    manifest.write_text(manifest.read_text() + entry + "order = 99\n")
    return manifest


async def test_watched_file_changes_reload_the_notebook(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "x = 1\n"}
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda c: set(c) == {"a"})

    manifest = add_cell_on_disk(directory, "b", "y = x + 1\n")
    mark = lsp.mark()
    notify_changed(
        lsp,
        [
            (manifest, types.FileChangeType.Changed),
            (directory / "cells" / "b.py", types.FileChangeType.Created),
        ],
    )
    await lsp.state(directory, lambda c: set(c) == {"a", "b"}, after=mark)

    manifest_uri = from_fs_path(str(manifest)) or ""
    (directory / "cells" / "b.py").unlink()
    mark = lsp.mark()
    notify_changed(lsp, [(directory / "cells" / "b.py", types.FileChangeType.Deleted)])
    found = await lsp.diagnostics(manifest_uri, bool, after=mark)
    assert [d.code for d in found] == ["cell_file_missing"]


async def test_run_outside_the_editor_updates_states(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    import subprocess

    cells = {"a": "x = 1\n"}
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda c: c["a"]["state"] == "never_run")
    subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "run", str(directory), "--quiet"], check=True
    )
    mark = lsp.mark()
    notify_changed(
        lsp, [(directory / ".strata" / "artifacts" / "index.sqlite", types.FileChangeType.Changed)]
    )
    await lsp.state(directory, lambda c: c["a"]["state"] == "ready", after=mark)


def notify_changed(lsp: Session, changes: list[tuple[Path, types.FileChangeType]]) -> None:
    lsp.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=from_fs_path(str(p)) or "", type=t) for p, t in changes]
        )
    )


async def test_file_watchers_are_registered(lsp: Session) -> None:
    await lsp.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier("file:///nowhere.py"), types.Position(0, 0))
    )
    methods = [r.method for params in lsp.registrations for r in params.registrations]
    assert methods == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]


async def test_closing_the_notebook_clears_its_diagnostics(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "# @timeout x\nv = 1\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    await lsp.diagnostics(uris["a"], bool)
    mark = lsp.mark()
    notebook_uri = f"strata:{directory}/notebook.strata"
    lsp.client.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=notebook_uri),
            cell_text_documents=[types.TextDocumentIdentifier(uri=uris["a"])],
        )
    )
    assert await lsp.diagnostics(uris["a"], after=mark) == []


async def test_strata_lsp_command_serves(make_notebook: NotebookFactory) -> None:
    session = await start([sys.executable, "-m", "strata_engine.cli", "lsp"])
    try:
        directory = make_notebook({"a": "# @env BROKEN\nx = 1\n"})
        uri = session.open_text(directory / "cells" / "a.py")
        assert [d.code for d in await session.diagnostics(uri, bool)] == ["env_malformed"]
    finally:
        await stop(session)


async def test_saving_the_notebook_reloads_its_manifest(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    """The editor saved a new cell into notebook.toml: the server sees it on didSave, without
    waiting for a file watcher."""
    cells = {"a": "x = 1\n"}
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda c: set(c) == {"a"})
    add_cell_on_disk(directory, "b", "y = x + 1\n")
    mark = lsp.mark()
    lsp.client.notebook_document_did_save(
        types.DidSaveNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(
                uri=f"strata:{directory}/notebook.strata"
            )
        )
    )
    states = await lsp.state(directory, lambda c: set(c) == {"a", "b"}, after=mark)
    assert states["b"]["state"] == "never_run"
