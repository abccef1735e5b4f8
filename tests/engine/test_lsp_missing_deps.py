"""`strata lsp` in a Python whose language-server packages cannot be imported says what to
install (a message, exit 2), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_strata_lsp_without_pygls_names_what_to_install(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "pygls"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("No module named pygls (test)")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    env.pop("STRATA_TRACEBACK", None)
    done = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "lsp"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "language server cannot start" in done.stderr
    assert "No module named pygls (test)" in done.stderr
    assert "pip install" in done.stderr and "'pygls>=2.0'" in done.stderr
    assert "'jedi>=0.19'" in done.stderr


def test_language_server_packages_are_required_dependencies() -> None:
    import tomllib

    pyproject = Path(__file__).parents[2] / "server" / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text())["project"]
    names = {d.split(">")[0].split("[")[0] for d in project["dependencies"]}
    assert {"pygls", "lsprotocol", "jedi"} <= names
    # the extra stays so `pip install server[lsp]` (the extension's managed install) works
    assert project["optional-dependencies"]["lsp"] == []
