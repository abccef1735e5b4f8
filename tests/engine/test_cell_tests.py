"""Cell tests: `cells/<id>.test.py` under `strata test` (a real pytest subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from strata_engine.run.session import Session
from strata_engine.testing.runner import find_test_files, run_cell_tests

REPO = Path(__file__).resolve().parents[2]
CELLS = {"base": "numbers = [3, 1, 2]\n", "ordered": "ordered = sorted(numbers)\n"}
TESTS = """\
def test_sorted(cell):
    assert cell.ordered == [1, 2, 3]


def test_fails(cell):
    values = cell["ordered"]
    assert values == [3, 2, 1]
"""


def _strata(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def _last_runs(directory: Path, notebook_id: str) -> dict[str, str]:
    with Session(directory) as session:
        return {c: r.finished_at for c, r in session.index.last_runs(notebook_id).items()}


def test_strata_test_on_quickstart_with_a_warm_cache_runs_no_cell(tmp_path: Path) -> None:
    directory = shutil.copytree(
        REPO / "samples" / "quickstart", tmp_path / "qs", ignore=shutil.ignore_patterns(".strata")
    )
    first = _strata("test", str(directory))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 passed" in first.stdout and "strata: ran 2 cell(s): load_data, clean" in first.stdout
    before = _last_runs(directory, "8f3c2a1e-quickstart")
    warm = _strata("test", "qs", cwd=tmp_path)  # a relative directory, as main.sh passes
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "3 passed" in warm.stdout and "strata: ran no cell" in warm.stdout
    assert _last_runs(directory, "8f3c2a1e-quickstart") == before  # no run record written
    assert not (directory / ".pytest_cache").exists()


def test_failures_exit_1_and_report_the_line_in_the_test_file(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook(CELLS)
    (directory / "cells" / "ordered.test.py").write_text(TESTS)
    done = _strata("test", str(directory))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    selected = _strata("test", str(directory), "-k", "sorted")
    assert selected.returncode == 0 and "1 passed, 1 deselected" in selected.stdout
    run = run_cell_tests(directory, find_test_files(directory))
    outcomes = {r["name"]: r for r in run.results}
    assert outcomes["test_sorted"]["outcome"] == "passed"
    failed = outcomes["test_fails"]
    assert failed["outcome"] == "failed" and failed["line"] == 5
    assert failed["failure_line"] == 7 and "assert values == [3, 2, 1]" in failed["message"]
    # pytest's assertion rewriting applies to cell test files: the values are shown.
    assert "assert [1, 2, 3] == [3, 2, 1]" in failed["message"]
    assert "assert [1, 2, 3] == [3, 2, 1]" in done.stdout
    only = run_cell_tests(directory, find_test_files(directory), names=["test_sorted"])
    assert [r["name"] for r in only.results] == ["test_sorted"] and only.exit_code == 0


def test_a_test_file_never_changes_a_key_and_is_not_a_cell(
    make_notebook: Callable[..., Path],
) -> None:
    directory = make_notebook(CELLS)
    with Session(directory) as session:
        keys = {c: s.key for c, s in session.states().items()}
    (directory / "cells" / "ordered.test.py").write_text(TESTS)
    (directory / "cells" / "base.test.py").write_text("numbers = 1\n")  # defines a name too
    with Session(directory) as session:
        assert list(session.snapshot().cells) == ["base", "ordered"]
        assert {c: s.key for c, s in session.states().items()} == keys
    assert _strata("validate", str(directory)).returncode == 0


def test_a_test_file_naming_no_cell_is_refused(make_notebook: Callable[..., Path]) -> None:
    directory = make_notebook(CELLS)
    (directory / "cells" / "orderd.test.py").write_text(TESTS)
    done = _strata("test", str(directory))
    assert done.returncode == 2
    assert "orderd.test.py: no cell 'orderd'" in done.stderr and "base, ordered" in done.stderr
    (directory / "cells" / "orderd.test.py").unlink()
    empty = _strata("test", str(directory))
    assert empty.returncode == 5 and "no cell tests" in empty.stderr


def test_in_process_entry_runs_the_same_pytest_invocation(
    make_notebook: Callable[..., Path],
) -> None:
    """`python -m strata_engine.testing` (what the editor debugs) selects and reports like the
    subprocess runner, and refuses a file that is not one of the notebook's cell tests."""
    directory = make_notebook(CELLS)
    test_file = directory / "cells" / "ordered.test.py"
    test_file.write_text(TESTS)
    report = directory.parent / "report.json"
    entry = [sys.executable, "-m", "strata_engine.testing", str(directory)]
    done = subprocess.run(
        [*entry, str(test_file), "--name", "test_fails", f"--report={report}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=directory,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    in_process = json.loads(report.read_text())
    expected = run_cell_tests(directory, [test_file], names=["test_fails"]).results
    fields = ("nodeid", "name", "file", "line", "outcome", "failure_line")
    assert [{f: r[f] for f in fields} for r in in_process] == [
        {f: r[f] for f in fields} for r in expected
    ]
    assert in_process[0]["failure_line"] == 7
    selected = subprocess.run(
        [*entry, "-k", "sorted"], capture_output=True, text=True, timeout=300, check=False
    )
    assert selected.returncode == 0 and "1 passed, 1 deselected" in selected.stdout
    stray = directory / "ordered.test.py"
    stray.write_text(TESTS)
    refused = subprocess.run([*entry, str(stray)], capture_output=True, text=True, check=False)
    assert refused.returncode == 4
    assert f"{stray} is not a cell test of {directory}" in refused.stderr
