"""Environments through the real language server (docs/lsp-protocol.md, "Environments"):
the environment object, import_unresolved with its strata.addPackage quick fix,
strata/addPackage streaming uv's output and refreshing states and diagnostics, a failed
sync's message, refusals while a run is in progress, and nothing created on open."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio


async def request(lsp: Session, method: str, params: dict[str, Any]) -> Any:
    return await lsp.client.protocol.send_request_async(method, params)


def read_code_actions_with_commands(lsp: Session) -> None:
    """lsprotocol's client-side hook reads any code action with a `command` key as a bare
    Command (VS Code tells them apart by the type of `command`: a string is a Command);
    teach this test client VS Code's rule."""

    def hook(obj: Any, _: type) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)  # type: ignore[no-any-return]

    converter = lsp.client.protocol._converter
    converter.register_structure_hook(types.Command | types.CodeAction, hook)
    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diagnostics]


async def test_import_unresolved_quick_fix_and_add_package(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"table": "import tabulate\nname = tabulate.__name__\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    found = await lsp.diagnostics(uris["table"], lambda ds: "import_unresolved" in codes(ds))
    (diag,) = [d for d in found if d.code == "import_unresolved"]
    assert diag.severity == types.DiagnosticSeverity.Warning and diag.range.start.line == 0
    info = await request(lsp, "strata/environment", {"notebook": str(directory)})
    assert info["kind"] == "embedded" and info["state"] == "ready" and not info["hasPyproject"]
    assert not (directory / "pyproject.toml").exists() and not (directory / ".venv").exists()

    read_code_actions_with_commands(lsp)
    result = await lsp.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uris["table"]),
            range=types.Range(types.Position(0, 0), types.Position(0, 15)),
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    (action,) = [a for a in result or [] if isinstance(a, types.CodeAction)]
    assert action.edit is None and action.is_preferred
    assert action.command is not None and action.command.command == "strata.addPackage"
    arguments = {"notebook": str(directory), "package": "tabulate", "cellId": "table"}
    assert list(action.command.arguments or []) == [arguments]

    mark = lsp.mark()
    answer = await request(lsp, "strata/addPackage", arguments)
    assert answer["ok"] is True and "is ready" in answer["message"], answer
    logs = "".join(p["text"] for p in lsp.recorder.all("strata/environmentLog", after=mark))
    assert "$ uv add" in logs and "tabulate" in logs
    changed = await lsp.wait_for("strata/environmentChanged", after=mark)
    assert changed["kind"] == "venv" and changed["state"] == "ready" and changed["lockHash"]
    assert changed["path"] == str(directory / ".venv")
    resolved = lambda ds: "import_unresolved" not in codes(ds)  # noqa: E731
    await lsp.diagnostics(uris["table"], resolved, after=mark)
    finished = await lsp.run_to_end(directory, "all")
    assert finished["success"], finished

    # A dependency list that changes on disk: the client is told, and every cell is stale.
    mark = lsp.mark()
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tabulate', '"humanize", "tabulate'))
    lsp.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    changed = await lsp.wait_for("strata/environmentChanged", after=mark)
    assert changed["state"] == "out_of_sync"
    state = await lsp.state(directory, lambda c: c["table"]["state"] == "stale", after=mark)
    assert {"reason": "env_changed"} in state["table"]["reasons"]


async def test_failed_sync_and_nothing_created_on_open(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "x = 1\n"}
    directory = make_notebook(cells)
    (directory / "pyproject.toml").write_text(
        '[project]\nname = "nb"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["strata-surely-not-a-real-package-7q"]\n'
    )
    lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda c: c["a"]["state"] == "never_run")
    info = await request(lsp, "strata/environment", {"notebook": str(directory)})
    assert info["kind"] == "venv" and info["state"] == "missing" and info["python"] == ""
    assert not (directory / ".venv").exists()  # opening and analyzing create nothing

    answer = await request(lsp, "strata/syncEnvironment", {"notebook": str(directory)})
    assert answer["ok"] is False
    assert "uv sync failed" in answer["message"]
    assert "requirements are unsatisfiable" in answer["message"]  # uv's own words
    refused = await request(lsp, "strata/addPackage", {"notebook": str(directory)})
    assert refused == {"ok": False, "message": "package (a distribution name) is required"}


async def test_environment_changes_are_refused_while_a_run_is_in_progress(
    lsp: Session, make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    cells = {"wait": f"with open({str(gate)!r}) as f:\n    got = f.read()\n"}
    directory = make_notebook(cells)
    lsp.open_notebook(directory, cells)
    mark = lsp.mark()
    run_id = await lsp.run(directory, "all")
    await lsp.wait_for("strata/cellStarted", lambda p: p["cellId"] == "wait", after=mark)
    for method, extra in (("strata/syncEnvironment", {}), ("strata/addPackage", {"package": "x"})):
        answer = await request(lsp, method, {"notebook": str(directory), **extra})
        assert answer["ok"] is False and "run of this notebook is in progress" in answer["message"]
    with open(gate, "w") as f:  # let the cell finish
        f.write("go")
    finished = await lsp.wait_for("strata/runFinished", lambda p: p["runId"] == run_id, after=mark)
    assert finished["success"]
    assert not (directory / "pyproject.toml").exists()
