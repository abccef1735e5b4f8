"""A cell's mounts after an edit that changes names: kept when its producers are, redone
when they changed (a `[[mounts]]` entry is a cell's only if no upstream cell defines it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.analysis import graph as graph_module
from strata_engine.run.incremental import Incremental
from strata_engine.run.session import Session

Opener = Callable[[Path], Session]


def test_mounts_follow_the_producers_after_names_change(
    make_notebook: NotebookFactory, open_session: Opener, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    header = f'[[mounts]]\nname = "data"\nuri = "file://{data}"\nmode = "ro"\n'
    cells = {"a": "x = 1\n", "b": "y = 2\n", "c": "z = len(data)\n", "d": "w = data\n"}
    session = open_session(make_notebook(cells, header=header))
    incremental = Incremental(session)
    snapshot, _ = incremental.full(cells)
    assert [m.name for m in snapshot.mounts(snapshot.cells["c"])] == ["data"]
    for edit in ("y = 2\nq = 1\n", "data = 2\n", "y = 3\n", "data = 3\nq = 1\n"):
        cells = {**cells, "b": edit}
        snapshot, _ = incremental.update(cells)
        assert incremental.changed is not None  # the edit path, graph updated in place
        graph_module._last = None
        fresh = session.snapshot(cells)
        for cell_id in "cd":
            got = snapshot.mounts(snapshot.cells[cell_id])
            assert got == fresh.mounts(fresh.cells[cell_id]), (edit, cell_id)
        assert bool(got) == ("data =" not in edit)
