"""`strata promote DIR CELL --to path/module.py`: a cell's functions and classes become a
module of the project, and the cell imports them.

The plan is pure (text in, texts out); `promote` writes it. What moves: every top-level
`def`/`class` of the cell (decorators included) and, copied, the cell's import statements
they use. What stays: everything else, and the cell's imports. The cell gets
`from module import a, b` where the first definition was, so the cell still defines the
same names and the DAG is unchanged.

Refused: a definition that reads a runtime value (an upstream variable, a non-import
top-level name of the cell, a mount, the injected `display`): the module could not see it.
A module path outside the notebook directory is refused (the cell runs with the notebook
directory on `sys.path`, so only modules under it are importable there), and so is an
existing module or test file (never overwritten).
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass
from pathlib import Path

from strata_engine.analysis.module_globals import module_globals
from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import NotebookError, load_notebook, resolve_cell_path

_BUILTINS = frozenset(dir(builtins))
_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


class PromoteRefused(NotebookError):
    """The cell or the target cannot be promoted; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PromotionPlan:
    module_name: str
    """Dotted, relative to the notebook directory (what the cell imports)."""
    names: tuple[str, ...]
    module_text: str
    cell_text: str
    test_text: str


@dataclass(frozen=True, slots=True)
class Promotion:
    cell: str
    names: tuple[str, ...]
    module: Path
    test: Path
    cell_file: Path

    def to_json(self) -> dict[str, object]:
        return {
            "cell": self.cell,
            "names": list(self.names),
            "module": str(self.module),
            "test": str(self.test),
            "cell_file": str(self.cell_file),
        }


def module_name_for(directory: Path, target: Path) -> str:
    """The dotted name the cell imports `target` by; refuses what a cell cannot import."""
    root = directory.resolve()
    path = (target if target.is_absolute() else root / target).resolve()
    if path.suffix != ".py":
        raise PromoteRefused(f"--to {target}: a module path ends in .py, e.g. helpers.py")
    try:
        parts = path.relative_to(root).with_suffix("").parts
    except ValueError:
        raise PromoteRefused(
            f"--to {target}: outside the notebook directory {root}; a cell imports modules "
            "from its notebook directory, so give a path inside it, e.g. helpers.py"
        ) from None
    if parts[0] in ("cells", ".strata") or not all(p.isidentifier() for p in parts):
        raise PromoteRefused(
            f"--to {target}: not an importable module path (every part an identifier, not "
            "under cells/ or .strata/); e.g. helpers.py or lib/helpers.py"
        )
    return ".".join(parts)


def plan_promotion(
    cell_id: str, text: str, module_name: str, upstream_names: frozenset[str]
) -> PromotionPlan:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise PromoteRefused(
            f"cell {cell_id}: line {exc.lineno}: syntax error ({exc.msg}); fix it first"
        ) from None
    defs = [n for n in tree.body if isinstance(n, _Def)]
    if not defs:
        raise PromoteRefused(f"cell {cell_id}: no top-level function or class to promote")
    names = tuple(d.name for d in defs)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    imported = {name: node for node in imports for name in _bound_by_import(node)}
    cell_names = _top_level_names(tree) - set(names) - set(imported)
    needed: set[str] = set()
    blockers: list[str] = []
    for node in defs:
        for name in sorted(module_globals(node, assigned=True)):
            if name in names or (name in _BUILTINS and name not in cell_names | upstream_names):
                continue
            if name in imported:
                needed.add(name)
            else:
                blockers.append(_blocker(node.name, name, cell_names, upstream_names))
    if blockers:
        raise PromoteRefused(
            f"cell {cell_id}: cannot promote, definitions read runtime values: "
            f"{'; '.join(blockers)}. Pass them as parameters (or import them in the cell "
            "from a module), then promote again"
        )
    lines = text.splitlines(keepends=True)
    module_text = _module_text(
        cell_id, lines, defs, [n for n in imports if set(_bound_by_import(n)) & needed]
    )
    cell_text = _cell_text(lines, defs, f"from {module_name} import {', '.join(names)}\n")
    return PromotionPlan(module_name, names, module_text, cell_text, _test_text(module_name, defs))


def _blocker(definition: str, name: str, cell_names: set[str], upstream: frozenset[str]) -> str:
    if name in upstream:
        where = "an upstream cell's variable"
    elif name in cell_names:
        where = "a variable of this cell"
    else:
        where = "a name defined at run time (a mount, display, or undefined)"
    return f"{definition} reads {name} ({where})"


def _bound_by_import(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [(a.asname or a.name).partition(".")[0] for a in node.names if a.name != "*"]


def _top_level_names(tree: ast.Module) -> set[str]:
    table = symtable.symtable(ast.unparse(tree), "<cell>", "exec")
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) line range, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start - 1, node.end_lineno or node.lineno


def _module_text(
    cell_id: str, lines: list[str], defs: list[_Def], imports: list[ast.Import | ast.ImportFrom]
) -> str:
    parts = [f'"""Promoted from the Strata cell {cell_id!r} (strata promote)."""\n\n']
    parts += ["".join(lines[slice(*_span(n))]) for n in imports]
    if imports:
        parts.append("\n\n")
    chunks = ["".join(lines[slice(*_span(n))]).rstrip() + "\n" for n in defs]
    return "".join(parts) + "\n\n".join(chunks)


def _cell_text(lines: list[str], defs: list[_Def], import_line: str) -> str:
    spans = [_span(n) for n in defs]
    out: list[str] = []
    position = 0
    for index, (start, end) in enumerate(spans):
        out += lines[position:start]
        if index == 0:
            out.append(import_line)
        position = end
        while position < len(lines) and not lines[position].strip():
            position += 1  # the blank lines that separated the removed definition
    out += lines[position:]
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


def _test_text(module_name: str, defs: list[_Def]) -> str:
    depth = module_name.count(".") + 1  # tests/ beside the module: up to the notebook dir
    tests = "".join(
        f"\n\ndef test_{d.name.lower().lstrip('_')}() -> None:\n"
        f'    pytest.skip("write a test for {d.name}")\n'
        for d in defs
    )
    return (
        f'"""Tests for {module_name} (skeleton written by strata promote)."""\n\n'
        "import sys\nfrom pathlib import Path\n\nimport pytest\n\n"
        f"sys.path.insert(0, str(Path(__file__).resolve().parents[{depth}]))\n"
        f"from {module_name} import {', '.join(d.name for d in defs)}  # noqa: E402, F401\n" + tests
    )


def promote(directory: Path, cell_id: str, target: Path) -> Promotion:
    """Write the module and its skeleton test, then rewrite the cell; refuse before writing
    anything when the cell or the target cannot be promoted."""
    from strata_engine.analysis.snapshot import take_snapshot

    notebook = load_notebook(directory)
    cell = notebook.cell(cell_id)
    if cell is None:
        raise PromoteRefused(f"no cell with id {cell_id!r} in {directory / 'notebook.toml'}")
    if cell.language != "python":
        raise PromoteRefused(f"cell {cell_id}: only Python cells can be promoted")
    cell_file = resolve_cell_path(notebook.directory, cell.file)
    if cell_file is None:
        raise PromoteRefused(f"cell {cell_id}: its file {cell.file!r} is not inside cells/")
    module_name = module_name_for(notebook.directory, target)
    module = notebook.directory.resolve().joinpath(*module_name.split(".")).with_suffix(".py")
    test = module.parent / "tests" / f"test_{module.stem}.py"
    for path in (module, test):
        if path.exists():
            raise PromoteRefused(f"{path} exists; promote never overwrites, choose another path")
    # What upstream cells give this one (builtins are references only when some cell
    # defines them, so the graph's producers say it, not the raw references).
    upstream = frozenset(take_snapshot(notebook).graph.producers.get(cell_id, {}))
    text = cell_file.read_text(encoding="utf-8")
    plan = plan_promotion(cell_id, text, module_name, upstream)
    atomic_write(module, plan.module_text)
    atomic_write(test, plan.test_text)
    atomic_write(cell_file, plan.cell_text)
    return Promotion(cell_id, plan.names, module, test, cell_file)
