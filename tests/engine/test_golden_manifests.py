"""The engine's loader against the golden manifests that the extension is checked against too
(tests/fixtures/manifests/README.md): manifest in, cells out, per SPEC 1-2."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from strata_engine.model.notebook import NotebookError, load_notebook
from strata_engine.model.saving import save_notebook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def expected(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / case / "expected.json").read_text())
    return data


def loadable(case: str) -> bool:
    return "error" not in expected(case)


def test_every_case_is_checked() -> None:
    assert len(CASES) >= 12
    assert all((FIXTURES / case / "notebook.toml").is_file() for case in CASES)


@pytest.mark.parametrize("case", CASES)
def test_cells_out(case: str) -> None:
    want = expected(case)
    if "error" in want:
        with pytest.raises(NotebookError) as raised:
            load_notebook(FIXTURES / case)
        assert want["error"] in str(raised.value)
        return
    notebook = load_notebook(FIXTURES / case)
    listed = {cell.id for cell in notebook.cells}
    cells = [
        {
            "id": cell.id,
            "file": cell.file,
            "language": cell.language,
            "order": cell.order,
            "readable": cell.source is not None,
            "diagnostics": sorted(d.code for d in notebook.diagnostics if d.cell_id == cell.id),
        }
        for cell in notebook.cells
    ]
    assert cells == want["cells"]
    unattached = sorted(d.code for d in notebook.diagnostics if d.cell_id not in listed)
    assert unattached == want["diagnostics"]


@pytest.mark.parametrize("case", [case for case in CASES if loadable(case)])
def test_save_keeps_every_key_and_entry(case: str, tmp_path: Path) -> None:
    """A structural save (here: moving the first cell last) keeps whatever the manifest held,
    only `order` and `updated_at` may change."""
    directory = tmp_path / case
    shutil.copytree(FIXTURES / case, directory, symlinks=True)
    before = tomllib.loads((directory / "notebook.toml").read_text())
    notebook = load_notebook(directory, read_sources=False)
    if len(notebook.cells) > 1:
        first = notebook.cells.pop(0)
        first.order = notebook.cells[-1].order + 1
        notebook.cells.append(first)
    save_notebook(notebook)
    after = tomllib.loads((directory / "notebook.toml").read_text())

    def without(table: dict[str, Any], *keys: str) -> dict[str, Any]:
        return {k: v for k, v in table.items() if k not in keys}

    assert without(after, "cells", "updated_at") == without(before, "cells", "updated_at")
    entries = [without(entry, "order") for entry in after.get("cells", [])]
    for entry in before.get("cells", []):
        assert without(entry, "order") in entries
