"""Environments in the editor (docs/lsp-protocol.md, "Environments"): `strata/environment`,
`strata/syncEnvironment`, `strata/addPackage`, and the notifications `strata/environmentLog`
and `strata/environmentChanged`.

The engine (`strata_engine.envs`) holds every rule; this module only moves the long
operations off the event loop and forwards their output. Nothing here runs on its own:
opening or analyzing a notebook only reads its environment's state. A sync or an added
package is refused while a run of that notebook is in progress (a run that starts meanwhile
waits for the sync: both take the engine's per-notebook sync lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from strata_engine import envs
from strata_engine.model.notebook import NotebookError

from .notebooks import Host, Notebooks

log = logging.getLogger(__name__)
ENVIRONMENT_FILES = ("**/pyproject.toml", "**/uv.lock", "**/.venv/pyvenv.cfg")
"""Watched (with the client's file watcher): a change may change the environment."""
ENVIRONMENT_NAMES = frozenset({"pyproject.toml", "uv.lock", "pyvenv.cfg"})
Post = Callable[[Callable[[], None]], None]
Notify = Callable[[str, dict[str, Any]], None]


class Environments:
    def __init__(
        self, post: Post, notify: Notify, notebooks: Notebooks, running: Callable[[Path], bool]
    ) -> None:
        """`running(directory)`: whether a run of that notebook is in progress."""
        self._post, self._notify = post, notify
        self._notebooks = notebooks
        self._running = running
        self._busy: set[Path] = set()
        self._sent: dict[Path, dict[str, Any]] = {}
        # Every sync's output, whoever started it (a run syncs too), reaches the client.
        envs.LISTENERS.append(self._log)

    def close(self) -> None:
        if self._log in envs.LISTENERS:
            envs.LISTENERS.remove(self._log)

    # -- requests ------------------------------------------------------------------------------
    def info(self, host: Host) -> dict[str, Any]:
        """`strata/environment`: the environment as it is now (never creates anything)."""
        envs.forget(host.directory)
        payload = envs.environment_info(host.directory).to_json()
        self._sent[host.directory] = payload
        return payload

    async def sync(self, host: Host) -> dict[str, Any]:
        """`strata/syncEnvironment`: create or update the notebook's .venv."""
        directory = host.directory
        return await self._long(host, lambda: envs.sync_environment(directory))

    async def add(self, host: Host, params: dict[str, Any]) -> dict[str, Any]:
        """`strata/addPackage`: add `package` to pyproject.toml (created when missing), sync."""
        package = params.get("package")
        if not isinstance(package, str) or not package.strip():
            return {"ok": False, "message": "package (a distribution name) is required"}
        directory = host.directory
        return await self._long(host, lambda: envs.add_package(directory, package))

    # -- changes ---------------------------------------------------------------------------
    def check(self, directory: Path) -> None:
        """Send `strata/environmentChanged` if the environment differs from what the client
        was last told (pyproject.toml, uv.lock or the venv changed; a run synced)."""
        envs.forget(directory)
        try:
            payload = envs.environment_info(directory).to_json()
        except OSError:
            return
        if self._sent.get(directory) != payload:
            self._sent[directory] = payload
            self._notify("strata/environmentChanged", payload)

    # -- internals -------------------------------------------------------------------------
    async def _long(self, host: Host, work: Callable[[], envs.Environment]) -> dict[str, Any]:
        directory = host.directory
        if self._running(directory):
            message = "a run of this notebook is in progress; try again when it has finished"
            return {"ok": False, "message": message}
        if directory in self._busy:
            message = "the environment of this notebook is already being changed"
            return {"ok": False, "message": message}
        self._busy.add(directory)
        try:
            env = await asyncio.get_running_loop().run_in_executor(None, work)
            result = {"ok": True, "message": _ready_message(env)}
        except NotebookError as exc:
            result = {"ok": False, "message": str(exc)}
        except Exception as exc:
            log.exception("environment operation on %s failed", directory)
            result = {"ok": False, "message": f"internal error in Strata: {exc!r}"}
        finally:
            self._busy.discard(directory)
        self.check(directory)
        # Every cell's key holds the fingerprint: states (env_changed) and imports refresh.
        self._notebooks.load(host)
        self._notebooks.refresh(host)
        return result

    def _log(self, directory: Path, text: str) -> None:
        payload = {"notebook": str(directory), "text": text}
        self._post(lambda: self._notify("strata/environmentLog", payload))


def _ready_message(env: envs.Environment) -> str:
    lock = f", lock {env.lock_hash[:12]}" if env.lock_hash else ""
    return f"{env.venv} is ready (Python {env.python}{lock})"
