"""The project's own modules a cell imports are part of its key: editing `lib/geometry.py`
(where `strata promote` puts a cell's functions) re-runs the cells importing it, and only
those; installed packages stay covered by the environment fingerprint."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.library import open_notebook
from strata_engine.run.session import Session


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stat = path.stat()  # a new mtime even within the clock's resolution
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_editing_an_imported_project_module_restales_only_its_importers(
    make_notebook: NotebookFactory, open_session: Callable[[Path], Session]
) -> None:
    nb = make_notebook(
        {
            "a": "from lib.geometry import area\nx = area(2)\n",
            "b": "from lib import units\ny = units.scale * 10\n",
            "c": "import json\nz = json.dumps([1])\n",
        }
    )
    _write(nb / "lib" / "__init__.py", "")
    _write(
        nb / "lib" / "geometry.py",
        "from .helpers import square\n\ndef area(r):\n    return square(r) * 3\n",
    )
    _write(nb / "lib" / "helpers.py", "def square(v):\n    return v * v\n")
    _write(nb / "lib" / "units.py", "scale = 2\n")
    session = open_session(nb)
    assert session.run("all").success
    assert {s.state for s in session.states().values()} == {"ready"}

    # A module the cell reaches only through a relative import of another one.
    _write(nb / "lib" / "helpers.py", "def square(v):\n    return v * v * 1.0 + 1\n")
    states = session.states()
    assert states["a"].state == "stale"
    assert [r.describe() for r in states["a"].reasons] == ["module lib.helpers changed"]
    assert states["b"].state == states["c"].state == "ready"
    report = session.run("stale")
    assert [c.id for c in report.cells if c.executed] == ["a"]
    with open_notebook(nb) as handle:
        assert handle["x"] == 15.0  # the edited helper's code, not the cached 12

    # `from lib import units` may load a submodule: it is followed too.
    _write(nb / "lib" / "units.py", "scale = 3\n")
    assert [i for i, s in session.states().items() if s.state == "stale"] == ["b"]


def test_a_cell_importing_only_installed_packages_has_no_module_items(
    make_notebook: NotebookFactory,
) -> None:
    from strata_engine.analysis.snapshot import take_snapshot
    from strata_engine.cache.project_modules import project_module_items
    from strata_engine.model.notebook import load_notebook

    nb = make_notebook({"a": "import json, os.path\nfrom collections import OrderedDict\n"})
    _write(nb / "collections_extra.py", "")  # a project module nobody imports
    snapshot = take_snapshot(load_notebook(nb))
    assert project_module_items(snapshot, snapshot.cells["a"]) == []
