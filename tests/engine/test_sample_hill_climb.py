"""samples/hill_climb validates and runs (a copy, so the sample's directory stays clean): a
loop cell stopped by @loop_until, a second loop resuming from its stored iteration 4
(start_from), and a plain cell reading the final carry; the re-run iterates nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "hill_climb"
EXPECTED = "summit near (1.94, -0.88), height 10.011\nrefine stopped after iteration 35\n"


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
    nb = tmp_path / "hill_climb"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    cells = run(nb)
    assert cells["report"]["stdout"] == EXPECTED
    climbed = cells["climb"]["stdout"].splitlines()
    assert 5 < len(climbed) < 200  # @loop_until ended it before max_iter
    # refine started from climb's iteration 4 (the 5th): its counter went on from 5.
    assert climbed[4].startswith("iter 5:")
    again = run(nb)
    assert all(c["cache_hit"] for c in again.values())
    assert again["report"]["stdout"] == EXPECTED


def test_main_sh_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SAMPLE / "main.sh")], check=True)
