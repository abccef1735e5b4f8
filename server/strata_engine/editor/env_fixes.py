"""The quick fix of `import_unresolved`: add the distribution to the notebook's environment.

It edits no text: it carries the command `strata.addPackage` with `{notebook, package,
cellId}`, which the editor runs (LSP `strata/addPackage`: `uv add`, creating pyproject.toml
when needed, then sync; the extension re-runs the cell). The package name comes from the
diagnostic (`envs/names.py` maps import names to distributions).
"""

from __future__ import annotations

from collections.abc import Callable

from strata_engine.editor import fixes

ADD_PACKAGE = "strata.addPackage"
_Fixer = Callable[["fixes._Context"], list["fixes.Fix"]]


def fix_import_unresolved(ctx: fixes._Context) -> list[fixes.Fix]:
    data = ctx.diag.data or {}
    package, module = data.get("package"), data.get("module")
    if not package:
        return []
    arguments = {
        "notebook": str(ctx.snapshot.notebook.directory),
        "package": package,
        "cellId": ctx.diag.cell_id or "",
    }
    title = f"Add package '{package}' to the notebook's environment"
    if module and module != package:
        title += f" (provides '{module}')"
    command = fixes.Command(title, ADD_PACKAGE, arguments)
    return [fixes.Fix(title, (), ctx.diag.code, preferred=True, command=command)]


ENV_FIXERS: dict[str, _Fixer] = {"import_unresolved": fix_import_unresolved}
