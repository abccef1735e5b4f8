"""Structural and text edits of a notebook on disk, through the engine's own writers: cell
files with `write_cell_source`, notebook.toml with `save_notebook` (a minimal-diff merge that
keeps comments and unknown keys, blanks secrets, and never overwrites a manifest that no
longer parses). The same path the editor's structural saves take."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from strata_engine.agent.spec import ToolError
from strata_engine.kinds import kind_for
from strata_engine.model.notebook import (
    CELLS_DIR,
    LANGUAGES,
    Cell,
    Notebook,
    load_notebook,
    resolve_cell_path,
)
from strata_engine.model.saving import save_notebook, write_cell_source

CELL_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_DEFINITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=[^=]", re.MULTILINE)


def load(directory: Path) -> Notebook:
    """The notebook, for editing: a frozen one (strata.lock) is a snapshot and stays as is,
    as the editor's Run mode keeps it read-only."""
    from strata_engine.snapshots.freeze import LOCK_FILE

    if (directory / LOCK_FILE).exists():
        raise ToolError(
            f"{directory.name} is frozen ({LOCK_FILE}): a snapshot is read-only; edit a copy "
            f"(VS Code: Copy to Workspace...) or delete {LOCK_FILE} to unfreeze it"
        )
    return load_notebook(directory)


def find_cell(notebook: Notebook, cell_id: str) -> Cell:
    for cell in notebook.cells:
        if cell.id == cell_id:
            return cell
    known = ", ".join(c.id for c in notebook.cells[:30]) or "none"
    raise ToolError(f"no cell {cell_id!r} in {notebook.manifest_path}; its cells are: {known}")


def snippet_id(source: str) -> str:
    """A deterministic id for a snippet: the same text always names the same cell, so a
    repeated snippet finds its cell (and its cached result) again."""
    return "snippet_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:10]


def choose_id(notebook: Notebook, source: str) -> str:
    """An id from the first name the source assigns (`total = ...` -> "total"), else from
    its hash; made unique with a numeric suffix."""
    match = _DEFINITION.search(source)
    base = match.group(1) if match else snippet_id(source)
    taken = {c.id for c in notebook.cells}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def check_new_cell(notebook: Notebook, cell_id: str, language: str) -> str:
    """The file name of a new cell, after refusing a bad id, language or an existing file."""
    if not CELL_ID.match(cell_id):
        raise ToolError(
            f"cell id {cell_id!r} is not valid: use letters, digits, _ and -, starting with a "
            "letter or _, at most 64 characters (e.g. daily_totals)"
        )
    if language not in LANGUAGES:
        raise ToolError(f"language {language!r} is unknown; use one of {', '.join(LANGUAGES)}")
    if any(c.id == cell_id for c in notebook.cells):
        raise ToolError(f"a cell {cell_id!r} already exists; choose another id or edit it")
    file = f"{cell_id}{kind_for(language).suffix}"
    path = resolve_cell_path(notebook.directory, file)
    if path is None or path.exists():
        raise ToolError(
            f"{CELLS_DIR}/{file} already exists but is no cell of this notebook; choose "
            "another id (the file is left as it is)"
        )
    return file


def insert_cell(
    notebook: Notebook, cell_id: str, language: str, source: str, after: str | None
) -> Cell:
    """Write the new cell's file, then add its entry after `after` (None: at the end)."""
    file = check_new_cell(notebook, cell_id, language)
    last = in_order(notebook)[-1] if notebook.cells else None
    anchor = find_cell(notebook, after) if after is not None else last
    cell = Cell(id=cell_id, file=file, language=language, order=0.0)
    write_cell_source(notebook, cell, source)
    _place(notebook, cell, anchor)
    notebook.cells.append(cell)
    _save(notebook)
    return cell


def move(notebook: Notebook, cell_id: str, after: str | None) -> list[str]:
    """Move a cell after `after` (None: to the top), keeping every other cell's order.
    Returns the ids in their new order."""
    cell = find_cell(notebook, cell_id)
    if after == cell_id:
        raise ToolError(f"cannot move cell {cell_id!r} after itself")
    anchor = find_cell(notebook, after) if after is not None else None
    _place(notebook, cell, anchor)
    _save(notebook)
    return [c.id for c in in_order(notebook)]


def remove(notebook: Notebook, cell_id: str) -> Path | None:
    """Drop the cell's entry, then its file; returns the file removed."""
    cell = find_cell(notebook, cell_id)
    notebook.cells.remove(cell)
    _save(notebook)
    path = resolve_cell_path(notebook.directory, cell.file)
    if path is not None and path.is_file():
        path.unlink()
        return path
    return None


def in_order(notebook: Notebook) -> list[Cell]:
    return sorted(notebook.cells, key=lambda c: c.order)


def _save(notebook: Notebook) -> None:
    """Save with the entries in the order notebook.toml lists them (new ones last): `order`
    says where a cell goes, and an unchanged list position lets the writer merge the
    change into the file as a minimal diff instead of rewriting it."""
    raw = notebook.document.get("cells")
    listed = [e.get("id") for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    position = {cell_id: n for n, cell_id in enumerate(listed)}
    notebook.cells.sort(key=lambda c: position.get(c.id, len(listed)))
    save_notebook(notebook)


def _place(notebook: Notebook, cell: Cell, anchor: Cell | None) -> None:
    """Give `cell` an order right after `anchor` (None: first),
    between its new neighbours, so only its own entry changes; renumber every cell only
    when there is no room left between them."""
    others = [c for c in in_order(notebook) if c is not cell]
    index = others.index(anchor) + 1 if anchor is not None else 0
    before = others[index - 1].order if index > 0 else None
    after = others[index].order if index < len(others) else None
    if before is not None and after is not None:
        order = (before + after) / 2
        if not before < order < after:
            for n, c in enumerate([*others[:index], cell, *others[index:]], start=1):
                c.order = float(n)
            return
    elif before is not None:
        order = before + 1.0
    elif after is not None:
        order = after - 1.0
    else:
        order = 1.0
    cell.order = order
