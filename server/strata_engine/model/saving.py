"""Writing a notebook: cell files and structural saves of notebook.toml (SPEC 1-2).

Only structural edits rewrite notebook.toml, and only when its content changes; the save
merges into the existing text (manifest_writer.py) so comments and style survive, blanks
secrets, and keeps every entry it could not load as written. Writes are atomic.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.manifest_file import MANIFEST, NotebookError, read_manifest
from strata_engine.model.notebook import CELLS_DIR, LANGUAGES, Cell, Notebook, resolve_cell_path
from strata_engine.model.safe_read import MAX_CELL_BYTES, FileRefused, read_regular_file

_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)


def write_cell_source(notebook: Notebook, cell: Cell, text: str) -> bool:
    """Write one cell's file atomically; returns False when the content was already equal."""
    path = resolve_cell_path(notebook.directory, cell.file)
    if path is None:
        raise NotebookError(f"cell {cell.id!r}: refusing to write {cell.file!r} outside cells/")
    try:
        if read_regular_file(path, MAX_CELL_BYTES) == text.encode("utf-8"):
            return False
    except FileNotFoundError:
        pass
    except FileRefused as exc:  # a FIFO or device in its place: never replace it silently
        raise NotebookError(f"cell {cell.id!r}: {cell.path} {exc}") from exc
    atomic_write(path, text)
    cell.source = text
    return True


def blank_secrets(env: dict[str, Any]) -> dict[str, Any]:
    return {k: ("" if _SECRET_NAME.search(k) else v) for k, v in env.items()}


def _only_blanks(env: dict[str, Any]) -> bool:
    return bool(env) and all(_SECRET_NAME.search(k) and v == "" for k, v in env.items())


def render_manifest(notebook: Notebook) -> dict[str, Any]:
    """The document to write: the loaded one with the model's cells and secrets blanked."""
    document = copy.deepcopy(notebook.document)
    entries = []
    for cell in notebook.cells:
        entry = _cell_entry(cell)
        if "env" in entry and isinstance(entry["env"], dict):
            entry["env"] = blank_secrets(entry["env"])
            if _only_blanks(entry["env"]):
                del entry["env"]
        entries.append(entry)
    # Entries that never became cells (no string id, a repeated id) were reported at load;
    # SPEC 2: preserved verbatim, never dropped by a save.
    entries += _unloaded_entries(notebook.document.get("cells"))
    document["cells"] = entries
    if isinstance(document.get("env"), dict):
        document["env"] = blank_secrets(document["env"])
        if _only_blanks(document["env"]):
            del document["env"]
    return document


def _unloaded_entries(raw_cells: object) -> list[Any]:
    """The raw `[[cells]]` entries the loader skipped, in manifest order."""
    if not isinstance(raw_cells, list):
        return []
    seen: set[str] = set()
    skipped = []
    for entry in raw_cells:
        cell_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(cell_id, str) and cell_id not in seen:
            seen.add(cell_id)
        else:
            skipped.append(copy.deepcopy(entry))
    return skipped


def _loaded_value(entry: dict[str, Any], key: str, cell_id: str) -> str:
    """What the loader made of the entry's `file` or `language` (its value or the default)."""
    value = entry.get(key)
    if key == "file":
        return value if isinstance(value, str) else f"{cell_id}.py"
    return value if value in LANGUAGES else "python"


def _cell_entry(cell: Cell) -> dict[str, Any]:
    """The cell's table: its raw entry with the model's values, leaving keys that were
    absent (defaults) or numerically equal (`order = 1` vs 1.0) as written, so a save does
    not restyle untouched cells."""
    entry = dict(cell.entry)
    entry["id"] = cell.id
    defaults = {"file": f"{cell.id}.py", "language": "python"}
    for key, value in (("file", cell.file), ("language", cell.language)):
        if key in entry and value == _loaded_value(entry, key, cell.id):
            continue  # unchanged since load: keep it as written, even an invalid value
        if key in entry or value != defaults[key] or not cell.entry:  # new cells: explicit
            entry[key] = value
    order = entry.get("order")
    if not (isinstance(order, int | float) and float(order) == cell.order):
        entry["order"] = cell.order
    return entry


def save_notebook(notebook: Notebook, *, now: dt.datetime | None = None) -> bool:
    """Write notebook.toml if (and only if) its content changes; bump `updated_at` then.

    Returns whether the file was written. Never overwrites a manifest that no longer parses
    (someone is editing it by hand): that raises NotebookParseError instead.
    """
    manifest = notebook.manifest_path
    current_text, current = read_manifest(manifest) if manifest.exists() else (None, None)
    document = render_manifest(notebook)
    if current is not None:
        comparable = {k: v for k, v in current.items() if k != "updated_at"}
        if comparable == {k: v for k, v in document.items() if k != "updated_at"}:
            return False
    document["updated_at"] = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    text = _manifest_text(current_text, document)
    atomic_write(manifest, text)
    notebook.set_document(document, text)
    return True


def set_variant_active(
    notebook: Notebook, group: str, name: str, *, now: dt.datetime | None = None
) -> bool:
    """Make `name` the active member of variant group `group` (SPEC 2 `[[variant_group]]`):
    a structural edit, saved as a minimal diff (its entry's `active` line, or a new entry).
    Whether `name` is a member is the caller's check (`analysis.variants.choice_problem`).
    Returns whether notebook.toml changed."""
    document = copy.deepcopy(notebook.document)
    raw = document.get("variant_group")
    groups: list[Any] = raw if isinstance(raw, list) else []
    entry = next((g for g in groups if isinstance(g, dict) and g.get("group") == group), None)
    if entry is None:
        groups.append({"group": group, "active": name})
    else:
        entry["active"] = name
    document["variant_group"] = groups
    previous = notebook.document
    notebook.document = document
    try:
        return save_notebook(notebook, now=now)
    except BaseException:
        notebook.document = previous
        raise


def _manifest_text(current_text: str | None, document: dict[str, Any]) -> str:
    """The existing file minimally edited (comments and style kept); a fresh rendering for
    a new manifest, or if the merge would not read back as `document`."""
    if current_text is not None:
        from strata_engine.model.manifest_writer import merge_manifest

        merged = merge_manifest(current_text, document)
        if tomllib.loads(merged) == document:
            return merged
    import tomli_w  # only structural edits need the writer

    return tomli_w.dumps(_ordered(document))


def _ordered(document: dict[str, Any]) -> dict[str, Any]:
    """Identity keys first so the manifest reads top-down; the rest keep their order."""
    head = ("notebook_id", "name", "owner", "created_at", "updated_at", "worker", "timeout")
    ordered = {k: document[k] for k in head if k in document}
    ordered.update((k, v) for k, v in document.items() if k not in ordered)
    return ordered


def create_notebook(directory: Path, name: str) -> Notebook:
    """`strata new`: a notebook with one Python cell. Refuses to touch an existing manifest."""
    import uuid

    if (directory / MANIFEST).exists():
        raise NotebookError(f"{directory / MANIFEST} already exists; choose another name")
    (directory / CELLS_DIR).mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = Cell(id="hello", file="hello.py", language="python", order=1.0)
    notebook_id = str(uuid.uuid4())
    notebook = Notebook(
        directory=directory,
        notebook_id=notebook_id,
        name=name,
        cells=[first],
        document={"notebook_id": notebook_id, "name": name, "created_at": now},
    )
    atomic_write(directory / CELLS_DIR / first.file, 'message = "hello from Strata"\nmessage\n')
    save_notebook(notebook, now=now)
    return notebook
