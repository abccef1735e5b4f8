"""A zygote started before the engine knows it needs one.

On a notebook's first run (no store yet) every cell executes, so `strata run` starts the
warm worker before it imports and analyzes anything: the interpreter start and the harness's
imports overlap the engine's own (~0.3 s of a cold run). The first `LocalExecutor` of that
interpreter takes it over and sends it the preloads it learns from the analysis. One that
nobody took (e.g. every cell ran on a remote worker) is killed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata_engine.model.safe_read import MAX_CELL_BYTES, FileRefused, read_regular_file

if TYPE_CHECKING:  # imported when used: a warm `strata run` never needs sockets or pipes
    from strata_engine.backends.local.zygote_client import ZygoteClient

_lock = threading.Lock()
_started: dict[str, ZygoteClient] = {}
_ending = threading.Event()


@contextlib.contextmanager
def ending_soon() -> Iterator[None]:
    """Around a command after which its process ends (the CLI's `strata run`): a zygote
    closed meanwhile need only have killed what it started (ZygoteClient.close). Scoped, so
    a library or test that calls the CLI in its own process still waits for exits after."""
    _ending.set()
    try:
        yield
    finally:
        _ending.clear()


def ending() -> bool:
    return _ending.is_set()


def first_run(directory: Path) -> bool:
    """Whether `directory` is a notebook whose default store does not exist yet (so every
    cell will execute) and that runs in this interpreter (no pyproject.toml of its own)."""
    return first_run_manifest(directory) is not None


def first_run_manifest(directory: Path) -> dict[str, Any] | None:
    """notebook.toml's document when `first_run(directory)`, else None: parsed once for both
    the question and `early_imports` (a 10,000-cell manifest takes tomllib ~0.7 s)."""
    manifest = _manifest(directory)
    if manifest is None:
        return None
    cache = manifest.get("cache")
    if isinstance(cache, dict) and cache.get("store"):
        return None  # a store elsewhere may be warm
    return manifest


def _has_own_state(directory: Path) -> bool:
    """A store already (so cells may be cached), or an environment of its own."""
    return (directory / ".strata").exists() or (directory / "pyproject.toml").exists()


def _manifest(directory: Path) -> dict[str, Any] | None:
    if _has_own_state(directory):
        return None
    import tomllib  # here: a warm `strata run` asks only the two questions above

    try:
        return tomllib.loads((directory / "notebook.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # the run itself reports it


def prestart(python: str) -> None:
    """Start a zygote for `python`, unless one is already waiting."""
    with _lock:
        if python in _started:
            return
        from strata_engine.backends.local.zygote_client import ZygoteClient

        if not _started:
            atexit.register(_discard_unclaimed)
        _started[python] = ZygoteClient(python)


def start_for_first_run(python: str, directory: Path) -> None:
    """On `directory`'s first run (`first_run`), start a zygote for `python` and have it
    import what the notebook's Python cells import. It is spawned before notebook.toml is
    parsed (tomllib and the parse cost ~10 ms of the zygote's head start); a manifest that
    puts the store elsewhere (which may be warm) or cannot be read discards it at once."""
    if _has_own_state(directory) or not (directory / "notebook.toml").is_file():
        return
    prestart(python)
    manifest = first_run_manifest(directory)
    if manifest is None:
        _discard_unclaimed()
        return
    modules = early_imports(directory, manifest)
    if modules:
        preload(modules)


_EARLY_CELLS = 100
"""Cells read for `early_imports`: a hint, which the analysis completes moments later."""


def early_imports(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """What the notebook's Python cells import, read from their text alone (nothing runs):
    the zygote imports it (pandas: ~0.3 s) while the engine is still importing and
    analyzing, instead of after. The analysis sends the exact list again when it is done."""
    import ast

    from strata_engine.analysis.pyfacts import imported_packages

    entries = manifest.get("cells")
    if not isinstance(entries, list):
        return []
    cells_dir = (directory / "cells").resolve()
    found: dict[str, None] = {}
    for entry in entries[:_EARLY_CELLS]:
        file = entry.get("file") if isinstance(entry, dict) else None
        language = entry.get("language", "python") if isinstance(entry, dict) else None
        if not isinstance(file, str) or language != "python":
            continue
        try:
            path = (cells_dir / file).resolve()
            if not path.is_relative_to(cells_dir):
                continue  # the load refuses it; never read outside cells/
            tree = ast.parse(read_regular_file(path, MAX_CELL_BYTES))
        except (OSError, ValueError, SyntaxError, RecursionError, FileRefused):
            continue
        found.update(dict.fromkeys(imported_packages(tree)))
    return list(found)


def take(python: str) -> ZygoteClient | None:
    """The zygote started ahead for `python`, if one is still alive; only one caller gets it."""
    with _lock:
        zygote = _started.pop(python, None)
    if zygote is not None and zygote.lost:
        zygote.close()
        return None
    return zygote


def _discard_unclaimed() -> None:
    with _lock:
        unclaimed = list(_started.values())
        _started.clear()
    for zygote in unclaimed:
        zygote.kill()
        zygote.close()


def preload(modules: list[str]) -> None:
    """Start importing what the cells need in the zygotes nobody took yet (the executor that
    takes one sends its preloads again: importing a loaded module costs a lookup)."""
    with _lock:
        waiting = list(_started.values())
    if not waiting:
        return
    from strata_engine.backends.local.zygote_client import ZygoteLost

    for zygote in waiting:
        with contextlib.suppress(ZygoteLost):
            zygote.send({"op": "preload", "modules": modules})
