"""Creating and syncing a notebook's `.venv` (SPEC 7): uv when it is usable, else
`python -m venv` + pip. Nothing here runs unless asked (`strata run`, `strata env`, the
editor's Sync/Add commands); the editor never syncs on its own.

After the project's own dependencies, the venv gets what the cell harness needs (see
`harness.py`): the engine's runtime packages the project does not already have, pinned to
the engine's versions, and a `.pth` that makes `strata_engine` importable. The user's
pyproject.toml and uv.lock never mention them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from strata_engine.envs import detect, harness, interpreters
from strata_engine.envs.errors import EnvironmentSyncError
from strata_engine.envs.listeners import LISTENERS

Output = Callable[[str], None]
UV_ENV = "STRATA_UV"
"""Path of the uv binary to use instead of PyPI's `uv` package; empty: use venv + pip."""
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~;@ ].*)?$")


def find_uv() -> str | None:
    """The uv binary: $STRATA_UV, else PyPI's `uv` package (a dependency of the engine)."""
    override = os.environ.get(UV_ENV)
    if override is not None:
        return override or None
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def sync(directory: Path, on_output: Output | None = None) -> detect.Environment:
    """Create or update `directory/.venv` from pyproject.toml (and uv.lock). One sync of a
    directory at a time; a second waits, then finds the venv current and does nothing."""
    directory = Path(os.path.abspath(directory))
    with _lock_of(directory):
        detect.forget(directory)
        env = detect.detect(directory)
        if env.kind != detect.VENV_KIND:
            raise EnvironmentSyncError(
                f"{directory}: no {detect.PYPROJECT}; this notebook runs in the engine's own "
                "interpreter and has no environment to sync (add a package to create one)"
            )
        emit = _emitter(directory, on_output)
        if env.state == detect.READY:
            emit(f"{directory / detect.VENV} is up to date\n")
            return env
        return _sync(directory, env, emit)


def _sync(directory: Path, env: detect.Environment, emit: Output) -> detect.Environment:
    try:
        python = interpreters.choose(env.requires_python)
    except interpreters.NoInterpreter as exc:
        raise EnvironmentSyncError(f"{directory / detect.PYPROJECT}: {exc}") from exc
    uv = find_uv()
    venv = directory / detect.VENV
    if uv is not None:
        _run([uv, "sync", "--python", python.path], directory, emit, "uv sync", uv_env(venv))
    else:
        emit("uv is not available: creating the environment with venv + pip\n")
        _pip_sync(directory, env, python.path, emit)
    harness.provision(
        venv, uv, emit, lambda argv, what, env: _run(argv, directory, emit, what, env)
    )
    detect.forget(directory)
    synced = detect.detect(directory)
    harness.write_stamp(venv, synced, "uv" if uv else "pip")
    detect.forget(directory)
    return detect.detect(directory)


def add(directory: Path, package: str, on_output: Output | None = None) -> detect.Environment:
    """Add `package` to pyproject.toml (created when missing) and sync."""
    directory = Path(os.path.abspath(directory))
    package = package.strip()
    if not _PACKAGE.match(package):
        raise EnvironmentSyncError(
            f"{package!r} is not a package requirement; write a name such as 'tabulate' or "
            "'tabulate>=0.9'"
        )
    emit = _emitter(directory, on_output)
    pyproject = directory / detect.PYPROJECT
    if not pyproject.exists():
        create_pyproject(directory)
        emit(f"created {pyproject}\n")
    uv = find_uv()
    if uv is not None:
        argv = [uv, "add", "--no-sync", package]
        _run(argv, directory, emit, "uv add", uv_env(directory / detect.VENV))
    else:
        harness.append_dependency(pyproject, package)
        emit(f"added {package} to {pyproject}\n")
    detect.forget(directory)
    return sync(directory, on_output)


def _lock_of(directory: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(directory, threading.Lock())


def _emitter(directory: Path, on_output: Output | None) -> Output:
    def emit(text: str) -> None:
        if on_output is not None:
            on_output(text)
        for listener in list(LISTENERS):
            listener(directory, text)

    return emit


def create_pyproject(directory: Path) -> Path:
    """A minimal project for a notebook that had none (its venv gets the engine's Python)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", directory.name).strip("-._") or "notebook"
    major, minor = sys.version_info[:2]
    text = (
        "[project]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        f'requires-python = ">={major}.{minor}"\n'
        "dependencies = []\n"
    )
    path = directory / detect.PYPROJECT
    with open(path, "x", encoding="utf-8") as handle:  # never overwrite one made meanwhile
        handle.write(text)
    detect.forget(directory)
    return path


def uv_env(venv: Path) -> dict[str, str]:
    """uv's environment: this venv, and never an interpreter download."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_PROJECT_ENVIRONMENT=str(venv),
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
    )
    return env


def _pip_sync(directory: Path, env: detect.Environment, python: str, emit: Output) -> None:
    venv = directory / detect.VENV
    if not detect.venv_python(venv).exists():
        _run([python, "-m", "venv", str(venv)], directory, emit, "python -m venv")
    requirements = harness.project_dependencies(directory / detect.PYPROJECT)
    if requirements:
        argv = [str(detect.venv_python(venv)), "-m", "pip", "install", *requirements]
        _run(argv, directory, emit, "pip install")


def _run(
    argv: Sequence[str],
    cwd: Path,
    emit: Output,
    what: str,
    env: dict[str, str] | None = None,
) -> None:
    """Run a tool, passing each output line on; its failure is EnvironmentSyncError with the
    tool's own last lines."""
    emit(f"$ {' '.join(_short(a) for a in argv)}\n")
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env if env is not None else uv_env(cwd / detect.VENV),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise EnvironmentSyncError(f"{cwd}: {what} could not start ({exc})") from exc
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        emit(line)
        tail = [*tail[-19:], line.rstrip()]
    if process.wait() != 0:
        said = "\n".join(t for t in tail if t) or f"exit status {process.returncode}"
        raise EnvironmentSyncError(f"{cwd}: {what} failed:\n{said}")


def _short(arg: str) -> str:
    return Path(arg).name if os.sep in arg and Path(arg).name == "uv" else arg
