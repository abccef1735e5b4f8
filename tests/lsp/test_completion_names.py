"""Completion of upstream names in a prompt placeholder and a SQL bind, over stdio, from the
editor's unsaved text."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .conftest import NotebookFactory
from .harness import Session
from .test_features import at, complete

pytestmark = pytest.mark.asyncio

HEADER = '[connections.wh]\ndriver = "sqlite"\npath = "wh.db"\n'


async def test_placeholder_and_bind_complete_upstream_names(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {
        "load": "tickets = [1]\nlimit_rows = 5\n",
        "q": "# @sql connection=wh\nselect 1\n",
        "p": "# @name triage\nSummarise\n",
        "later": "late = 1\n",
    }
    directory = make_notebook(cells, header=HEADER, languages={"q": "sql", "p": "prompt"})
    uris = lsp.open_notebook(directory, cells)
    await lsp.diagnostics(uris["load"])
    notebook_uri = f"strata:{directory}/notebook.strata"

    # Typed, not saved: the server completes from the editor's text.
    mark = lsp.mark()
    lsp.edit_cell(notebook_uri, uris["p"], "# @name triage\nSummarise {{ ti\n")
    lsp.edit_cell(notebook_uri, uris["q"], "# @sql connection=wh\nselect * from t limit :li\n")
    await lsp.diagnostics(uris["p"], after=mark)

    placeholder = await complete(lsp, uris["p"], 1, len("Summarise {{ ti"))
    assert [i.label for i in placeholder] == ["limit_rows", "result", "tickets"]
    tickets = placeholder[-1]
    assert tickets.kind == types.CompletionItemKind.Variable
    assert tickets.detail == "from cell load (python)"
    assert tickets.text_edit is not None and tickets.text_edit.range == at(1, 13, 15)  # type: ignore[union-attr]

    bind = await complete(lsp, uris["q"], 1, len("select * from t limit :li"))
    labels = {i.label for i in bind}
    assert {"tickets", "limit_rows"} <= labels
    chosen = next(i for i in bind if i.label == "limit_rows")
    assert chosen.text_edit is not None and chosen.text_edit.range == at(1, 23, 25)  # type: ignore[union-attr]
