"""`strata export DIR --to html|md` (SPEC 12): sources and the cached outputs of the current
text, tables and images included; a cell without them says "not run"; nothing executes and
the store is only read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import NotebookFactory

from strata_engine.jupyter.render_markdown import html_table_to_markdown

CELLS = {
    "intro.md": "# Report\n\nSome *emphasis* and a list:\n\n- one\n- two\n",
    "load": (
        "import pandas as pd\n"
        "frame = pd.DataFrame({'city': ['Oslo', 'Lima'], 'sales': [3, 5]})\n"
        "print('loaded', len(frame))\n"
        "frame\n"
    ),
    "plot": (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.bar(frame['city'], frame['sales'])\n"
        "display(fig)\n"
    ),
}


def strata(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_html_export_after_a_run_holds_the_outputs(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(CELLS, name="report")
    assert strata("run", nb).returncode == 0
    proc = strata("export", nb, "--to", "html")
    assert proc.returncode == 0, proc.stderr
    page = (nb.parent / "report.html").read_text()
    assert f"exported 3 cells to {nb.parent / 'report.html'}" in proc.stdout
    assert "<h1>Report</h1>" in page and "<em>emphasis</em>" in page  # markdown rendered
    assert "frame = pd.DataFrame(" in page  # the source, escaped
    assert "loaded 2" in page  # stdout
    assert "<table" in page and "Oslo" in page  # the DataFrame's table
    assert 'src="data:image/png;base64,' in page  # the figure, inline
    assert "not run" not in page


def test_markdown_export_writes_tables_and_image_files(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(CELLS, name="report")
    assert strata("run", nb).returncode == 0
    target = nb.parent / "out" / "report.md"
    target.parent.mkdir()
    proc = strata("export", nb, "--to", "md", "-o", target)
    assert proc.returncode == 0, proc.stderr
    text = target.read_text()
    assert text.startswith("# test\n\n# Report\n")
    assert "```python\nimport pandas as pd\n" in text
    assert "|  | city | sales |\n| --- | --- | --- |" in text
    assert "| 0 | Oslo | 3 |" in text
    images = sorted((target.parent / "report_files").iterdir())
    assert [p.name for p in images] == ["plot-1.png"]
    assert images[0].read_bytes().startswith(b"\x89PNG")
    assert "](report_files/plot-1.png)" in text


def test_export_of_a_never_run_notebook_says_not_run_and_runs_nothing(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "side-effect.txt"
    nb = make_notebook(
        {"effect": f"open({str(marker)!r}, 'w').write('ran')\nvalue = 1\n", "after": "value\n"},
        name="fresh",
    )
    for to in ("html", "md"):
        proc = strata("export", nb, "--to", to)
        assert proc.returncode == 0, proc.stderr
        text = (nb.parent / f"fresh.{to}").read_text()
        assert "not run" in text
        assert "open(" in text and "value = 1" in text  # the sources
    assert not marker.exists()  # nothing executed
    assert not (nb / ".strata").exists()  # the store was only read: nothing created


def test_export_marks_stale_cells_and_keeps_the_store_untouched(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook({"a": "x = 1\nprint('one')\n", "b": "print(x + 1)\n"}, name="nb")
    assert strata("run", nb).returncode == 0
    (nb / "cells" / "a.py").write_text("x = 2\nprint('two')\n")
    index = nb / ".strata" / "artifacts" / "index.sqlite"
    before = index.stat().st_mtime_ns
    proc = strata("export", nb, "--to", "md", "-o", nb.parent / "nb.md")
    assert proc.returncode == 0, proc.stderr
    text = (nb.parent / "nb.md").read_text()
    assert "stale" in text and "one" not in text  # no outputs of an older source
    assert index.stat().st_mtime_ns == before


def test_export_refuses_a_directory_that_is_not_a_notebook(tmp_path: Path) -> None:
    proc = strata("export", tmp_path, "--to", "html")
    assert proc.returncode == 2
    assert "notebook.toml" in proc.stderr


def test_html_table_to_markdown() -> None:
    markup = (
        '<table class="dataframe"><thead><tr><th></th><th>a|b</th></tr></thead>'
        "<tbody><tr><th>0</th><td>1</td></tr><tr><th>1</th><td>x &amp; y</td></tr></tbody>"
        "</table>\n<p>first 2 rows of 9 rows × 1 columns</p>"
    )
    assert html_table_to_markdown(markup) == (
        "|  | a\\|b |\n| --- | --- |\n| 0 | 1 |\n| 1 | x & y |\n\n"
        "first 2 rows of 9 rows × 1 columns"
    )
    assert html_table_to_markdown("<p>no table</p>") is None
