"""A run's mutation_in_place warning reaches the editor as a diagnostic on the cell."""

from __future__ import annotations

import pytest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "a": 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})\n',
    "b": 'def bump(d):\n    d["a"] += 1\n\n\nbump(df)\ntotal = 1\n',
    "c": 'print(df["a"].tolist())\n',
}


def _mutations(diagnostics: list) -> list:  # type: ignore[type-arg]
    return [d for d in diagnostics if d.code == "mutation_in_place"]


async def test_a_mutating_cell_gets_the_warning_until_its_text_changes(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    uris = lsp.open_notebook(directory, CELLS)
    await lsp.state(directory, lambda cells: cells["b"]["state"] == "never_run")
    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "all")
    [cell_b] = [c for c in finished["cells"] if c["cellId"] == "b"]
    assert cell_b["warnings"][0]["data"] == {"variable": "df", "line": 5}

    found = await lsp.diagnostics(uris["b"], lambda d: bool(_mutations(d)), after=mark)
    [warning] = _mutations(found)
    assert warning.severity == 2  # Warning
    assert warning.data == {"variable": "df", "line": 5}
    assert warning.range.start.line == 4  # 0-based: `bump(df)`
    assert "cell c will see the unmutated df from a" in warning.message

    mark = lsp.mark()
    notebook_uri = f"strata:{directory}/notebook.strata"
    lsp.edit_cell(notebook_uri, uris["b"], "total = len(df)\n")
    cleared = await lsp.diagnostics(uris["b"], lambda d: not _mutations(d), after=mark)
    assert _mutations(cleared) == []
