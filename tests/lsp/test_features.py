"""Quick fixes, completion and hover over stdio."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

HEADER = """worker = "local"

[[workers]]
name = "gpu-box"
backend = "executor"
runtime_id = "gpu-1"

[workers.config]
url = "http://127.0.0.1:9"

[connections.warehouse]
driver = "duckdb"
path = "wh.duckdb"
"""


async def actions_at(lsp: Session, uri: str, line: int) -> list[types.CodeAction]:
    result = await lsp.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(line, 0), types.Position(line, 200)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def single_edit(action: types.CodeAction, uri: str) -> types.TextEdit:
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.edit is not None and action.edit.changes is not None
    assert list(action.edit.changes) == [uri]
    (edit,) = action.edit.changes[uri]
    return edit


def at(line: int, start: int, end: int) -> types.Range:
    return types.Range(types.Position(line, start), types.Position(line, end))


async def open_cells(
    lsp: Session, make_notebook: NotebookFactory, cells: dict[str, str], **kw: object
) -> tuple[Path, dict[str, str]]:
    directory = make_notebook(cells, header=HEADER, **kw)
    uris = lsp.open_notebook(directory, cells)
    await lsp.diagnostics(uris[next(iter(cells))])
    return directory, uris


async def test_unknown_worker_offers_known_workers_and_a_stub(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory, uris = await open_cells(lsp, make_notebook, {"a": "# @worker gpu-bx\nx = 1\n"})
    actions = await actions_at(lsp, uris["a"], 0)
    titles = [a.title for a in actions]
    assert titles[0] == "Use worker 'gpu-box'"
    assert actions[0].is_preferred
    assert single_edit(actions[0], uris["a"]) == types.TextEdit(at(0, 10, 16), "gpu-box")
    assert "Use worker 'local'" in titles
    stub = next(a for a in actions if "[[workers]]" in a.title)
    manifest_uri = from_fs_path(str(directory / "notebook.toml")) or ""
    edit = single_edit(stub, manifest_uri)
    assert edit.new_text.endswith('[[workers]]\nname = "gpu-bx"\nbackend = "local"\n')
    lines = (directory / "notebook.toml").read_text().split("\n")
    assert edit.range.start == types.Position(len(lines) - 1, len(lines[-1]))


@pytest.mark.parametrize(
    ("source", "line", "title", "edit"),
    [
        (
            "# @timeout 1e9\nx = 1\n",
            0,
            "Set the timeout to 86400 seconds",
            types.TextEdit(at(0, 11, 14), "86400"),
        ),
        (
            "# @timeout soon\nx = 1\n",
            0,
            "Set the timeout to 300 seconds",
            types.TextEdit(at(0, 11, 15), "300"),
        ),
        (
            "# @env MODE fast\nx = 1\n",
            0,
            "Write '@env MODE=fast'",
            types.TextEdit(at(0, 7, 16), "MODE=fast"),
        ),
        (
            "# @mount data file:///nop rx\nx = 1\n",
            0,
            "Use mount mode 'ro' (read-only)",
            types.TextEdit(at(0, 26, 28), "ro"),
        ),
        ("# @timout 30\nx = 1\n", 0, "Change to 'timeout'", types.TextEdit(at(0, 3, 9), "timeout")),
        (
            "# @timeout:30\nx = 1\n",
            0,
            "Change to 'timeout'",
            types.TextEdit(at(0, 3, 13), "timeout 30"),
        ),
        ("# @after lod\nx = 1\n", 0, "Change to 'load'", types.TextEdit(at(0, 9, 12), "load")),
        (
            "# @loop max_iter=3\nx = 1\n",
            0,
            "Add 'carry=x'",
            types.TextEdit(at(0, 8, 8), "carry=x "),
        ),
        (
            "# @loop carry=s\ns = s + 1\n",
            0,
            "Add 'max_iter=10'",
            types.TextEdit(at(0, 8, 8), "max_iter=10 "),
        ),
    ],
)
async def test_quick_fix_edits_stay_in_the_cell(
    lsp: Session,
    make_notebook: NotebookFactory,
    source: str,
    line: int,
    title: str,
    edit: types.TextEdit,
) -> None:
    _, uris = await open_cells(lsp, make_notebook, {"load": "y = 1\n", "cell": source})
    await lsp.diagnostics(uris["cell"], bool)
    actions = await actions_at(lsp, uris["cell"], line)
    chosen = next(a for a in actions if a.title == title)
    assert single_edit(chosen, uris["cell"]) == edit


async def test_sql_cell_gets_a_connection_line(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"q": "select 42 as answer\n"}
    directory = make_notebook(cells, header=HEADER, languages={"q": "sql"})
    uris = lsp.open_notebook(directory, cells)
    await lsp.diagnostics(uris["q"], bool)
    (action,) = await actions_at(lsp, uris["q"], 0)
    assert action.title == "Use connection 'warehouse'"
    assert single_edit(action, uris["q"]) == types.TextEdit(
        at(0, 0, 0), "# @sql connection=warehouse\n"
    )


async def test_applying_a_fix_clears_the_diagnostic(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook({"a": "# @env MODE fast\nx = 1\n"})
    uri = lsp.open_text(directory / "cells" / "a.py")
    await lsp.diagnostics(uri, bool)
    (action,) = await actions_at(lsp, uri, 0)
    edit = single_edit(action, uri)
    lines = (directory / "cells" / "a.py").read_text().split("\n")
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = (
        line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character :]
    )
    mark = lsp.mark()
    lsp.edit_text(uri, "\n".join(lines))
    assert await lsp.diagnostics(uri, after=mark) == []


async def test_manifest_fix_for_a_literal_secret(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    header = (
        '[connections.pg]\ndriver = "postgresql"\nhost = "db"\n\n'
        '[connections.pg.auth]\npassword = "hunter2"\n'
    )
    directory = make_notebook({"a": "x = 1\n"}, header=header)
    uri = lsp.open_text(directory / "notebook.toml", language="toml")
    found = await lsp.diagnostics(uri, bool)
    assert [d.code for d in found] == ["connection_auth_literal_secret"]
    (action,) = await actions_at(lsp, uri, found[0].range.start.line)
    assert single_edit(action, uri).new_text == '"${PG_PASSWORD}"'


async def complete(lsp: Session, uri: str, line: int, character: int) -> list[types.CompletionItem]:
    result = await lsp.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, character),
        )
    )
    assert isinstance(result, types.CompletionList)
    return list(result.items)


async def test_completion_contexts(lsp: Session, make_notebook: NotebookFactory) -> None:
    cells = {"load": "x = 1\n", "a": "# @\nz = 1\n"}
    directory, uris = await open_cells(lsp, make_notebook, cells)
    notebook_uri = f"strata:{directory}/notebook.strata"

    keys = await complete(lsp, uris["a"], 0, 3)
    timeout = next(i for i in keys if i.label == "timeout")
    assert isinstance(timeout.documentation, types.MarkupContent)
    assert "0 < SECONDS <= 86400" in timeout.documentation.value
    assert {"worker", "env", "mount", "after", "sql"} <= {i.label for i in keys}

    cases = [
        ("# @worker g", 11, {"gpu-box", "local"}),
        ("# @mount data ", 14, {"file://", "s3://", "gs://", "gcs://", "az://", "azure://"}),
        ("# @after ", 9, {"load"}),
        ("# @sql connection=w", 19, {"warehouse"}),
    ]
    for text, col, expected in cases:
        mark = lsp.mark()
        lsp.edit_cell(notebook_uri, uris["a"], text + "\nz = 1\n")
        await lsp.diagnostics(uris["a"], after=mark)
        items = await complete(lsp, uris["a"], 0, col)
        assert {i.label for i in items} == expected, text
    last = items[0]
    assert last.text_edit is not None and last.text_edit.range == at(0, 18, 19)  # type: ignore[union-attr]


async def hover_at(lsp: Session, uri: str, line: int, character: int) -> str:
    result = await lsp.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri=uri), types.Position(line, character))
    )
    assert result is not None and isinstance(result.contents, types.MarkupContent)
    return result.contents.value


async def test_hover_explains_annotation_precedence(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    header = "timeout = 120\n"
    directory = make_notebook({"a": "# @timeout 30\n# @worker local\nx = 1\n"}, header=header)
    uri = lsp.open_text(directory / "cells" / "a.py")
    await lsp.diagnostics(uri)
    text = await hover_at(lsp, uri, 0, 5)
    assert "In effect: **30 s**" in text
    assert "`@timeout`: `30` s **(in effect)**" in text
    assert "notebook default `timeout`: `120` s (overridden)" in text
    assert "Runs on: **local**" in await hover_at(lsp, uri, 1, 5)


async def test_hover_on_a_cell_explains_its_state(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"load": "x = [1, 2, 3]\n", "use": "# uses x\ny = len(x)\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    await lsp.run_to_end(directory, "all")
    ready = await hover_at(lsp, uris["use"], 0, 2)
    assert "**ready**" in ready and "`y` (json/object" in ready and "Last run:" in ready
    mark = lsp.mark()
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["load"], "x = [1, 2]\n")
    await lsp.state(directory, lambda c: c["use"]["state"] == "stale", after=mark)
    stale = await hover_at(lsp, uris["use"], 0, 2)
    assert "**stale**" in stale
    assert "- upstream load changed (x) (now stale)" in stale
    assert "  - source changed" in stale
    variable = await hover_at(lsp, uris["use"], 1, 8)
    # jedi's type of the name first (python_cells), then where Strata reads it from.
    assert variable == "```python\nx: List[int]\n```\n\n---\n\n`x` comes from cell `load` (stale)."
