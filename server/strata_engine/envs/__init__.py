"""Per-notebook environments (SPEC 7): detection, fingerprint, sync, adding a package and
import resolution. The engine API the CLI and the language server both use:

- `environment_info(notebook)`: the environment as the editor shows it (`Environment`).
- `sync_environment(notebook, on_output)`: create or update `.venv` with uv (else venv+pip).
- `add_package(notebook, name, on_output)`: `uv add` (creating pyproject.toml), then sync.
- `ensure_environment(notebook, sync=..., on_output)`: what a run does first.

A notebook without pyproject.toml runs in the engine's own interpreter, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strata_engine.envs import detect
from strata_engine.envs.detect import (
    EMBEDDED,
    MISSING,
    OUT_OF_SYNC,
    READY,
    VENV_KIND,
    Environment,
    forget,
)
from strata_engine.envs.errors import EnvironmentSyncError
from strata_engine.envs.listeners import LISTENERS

__all__ = [
    "EMBEDDED",
    "LISTENERS",
    "MISSING",
    "OUT_OF_SYNC",
    "READY",
    "VENV_KIND",
    "Environment",
    "EnvironmentSyncError",
    "add_package",
    "detect",
    "ensure_environment",
    "environment_info",
    "forget",
    "sync_environment",
]

Output = Callable[[str], None]


def environment_info(notebook: Path) -> Environment:
    """The notebook's environment now (cheap; never runs anything)."""
    return detect.detect(notebook)


def sync_environment(notebook: Path, on_output: Output | None = None) -> Environment:
    # Imported here: syncing needs importlib.metadata, tomlkit and packaging (~80 ms), which
    # a fully cached `strata run` must not pay.
    from strata_engine.envs.sync import sync

    return sync(notebook, on_output)


def add_package(notebook: Path, name: str, on_output: Output | None = None) -> Environment:
    from strata_engine.envs.sync import add

    return add(notebook, name, on_output)


def ensure_environment(
    notebook: Path, *, sync: bool = True, on_output: Output | None = None
) -> Environment:
    """Before a run: sync a venv that is missing or out of date (`sync`), or, with
    `sync=False` (`--no-sync`), refuse a venv that is not there or not current. A notebook
    without pyproject.toml needs nothing."""
    forget(notebook)
    env = detect.detect(notebook)
    if env.kind != VENV_KIND or env.state == READY:
        return env
    if sync:
        return sync_environment(notebook, on_output)
    venv = notebook / ".venv"
    if env.state == MISSING:
        raise EnvironmentSyncError(
            f"{notebook}: --no-sync needs an existing environment, and {venv} does not exist; "
            f"run without --no-sync (or `strata env {notebook} sync`) to create it"
        )
    raise EnvironmentSyncError(
        f"{notebook}: --no-sync, but {venv} is out of date with pyproject.toml/uv.lock (or "
        f"was not made by Strata); run without --no-sync (or `strata env {notebook} sync`) "
        "to sync it"
    )
