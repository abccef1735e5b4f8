"""`strata import` (SPEC 12) on real .ipynb files written with nbformat: one cell per Jupyter
cell, magics as marker comments reported as magic_unsupported, attachments and outputs
dropped with a note, redefinitions wired to the nearest preceding producer, and the result
runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.analysis.validation import validate_notebook
from strata_engine.jupyter.importer import ImportRefused, import_notebook
from strata_engine.jupyter.magics import convert_code
from strata_engine.model.notebook import load_notebook

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)


def strata(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def write_ipynb(path: Path, cells: list[Any]) -> Path:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return path


def analysis_notebook(tmp_path: Path) -> Path:
    """What people actually bring: redefinitions, magics, an attached image, outputs, an
    empty cell and a raw cell."""
    intro = new_markdown_cell("# Sales\n\n![chart](attachment:chart.png)\n")
    intro["attachments"] = {"chart.png": {"image/png": PNG}}
    load = new_code_cell(
        "%matplotlib inline\nimport pandas as pd\n\n"
        "def load():\n    return pd.DataFrame({'x': [1.0, None, 3.0, 4.0]})\n\ndf = load()\ndf",
        outputs=[new_output("execute_result", data={"text/plain": "   x\n0  1.0"})],
        execution_count=1,
    )
    clean = new_code_cell("!pip install --quiet nothing\n%time df = df.dropna()")
    summary = new_code_cell("total = df['x'].sum()\nprint(f'rows={len(df)} total={total}')")
    return write_ipynb(
        tmp_path / "sales.ipynb",
        [
            intro,
            load,
            new_code_cell(""),
            clean,
            new_raw_cell("\\section{Appendix}", metadata={"format": "text/latex"}),
            summary,
            new_code_cell("%%bash\necho from bash\n"),
        ],
    )


def test_import_writes_one_cell_per_jupyter_cell(tmp_path: Path) -> None:
    report = import_notebook(analysis_notebook(tmp_path))
    directory = tmp_path / "sales"
    assert report.directory == directory
    manifest = tomllib.loads((directory / "notebook.toml").read_text())
    assert manifest["name"] == "sales"
    assert [(c["id"], c["language"], c["file"]) for c in manifest["cells"]] == [
        ("cell-01", "markdown", "cell-01.md"),
        ("cell-02", "python", "cell-02.py"),
        ("cell-03", "python", "cell-03.py"),
        ("cell-04", "python", "cell-04.py"),
        ("cell-05", "markdown", "cell-05.md"),
        ("cell-06", "python", "cell-06.py"),
        ("cell-07", "python", "cell-07.py"),
    ]
    cells = directory / "cells"
    assert (cells / "cell-03.py").read_text() == ""  # the empty cell stays a cell
    assert (
        (cells / "cell-02.py")
        .read_text()
        .startswith("# strata: magic_unsupported %matplotlib inline\nimport pandas as pd\n")
    )
    assert (cells / "cell-04.py").read_text() == (
        "# strata: magic_unsupported !pip install --quiet nothing\n"
        "# strata: magic_unsupported %time df = df.dropna()\n"
        "df = df.dropna()\n"
    )
    assert (cells / "cell-07.py").read_text() == (
        "# strata: magic_unsupported %%bash\n# echo from bash\n"
    )
    intro = (cells / "cell-01.md").read_text()
    assert intro.startswith("# Sales\n\n![chart](attachment:chart.png)")
    assert "`chart.png`" in intro and "not imported" in intro
    assert "\\section{Appendix}" in (cells / "cell-05.md").read_text()
    assert report.outputs_dropped == ["cell-02"]
    assert report.attachments_dropped == [("cell-01", "chart.png")]
    assert [(m.cell_id, m.line, m.magic) for m in report.magics] == [
        ("cell-02", 1, "%matplotlib inline"),
        ("cell-04", 1, "!pip install --quiet nothing"),
        ("cell-04", 2, "%time df = df.dropna()"),
        ("cell-07", 1, "%%bash"),
    ]
    assert not list(tmp_path.glob(".sales.import-*"))  # the staging directory is gone


def test_magics_are_magic_unsupported_warnings_in_validate(tmp_path: Path) -> None:
    import_notebook(analysis_notebook(tmp_path))
    result = validate_notebook(tmp_path / "sales")
    assert result.valid  # warnings only
    found = sorted(
        (d.cell_id, d.line, d.severity) for d in result.diagnostics if d.code == "magic_unsupported"
    )
    assert found == [
        ("cell-02", 1, "warning"),
        ("cell-04", 1, "warning"),
        ("cell-04", 2, "warning"),
        ("cell-07", 1, "warning"),
    ]
    pip = next(d for d in result.diagnostics if d.cell_id == "cell-04" and d.line == 1)
    assert "!pip install --quiet nothing" in pip.message and "subprocess.run" in pip.message
    proc = strata("validate", tmp_path / "sales", "--format", "json")
    assert proc.returncode == 0
    codes = {d["code"] for cell in json.loads(proc.stdout)["cells"] for d in cell["diagnostics"]}
    assert codes == {"magic_unsupported"}


def test_redefinitions_read_the_nearest_preceding_producer(tmp_path: Path) -> None:
    import_notebook(analysis_notebook(tmp_path))
    graph = take_snapshot(load_notebook(tmp_path / "sales")).graph
    # cell-04 reads df from cell-02 and redefines it; cell-06 reads cell-04's.
    assert graph.producers["cell-04"] == {"df": "cell-02"}
    assert graph.producers["cell-06"] == {"df": "cell-04"}
    assert graph.consumers["cell-02"].get("df") == ["cell-04"]
    assert (
        graph.order.index("cell-02") < graph.order.index("cell-04") < graph.order.index("cell-06")
    )


def test_imported_notebook_runs(tmp_path: Path) -> None:
    import_notebook(analysis_notebook(tmp_path))
    proc = strata("run", tmp_path / "sales", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    cells = {c["id"]: c for c in json.loads(proc.stdout)["cells"]}
    assert all(c["status"] == "ok" for c in cells.values())
    assert cells["cell-06"]["stdout"] == "rows=3 total=8.0\n"  # dropna ran before the sum
    again = json.loads(strata("run", tmp_path / "sales", "--format", "json").stdout)
    code_cells = [c for c in again["cells"] if c["id"] not in ("cell-01", "cell-05")]
    assert all(c["cache_hit"] for c in code_cells)


def test_cli_reports_what_was_dropped_and_refuses_a_used_directory(tmp_path: Path) -> None:
    source = analysis_notebook(tmp_path)
    target = tmp_path / "out"
    proc = strata("import", source, "-o", target)
    assert proc.returncode == 0, proc.stderr
    assert f"imported 7 cells from {source} into {target}" in proc.stdout
    assert "cell-04:1: magic_unsupported: !pip install --quiet nothing" in proc.stderr
    assert "outputs of 1 cell(s) dropped" in proc.stderr
    assert "attachment 'chart.png' dropped" in proc.stderr
    before = (target / "notebook.toml").read_text()
    again = strata("import", source, "-o", target)
    assert again.returncode == 2
    assert f"{target} already exists and is not empty" in again.stderr
    assert (target / "notebook.toml").read_text() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert strata("import", source, "-o", empty).returncode == 0  # an empty one is fine
    assert (empty / "notebook.toml").is_file()


def test_import_json_report(tmp_path: Path) -> None:
    proc = strata("import", analysis_notebook(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["directory"] == str(tmp_path / "sales")
    assert report["cells"] == 7
    assert report["attachmentsDropped"] == [{"cell": "cell-01", "name": "chart.png"}]
    assert len(report["magics"]) == 4


def test_not_a_notebook_is_refused_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ not json")
    proc = strata("import", bad)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "not a Jupyter notebook" in proc.stderr
    assert not (tmp_path / "broken").exists()
    missing = strata("import", tmp_path / "nope.ipynb")
    assert missing.returncode == 2 and "nope.ipynb" in missing.stderr
    try:
        import_notebook(bad)
    except ImportRefused as exc:
        assert "broken.ipynb" in str(exc)
    else:
        raise AssertionError("expected ImportRefused")


def test_convert_code_keeps_python_and_finds_only_statement_magics() -> None:
    plain = "x = (1\n     % 2)\ns = '''\n%not a magic\n'''\n"
    assert convert_code(plain).text == plain  # parses: untouched
    mixed = "y = (3\n  % 2)\n!ls\ntext = '''\n!still text\n'''\nhelp?\n"
    converted = convert_code(mixed)
    assert converted.text == (
        "y = (3\n  % 2)\n# strata: magic_unsupported !ls\ntext = '''\n!still text\n'''\n"
        "# strata: magic_unsupported help?\n"
    )
    assert converted.magics == [(3, "!ls"), (7, "help?")]
    indented = convert_code("for f in files:\n    !rm $f\n")
    assert indented.text == "for f in files:\n    pass  # strata: magic_unsupported !rm $f\n"
    timed = convert_code("%%time\nresult = 2 ** 10\n")
    assert timed.text == "# strata: magic_unsupported %%time\nresult = 2 ** 10\n"
    assigned = convert_code("out = !ls -1\nn = len(out)\n")
    assert assigned.text.startswith("# strata: magic_unsupported out = !ls -1\n")
