"""The notebook model: `notebook.toml` + `cells/*` on disk <-> `Notebook` in memory (SPEC 1-2).

Reading uses the stdlib `tomllib` (fast, on every `strata run`); writing uses `tomli_w` and
happens only for structural edits. The parsed document is kept whole in `Notebook.document`
so unknown keys and tables survive a save. Cell sources are read here, with path confinement
to `cells/`; nothing in this module executes cell code.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.model.diagnostics import Diagnostic, make
from strata_engine.model.fsutil import atomic_write
from strata_engine.model.manifest import (
    Manifest,
    WorkerSpec,
    parse_manifest_document,
    shared_store_unavailable,
)
from strata_engine.model.manifest import string_table as _string_table
from strata_engine.model.safe_read import (
    MAX_CELL_BYTES,
    MAX_MANIFEST_BYTES,
    FileRefused,
    read_regular_file,
)
from strata_engine.model.timeouts import valid_timeout

MANIFEST = "notebook.toml"
CELLS_DIR = "cells"
LANGUAGES = ("python", "sql", "prompt", "markdown", "r")
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_AT_END = "(at end of document)"
_BOM = "\ufeff"
_TOML_KINDS = {
    **{"dict": "a table", "str": "a string", "int": "an integer", "float": "a number"},
    **{"bool": "a boolean", "datetime": "a date-time", "date": "a date", "time": "a time"},
}


class NotebookError(Exception):
    """The notebook cannot be loaded at all (the CLI exits 2)."""


class NotebookParseError(NotebookError):
    """notebook.toml cannot be used: a syntax error, or valid TOML of the wrong shape
    (`fix` then says what the shape must be)."""

    def __init__(
        self,
        path: Path,
        line: int | None,
        column: int | None,
        detail: str,
        *,
        fix: str | None = None,
    ) -> None:
        self.path, self.line, self.column, self.detail = path, line, column, detail
        self.fix = fix or "fix the TOML syntax at that position"
        where = str(path)
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        if fix is None:
            message = f"{where}: cannot parse notebook.toml: {detail}. Fix the TOML syntax at "
            message += "that position; the file was left untouched."
        else:
            message = f"{where}: {detail}; {fix}. The file was left untouched."
        super().__init__(message)


@dataclass
class Cell:
    """One `[[cells]]` entry plus its source text (None when the file cannot be read)."""

    id: str
    file: str
    language: str
    order: float
    source: str | None = None
    worker: str | None = None
    timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)
    """The raw table from notebook.toml, unknown keys included."""

    @property
    def path(self) -> str:
        """The cell file relative to the notebook directory ("cells/load.py"): how
        diagnostics, tracebacks and the editor name it."""
        return f"{CELLS_DIR}/{self.file}"


@dataclass
class Notebook:
    directory: Path
    notebook_id: str
    name: str
    cells: list[Cell]
    """In display/analysis order (`order`, ties broken by position in the manifest)."""
    document: dict[str, Any]
    """The whole parsed notebook.toml, for round trips."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Problems found while loading: missing files, unsafe paths, duplicate ids, bad blocks."""
    manifest_text: str | None = None
    """The text notebook.toml was loaded from (None for a notebook built in memory): lets
    manifest diagnostics point at lines."""
    manifest: Manifest = field(init=False, repr=False, compare=False)
    """The typed model of `document`, parsed once here; `set_document` keeps it in step."""

    def __post_init__(self) -> None:
        self.manifest = parse_manifest_document(self.document)

    def set_document(self, document: dict[str, Any], text: str | None) -> None:
        """Replace the raw document (after a save) and re-derive the model from it."""
        self.document, self.manifest_text = document, text
        self.manifest = parse_manifest_document(document)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    @property
    def store_location(self) -> str:
        """Where the artifact store lives: the `[cache] store` URI as written, or an absolute
        path (a relative `store` is relative to the notebook directory). Raises NotebookError
        when `[cache]` cannot say where (e.g. `cache = "x"`)."""
        store = self.manifest.store
        if store.problem is not None:
            raise NotebookError(store.problem)
        if store.location is None:
            return str(self.directory / ".strata" / "artifacts")
        if "://" in store.location:
            return store.location
        try:
            return str((self.directory / store.location).resolve())
        except (OSError, RuntimeError, ValueError) as exc:  # null byte, symlink loop, ...
            raise NotebookError(
                f"[cache] store = {store.location!r} in notebook.toml is not a usable path "
                f"({exc}); fix it or remove it to use .strata/artifacts"
            ) from exc

    @property
    def store_root(self) -> Path:
        """The local directory of the artifact store. Shared (URI) stores are refused until
        they are built, rather than silently replaced by the local default."""
        location = self.store_location
        if "://" in location:
            raise NotebookError(shared_store_unavailable(location))
        return Path(location)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.manifest.env)

    @property
    def default_timeout(self) -> float | None:
        return self.manifest.default_timeout

    @property
    def default_worker(self) -> str | None:
        return self.manifest.default_worker

    @property
    def workers(self) -> tuple[WorkerSpec, ...]:
        return self.manifest.workers

    @property
    def worker_names(self) -> list[str]:
        return list(self.manifest.worker_names)

    @property
    def mount_names(self) -> list[str]:
        return list(self.manifest.mount_names)

    @property
    def connection_names(self) -> list[str]:
        return list(self.manifest.connection_names)

    def cell(self, cell_id: str) -> Cell | None:
        return next((c for c in self.cells if c.id == cell_id), None)


def find_manifest(path: Path) -> Path:
    """Accept a notebook directory or its notebook.toml; raise NotebookError otherwise."""
    candidate = path / MANIFEST if path.is_dir() else path
    if candidate.name == MANIFEST and candidate.exists() and not candidate.is_file():
        raise NotebookError(
            f"{candidate}: is not a regular file (a FIFO, device or directory); replace it "
            "with the notebook's TOML manifest"
        )
    if candidate.name != MANIFEST or not candidate.is_file():
        raise NotebookError(
            f"{path}: not a Strata notebook (no {MANIFEST} found); pass the notebook directory "
            "or create one with `strata new NAME`"
        )
    return candidate


def toml_error_position(
    exc: tomllib.TOMLDecodeError, text: str | None = None
) -> tuple[int | None, int | None, str]:
    """(line, column, message without the position) of a TOML syntax error; 1-based.
    tomllib says "at end of document" instead of a position (a string or array left open
    by a truncated file): with the `text`, that becomes the last line and column."""
    found = _TOML_POSITION.search(str(exc))
    detail = _TOML_POSITION.sub("", str(exc)).strip()
    if found:
        return int(found[1]), int(found[2]), detail
    if _AT_END in detail:
        detail = detail.replace(_AT_END, "").strip() + " at the end of the file (is it truncated?)"
        if text is not None:
            last_newline = text.rfind("\n")
            return text.count("\n") + 1, len(text) - last_newline, detail
    return None, None, detail


def read_manifest(manifest: Path, text: str | None = None) -> tuple[str, dict[str, Any]]:
    """The manifest's text and its parsed document (NotebookParseError when unusable).
    `text`, when given, is parsed instead of the file (an editor's unsaved notebook.toml)."""
    if text is None:
        text = _read_manifest_text(manifest)
    # A BOM (Notepad adds one) is not TOML, but it is not content either: read past it.
    # Only structural edits write the file, so accepting it never rewrites the manifest.
    text = text.removeprefix(_BOM)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotebookParseError(manifest, *toml_error_position(exc, text)) from exc
    except RecursionError as exc:  # tomllib recurses once per level of nesting
        raise NotebookParseError(
            manifest,
            None,
            None,
            "notebook.toml nests arrays or inline tables too deeply to be read",
            fix="flatten the nesting (Strata's own tables are at most three levels deep)",
        ) from exc
    check_manifest_shape(manifest, text, document)
    return text, document


def _read_manifest_text(manifest: Path) -> str:
    try:
        data = read_regular_file(manifest, MAX_MANIFEST_BYTES)
    except FileRefused as exc:
        fix = "check that this is the notebook's manifest" if exc.too_large else exc.fix
        raise NotebookError(f"{manifest} {exc.problem}; {fix}") from exc
    except OSError as exc:
        raise NotebookError(f"{manifest}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        encoding = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "not valid UTF-8"
        raise NotebookParseError(
            manifest,
            line,
            column,
            f"notebook.toml is {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            fix="re-save it as UTF-8",
        ) from exc


def check_manifest_shape(manifest: Path, text: str, document: dict[str, Any]) -> None:
    """Raise NotebookParseError for valid TOML that no notebook can be built from, with
    its line, rather than a TOML syntax error or a traceback further in."""
    cells = document.get("cells", [])
    if not isinstance(cells, list):
        kind = _TOML_KINDS.get(type(cells).__name__, "a single value")
        raise NotebookParseError(
            manifest,
            _line_of(text, r"\[\s*cells\s*\]|cells\s*="),
            None,
            f"`cells` in notebook.toml is {kind}, but it must be an array of tables",
            fix='write each cell as a [[cells]] table with id = "..." and file = "..."',
        )
    for index, entry in enumerate(cells):
        problem = _order_problem(entry.get("order") if isinstance(entry, dict) else None)
        if problem is not None:
            from strata_engine.model.manifest_spans import ManifestLocator

            span = ManifestLocator(text).value(("cells",), index, "order")
            raise NotebookParseError(
                manifest,
                span.line,
                span.col + 1,
                f"cells entry #{index + 1}: `order` is {problem}, which cannot sort cells",
                fix="write a plain number such as order = 3",
            )


def _order_problem(order: object) -> str | None:
    """What makes an `order` unusable as a float sort key (NaN sorts nowhere), if anything."""
    if isinstance(order, float) and math.isnan(order):
        return "NaN"
    if isinstance(order, int) and not isinstance(order, bool):
        try:
            float(order)
        except OverflowError:
            return f"an integer of about {int(order.bit_length() * 0.30103) + 1} digits"
    return None


def _line_of(text: str, pattern: str) -> int | None:
    """1-based line of the first line starting with `pattern`, if any."""
    found = re.search(r"^[ \t]*(?:" + pattern + ")", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def parse_manifest(manifest: Path) -> dict[str, Any]:
    return read_manifest(manifest)[1]


def load_notebook(
    path: Path, *, read_sources: bool = True, manifest_text: str | None = None
) -> Notebook:
    """Load a notebook directory. Raises NotebookError when the manifest is unusable;
    per-cell problems become diagnostics so the rest of the notebook still works.
    `manifest_text` replaces the content of notebook.toml (the editor's unsaved text)."""
    manifest = find_manifest(path)
    text, document = read_manifest(manifest, manifest_text)
    directory = manifest.parent
    diagnostics: list[Diagnostic] = []
    notebook_id = document.get("notebook_id")
    if not isinstance(notebook_id, str) or not notebook_id:
        notebook_id = directory.name
    cells = _load_cells(directory, document, diagnostics)
    if read_sources:
        for cell in cells:
            cell.source = read_cell_source(directory, cell, diagnostics)
    name = document.get("name")
    return Notebook(
        directory=directory,
        notebook_id=notebook_id,
        name=name if isinstance(name, str) else directory.name,
        cells=cells,
        document=document,
        diagnostics=diagnostics,
        manifest_text=text,
    )


def _load_cells(directory: Path, document: dict[str, Any], out: list[Diagnostic]) -> list[Cell]:
    raw_cells = document.get("cells", [])
    if not isinstance(raw_cells, list):
        raise NotebookParseError(
            directory / MANIFEST,
            None,
            None,
            "`cells` in notebook.toml must be an array of tables",
            fix='write each cell as a [[cells]] table with id = "..." and file = "..."',
        )
    _check_cells_directory(directory)
    cells: list[tuple[float, int, Cell]] = []
    seen: set[str] = set()
    for position, entry in enumerate(raw_cells):
        cell = _cell_from_entry(entry, position, out)
        if cell is None:
            continue
        if cell.id in seen:
            out.append(
                make(
                    "duplicate_cell_id",
                    f"cell id {cell.id!r} appears more than once in notebook.toml "
                    f"(entry #{position + 1}, file {cell.file!r}); give each cell a unique id",
                    cell_id=cell.id,
                    file=MANIFEST,
                )
            )
            continue
        seen.add(cell.id)
        cells.append((cell.order, position, cell))
    cells.sort(key=lambda item: (item[0], item[1]))
    return [cell for _, _, cell in cells]


def _check_cells_directory(directory: Path) -> None:
    """`cells` must be a directory if it exists (a missing one makes each cell's file
    missing, reported per cell)."""
    cells_dir = directory / CELLS_DIR
    try:
        mode = cells_dir.stat().st_mode
    except (OSError, ValueError):
        return
    if not stat.S_ISDIR(mode):
        raise NotebookError(
            f"{cells_dir} is not a directory; cells/ must be the directory that holds the "
            "cell files: move that file away and create the directory"
        )


def _cell_from_entry(entry: object, position: int, out: list[Diagnostic]) -> Cell | None:
    where = f"cells entry #{position + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        out.append(
            make(
                "parse_failed",
                f'{where} in notebook.toml has no string `id`; add `id = "..."` to it',
                file=MANIFEST,
            )
        )
        return None
    cell_id: str = entry["id"]
    file_value = entry.get("file")
    if "file" in entry and not isinstance(file_value, str):
        out.append(
            make(
                "parse_failed",
                f"cell {cell_id!r} has file = {file_value!r}, which is not a file name; write "
                f'file = "{cell_id}.py" (until then cells/{cell_id}.py is used)',
                cell_id=cell_id,
                file=MANIFEST,
            )
        )
    language = entry.get("language", "python")
    if language not in LANGUAGES:
        out.append(
            make(
                "parse_failed",
                f"cell {cell_id!r} has language {language!r}; use one of {', '.join(LANGUAGES)}",
                cell_id=cell_id,
                file=MANIFEST,
            )
        )
        language = "python"
    order = entry.get("order", position)
    if _order_problem(order) is not None:  # a document built in memory; files are refused
        order = position
    worker = entry.get("worker")
    return Cell(
        id=cell_id,
        file=file_value if isinstance(file_value, str) else f"{cell_id}.py",
        language=language,
        order=float(order) if isinstance(order, int | float) else float(position),
        worker=worker if isinstance(worker, str) else None,
        # An invalid timeout is ignored (the manifest checks warn about it), never used.
        timeout=valid_timeout(entry.get("timeout")),
        env=_string_table(entry.get("env")),
        entry=entry,
    )


def resolve_cell_path(directory: Path, file: str) -> Path | None:
    """The cell file's path if it stays inside `cells/` and `cells/` stays inside the
    notebook (symlinks resolved), else None; also None when it cannot be resolved at all
    (a NUL in the name, a symlink loop)."""
    if not file or "\0" in file or Path(file).is_absolute() or ".." in Path(file).parts:
        return None
    try:
        root = directory.resolve()
        cells_dir = (directory / CELLS_DIR).resolve()
        candidate = (cells_dir / file).resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a loop (Python < 3.13)
        return None
    if not cells_dir.is_relative_to(root):
        return None  # cells/ is a symlink out of the notebook: none of its files are ours
    return candidate if candidate.is_relative_to(cells_dir) else None


def _unresolvable(directory: Path, cell: Cell) -> Diagnostic:
    """Why `resolve_cell_path` refused the cell's file, said as precisely as we can."""
    code, fix = "cell_path_outside", "move the file into cells/ and use a path relative to it"
    problem = f"file {cell.file!r} resolves outside cells/"
    cells_dir = directory / CELLS_DIR
    try:
        outside = not cells_dir.resolve().is_relative_to(directory.resolve())
        if not outside and "\0" not in cell.file:
            (cells_dir / cell.file).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        code, problem = "parse_failed", f"{cell.path} cannot be resolved ({exc})"
        fix = "replace the symlink loop by the file itself"
        outside = False
    if "\0" in cell.file:
        code, problem = "parse_failed", f"file {cell.file!r} contains a NUL character"
        fix = "fix the `file` of this cell in notebook.toml"
    elif outside:
        problem = f"cells/ is a symlink to {cells_dir.resolve()}, outside the notebook"
        fix = "make cells/ a real directory inside the notebook; its files are not read or run"
    return make(code, f"cell {cell.id!r}: {problem}; {fix}", cell_id=cell.id, file=MANIFEST)


def read_cell_source(directory: Path, cell: Cell, out: list[Diagnostic]) -> str | None:
    relative = cell.path
    path = resolve_cell_path(directory, cell.file)
    if path is None:
        out.append(_unresolvable(directory, cell))
        return None
    try:
        data = read_regular_file(path, MAX_CELL_BYTES)
    except FileRefused as exc:
        message = f"cell {cell.id!r}: {relative} {exc.problem}; {exc.fix}"
        out.append(make("parse_failed", message, cell_id=cell.id, file=relative))
        return None
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
            reason = exc.strerror or str(exc)  # ELOOP on Python >= 3.13, EACCES, ...
            message = f"cell {cell.id!r}: {relative} cannot be read ({reason}); "
            message += "make it a readable regular file inside cells/"
            out.append(make("parse_failed", message, cell_id=cell.id, file=relative))
            return None
        out.append(
            make(
                "cell_file_missing",
                f"cell {cell.id!r}: {relative} does not exist; restore the file or remove "
                "the cell from notebook.toml",
                cell_id=cell.id,
                file=relative,
            )
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.append(
            make(
                "parse_failed",
                f"cell {cell.id!r}: {relative} is not valid UTF-8 (byte 0x{data[exc.start]:02x} "
                f"at offset {exc.start}); re-save the file as UTF-8",
                cell_id=cell.id,
                file=relative,
            )
        )
        return None


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
