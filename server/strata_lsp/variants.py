"""`strata/setActiveVariant`: choose a variant group's active member (SPEC 2, 9). The engine
checks the choice and writes notebook.toml; this module only refuses what the editor must
settle first and re-analyzes, so the next `strata/notebookState` shows the switch."""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from strata_engine.analysis.variants import choice_problem
from strata_engine.model.saving import set_variant_active

from .notebooks import Host, Notebooks


def set_active(notebooks: Notebooks, host: Host, params: dict[str, Any]) -> dict[str, Any]:
    group, name = params.get("group"), params.get("name")
    if not isinstance(group, str) or not isinstance(name, str):
        raise JsonRpcInvalidParams("group and name (the member to make active) are required")
    if host.session is None or host.snapshot is None:
        raise JsonRpcInvalidParams(f"{host.manifest_path} does not load; fix it first")
    problem = choice_problem(host.snapshot.graph, group, name)
    if problem is not None:
        raise JsonRpcInvalidParams(problem)
    editor_text = notebooks.manifest_text(host)
    if editor_text is not None and editor_text != _disk_text(host):
        # The save merges into the file on disk: unsaved edits would be written or lost.
        raise JsonRpcInvalidParams(
            f"{host.manifest_path} has unsaved changes in the editor; save it, then choose"
        )
    changed = set_variant_active(host.session.notebook, group, name)
    notebooks.refresh(host)
    return {"group": group, "active": name, "changed": changed}


def _disk_text(host: Host) -> str | None:
    try:
        return host.manifest_path.read_text(encoding="utf-8")
    except OSError:
        return None
