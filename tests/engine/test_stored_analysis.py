"""Cell analyses kept in .strata/analysis.json between processes (analysis/stored.py)."""

from __future__ import annotations

import json
from pathlib import Path

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.analysis.stored import FILE, WRITE_AFTER, StoredAnalyses
from strata_engine.kinds import analyze_cell
from strata_engine.model.notebook import load_notebook


def _notebook(root: Path, cells: dict[str, str]) -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "nb"', 'name = "nb"']
    for cell_id, text in cells.items():
        (root / "cells" / f"{cell_id}.py").write_text(text)
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{cell_id}.py"']
    (root / "notebook.toml").write_text("\n".join(lines) + "\n")
    return root


def _chain(n: int) -> dict[str, str]:
    cells = {"c00": "x00 = 0\n"}
    cells.update({f"c{i:02d}": f"x{i:02d} = x{i - 1:02d} + 1\n" for i in range(1, n)})
    return cells


def test_a_fresh_process_reads_the_same_analyses_back(tmp_path: Path) -> None:
    root = _notebook(tmp_path / "nb", _chain(WRITE_AFTER + 2))
    (root / ".strata").mkdir()
    stored = StoredAnalyses(root / ".strata")
    fresh = {i: stored.analyze("python", t, i, None) for i, t in _chain(WRITE_AFTER + 2).items()}
    stored.flush(WRITE_AFTER + 2)
    assert (root / ".strata" / FILE).is_file()
    again = StoredAnalyses(root / ".strata")  # what the next process sees
    for cell_id, text in _chain(WRITE_AFTER + 2).items():
        assert again.analyze("python", text, cell_id, None) == fresh[cell_id]
        assert fresh[cell_id] == analyze_cell("python", text, cell_id=cell_id)
    edited = again.analyze("python", "y = x03 * 2\n", "c03", None)
    assert edited.defines == ("y",) and edited.references == ("x03",)


def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    strata = tmp_path / ".strata"
    strata.mkdir()
    text = "a = b + 1\n"
    for content in ("{not json", '{"engine": "other", "entries": {}}', "[]"):
        (strata / FILE).write_text(content)
        assert StoredAnalyses(strata).analyze("python", text, "c", None).references == ("b",)
    stored = StoredAnalyses(strata)
    for i in range(WRITE_AFTER):
        stored.analyze("python", f"v{i} = {i}\n", f"c{i}", None)
    stored.flush(WRITE_AFTER)
    document = json.loads((strata / FILE).read_text())
    for entry in document["entries"].values():
        entry["defines"] = 7  # not a list of names: recomputed, never trusted
    (strata / FILE).write_text(json.dumps(document))
    assert StoredAnalyses(strata).analyze("python", "v0 = 0\n", "c0", None).defines == ("v0",)


def test_looking_creates_nothing_and_diagnostics_are_not_stored(tmp_path: Path) -> None:
    cells = {**_chain(WRITE_AFTER + 2), "bad": "def (:\n"}
    root = _notebook(tmp_path / "nb", cells)
    snapshot = take_snapshot(load_notebook(root))
    assert not (root / ".strata").exists()  # no .strata/: nothing is written
    assert snapshot.cells["bad"].analysis.diagnostics
    (root / ".strata").mkdir()
    take_snapshot(load_notebook(root))
    assert (root / ".strata" / FILE).is_file()
    again = take_snapshot(load_notebook(root))
    bad = again.cells["bad"].analysis.diagnostics
    assert bad and bad[0].cell_id == "bad"  # recomputed: its message names the cell
    assert again.graph.order == snapshot.graph.order


def test_a_partial_pass_keeps_the_other_cells_and_a_full_one_prunes(tmp_path: Path) -> None:
    strata = tmp_path / ".strata"
    strata.mkdir()
    cells = {f"c{i}": f"v{i} = {i}\n" for i in range(WRITE_AFTER * 2)}
    stored = StoredAnalyses(strata)
    for cell_id, text in cells.items():
        stored.analyze("python", text, cell_id, None)
    stored.flush(len(cells))
    # The editor re-analyzes only the cells it edited (enough of them to write).
    edited = {f"c{i}": f"w{i} = {i}\n" for i in range(WRITE_AFTER)}
    for cell_id, text in edited.items():
        stored.analyze("python", text, cell_id, None)
    stored.flush(len(cells))
    kept = json.loads((strata / FILE).read_text())["entries"]
    assert len(kept) == len(cells) + len(edited)  # the unedited cells' entries stay
    current = {**cells, **edited}
    for cell_id, text in current.items():  # a full pass: the replaced texts go
        stored.analyze("python", text, cell_id, None)
    for i in range(WRITE_AFTER):  # and enough new texts to write again
        stored.analyze("python", f"u{i} = {i}\n", f"n{i}", None)
    stored.flush(len(current) + WRITE_AFTER)
    kept = json.loads((strata / FILE).read_text())["entries"]
    assert len(kept) == len(current) + WRITE_AFTER


def test_a_first_run_keeps_the_analyses_of_its_snapshot(tmp_path: Path) -> None:
    from strata_engine.run.session import Session

    root = _notebook(tmp_path / "nb", _chain(WRITE_AFTER + 2))
    session = Session(root)
    snapshot = session.snapshot()  # no .strata/ yet: nothing written
    assert not (root / ".strata").exists()
    report = session.run(snapshot=snapshot)
    assert report.success
    assert (root / ".strata" / FILE).is_file()  # written once the run created .strata/


def test_a_notebook_smaller_than_the_write_threshold_keeps_its_analyses(tmp_path: Path) -> None:
    """A 3-cell notebook never reached WRITE_AFTER new analyses, so every warm run re-analyzed
    all of its cells; a complete pass over fewer storable cells writes them all."""
    strata = tmp_path / ".strata"
    strata.mkdir()
    cells = _chain(3)
    stored = StoredAnalyses(strata)
    for cell_id, text in cells.items():
        stored.analyze("python", text, cell_id, None)
    stored.flush(len(cells))
    assert len(json.loads((strata / FILE).read_text())["entries"]) == 3
    edited = StoredAnalyses(strata)
    for cell_id, text in cells.items():
        edited.analyze("python", text, cell_id, None)
    edited.analyze("python", "z = 1\n", "c00", None)  # one edited cell: a partial pass
    edited.flush(len(cells) + 1)
    edited.analyze("python", "z = 2\n", "c00", None)
    edited.flush(len(cells) + 5)  # partial: the threshold of the complete pass stands
    assert "z = 2" not in (strata / FILE).read_text()
