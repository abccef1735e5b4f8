"""What a notebook's venv needs so the engine's cell harness runs inside it.

The zygote (`python -m strata_engine.backends.local.zygote_server`) is started with the
venv's interpreter. It imports `strata_engine` (pure Python) and, while cells run, the
engine's runtime packages: xxhash (blob digests), cloudpickle (values that are not JSON or
Arrow) and pyarrow (DataFrames and arrays). So after the project's own sync:

- each of those the project does not already install is added with `uv pip install`, pinned
  to the engine's own version (a version the project chose is left alone);
- `.venv/strata-engine/strata_engine` links to the engine's package and
  `site-packages/_strata_engine.pth` puts `.venv/strata-engine` on the path. Only that one
  package becomes visible, never the engine's other packages (so an import the project does
  not declare still fails in a cell, as it would for the user).

A sync of the project (uv sync is exact) removes the added packages again; every sync ends
with `provision`, so they are back before anything runs. Neither pyproject.toml nor uv.lock
ever mentions them.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import tomlkit

from strata_engine.envs import detect
from strata_engine.envs.errors import EnvironmentSyncError
from strata_engine.model.fsutil import atomic_write

PACKAGES = ("xxhash", "cloudpickle", "pyarrow")
"""Imported by the harness inside the cell process (see the module doc)."""
LINK_DIR = "strata-engine"
PTH = "_strata_engine.pth"
Runner = Callable[[list[str], str, "dict[str, str] | None"], None]
Output = Callable[[str], None]


def provision(venv: Path, uv: str | None, emit: Output, run: Runner) -> None:
    """Install what the harness needs into `venv` and make `strata_engine` importable."""
    version = detect.venv_version(venv)
    python = str(detect.venv_python(venv))
    if not version or tuple(int(p) for p in version.split(".")[:2]) < (3, 11):
        raise _error(venv, f"its Python is {version or 'unknown'}; Strata's harness needs >= 3.11")
    site = detect.site_packages(venv, version)
    have = installed_distributions(site)
    missing = [f"{name}=={metadata.version(name)}" for name in PACKAGES if _norm(name) not in have]
    if missing:
        if uv is not None:
            argv = [uv, "pip", "install", "--python", python, *missing]
        else:
            argv = [python, "-m", "pip", "install", *missing]
        run(argv, "installing the Strata harness packages", None)
    link_engine(venv, site)
    check = [python, "-c", "import strata_engine.backends.local.zygote_server, cloudpickle"]
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run(check, "checking the Strata harness in the environment", clean)


def link_engine(venv: Path, site: Path) -> None:
    links = venv / LINK_DIR
    links.mkdir(exist_ok=True)
    link = links / "strata_engine"
    target = detect.engine_package()
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return _write_pth(site, links)
        link.unlink()
    link.symlink_to(target, target_is_directory=True)
    _write_pth(site, links)


def _write_pth(site: Path, links: Path) -> None:
    pth = site / PTH
    text = f"{links}\n"
    if not pth.exists() or pth.read_text(encoding="utf-8") != text:
        atomic_write(pth, text, durable=False)


def write_stamp(venv: Path, env: detect.Environment, tool: str) -> None:
    stamp = {
        "lock": env.lock_hash,
        "dependencies": env.dependencies_digest,
        "engine": str(detect.engine_package()),
        "python": env.python,
        "tool": tool,
    }
    atomic_write(venv / detect.STAMP, json.dumps(stamp, indent=1) + "\n", durable=False)


def installed_distributions(site: Path) -> set[str]:
    """Normalized names of the distributions installed in a site-packages directory."""
    try:
        names = os.listdir(site)
    except OSError:
        return set()
    return {
        _norm(n.rsplit("-", 1)[0] if "-" in n else n.rsplit(".", 1)[0])
        for n in names
        if n.endswith((".dist-info", ".egg-info"))
    }


def project_dependencies(pyproject: Path) -> list[str]:
    """[project].dependencies, for the pip fallback (which cannot read uv.lock)."""
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8-sig"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _error(pyproject.parent / detect.VENV, f"{pyproject} cannot be read: {exc}") from exc
    deps = document.get("project", {}).get("dependencies", [])
    return [str(d) for d in deps] if isinstance(deps, list) else []


def append_dependency(pyproject: Path, requirement: str) -> None:
    """Add a requirement to [project].dependencies, keeping the rest of the file as written."""
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8-sig"))
    project = document.setdefault("project", tomlkit.table())
    deps = project.setdefault("dependencies", tomlkit.array())
    if requirement not in [str(d) for d in deps]:
        deps.append(requirement)
    atomic_write(pyproject, tomlkit.dumps(document), durable=False)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _error(venv: Path, message: str) -> EnvironmentSyncError:
    return EnvironmentSyncError(f"{venv}: {message}")
