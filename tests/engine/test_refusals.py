"""What this version cannot honour is refused, never run as something else or cached (issue
[4]): cell kinds not available, workers on backends that cannot run a cell or not declared,
an annotation of another kind (`@mount` on a SQL cell). Each refusal is checked from the
outside: the cell's code would leave a marker file if it ran anywhere, and the store must
hold nothing for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import by_id, run_json, strata

from strata_engine.run.session import Session

MARKER_CODE = "open({marker!r}, 'w').write('ran')\nx = 1\n"


def notebook(root: Path, cells: list[dict[str, str]], header: str = "") -> Path:
    """cells: dicts with id, source and optional language/file/extra TOML lines."""
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "refusals"', header, ""]
    for order, cell in enumerate(cells, start=1):
        file = cell.get("file", f"{cell['id']}.py")
        (root / "cells" / file).write_text(cell["source"])
        language = cell.get("language", "python")
        lines += ["[[cells]]", f'id = "{cell["id"]}"', f'file = "{file}"']
        lines += [f'language = "{language}"', f"order = {order}", cell.get("extra", ""), ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def recorded_cells(nb: Path) -> set[str]:
    """Cells the store has a run record for (anything cached or attempted)."""
    with Session(nb) as session:
        return set(session.index.last_runs("refusals"))


def validate_codes(nb: Path) -> tuple[int, dict[str, list[str]]]:
    proc = strata("validate", nb, "--format", "json")
    report: dict[str, Any] = json.loads(proc.stdout)
    codes = {c["id"]: [d["code"] for d in c["diagnostics"]] for c in report["cells"]}
    return proc.returncode, codes


@pytest.mark.parametrize(("language", "refusal"), [("r", "R is not installed")])
def test_unavailable_kind_is_refused_and_the_rest_still_runs(
    tmp_path: Path, language: str, refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R cells are built; without R (an Rscript that does not exist) they are refused.
    monkeypatch.setenv("STRATA_RSCRIPT", str(tmp_path / "no-such-Rscript"))
    marker = tmp_path / "ran.txt"
    # Valid Python on purpose, in a .py file as the original Strata stores SQL cells: run
    # as Python it would leave the marker. The kind comes from `language`, never the suffix.
    nb = notebook(
        tmp_path / "nb",
        [
            {"id": "q", "language": language, "source": MARKER_CODE.format(marker=str(marker))},
            {"id": "free", "source": "y = 2\nprint(y)\n"},
            {"id": "down", "source": "z = result\n"},
        ],
    )
    code, codes = validate_codes(nb)
    assert code == 1
    assert codes["q"][0] == "kind_unavailable"
    assert "kind_unavailable" not in codes["free"]

    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert cells["q"]["status"] == "error"
    assert refusal in cells["q"]["error"]
    assert cells["free"]["status"] == "ok" and cells["free"]["stdout"] == "2\n"
    assert not marker.exists()
    assert "q" not in recorded_cells(nb)


def test_cell_on_an_unknown_backend_fails_naming_the_worker(tmp_path: Path) -> None:
    # Every backend SPEC 2 names is built; a backend Strata does not know is refused alike.
    marker = tmp_path / "ran.txt"
    header = (
        '[[workers]]\nname = "gpu"\nbackend = "gpux"\n'
        '[[workers]]\nname = "cluster"\nbackend = "gpux"\n'
    )
    source = "# @worker gpu\n" + MARKER_CODE.format(marker=str(marker))
    nb = notebook(
        tmp_path / "nb",
        [
            {"id": "remote", "source": source},
            {
                "id": "entry",
                "source": MARKER_CODE.format(marker=str(marker)),
                "extra": 'worker = "cluster"',
            },
            {"id": "here", "source": "y = 2\n"},
        ],
        header,
    )
    code, codes = validate_codes(nb)
    assert code == 1
    assert codes["remote"] == ["worker_unavailable"]
    assert codes["entry"] == ["worker_unavailable"]

    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert "worker 'gpu'" in cells["remote"]["error"]
    assert "backend 'gpux', which Strata does not know" in cells["remote"]["error"]
    assert "worker 'cluster'" in cells["entry"]["error"]
    assert cells["here"]["status"] == "ok"
    assert not marker.exists()
    assert recorded_cells(nb) == {"here"}
    status = json.loads(strata("status", nb).stdout)
    states = {c["id"]: c for c in status["cells"]}
    assert states["remote"]["state"] == "error"
    assert "which Strata does not know" in states["remote"]["message"]


def test_undeclared_worker_never_runs_locally_in_its_place(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    source = "# @worker nowhere\n" + MARKER_CODE.format(marker=str(marker))
    nb = notebook(tmp_path / "nb", [{"id": "a", "source": source}])
    assert validate_codes(nb)[1]["a"] == ["worker_unknown"]  # a warning (SPEC 11)
    code, report = run_json(nb)
    assert code == 1
    assert "worker 'nowhere' is not declared" in report["cells"][0]["error"]
    assert not marker.exists()
    assert recorded_cells(nb) == set()


def test_markdown_and_python_are_available_kinds(tmp_path: Path) -> None:
    nb = notebook(
        tmp_path / "nb",
        [
            {"id": "intro", "language": "markdown", "file": "intro.md", "source": "# Title\n"},
            {"id": "a", "source": "x = 1\n"},
        ],
    )
    assert validate_codes(nb) == (0, {"intro": [], "a": []})
    code, report = run_json(nb)
    assert code == 0
    assert [c["status"] for c in report["cells"]] == ["ok", "ok"]


def test_completion_and_hover_docs_say_what_is_not_available() -> None:
    from strata_engine.kinds import ANNOTATION_DOCS

    keys = ("name", "worker", "timeout", "env", "after", "nocache", "mount", "loop", "variant")
    for key in (*keys, "per_variant"):
        assert "Not available" not in ANNOTATION_DOCS[key], key


def test_an_annotation_of_another_kind_is_refused_not_ignored(tmp_path: Path) -> None:
    # `@cache` is a SQL cell's policy and `@mount` is bound only by the Python harness: on
    # cells whose harness would ignore them, a cached result would claim they were honoured.
    marker = tmp_path / "ran.txt"
    body = MARKER_CODE.format(marker=str(marker))
    data = tmp_path / "data"
    data.mkdir()
    nb = notebook(
        tmp_path / "nb",
        [
            {"id": "py", "source": "# @cache forever\n" + body},
            {
                "id": "q",
                "file": "q.sql",
                "language": "sql",
                "source": (f"# @sql connection=db\n# @mount data file://{data}\nSELECT 1 AS one\n"),
            },
            {"id": "fine", "source": f"# @mount data file://{data}\nz = 2\n"},
        ],
        header='[connections.db]\ndriver = "duckdb"\npath = ":memory:"',
    )
    code, codes = validate_codes(nb)
    assert code == 1
    assert codes["py"] == ["annotation_unavailable"]
    assert codes["q"] == ["annotation_unavailable"]
    assert "annotation_unavailable" not in codes["fine"]
    code, report = run_json(nb)
    assert code == 1
    assert by_id(report)["py"]["status"] == "error"
    assert "@cache does not apply to Python cells" in by_id(report)["py"]["error"]
    assert not marker.exists()
    assert recorded_cells(nb) <= {"fine"}


def test_the_quick_fix_removes_the_refused_line(tmp_path: Path) -> None:
    from strata_engine.analysis.snapshot import take_snapshot
    from strata_engine.editor.fixes import quick_fixes
    from strata_engine.model.notebook import load_notebook

    nb = notebook(tmp_path / "nb", [{"id": "py", "source": "# @cache forever\nx = 1\n"}])
    snapshot = take_snapshot(load_notebook(nb))
    (diag,) = [d for d in snapshot.cells["py"].diagnostics if d.code == "annotation_unavailable"]
    (fix,) = quick_fixes(snapshot, diag)
    assert fix.title == "Remove this @cache line"
    ((span, text),) = [(e.span, e.new_text) for e in fix.edits]
    assert (span.line, span.col, span.end_line, span.end_col, text) == (1, 0, 2, 0, "")
