"""samples/model_variants: a sweep group of three regressors, a @per_variant scorer and a
plain comparison, run on a copy (the sample directory stays clean)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_cli import by_id, run_json, strata

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "model_variants"

RIDGE_LIKE = """# @variant model {name}
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

model = make_pipeline(PolynomialFeatures(3), Ridge(alpha=50.0)).fit(x_train[:, None], y_train)
"""


def test_sample_validates_without_warnings() -> None:
    proc = strata("validate", SAMPLE, "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["valid"], report
    assert all(cell["diagnostics"] == [] for cell in report["cells"]), report


def test_sample_runs_every_member_and_compares_them(tmp_path: Path) -> None:
    nb = tmp_path / "model_variants"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert [line.split()[0] for line in cells["score"]["stdout"].splitlines()[::2]] == [
        "[variant"
    ] * 3
    lines = cells["compare"]["stdout"].splitlines()
    assert lines[-1] == "best model: poly"

    code, report = run_json(nb)
    assert code == 0 and all(c["cache_hit"] for c in report["cells"] if c["id"] != "intro")

    # A fourth member: only it, score (for it alone) and compare execute.
    (nb / "cells" / "shrunk.py").write_text(RIDGE_LIKE.format(name="shrunk"))
    manifest = nb / "notebook.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[[cells]]\nid = "shrunk"\nfile = "shrunk.py"\nlanguage = "python"\norder = 5.5\n'
    )
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    ran = {cell_id for cell_id, c in cells.items() if not c["cache_hit"] and cell_id != "intro"}
    assert ran == {"shrunk", "score", "compare"}
    assert "shrunk: " in cells["compare"]["stdout"]
