"""The variables view's engine side: each cell's published variables described from the
store (type, shape or length, size), current or from the last run, without loading values."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from conftest import NotebookFactory

from strata_engine.run.session import Session
from strata_engine.run.variables import (
    CellVariables,
    VariableInfo,
    find_output,
    notebook_variables,
    pickle_top_type,
)
from strata_engine.store import BlobStore

CELLS = {
    "load": textwrap.dedent(
        """\
        import datetime
        import json as json_module
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}, index=[10, 20, 30])
        series = pd.Series([1.5, 2.5], name="s")
        grid = np.zeros((4, 5), dtype="float32")
        vector = np.arange(7)
        table = pa.table({"n": [1, 2], "t": ["p", "q"]})
        items = [1, 2, 3, 4]
        config = {"alpha": 1, "beta": 2}
        title = "hello"
        when = datetime.date(2024, 1, 2)
        codec = json_module
        """
    ),
    "use": "total = len(items) + len(frame)\n",
}


def by_name(cells: list[CellVariables], cell_id: str) -> dict[str, VariableInfo]:
    cell = next(c for c in cells if c.cell_id == cell_id)
    return {v.name: v for v in cell.variables}


def listing(session: Session) -> list[CellVariables]:
    return notebook_variables(session.states(), session.entry, session.blobs)


def test_describes_each_kind_of_value(
    make_notebook: NotebookFactory, open_session: Callable[[Path], Session]
) -> None:
    session = open_session(make_notebook(CELLS))
    assert session.run("all").success
    cells = listing(session)
    assert [c.cell_id for c in cells] == ["load", "use"]
    assert all(c.current and c.state == "ready" for c in cells)
    v = by_name(cells, "load")
    assert v["frame"].type == "pandas.DataFrame" and v["frame"].shape == (3, 2)
    assert [n for n, _ in v["frame"].columns] == ["a", "b"]  # the index column is not counted
    assert v["frame"].table and v["frame"].content_type == "arrow/ipc"
    assert v["series"].type == "pandas.Series" and v["series"].length == 2 and v["series"].table
    assert v["grid"].type == "numpy.ndarray" and v["grid"].shape == (4, 5)
    assert not v["grid"].table and v["grid"].note == "dtype <f4"
    assert v["vector"].shape == (7,) and v["vector"].table
    assert v["table"].type == "pyarrow.Table" and v["table"].shape == (2, 2)
    assert (v["items"].type, v["items"].length) == ("list", 4)
    assert (v["config"].type, v["config"].length) == ("dict", 2)
    assert (v["title"].type, v["title"].length) == ("str", 5)
    assert v["when"].type == "datetime.date" and v["when"].content_type == "pickle/object"
    assert v["codec"].type == "module" and v["codec"].note == "json"
    assert all(info.size > 0 and len(info.digest) == 32 for info in v.values())
    assert by_name(cells, "use")["total"].type == "int"
    payload = cells[0].to_json()
    assert payload["cellId"] == "load"
    frame = next(x for x in payload["variables"] if x["name"] == "frame")
    assert frame["shape"] == [3, 2] and frame["columns"][0] == {"name": "a", "type": "int64"}


def test_stale_cell_shows_its_last_run(
    make_notebook: NotebookFactory, open_session: Callable[[Path], Session]
) -> None:
    directory = make_notebook({"load": "items = [1, 2]\n", "use": "n = len(items)\n"})
    session = open_session(directory)
    assert session.run("all").success
    (directory / "cells" / "load.py").write_text("items = [1, 2, 3]\n")
    session.reload()
    cells = {c.cell_id: c for c in listing(session)}
    assert cells["load"].state == "stale" and not cells["load"].current
    assert by_name(list(cells.values()), "load")["items"].length == 2  # what it held
    assert cells["use"].state == "stale" and not cells["use"].current
    found = find_output(session.states(), session.entry, cell_id="load", name="items")
    assert found is not None and found[:2] == ("load", "items")


def test_never_run_cells_are_not_listed(
    make_notebook: NotebookFactory, open_session: Callable[[Path], Session]
) -> None:
    session = open_session(make_notebook({"load": "items = [1]\n"}))
    assert listing(session) == []


def test_damaged_blob_is_a_note_not_a_failure(
    make_notebook: NotebookFactory, open_session: Callable[[Path], Session]
) -> None:
    session = open_session(
        make_notebook({"load": "import pyarrow as pa\nt = pa.table({'a': [1]})\n"})
    )
    assert session.run("all").success
    info = by_name(listing(session), "load")["t"]
    path = session.blobs.path(info.digest)
    path.write_bytes(b"x" * path.stat().st_size)  # same size: the index still serves it
    damaged = by_name(listing(session), "load")["t"]
    assert damaged.note is not None and damaged.note.startswith("cannot read the stored value")
    assert not damaged.table


def test_pickle_types_from_the_stream_head() -> None:
    import pickle

    assert pickle_top_type(pickle.dumps({1: 2}, protocol=5)) == "dict"
    assert pickle_top_type(pickle.dumps([(1,)], protocol=5)) == "list"
    assert pickle_top_type(pickle.dumps({1}, protocol=5)) == "set"
    assert pickle_top_type(pickle.dumps(2**70, protocol=5)) == "int"
    assert pickle_top_type(b"not a pickle") is None


# Run in a child whose data segment may grow by only 96 MiB: describing a 320 MB table over a
# memory mapping fits, reading it (the control) does not, so a describe that read the data
# would fail here.
_CAPPED = """
import re, resource, sys
from pathlib import Path
import pyarrow as pa
from strata_engine.run.variables import describe
from strata_engine.store import BlobStore
from strata_engine.store.codecs import ARROW, StoredValue
root, digest, size, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
status = Path("/proc/self/status").read_text()
data = int(re.search(r"VmData:\\s+(\\d+) kB", status).group(1)) * 1024
cap = data + 96 * 2**20
resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
blobs = BlobStore(Path(root))
if mode == "describe":
    info = describe(blobs, "big", StoredValue(digest, ARROW, size))
    print(info.shape, info.note)
else:
    try:
        pa.ipc.open_file(pa.OSFile(str(blobs.path(digest)))).read_all()
        print("read")
    except MemoryError:
        print("MemoryError")
"""


def test_describing_a_huge_table_reads_no_data(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    temp = blobs.new_temp_path()
    batch = pa.record_batch([pa.array(np.arange(4_000_000))], names=["n"])
    with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        for _ in range(10):  # 320 MB on disk from one 32 MB batch in memory
            writer.write(batch)
    size = temp.stat().st_size
    digest = blobs.put_file(temp)

    def child(mode: str) -> str:
        args = [sys.executable, "-c", _CAPPED, str(blobs.root), digest, str(size), mode]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert child("describe") == "(40000000, 1) None"
    assert child("read") == "MemoryError"  # the cap is real: reading the table breaks it
