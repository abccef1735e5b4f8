"""samples/r_bridge validates and runs (a copy, so the sample's directory stays clean): a
pandas frame summarized in R with a ggplot2 chart (an image/png display), the summary read
back in Python; the re-run is all cache hits. Needs R (scripts/setup-r.sh)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from strata_engine.run.session import Session
from strata_engine.store import load_value

pytest.importorskip("rpy2")

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "r_bridge"


def test_sample_validates() -> None:
    argv = [sys.executable, "-m", "strata_engine.cli", "validate", str(SAMPLE)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sample_runs_plots_and_reruns_from_the_cache(tmp_path: Path) -> None:
    nb = tmp_path / "r_bridge"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    with Session(nb) as session:
        report = session.run()
        runs = {c.id: c for c in report.cells}
        assert all(c.status == "ok" for c in runs.values()), [c.error for c in runs.values()]
        (plot,) = [d for d in runs["summarize"].displays if "image/png" in d]
        assert base64.b64decode(plot["image/png"]).startswith(b"\x89PNG")
        assert "summarized 200 sales in R" in runs["summarize"].stderr
        assert runs["report"].stdout.startswith("best region: east\n")
        entry = session.states()["summarize"].entry
        assert entry is not None
        by_region = load_value(session.blobs, entry.outputs["by_region"])
        assert isinstance(by_region, pd.DataFrame)
        assert list(by_region.columns) == ["region", "revenue"] and len(by_region) == 4
        assert isinstance(by_region["region"].dtype, pd.CategoricalDtype)
        again = session.run()
        assert all(c.cache_hit for c in again.cells)


def test_main_sh_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SAMPLE / "main.sh")], check=True)
