"""Python completion, hover, signatures and definitions in cells (jedi over each cell's
upstream context). Static inference only: nothing a cell says ever runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sql_nb import write_sql_notebook

from strata_engine.analysis.snapshot import Snapshot, take_snapshot
from strata_engine.editor.python_features import PythonFeatures
from strata_engine.model.notebook import load_notebook

CELLS = {
    "load": (
        "python",
        "# @name Load\n"
        "import json\n"
        "\n"
        "def scale(values: list[float], factor: float = 2.0) -> list[float]:\n"
        '    """Multiply every value by factor."""\n'
        "    return [v * factor for v in values]\n"
        "\n"
        "rows = [1.0, 2.0]\n"
        "label = 'orders'\n",
    ),
    "effect": ("python", "open('SIDE_EFFECT', 'w').write('ran')\nwritten = True\n"),
    "counts": ("sql", "# @name by_day\n# @sql connection=wh\nSELECT 1\n"),
    "use": ("python", "total = scale(rows)\n"),
    "later": ("python", "late_name = 1\n"),
}
HEADER = '[connections.wh]\ndriver = "sqlite"\npath = "wh.db"\n'


def _snapshot(tmp_path: Path) -> Snapshot:
    directory = write_sql_notebook(tmp_path / "nb", CELLS, header=HEADER)
    return take_snapshot(load_notebook(directory))


def test_upstream_names_complete_with_their_types_and_cells(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    items = {i.label: i for i in features.complete(snapshot, "use", 2, 2, "total = 1\nro")}
    assert "rows" in items
    rows = items["rows"]
    assert rows.detail == "List[float] · cell load"  # jedi spells generics this way
    assert (rows.replace.line, rows.replace.col, rows.replace.end_col) == (2, 0, 2)

    names = {i.label: i for i in features.complete(snapshot, "use", 1, 2, "sc\n")}
    assert names["scale"].kind == "function"
    assert "scale(values: list[float], factor: float=2.0)" in (names["scale"].detail or "")

    # A SQL cell's output is a DataFrame; a module attribute completes from the library.
    by_day = features.complete(snapshot, "use", 1, 6, "by_day\n")
    assert [i.detail for i in by_day if i.label == "by_day"] == ["DataFrame · cell counts"]
    dumps = features.complete(snapshot, "use", 1, 7, "json.du\n")
    assert [i.label for i in dumps] == ["dump", "dumps"]


def test_a_later_cell_does_not_leak_upward(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    labels = {i.label for i in features.complete(snapshot, "use", 1, 4, "late\n")}
    assert "late_name" not in labels
    assert not any(i.label == "total" for i in features.complete(snapshot, "load", 1, 2, "to\n"))


def test_go_to_definition_opens_the_producing_cell_at_its_line(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    (place,) = features.definitions(snapshot, "use", 1, 9)  # on `scale`
    assert (place.cell_id, place.line, place.col, place.end_col) == ("load", 4, 4, 9)
    (rows,) = features.definitions(snapshot, "use", 1, 16)  # on `rows`
    assert (rows.cell_id, rows.line, rows.col) == ("load", 8, 0)
    # A name of the cell itself stays in the cell; a library name goes to its file.
    (own,) = features.definitions(snapshot, "use", 2, 0, "total = scale(rows)\ntotal\n")
    assert (own.cell_id, own.line) == ("use", 1)
    (library,) = features.definitions(snapshot, "use", 1, 6, "json.dumps\n")
    assert library.cell_id is None and library.path is not None
    assert library.path.name in ("__init__.py", "__init__.pyi")
    assert library.path.parent.name == "json"


def test_hover_shows_signature_and_docstring(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    library = features.hover(snapshot, "use", 1, 7, "json.dumps({})\n")
    assert library is not None
    assert "dumps(obj: Any" in library.markdown
    assert "Serialize ``obj`` to a JSON formatted ``str``" in library.markdown
    assert library.span is not None and (library.span.col, library.span.end_col) == (5, 10)

    upstream = features.hover(snapshot, "use", 1, 9)
    assert upstream is not None
    assert "scale(values: list[float], factor: float=2.0) -> list[float]" in upstream.markdown
    assert "Multiply every value by factor." in upstream.markdown
    value = features.hover(snapshot, "use", 1, 2)
    assert value is not None and "total: List[float]" in value.markdown


def test_signatures_with_the_active_parameter(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    (first,) = features.signatures(snapshot, "use", 1, 6, "scale(\n")
    assert first.label.startswith("scale(values: list[float], factor: float=2.0)")
    assert [p.label for p in first.parameters] == ["values: list[float]", "factor: float=2.0"]
    assert first.active_parameter == 0
    assert first.documentation == "Multiply every value by factor."
    (second,) = features.signatures(snapshot, "use", 1, 12, "scale(rows, \n")
    assert second.active_parameter == 1
    assert features.signatures(snapshot, "use", 1, 5, "total\n") == []


def test_nothing_is_executed(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    features.complete(snapshot, "use", 1, 3, "wri\n")
    features.hover(snapshot, "use", 1, 2, "written\n")
    features.definitions(snapshot, "use", 1, 2, "written\n")
    features.signatures(snapshot, "use", 1, 5, "open(\n")
    directory = snapshot.notebook.directory
    assert not (directory / "SIDE_EFFECT").exists()
    assert not list(directory.rglob("SIDE_EFFECT"))


def test_an_edited_upstream_cell_is_seen_and_a_broken_one_is_skipped(tmp_path: Path) -> None:
    features = PythonFeatures()
    directory = write_sql_notebook(tmp_path / "nb", CELLS, header=HEADER)
    notebook = load_notebook(directory)
    first = take_snapshot(notebook)
    assert any(i.label == "rows" for i in features.complete(first, "use", 1, 2, "ro\n"))
    edited = take_snapshot(notebook, {"load": "renamed = [1]\n"})
    labels = {i.label for i in features.complete(edited, "use", 1, 2, "re\n")}
    assert "renamed" in labels
    assert "rows" not in {i.label for i in features.complete(edited, "use", 1, 2, "ro\n")}
    # An unclosed string upstream must not swallow the cells after it.
    broken = take_snapshot(notebook, {"load": "oops = '''\n", "effect": "kept = 1\n"})
    assert "kept" in {i.label for i in features.complete(broken, "use", 1, 2, "ke\n")}


def test_non_python_cells_and_positions_outside_the_text_get_nothing(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    features = PythonFeatures()
    assert features.complete(snapshot, "use", 5, 0, "x\n") == []
    assert features.definitions(snapshot, "use", 1, 99, "x\n") == []
    assert features.complete(snapshot, "counts", 3, 3) == []
    assert features.hover(snapshot, "counts", 3, 3) is None


def test_private_names_stay_upstream_and_cell_builtins_complete(tmp_path: Path) -> None:
    cells = {"load": ("python", "_scratch = 1\nshown = 2\n"), "use": ("python", "x = 1\n")}
    directory = write_sql_notebook(tmp_path / "nb", cells)
    snapshot = take_snapshot(load_notebook(directory))
    features = PythonFeatures()
    labels = {i.label for i in features.complete(snapshot, "use", 1, 2, "_s\n")}
    assert "_scratch" not in labels  # not published, so not readable downstream
    assert "shown" in {i.label for i in features.complete(snapshot, "use", 1, 2, "sh\n")}
    assert "display" in {i.label for i in features.complete(snapshot, "use", 1, 5, "displ\n")}


def test_a_notebook_venv_is_where_packages_come_from(tmp_path: Path) -> None:
    """A package installed only in the notebook's .venv completes there, and not in a
    notebook that runs in the engine's interpreter."""
    cells = {"use": ("python", "import onlyhere\n")}
    with_venv = write_sql_notebook(tmp_path / "venv_nb", cells)
    (with_venv / "pyproject.toml").write_text(
        '[project]\nname = "venv-nb"\nversion = "0"\nrequires-python = ">=3.11"\n'
        "dependencies = []\n"
    )
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(with_venv / ".venv")], check=True
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    package = with_venv / ".venv" / "lib" / version / "site-packages" / "onlyhere"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('def greet() -> str:\n    """Say hello."""\n')
    plain = write_sql_notebook(tmp_path / "plain_nb", cells)

    features = PythonFeatures()
    text = "import onlyhere\nonlyhere.gr\n"
    venv_snapshot = take_snapshot(load_notebook(with_venv))
    assert [i.label for i in features.complete(venv_snapshot, "use", 2, 11, text)] == ["greet"]
    plain_snapshot = take_snapshot(load_notebook(plain))
    assert features.complete(plain_snapshot, "use", 2, 11, text) == []


def test_module_members_are_listed_once_per_module_version(tmp_path: Path) -> None:
    cells = {"use": ("python", "import helpers\nimport json\n")}
    directory = write_sql_notebook(tmp_path / "nb", cells)
    (directory / "helpers.py").write_text("def one() -> int:\n    return 1\n")
    snapshot = take_snapshot(load_notebook(directory))
    features = PythonFeatures()
    text = "import helpers\nimport json\n{}\n"
    first = features.complete(snapshot, "use", 3, 7, text.format("json.du"))
    again = features.complete(snapshot, "use", 3, 8, text.format("json.DUm"))
    assert [i.label for i in first] == ["dump", "dumps"]
    assert [i.label for i in again] == ["dump", "dumps"]  # case-insensitive, like jedi
    assert (again[0].replace.col, again[0].replace.end_col) == (5, 8)
    assert {i.label for i in features.complete(snapshot, "use", 3, 8, text.format("helpers."))} >= {
        "one"
    }
    (directory / "helpers.py").write_text("def two_two() -> int:\n    return 2\n")
    labels = {i.label for i in features.complete(snapshot, "use", 3, 8, text.format("helpers."))}
    assert "two_two" in labels and "one" not in labels  # the file changed: listed again
