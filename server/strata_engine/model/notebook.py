"""The notebook model: `notebook.toml` + `cells/*` on disk <-> `Notebook` in memory (SPEC 1-2).

Reading uses the stdlib `tomllib` (fast, on every `strata run`); writing uses `tomli_w` and
happens only for structural edits. The parsed document is kept whole in `Notebook.document`
so unknown keys and tables survive a save. Cell sources are read here, with path confinement
to `cells/`; nothing in this module executes cell code.

Reading notebook.toml itself lives in manifest_file.py, writing in saving.py.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.model.diagnostics import Diagnostic, make
from strata_engine.model.manifest import (
    Manifest,
    WorkerSpec,
    parse_manifest_document,
    shared_store_unavailable,
)
from strata_engine.model.manifest import string_table as _string_table
from strata_engine.model.manifest_file import (
    MANIFEST,
    NotebookError,
    NotebookParseError,
    find_manifest,
    order_problem,
    read_manifest,
    toml_error_position,
)
from strata_engine.model.safe_read import (
    MAX_CELL_BYTES,
    PLAIN_READS,
    FileRefused,
    read_plain_file,
    read_regular_file,
)
from strata_engine.model.store_place import store_place
from strata_engine.model.timeouts import valid_timeout

CELLS_DIR = "cells"
LANGUAGES = ("python", "sql", "prompt", "markdown", "r")


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
            raise NotebookError(f"{self._cache_where()}: {store.problem}")
        try:
            return store_place(self.directory, store.location)
        except (OSError, RuntimeError, ValueError) as exc:  # null byte, symlink loop, ...
            raise NotebookError(
                f"{self._cache_where()}: [cache] store = {store.location!r} in notebook.toml "
                "is not a usable path "
                f"({exc}); fix it or remove it to use .strata/artifacts"
            ) from exc

    def _cache_where(self) -> str:
        """`notebook.toml:LINE` of the `[cache]` setting a store error is about."""
        if self.manifest_text is None:
            return str(self.manifest_path)
        from strata_engine.model.manifest_spans import ManifestLocator

        at = ManifestLocator(self.manifest_text)
        cache = self.document.get("cache")
        span = at.value(("cache",), None, "store") if isinstance(cache, dict) else None
        span = span or at.key((), None, "cache")
        return f"{self.manifest_path}:{span.line}"

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
        cells_dir = confined_cells_dir(directory)
        plain = _plain_files(cells_dir)
        with _opened_directory(cells_dir if plain else None) as cells_fd:
            for cell in cells:
                cell.source = read_cell_source(
                    directory, cell, diagnostics, cells_dir, plain, cells_fd
                )
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
    if order_problem(order) is not None:  # a document built in memory; files are refused
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


def confined_cells_dir(directory: Path) -> Path | None:
    """`cells/` resolved, or None when it is a symlink out of the notebook (then none of
    its files are ours) or cannot be resolved."""
    try:
        cells_dir = (directory / CELLS_DIR).resolve()
        return cells_dir if cells_dir.is_relative_to(directory.resolve()) else None
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a loop (Python < 3.13)
        return None


def resolve_cell_path(directory: Path, file: str) -> Path | None:
    """The cell file's path if it stays inside `cells/` and `cells/` stays inside the
    notebook (symlinks resolved), else None; also None when it cannot be resolved at all
    (a NUL in the name, a symlink loop)."""
    return resolve_in_cells(confined_cells_dir(directory), file)


def resolve_in_cells(cells_dir: Path | None, file: str) -> Path | None:
    """`resolve_cell_path` with `cells/` already resolved (loading resolves it once)."""
    if cells_dir is None or not file or "\0" in file:
        return None
    if Path(file).is_absolute() or ".." in Path(file).parts:
        return None
    try:
        candidate = (cells_dir / file).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
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


def _plain_files(cells_dir: Path | None) -> frozenset[str]:
    """Names of the regular files (not symlinks) directly in the resolved `cells/`: one such
    name is its own resolved path, which spares a realpath per cell (~0.2 ms at 10,000)."""
    if cells_dir is None:
        return frozenset()
    try:
        with os.scandir(cells_dir) as entries:
            return frozenset(e.name for e in entries if e.is_file(follow_symlinks=False))
    except OSError:
        return frozenset()


@contextlib.contextmanager
def _opened_directory(path: Path | None) -> Iterator[int | None]:
    """A descriptor of the directory `path` (None when there is none or it cannot be
    opened), closed after the block."""
    fd: int | None = None
    if path is not None and PLAIN_READS:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def read_cell_source(
    directory: Path,
    cell: Cell,
    out: list[Diagnostic],
    cells_dir: Path | None,
    plain: frozenset[str] = frozenset(),
    cells_fd: int | None = None,
) -> str | None:
    """The cell's text, or None with a diagnostic saying why it cannot be read.
    `cells_dir`: `confined_cells_dir(directory)`, resolved once for all cells; `plain`: its
    regular files (`_plain_files`), which need no resolving; `cells_fd`: `cells_dir` opened,
    to read those relative to it."""
    relative = cell.path
    if cells_fd is not None and cell.file in plain:
        data = read_plain_file(cells_fd, cell.file, MAX_CELL_BYTES)
        if data is not None:
            return _decoded(data, cell, out)
    path: str | Path | None
    if cells_dir is not None and cell.file in plain:
        path = os.path.join(cells_dir, cell.file)  # a str: no Path built per cell
    else:
        path = resolve_in_cells(cells_dir, cell.file)
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
    return _decoded(data, cell, out)


def _decoded(data: bytes, cell: Cell, out: list[Diagnostic]) -> str | None:
    relative = cell.path
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


__all__ = [
    "CELLS_DIR",
    "LANGUAGES",
    "MANIFEST",
    "Cell",
    "Notebook",
    "NotebookError",
    "NotebookParseError",
    "find_manifest",
    "load_notebook",
    "read_cell_source",
    "read_manifest",
    "resolve_cell_path",
    "toml_error_position",
]
