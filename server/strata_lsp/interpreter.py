"""`strata/setInterpreter {notebook, executable}`: the interpreter a notebook's cells run in,
chosen in the editor ("Strata: Select Cell Environment..."); `executable: null` goes back to
the default (the notebook's .venv, else the engine's interpreter).

The engine holds the rule (`strata_engine.envs.chosen`: the interpreter is asked once what it
is, refused when the cell harness cannot run there, and its fingerprint enters every key);
this module moves the probe off the event loop, then re-analyzes, so the states show the
cells stale (env_changed) and `strata/environmentChanged` tells the status bar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from strata_engine.envs import chosen
from strata_engine.model.notebook import NotebookError

from .environment import Environments
from .notebooks import Host, Notebooks


class Interpreters:
    def __init__(
        self, notebooks: Notebooks, environments: Environments, running: Callable[[Path], bool]
    ) -> None:
        self._notebooks = notebooks
        self._environments = environments
        self._running = running

    async def set(self, host: Host, params: dict[str, Any]) -> dict[str, Any]:
        executable = params.get("executable")
        if executable is not None and (not isinstance(executable, str) or not executable):
            return {"ok": False, "message": "executable must be an interpreter path or null"}
        directory = host.directory
        if self._running(directory):
            message = "a run of this notebook is in progress; choose when it has finished"
            return {"ok": False, "message": message}
        loop = asyncio.get_running_loop()
        try:
            choice = await loop.run_in_executor(None, chosen.choose, directory, executable)
        except NotebookError as exc:
            return {"ok": False, "message": str(exc)}
        self._environments.check(directory)
        # Every cell's key holds the fingerprint: the states (env_changed) follow at once.
        self._notebooks.load(host)
        self._notebooks.refresh(host)
        if choice is None:
            return {"ok": True, "message": "the cells run in their default environment"}
        text = f"the cells run in {choice.executable} (Python {choice.version})"
        return {"ok": True, "message": text, "executable": choice.executable}
