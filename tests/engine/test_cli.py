"""The `strata` command line as CI uses it: real processes, JSON shapes, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import NotebookFactory, write_notebook

ROOT = Path(__file__).resolve().parents[2]


def strata(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def run_json(nb: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = strata("run", nb, "--format", "json", *extra)
    return proc.returncode, json.loads(proc.stdout)


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {cell["id"]: cell for cell in report["cells"]}


def test_run_json_shape_and_exit_codes(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\nprint('hi')\n", "b": "y = x + 1\n"})
    code, report = run_json(nb)
    assert code == 0
    assert set(report) == {"notebook", "success", "duration_ms", "cells"}
    assert report["success"] is True
    cells = by_id(report)
    assert list(cells) == ["a", "b"]
    assert cells["a"]["stdout"] == "hi\n"
    assert cells["a"]["cache_hit"] is False
    assert set(cells["b"]) == {"id", "status", "duration_ms", "cache_hit"}
    code, again = run_json(nb)
    assert code == 0
    assert [c["cache_hit"] for c in again["cells"]] == [True, True]


def test_failure_skips_downstream_and_runs_independent_cells(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook(
        {
            "bad": "x = 1 / 0\n",
            "down": "y = x + 1\n",
            "free": "z = 3\nprint(z)\n",
        }
    )
    code, report = run_json(nb)
    assert code == 1
    cells = by_id(report)
    assert cells["bad"]["status"] == "error"
    assert cells["bad"]["error"] == "ZeroDivisionError: division by zero"
    assert "cells/bad.py" in cells["bad"]["traceback"]
    assert cells["down"] == {
        "id": "down",
        "status": "skipped",
        "duration_ms": 0.0,
        "cache_hit": False,
        "reason": "upstream failed",
    }
    assert cells["free"]["status"] == "ok" and cells["free"]["stdout"] == "3\n"


def test_human_format_one_line_per_cell(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"doc.md": "# hi\n", "a": "# @name Load\nx = 1\n", "b": "y = x\n"})
    first = strata("run", nb)
    assert first.returncode == 0
    lines = first.stdout.splitlines()
    assert lines[0].split()[:2] == ["ok", "doc"]
    assert lines[1].split()[:2] == ["ok", "Load"]
    assert lines[2].split()[:2] == ["ok", "b"]
    assert lines[3].startswith("3 cells:")
    second = strata("run", nb)
    assert [line.split()[0] for line in second.stdout.splitlines()[:3]] == [
        "ok",
        "cached",
        "cached",
    ]
    quiet = strata("run", nb, "--quiet")
    assert quiet.stdout.splitlines() == [quiet.stdout.splitlines()[-1]]


def test_force_reruns_everything(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    run_json(nb)
    _, report = run_json(nb, "--force")
    assert report["cells"][0]["cache_hit"] is False


def test_malformed_manifest_exits_2_and_is_untouched(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    bad = (nb / "notebook.toml").read_text().replace('name = "test"', "name = ")
    (nb / "notebook.toml").write_text(bad)
    for command in ("run", "validate", "status", "dag"):
        proc = strata(command, nb)
        assert proc.returncode == 2, command
        assert "notebook.toml:2:8" in proc.stderr
    assert (nb / "notebook.toml").read_text() == bad


def test_bad_path_exits_2(tmp_path: Path) -> None:
    proc = strata("run", tmp_path / "nope")
    assert proc.returncode == 2
    assert "not a Strata notebook" in proc.stderr


def test_cycle_exits_2(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "# @after b\nx = 1\n", "b": "# @after a\ny = 2\n"})
    proc = strata("run", nb)
    assert proc.returncode == 2
    assert "cycle" in proc.stderr
    validate = strata("validate", nb, "--format", "json")
    assert validate.returncode == 1
    codes = [d["code"] for c in json.loads(validate.stdout)["cells"] for d in c["diagnostics"]]
    assert "dag_cycle" in codes


def test_syntax_error_errors_that_cell_only(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "broken": "y = (\n", "c": "z = x + 1\n"})
    code, report = run_json(nb)
    assert code == 1
    cells = by_id(report)
    assert cells["broken"]["status"] == "error"
    assert "line 1" in cells["broken"]["error"]
    assert cells["c"]["status"] == "ok"
    validate = json.loads(strata("validate", nb, "--format", "json").stdout)
    (diag,) = [d for c in validate["cells"] if c["id"] == "broken" for d in c["diagnostics"]]
    assert diag["code"] == "syntax_error" and diag["line"] == 1


def test_path_outside_cells_is_never_executed(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    marker = tmp_path / "executed.txt"
    (nb / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    manifest = (nb / "notebook.toml").read_text().replace('file = "a.py"', 'file = "../evil.py"')
    (nb / "notebook.toml").write_text(manifest)
    code, report = run_json(nb)
    assert code == 1
    assert "outside cells/" in report["cells"][0]["error"]
    assert not marker.exists()
    assert strata("validate", nb).returncode == 1


def test_missing_cell_file(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = 2\n"})
    (nb / "cells" / "a.py").unlink()
    code, report = run_json(nb)
    assert code == 1
    cells = by_id(report)
    assert "cells/a.py does not exist" in cells["a"]["error"]
    assert cells["b"]["status"] == "ok"


def test_duplicate_ids_exit_2(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n", "b": "y = 2\n"})
    manifest = (nb / "notebook.toml").read_text().replace('id = "b"', 'id = "a"')
    (nb / "notebook.toml").write_text(manifest)
    proc = strata("run", nb)
    assert proc.returncode == 2
    assert "more than once" in proc.stderr


def test_generator_output_names_variable_and_type(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "gen = (i for i in range(3))\n", "b": "items = list(gen)\n"})
    code, report = run_json(nb)
    assert code == 1
    error = by_id(report)["a"]["error"]
    assert "gen" in error and "generator" in error


def test_megabytes_of_stdout_are_bounded(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"loud": "for i in range(200_000):\n    print('x' * 50)\n"})
    code, report = run_json(nb)
    assert code == 0
    stdout = report["cells"][0]["stdout"]
    assert len(stdout) < 2_000_000
    assert "truncated" in stdout


def test_store_deleted_between_runs(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x\n"})
    run_json(nb)
    shutil.rmtree(nb / ".strata")
    code, report = run_json(nb)
    assert code == 0
    assert [c["cache_hit"] for c in report["cells"]] == [False, False]
    assert (nb / ".strata" / ".gitignore").read_text() == "*\n"


def test_status_and_dag_json(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x\n", "c": "# @after a\nz = 1\n"})
    status = json.loads(strata("status", nb).stdout)
    assert [(c["id"], c["state"]) for c in status["cells"]] == [
        ("a", "never_run"),
        ("b", "never_run"),
        ("c", "never_run"),
    ]
    dag = json.loads(strata("dag", nb).stdout)
    assert dag["order"] == ["a", "b", "c"]
    assert dag["edges"] == [
        {"from": "a", "to": "b", "variable": "x"},
        {"from": "a", "to": "c", "variable": None},
    ]


def test_new_creates_a_runnable_notebook(tmp_path: Path) -> None:
    proc = strata("new", "demo", cwd=tmp_path)
    assert proc.returncode == 0
    code, report = run_json(tmp_path / "demo")
    assert code == 0 and report["cells"][0]["status"] == "ok"


def test_samples_run(tmp_path: Path) -> None:
    for sample in ("quickstart", "expensive"):
        target = tmp_path / sample
        shutil.copytree(ROOT / "samples" / sample, target, ignore=shutil.ignore_patterns(".strata"))
        code, report = run_json(target)
        assert code == 0, report
        assert report["success"] is True


def test_cache_gc_max_size_evicts_and_runs_recompute(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(
        {"a": "import numpy as np\nx = np.zeros(100_000)\n", "b": "y = float(x.sum())\n"}
    )
    run_json(nb)
    keep = strata("cache", "gc", nb)
    assert keep.returncode == 0 and "removed 0 blobs" in keep.stdout
    _, hit = run_json(nb)
    assert [c["cache_hit"] for c in hit["cells"]] == [True, True]
    evict = strata("cache", "gc", nb, "--max-size", "0")
    assert evict.returncode == 0
    assert "removed 0 blobs" not in evict.stdout
    _, again = run_json(nb)
    assert [c["cache_hit"] for c in again["cells"]] == [False, False]
    bad = strata("cache", "gc", nb, "--max-size", "lots")
    assert bad.returncode == 2 and "--max-size" in bad.stderr


def test_warm_run_imports_nothing_heavy(make_notebook: NotebookFactory) -> None:
    """A fully cached run reads the manifest, hashes sources and asks the index: no pandas."""
    nb = make_notebook(
        {"a": "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\n", "b": "n = len(df)\n"}
    )
    run_json(nb)
    probe = (
        "import sys\nfrom strata_engine.cli import main\n"
        f"code = main(['run', {str(nb)!r}, '--quiet'])\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'numpy', 'matplotlib', 'cloudpickle') "
        "if m in sys.modules]\nprint(code, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "0 []"


def test_timeout_flag_applies_to_cells_without_their_own(make_notebook: NotebookFactory) -> None:
    slow = "import time\nfor _ in range(400):\n    time.sleep(0.05)\n"
    nb = make_notebook({"plain": slow, "own": "# @timeout 30\nx = 1\n"})
    code, report = run_json(nb, "--timeout", "0.5")
    assert code == 1
    cells = by_id(report)
    assert "timed out" in cells["plain"]["error"]
    assert cells["own"]["status"] == "ok"


def test_running_never_changes_tracked_files(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x\nprint(y)\n"})

    def tracked() -> dict[str, bytes]:
        return {
            str(p.relative_to(nb)): p.read_bytes()
            for p in sorted(nb.rglob("*"))
            if p.is_file() and ".strata" not in p.parts
        }

    before = tracked()
    run_json(nb)
    run_json(nb)
    strata("status", nb)
    strata("validate", nb)
    assert tracked() == before


def test_closed_output_pipe_does_not_stop_the_run(make_notebook: NotebookFactory) -> None:
    """`strata run nb | head -1` once head has exited: writing a line fails with EPIPE, yet
    every cell still runs and is cached."""
    nb = make_notebook({f"c{i}": f"x{i} = {i}\n" for i in range(6)})
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "strata_engine.cli", "run", str(nb)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    _, report = run_json(nb)
    assert [c["cache_hit"] for c in report["cells"]] == [True] * 6
