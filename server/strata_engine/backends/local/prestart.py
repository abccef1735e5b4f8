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
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: a warm `strata run` never needs sockets or pipes
    from strata_engine.backends.local.zygote_client import ZygoteClient

_lock = threading.Lock()
_started: dict[str, ZygoteClient] = {}


def first_run(directory: Path) -> bool:
    """Whether `directory` is a notebook whose default store does not exist yet (so every
    cell will execute) and that runs in this interpreter (no pyproject.toml of its own)."""
    if (directory / ".strata").exists() or (directory / "pyproject.toml").exists():
        return False
    try:
        manifest = tomllib.loads((directory / "notebook.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the run itself reports it
    cache = manifest.get("cache")
    return not (isinstance(cache, dict) and cache.get("store"))  # a store elsewhere may be warm


def prestart(python: str) -> None:
    with _lock:
        if python in _started:
            return
        from strata_engine.backends.local.zygote_client import ZygoteClient

        if not _started:
            atexit.register(_discard_unclaimed)
        _started[python] = ZygoteClient(python)


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
