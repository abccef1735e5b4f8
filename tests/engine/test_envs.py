"""Per-notebook environments (SPEC 7), end to end with the real uv from PyPI's `uv` package
(downloads go through uv's cache, ~/.cache/uv, shared between tests): a notebook with
pyproject.toml runs in its own .venv, a changed dependency list makes every cell stale and
the next run re-syncs, a fully cached run never invokes uv, `--no-sync` and broken
dependencies are invocation errors, imports the environment cannot resolve are reported
without running anything, and adding a package creates pyproject.toml and syncs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from strata_engine import envs
from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.editor.fixes import quick_fixes
from strata_engine.envs.sync import UV_ENV
from strata_engine.model.notebook import load_notebook

PROBE = (
    "import importlib.util\n"
    "import sys\n"
    "import tabulate\n"
    "exe = sys.executable\n"
    "table = tabulate.tabulate([[1, 2]], headers=['a', 'b'])\n"
    "has_humanize = importlib.util.find_spec('humanize') is not None\n"
    "print(exe)\n"
)


def pyproject(nb: Path, *deps: str) -> None:
    listed = ", ".join(json.dumps(d) for d in deps)
    (nb / "pyproject.toml").write_text(
        f'[project]\nname = "nb"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = [{listed}]\n"
    )


def strata(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "strata_engine.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env)


def run(nb: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = strata("run", str(nb), "--format", "json", *extra, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {c["id"]: c for c in json.loads(proc.stdout)["cells"]}


def status(nb: Path) -> dict[str, Any]:
    proc = strata("status", str(nb))
    assert proc.returncode == 0, proc.stderr
    return {c["id"]: c for c in json.loads(proc.stdout)["cells"]}


def recording_uv(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose uv is a shim that records every call (and fails)."""
    calls = tmp_path / "uv-calls"
    shim = tmp_path / "uv-shim"
    shim.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    shim.chmod(0o755)
    return {**os.environ, UV_ENV: str(shim)}, calls


def test_a_notebook_with_pyproject_runs_in_its_own_venv_and_follows_its_dependencies(
    tmp_path: Path,
) -> None:
    nb = write_notebook(tmp_path / "nb", {"probe": PROBE, "shown": "n = len(table)\n"})
    pyproject(nb, "tabulate")
    assert strata("env", str(nb)).returncode == 0
    assert json.loads(strata("env", str(nb)).stdout)["state"] == "missing"

    cells = run(nb)
    assert cells["probe"]["stdout"].strip() == str(nb / ".venv" / "bin" / "python")
    assert not any(c["cache_hit"] for c in cells.values())
    info = json.loads(strata("env", str(nb)).stdout)
    assert info["state"] == "ready" and info["kind"] == "venv"
    assert info["lockHash"] and (nb / "uv.lock").is_file()
    # The engine's venv does not have tabulate: the cell imported the notebook's own.
    assert "tabulate" not in {p.name for p in Path(sys.prefix, "lib").glob("*/site-packages/*")}

    # A fully cached run never invokes uv and leaves the venv untouched.
    env, calls = recording_uv(tmp_path)
    stamp = (nb / ".venv" / envs.detect.STAMP).stat().st_mtime_ns
    again = run(nb, env=env)
    assert all(c["cache_hit"] for c in again.values())
    assert not calls.exists()
    assert (nb / ".venv" / envs.detect.STAMP).stat().st_mtime_ns == stamp

    # A changed dependency list: every cell is stale with env_changed, before anything syncs.
    pyproject(nb, "tabulate", "humanize")
    states = status(nb)
    assert {c["state"] for c in states.values()} == {"stale"}
    assert all({"reason": "env_changed"} in c["reasons"] for c in states.values())
    assert json.loads(strata("env", str(nb)).stdout)["state"] == "out_of_sync"
    # --no-sync refuses an out-of-date venv rather than keying results it did not make.
    refused = strata("run", str(nb), "--no-sync")
    assert refused.returncode == 2 and "out of date" in refused.stderr

    probe = f"{PROBE}print(has_humanize)\n"
    (nb / "cells" / "probe.py").write_text(probe)
    resynced = run(nb)
    assert resynced["probe"]["stdout"].splitlines()[-1] == "True"  # the new environment
    assert not resynced["shown"]["cache_hit"]
    assert json.loads(strata("env", str(nb)).stdout)["state"] == "ready"


def test_no_sync_without_a_venv_is_an_invocation_error(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    pyproject(nb, "tabulate")
    proc = strata("run", str(nb), "--no-sync")
    assert proc.returncode == 2
    assert "--no-sync needs an existing environment" in proc.stderr
    assert str(nb / ".venv") in proc.stderr
    assert not (nb / ".venv").exists()


def test_a_dependency_that_does_not_exist_is_exit_2_with_uvs_message(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    pyproject(nb, "strata-surely-not-a-real-package-7q")
    proc = strata("run", str(nb))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "uv sync failed" in proc.stderr
    assert "strata-surely-not-a-real-package-7q" in proc.stderr
    assert "requirements are unsatisfiable" in proc.stderr  # uv's own words


def test_a_notebook_without_pyproject_runs_in_the_engines_interpreter(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "import sys\nprint(sys.executable)\n"})
    env, calls = recording_uv(tmp_path)
    cells = run(nb, env=env)
    assert cells["a"]["stdout"].strip() == sys.executable
    assert not calls.exists() and not (nb / ".venv").exists()
    info = json.loads(strata("env", str(nb)).stdout)
    assert info["kind"] == "embedded" and info["state"] == "ready"
    assert "path" not in info and info["executable"] == sys.executable


def test_import_unresolved_and_its_quick_fix(tmp_path: Path) -> None:
    source = "import os\nimport numpy as np\nfrom cv2 import imread\nimport helpers\n"
    nb = write_notebook(tmp_path / "nb", {"a": source})
    (nb / "helpers.py").write_text("X = 1\n")  # beside the notebook: resolvable
    snapshot = take_snapshot(load_notebook(nb))
    found = [d for d in snapshot.all_diagnostics() if d.code == "import_unresolved"]
    assert len(found) == 1
    diag = found[0]
    assert diag.severity == "warning" and diag.cell_id == "a"
    assert diag.data == {"module": "cv2", "package": "opencv-python"}
    assert diag.span is not None and (diag.span.line, diag.span.col) == (3, 0)
    assert "cv2" in diag.message and "opencv-python" in diag.message
    (fix,) = quick_fixes(snapshot, diag)
    assert fix.edits == () and fix.preferred and fix.command is not None
    assert fix.command.name == "strata.addPackage"
    assert fix.command.arguments == {"notebook": str(nb), "package": "opencv-python", "cellId": "a"}
    # The same check in validate's report (a warning: still valid).
    proc = strata("validate", str(nb), "--format", "json")
    assert proc.returncode == 0
    codes = [d["code"] for c in json.loads(proc.stdout)["cells"] for d in c["diagnostics"]]
    assert codes == ["import_unresolved"]


def test_add_package_creates_pyproject_syncs_and_resolves_the_import(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "import tabulate\nv = tabulate.__name__\n"})
    before = take_snapshot(load_notebook(nb)).all_diagnostics()
    assert [d.data for d in before if d.code == "import_unresolved"] == [
        {"module": "tabulate", "package": "tabulate"}
    ]
    lines: list[str] = []
    env = envs.add_package(nb, "tabulate", lines.append)
    text = (nb / "pyproject.toml").read_text()
    assert "[project]" in text and "tabulate" in text and "requires-python" in text
    assert env.kind == "venv" and env.state == "ready" and env.lock_hash
    assert any(line.startswith("$ uv add") for line in lines)
    assert any("tabulate" in line for line in lines)
    after = take_snapshot(load_notebook(nb)).all_diagnostics()
    assert not [d for d in after if d.code == "import_unresolved"]
    # A venv knows its own imports: one the venv lacks is still reported (humanize).
    (nb / "cells" / "a.py").write_text("import tabulate\nimport humanize\n")
    missing = take_snapshot(load_notebook(nb)).all_diagnostics()
    assert [d.data["module"] for d in missing if d.data and d.code == "import_unresolved"] == [
        "humanize"
    ]
    # Only requirements: never an option smuggled into uv's command line.
    with pytest.raises(envs.EnvironmentSyncError, match="not a package requirement"):
        envs.add_package(nb, "--index-url=http://127.0.0.1:9/simple")
