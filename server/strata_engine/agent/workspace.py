"""Where tools may act: notebooks under the root the server was started in, and nowhere else.

A notebook argument is a path relative to the root; it is resolved (symlinks followed) and
refused unless it stays inside the root and holds a notebook.toml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from strata_engine.agent.spec import ToolContext, ToolError
from strata_engine.model.notebook import MANIFEST

MAX_NOTEBOOKS = 200
_MAX_DEPTH = 6
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})


def find_notebooks(root: Path) -> list[Path]:
    """Notebook directories under `root` (itself included), sorted, skipping hidden and
    vendored directories (.strata, .venv, .git, node_modules), at most MAX_NOTEBOOKS."""
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS and depth < _MAX_DEPTH
        )
        if MANIFEST in files:
            found.append(here)
            dirs[:] = [d for d in dirs if d != "cells"]
        if len(found) >= MAX_NOTEBOOKS:
            break
    return sorted(found)


def relative_name(ctx: ToolContext, directory: Path) -> str:
    """How a notebook is named in results: relative to the root ("." for the root itself)."""
    return directory.relative_to(ctx.root).as_posix() or "."


def notebook_dir(ctx: ToolContext, arguments: dict[str, Any]) -> Path:
    """The notebook the arguments name, confined to the root. Without a `notebook` argument,
    the root's only notebook."""
    given = arguments.get("notebook")
    if not isinstance(given, str) or given == "":
        return _only_notebook(ctx)
    if "\x00" in given:
        raise ToolError("notebook: the path contains a NUL character")
    candidate = (ctx.root / given).resolve()
    if not candidate.is_relative_to(ctx.root):
        raise ToolError(
            f"notebook {given!r} is outside the directory this server acts on ({ctx.root}); "
            "give a path relative to it, as list_notebooks returns"
        )
    if not (candidate / MANIFEST).is_file():
        raise ToolError(
            f"notebook {given!r}: no {MANIFEST} in {candidate}; call list_notebooks for the "
            "notebooks under the root"
        )
    return candidate


def _only_notebook(ctx: ToolContext) -> Path:
    if (ctx.root / MANIFEST).is_file():
        return ctx.root
    found = find_notebooks(ctx.root)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ToolError(f"there is no notebook (a directory with {MANIFEST}) under {ctx.root}")
    names = ", ".join(relative_name(ctx, d) for d in found[:10])
    raise ToolError(f"several notebooks under the root ({names}); pass `notebook`")
