"""Code actions, completion and hover: find the document's notebook and cell, ask the engine
(`fixes`, `completion`, `explain`; Python cells also `python_cells`), convert the answer.
No notebook rules here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from strata_engine.analysis.dag_payload import dag_payload, loop_fields
from strata_engine.analysis.snapshot import Snapshot
from strata_engine.editor.completion import complete
from strata_engine.editor.explain import explain_at
from strata_engine.editor.fixes import Edit, Fix, quick_fixes
from strata_engine.editor.prompt_explain import with_prompt_details
from strata_engine.editor.sql_completion import complete_sql
from strata_engine.model.notebook import MANIFEST
from strata_engine.snapshots.shown import shown_entries
from strata_engine.store import load_displays

from . import python_cells
from .convert import (
    from_position,
    to_code_action,
    to_completion,
    to_diagnostic,
    to_hover,
    to_range,
    to_text_edit,
)
from .documents import CellIndex, DocRef
from .notebooks import Host, Notebooks

log = logging.getLogger(__name__)


def code_actions(notebooks: Notebooks, uri: str, requested: types.Range) -> list[types.CodeAction]:
    ref = notebooks.documents.get(uri)
    if ref is None:
        return []
    host = notebooks.fresh(ref.directory)
    if host.snapshot is None:
        return []
    lines, _ = notebooks.lines(uri)
    codec = notebooks.outbox.workspace.position_codec
    manifest_text = notebooks.manifest_text(host)
    actions = []
    for diag in host.published.get(uri, []):
        if not _overlaps(to_range(diag.span, lines, codec), requested):
            continue
        lsp_diag = to_diagnostic(diag, lines, codec)
        for fix in quick_fixes(host.snapshot, diag, manifest_text=manifest_text):
            actions.append(to_code_action(fix, [lsp_diag], _placed(notebooks, host, ref, fix)))
    return actions


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return p.line, p.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _placed(
    notebooks: Notebooks, host: Host, origin: DocRef, fix: Fix
) -> dict[str, list[types.TextEdit]]:
    codec = notebooks.outbox.workspace.position_codec
    changes: dict[str, list[types.TextEdit]] = {}
    for edit in fix.edits:
        uri = _target(notebooks, host, origin, edit)
        lines, _ = notebooks.lines(uri)
        changes.setdefault(uri, []).append(to_text_edit(edit.span, edit.new_text, lines, codec))
    return changes


def _target(notebooks: Notebooks, host: Host, origin: DocRef, edit: Edit) -> str:
    """The document an edit applies to: the requesting document when it shows the edited
    cell (or is notebook.toml), else another open document of it, else its file."""
    refs = [origin, *notebooks.documents.in_directory(host.directory)]
    cells = CellIndex(host.session.notebook) if host.session is not None else None
    for ref in refs:
        if edit.cell_id is None and edit.file == MANIFEST and ref.kind == "manifest":
            return ref.uri
        if edit.cell_id is not None and cells is not None and ref.cell_in(cells) == edit.cell_id:
            return ref.uri
    return from_fs_path(str(host.directory / edit.file)) or edit.file


def _cell_at(notebooks: Notebooks, uri: str) -> tuple[Host, str] | None:
    ref = notebooks.documents.get(uri)
    if ref is None or ref.kind != "cell":
        return None
    host = notebooks.fresh(ref.directory)
    if host.session is None or host.snapshot is None:
        return None
    cell_id = ref.cell_in(CellIndex(host.session.notebook))
    return (host, cell_id) if cell_id is not None else None


@dataclass
class _Cursor:
    """A position inside a notebook cell, in the engine's terms."""

    host: Host
    snapshot: Snapshot
    cell_id: str
    line: int
    col: int
    lines: Sequence[str]
    codec: PositionCodec


def _cursor(notebooks: Notebooks, uri: str, position: types.Position) -> _Cursor | None:
    found = _cell_at(notebooks, uri)
    if found is None:
        return None
    host, cell_id = found
    assert host.snapshot is not None
    lines, _ = notebooks.lines(uri)
    codec = notebooks.outbox.workspace.position_codec
    line, col = from_position(position, lines, codec)
    return _Cursor(host, host.snapshot, cell_id, line, col, lines, codec)


def completion(
    notebooks: Notebooks, uri: str, position: types.Position, trigger: str | None = None
) -> types.CompletionList | None:
    """`trigger`: the character that triggered it; Python names are offered when invoked, on
    `.` and while typing a word, not after every space, `=` or `,` (the annotation triggers)."""
    at = _cursor(notebooks, uri, position)
    if at is None:
        return None
    items = complete(at.snapshot, at.cell_id, at.line, at.col) or complete_sql(
        at.snapshot, at.cell_id, at.line, at.col
    )
    if not items and trigger in python_cells.TRIGGERS:
        items = python_cells.completions(notebooks, at.host, at.cell_id, uri, at.line, at.col)
    return types.CompletionList(
        is_incomplete=False, items=[to_completion(i, at.lines, at.codec) for i in items]
    )


def hover(notebooks: Notebooks, uri: str, position: types.Position) -> types.Hover | None:
    at = _cursor(notebooks, uri, position)
    if at is None:
        return None
    explanation = python_cells.merged(
        python_cells.explanation(notebooks, at.host, at.cell_id, uri, at.line, at.col),
        explain_at(at.snapshot, at.host.states, at.cell_id, at.line, at.col),
    )
    if explanation is None:
        return None
    session = at.host.session
    if session is not None:  # a prompt cell's hover: what its cached answer was asked with
        status = at.host.states.get(at.cell_id)
        explanation = with_prompt_details(explanation, status, lambda: session.blobs)
    return to_hover(explanation, at.lines, at.codec)


def cached_outputs(
    host: Host, cell_ids: list[str], keys: dict[str, str] | None = None
) -> dict[str, Any]:
    """What the cache holds for each cell (to restore outputs when a notebook opens): its
    displays and console, for the entries the engine says to show (`shown_entries`: the
    current results, or what a frozen notebook's lock pins)."""
    cells: list[dict[str, Any]] = []
    session = host.session
    if session is None:
        return {"notebook": host.name, "cells": cells}
    shown = shown_entries(host.directory, host.states, session.entry)
    for cell_id, key in (keys or {}).items():  # a run's own keys (an agent's run), as ran
        entry = session.entry(key)
        if entry is not None:
            shown[cell_id] = entry
    for cell_id, entry in shown.items():
        if cell_ids and cell_id not in cell_ids:
            continue
        try:
            displays = load_displays(session.blobs, entry.displays_digest)
        except Exception:  # a blob deleted under us: nothing to restore, not a failure
            log.warning("cannot read the displays of cell %r", cell_id, exc_info=True)
            continue
        cells.append(
            {
                "cellId": cell_id,
                "key": entry.key,
                "status": entry.status,
                "outputs": displays,
                "stdout": entry.stdout,
                "stderr": entry.stderr,
                "error": entry.error,
                "traceback": entry.traceback,
                "durationMs": round(entry.duration_ms, 1),
            }
        )
    return {"notebook": host.name, "cells": cells}


def dag(host: Host) -> dict[str, Any]:
    """The `strata dag` JSON of the current text, for the graph view; a loop cell's node
    also says how many iterations its current result stored."""
    session, states = host.session, host.states

    def stored(cell_id: str, max_iter: int) -> int | None:
        status = states.get(cell_id)
        if session is None or status is None or status.key is None:
            return None
        return session.stored_iterations(status.key, max_iter)

    graph = host.snapshot.graph if host.snapshot is not None else None
    return dag_payload(host.name, graph, loop_fields(host.snapshot, stored))
