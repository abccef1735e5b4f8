"""samples/sql_orders validates and runs (a copy, so the sample's directory stays clean):
SQLite and DuckDB read and write cells, a DataFrame queried by name, Python downstream."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sql_orders"
EXPECTED = "big spenders (>= 150): Edsger, Ada, Grace; archived revenue 617.40\n"


def strata(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "strata_engine.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def run(nb: Path) -> dict[str, Any]:
    proc = strata("run", str(nb), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {c["id"]: c for c in json.loads(proc.stdout)["cells"]}


def test_sample_validates() -> None:
    proc = strata("validate", str(SAMPLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sample_runs_and_reruns_from_the_cache(tmp_path: Path) -> None:
    nb = tmp_path / "sql_orders"
    ignore = shutil.ignore_patterns(".strata", "shop.db*", "lake.duckdb*")
    shutil.copytree(SAMPLE, nb, ignore=ignore)
    cells = run(nb)
    assert cells["report"]["stdout"] == EXPECTED
    seeded = [line for line in cells["seed_shop"].get("stdout", "").splitlines() if line]
    assert seeded == []  # a SQL cell prints nothing; its table is its output
    again = run(nb)
    assert again["report"]["stdout"] == EXPECTED
    assert all(again[c]["cache_hit"] for c in ("min_total", "segments", "report"))
    assert not again["seed_shop"]["cache_hit"]  # a write cell: one run per session


def test_main_sh_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SAMPLE / "main.sh")], check=True)
