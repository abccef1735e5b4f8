"""Which notebook and which cell an open LSP document is.

Three kinds of documents:
- cells of a notebook document (LSP 3.17 notebook sync). Their URIs are opaque to us (VS Code
  uses `vscode-notebook-cell:` URIs) and are only ever echoed back, never rewritten. The
  notebook directory comes from the notebook's metadata `{"strata": {"directory": "/abs"}}`
  and each cell's id from the cell's metadata `{"strata": {"id": "load"}}`; without
  metadata, a `file:` cell URI under `cells/` still identifies its cell by file;
- plain text documents of cell files (`cells/*.py`): the notebook is the nearest
  notebook.toml above them;
- notebook.toml itself.

The text itself lives in pygls' workspace; this module only maps URIs to notebooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.uris import to_fs_path

from strata_engine.model.notebook import CELLS_DIR, MANIFEST, Notebook


@dataclass
class DocRef:
    uri: str
    directory: Path
    kind: str
    """"cell" or "manifest"."""
    cell_id: str | None = None
    """Known from notebook cell metadata; else resolved from `file` by `cell_in`."""
    file: str | None = None
    """Relative to the notebook directory (`cells/load.py`), when the URI is a file."""
    notebook_uri: str | None = None
    seq: int = 0
    """Bumped on every edit: when two documents show one cell, the latest edit wins."""

    def cell_in(self, cells: CellIndex) -> str | None:
        """This document's cell id in a notebook (None when it is not one of its cells)."""
        if self.kind != "cell":
            return None
        if self.cell_id is not None:
            return self.cell_id if self.cell_id in cells.ids else None
        return cells.by_file.get(self.file or "")


class CellIndex:
    """A notebook's cell ids and files, for mapping many documents at once."""

    def __init__(self, notebook: Notebook) -> None:
        self.ids = {cell.id for cell in notebook.cells}
        self.by_file = {cell.path: cell.id for cell in notebook.cells}


@dataclass
class Documents:
    refs: dict[str, DocRef] = field(default_factory=dict)
    _seq: int = 0
    _by_directory: dict[Path, list[DocRef]] = field(default_factory=dict)
    """Memo of `in_directory` (asked several times per keystroke, over thousands of cells);
    cleared whenever a document is mapped or unmapped."""

    def get(self, uri: str) -> DocRef | None:
        return self.refs.get(uri)

    def in_directory(self, directory: Path) -> list[DocRef]:
        """The documents of one notebook (a shared list: do not modify it)."""
        found = self._by_directory.get(directory)
        if found is None:
            found = [ref for ref in self.refs.values() if ref.directory == directory]
            self._by_directory[directory] = found
        return found

    def directories(self) -> set[Path]:
        return {ref.directory for ref in self.refs.values()}

    def touch(self, uri: str) -> DocRef | None:
        ref = self.refs.get(uri)
        if ref is not None:
            self._seq += 1
            ref.seq = self._seq
        return ref

    # -- notebook documents ----------------------------------------------------------------
    def sync_notebook(self, notebook: types.NotebookDocument) -> Path | None:
        """(Re)map every cell of an opened or changed notebook document."""
        directory = notebook_directory(notebook)
        self._by_directory.clear()
        stale = [u for u, r in self.refs.items() if r.notebook_uri == notebook.uri]
        for uri in stale:
            del self.refs[uri]
        if directory is None:
            return None
        for cell in notebook.cells:
            cell_id = _strata_meta(cell.metadata).get("id")
            file = _cell_file(cell.document, directory)
            if not isinstance(cell_id, str) and file is None:
                continue  # a new cell not yet saved into notebook.toml: nothing to analyze
            known_id = cell_id if isinstance(cell_id, str) else None
            ref = DocRef(cell.document, directory, "cell", known_id, file, notebook.uri)
            self.refs[cell.document] = ref
            self.touch(cell.document)
        return directory

    def close_notebook(self, notebook_uri: str) -> list[DocRef]:
        self._by_directory.clear()
        closed = [r for r in self.refs.values() if r.notebook_uri == notebook_uri]
        for ref in closed:
            del self.refs[ref.uri]
        return closed

    # -- text documents --------------------------------------------------------------------
    def open_text(self, uri: str) -> DocRef | None:
        """Map a cell file or a notebook.toml opened as a text document."""
        if uri in self.refs:
            return self.touch(uri)  # a notebook cell that is also reported as text
        self._by_directory.clear()
        path = _fs_path(uri)
        if path is None:
            return None
        if path.name == MANIFEST:
            self.refs[uri] = DocRef(uri, path.parent, "manifest", file=MANIFEST)
            return self.refs[uri]
        directory = _notebook_above(path)
        if directory is None or not path.is_relative_to(directory / CELLS_DIR):
            return None
        relative = path.relative_to(directory).as_posix()
        self.refs[uri] = DocRef(uri, directory, "cell", file=relative)
        return self.touch(uri)

    def close_text(self, uri: str) -> DocRef | None:
        ref = self.refs.get(uri)
        if ref is not None and ref.notebook_uri is None:
            self._by_directory.clear()
            del self.refs[uri]
            return ref
        return None


def _strata_meta(metadata: Any) -> dict[str, Any]:
    strata = metadata.get("strata") if isinstance(metadata, dict) else None
    return strata if isinstance(strata, dict) else {}


def notebook_directory(notebook: types.NotebookDocument) -> Path | None:
    """The notebook directory from metadata, else from the notebook URI's path."""
    given = _strata_meta(notebook.metadata).get("directory")
    if isinstance(given, str) and given:
        path = _fs_path(given) if "://" in given or given.startswith("file:") else Path(given)
        if path is not None and (path / MANIFEST).is_file():
            return normalize(path)
    path = _any_path(notebook.uri)
    if path is None:
        return None
    if (path / MANIFEST).is_file():
        return normalize(path)
    return _notebook_above(path)


def _cell_file(uri: str, directory: Path) -> str | None:
    path = _fs_path(uri)
    if path is None or not path.is_relative_to(directory / CELLS_DIR):
        return None
    return path.relative_to(directory).as_posix()


def _fs_path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return normalize(Path(path)) if path else None


def _any_path(uri: str) -> Path | None:
    """The path component of any URI (`strata:/abs/dir`, `file:///abs/notebook.toml`)."""
    parsed = urlparse(uri)
    return normalize(Path(unquote(parsed.path))) if parsed.path else None


def _notebook_above(path: Path) -> Path | None:
    for candidate in path.parents:
        if (candidate / MANIFEST).is_file():
            return candidate
    return None


def normalize(path: Path) -> Path:
    """One spelling per directory (symlinks resolved), so lookups by path agree."""
    return Path(os.path.realpath(path))
