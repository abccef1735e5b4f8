"""samples/isolated_env validates and runs (a copy, so the sample's directory stays clean):
its own pyproject.toml and uv.lock give it a .venv with tabulate, which the engine's
environment lacks; the cells run in that venv and the re-run, with --no-sync, is all hits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "isolated_env"


def strata(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "strata_engine.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def run(nb: Path, *extra: str) -> dict[str, Any]:
    proc = strata("run", str(nb), "--format", "json", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {c["id"]: c for c in json.loads(proc.stdout)["cells"]}


def test_sample_validates_without_warnings() -> None:
    proc = strata("validate", str(SAMPLE), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    # Its venv may not exist yet: then imports are not judged (nothing to judge them by).
    assert [d for c in report["cells"] for d in c["diagnostics"]] == []


def test_sample_runs_in_its_own_venv_and_reruns_from_the_cache(tmp_path: Path) -> None:
    nb = tmp_path / "isolated_env"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata", ".venv"))
    lock = (nb / "uv.lock").read_text()
    cells = run(nb)
    lines = cells["report"]["stdout"].splitlines()
    assert lines[0].startswith("| planet") and "| Earth" in cells["report"]["stdout"]
    assert lines[-1] == "ran in .venv"
    assert (nb / ".venv" / "bin" / "python").exists()
    assert (nb / "uv.lock").read_text() == lock  # synced from the committed lock, unchanged
    again = run(nb, "--no-sync")
    assert all(c["cache_hit"] for c in again.values())
    assert again["report"]["stdout"] == cells["report"]["stdout"]


def test_main_sh_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(SAMPLE / "main.sh")], check=True)
