"""Python language features in cells (engine: `editor/python_features.py`, jedi): find the
cell, ask the engine with the document's text, convert. A definition in another cell is
placed in the document that shows that cell (else its file); one in a library, in its file."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from strata_engine.editor.completion import Completion
from strata_engine.editor.explain import Explanation
from strata_engine.editor.python_features import Location, PythonFeatures

from .convert import from_position, to_position, to_signature_help
from .documents import CellIndex
from .notebooks import Host, Notebooks

TRIGGERS = (None, ".")
"""Completion triggers jedi answers: an explicit request (or typing a word), and `.`."""
PYTHON = PythonFeatures()
"""One per server: its caches are keyed by notebook and cell, and jedi's are process-wide."""


def _source(notebooks: Notebooks, uri: str) -> str:
    lines, _ = notebooks.lines(uri)
    return "\n".join(lines)


def completions(
    notebooks: Notebooks, host: Host, cell_id: str, uri: str, line: int, col: int
) -> list[Completion]:
    assert host.snapshot is not None
    return PYTHON.complete(host.snapshot, cell_id, line, col, _source(notebooks, uri))


def explanation(
    notebooks: Notebooks, host: Host, cell_id: str, uri: str, line: int, col: int
) -> Explanation | None:
    assert host.snapshot is not None
    return PYTHON.hover(host.snapshot, cell_id, line, col, _source(notebooks, uri))


def merged(python: Explanation | None, strata: Explanation | None) -> Explanation | None:
    """jedi's signature/type and docstring first, then what Strata knows (where a name comes
    from, the cell's state); the range is Strata's when it has one."""
    if python is None or strata is None:
        return python or strata
    markdown = f"{python.markdown}\n\n---\n\n{strata.markdown}"
    return Explanation(markdown, strata.span or python.span)


def signature_help(
    notebooks: Notebooks, uri: str, position: types.Position
) -> types.SignatureHelp | None:
    at = _at(notebooks, uri, position)
    if at is None:
        return None
    host, cell_id, line, col = at
    assert host.snapshot is not None
    found = PYTHON.signatures(host.snapshot, cell_id, line, col, _source(notebooks, uri))
    return to_signature_help(found)


def definition(
    notebooks: Notebooks, uri: str, position: types.Position
) -> list[types.Location] | None:
    at = _at(notebooks, uri, position)
    if at is None:
        return None
    host, cell_id, line, col = at
    assert host.snapshot is not None
    found = PYTHON.definitions(host.snapshot, cell_id, line, col, _source(notebooks, uri))
    places = [_location(notebooks, host, uri, cell_id, place) for place in found]
    return [p for p in places if p is not None] or None


def _at(
    notebooks: Notebooks, uri: str, position: types.Position
) -> tuple[Host, str, int, int] | None:
    ref = notebooks.documents.get(uri)
    if ref is None or ref.kind != "cell":
        return None
    host = notebooks.fresh(ref.directory)
    if host.session is None or host.snapshot is None:
        return None
    cell_id = ref.cell_in(CellIndex(host.session.notebook))
    if cell_id is None:
        return None
    lines, _ = notebooks.lines(uri)
    line, col = from_position(position, lines, notebooks.outbox.workspace.position_codec)
    return host, cell_id, line, col


def _location(
    notebooks: Notebooks, host: Host, origin: str, origin_cell: str, place: Location
) -> types.Location | None:
    if place.cell_id is not None:
        uri = origin if place.cell_id == origin_cell else _cell_uri(notebooks, host, place.cell_id)
    else:
        uri = from_fs_path(str(place.path)) if place.path is not None else None
    if uri is None:
        return None
    lines, _ = notebooks.lines(uri)
    codec = notebooks.outbox.workspace.position_codec
    start = to_position(place.line, place.col, lines, codec)
    end = to_position(place.line, place.end_col, lines, codec)
    return types.Location(uri=uri, range=types.Range(start, end))


def _cell_uri(notebooks: Notebooks, host: Host, cell_id: str) -> str | None:
    """The open document showing the cell (the most recently edited one), else its file."""
    assert host.session is not None and host.snapshot is not None
    cells = CellIndex(host.session.notebook)
    showing = [
        ref
        for ref in notebooks.documents.in_directory(host.directory)
        if ref.cell_in(cells) == cell_id
    ]
    if showing:
        return max(showing, key=lambda ref: ref.seq).uri
    view = host.snapshot.cells.get(cell_id)
    return from_fs_path(str(Path(host.directory) / view.file)) if view is not None else None
