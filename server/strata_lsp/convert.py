"""Engine values -> lsprotocol types, and LSP positions -> engine positions.

Engine spans are 1-based lines and 0-based columns counted in characters (code points);
LSP positions are 0-based lines and columns in the client's encoding (UTF-16 by default).
The column conversion needs the text of the line, hence the `lines` arguments.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.backends.base import LOCAL
from strata_engine.cache.state import CellStatus
from strata_engine.editor.completion import Completion
from strata_engine.editor.explain import Explanation
from strata_engine.editor.fixes import Fix
from strata_engine.editor.python_features import Signature
from strata_engine.model.diagnostics import Diagnostic, Span

SOURCE = "strata"

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}
_COMPLETION_KIND = {
    "annotation": types.CompletionItemKind.Keyword,
    "worker": types.CompletionItemKind.Reference,
    "scheme": types.CompletionItemKind.Module,
    "cell": types.CompletionItemKind.Reference,
    "connection": types.CompletionItemKind.Reference,
    "value": types.CompletionItemKind.Value,
    "variable": types.CompletionItemKind.Variable,
    "table": types.CompletionItemKind.Struct,
    "column": types.CompletionItemKind.Field,
    # jedi's kinds of Python names (editor/python_features.py)
    "module": types.CompletionItemKind.Module,
    "class": types.CompletionItemKind.Class,
    "instance": types.CompletionItemKind.Variable,
    "statement": types.CompletionItemKind.Variable,
    "function": types.CompletionItemKind.Function,
    "param": types.CompletionItemKind.Variable,
    "property": types.CompletionItemKind.Property,
    "keyword": types.CompletionItemKind.Keyword,
    "path": types.CompletionItemKind.File,
}


def to_position(line: int, col: int, lines: Sequence[str], codec: PositionCodec) -> types.Position:
    return codec.position_to_client_units(lines, types.Position(line - 1, col))


def to_range(span: Span | None, lines: Sequence[str], codec: PositionCodec) -> types.Range:
    """The LSP range of an engine span; a span-less diagnostic sits at the top of the file."""
    if span is None:
        return types.Range(types.Position(0, 0), types.Position(0, 0))
    return types.Range(
        to_position(span.line, span.col, lines, codec),
        to_position(span.end_line, span.end_col, lines, codec),
    )


def from_position(
    position: types.Position, lines: Sequence[str], codec: PositionCodec
) -> tuple[int, int]:
    """(1-based line, 0-based character column) of an LSP position."""
    server = codec.position_from_client_units(lines, position)
    return server.line + 1, server.character


def to_diagnostic(diag: Diagnostic, lines: Sequence[str], codec: PositionCodec) -> types.Diagnostic:
    return types.Diagnostic(
        range=to_range(diag.span, lines, codec),
        message=diag.message,
        severity=_SEVERITY[diag.severity],
        code=diag.code,
        source=SOURCE,
        data=dict(diag.data) if diag.data else None,
    )


def to_completion(
    item: Completion, lines: Sequence[str], codec: PositionCodec
) -> types.CompletionItem:
    documentation = (
        types.MarkupContent(types.MarkupKind.Markdown, item.documentation)
        if item.documentation
        else None
    )
    return types.CompletionItem(
        label=item.label,
        kind=_COMPLETION_KIND.get(item.kind, types.CompletionItemKind.Text),
        detail=item.detail,
        documentation=documentation,
        sort_text=item.sort_text,
        text_edit=types.TextEdit(
            range=to_range(item.replace, lines, codec), new_text=item.insert_text or item.label
        ),
    )


def to_hover(explanation: Explanation, lines: Sequence[str], codec: PositionCodec) -> types.Hover:
    span = explanation.span
    return types.Hover(
        contents=types.MarkupContent(types.MarkupKind.Markdown, explanation.markdown),
        range=to_range(span, lines, codec) if span is not None else None,
    )


def to_signature_help(signatures: Sequence[Signature]) -> types.SignatureHelp | None:
    if not signatures:
        return None
    return types.SignatureHelp(
        signatures=[
            types.SignatureInformation(
                label=sig.label,
                documentation=sig.documentation,
                parameters=[types.ParameterInformation(label=p.label) for p in sig.parameters],
                active_parameter=sig.active_parameter,
            )
            for sig in signatures
        ],
        active_signature=0,
        active_parameter=signatures[0].active_parameter,
    )


def to_code_action(
    fix: Fix,
    diagnostics: list[types.Diagnostic],
    edits: dict[str, list[types.TextEdit]],
) -> types.CodeAction:
    """`edits`: the fix's edits already placed in documents (uri -> edits)."""
    command = fix.command
    return types.CodeAction(
        title=fix.title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=diagnostics or None,
        is_preferred=fix.preferred or None,
        edit=types.WorkspaceEdit(changes=edits) if edits or command is None else None,
        command=(
            types.Command(title=command.title, command=command.name, arguments=[command.arguments])
            if command is not None
            else None
        ),
    )


def to_text_edit(
    span: Span, new_text: str, lines: Sequence[str], codec: PositionCodec
) -> types.TextEdit:
    return types.TextEdit(range=to_range(span, lines, codec), new_text=new_text)


def state_payload(
    notebook: str,
    states: dict[str, CellStatus],
    running: set[str],
    placements: dict[str, dict[str, str]] | None = None,
    memo: dict[str, tuple[CellStatus, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The `strata/notebookState` notification: every cell's state and reasons, in notebook
    order (the engine's `strata status` JSON per cell, `running` overlaid during a run), and
    for a cell placed on a declared worker, that worker and its backend.

    `memo`: cell id -> (status, its JSON) from earlier calls: a status object seen before
    (unchanged since the last keystroke) keeps its JSON, which also makes comparing payloads
    cheap. The JSON objects are shared: never modify them."""
    cells = [state_entry(status, running, placements, memo) for status in states.values()]
    return {"notebook": notebook, "cells": cells}


def state_entry(
    status: CellStatus,
    running: set[str],
    placements: dict[str, dict[str, str]] | None = None,
    memo: dict[str, tuple[CellStatus, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """One cell's entry of `state_payload`."""
    known = memo.get(status.id) if memo is not None else None
    if known is not None and known[0] is status:
        entry = known[1]
    else:
        entry = status.to_json()
        if memo is not None:
            memo[status.id] = (status, entry)
    placed = (placements or {}).get(status.id)
    if status.id in running or placed:
        entry = {**entry, **(placed or {})}
        if status.id in running:
            entry["state"] = "running"
    return entry


def placements(
    snapshot: Snapshot,
    previous: Snapshot | None = None,
    known: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Cell id -> `{"worker", "backend"}` for executing cells the engine places anywhere but
    the built-in local worker (the backend is "" when the worker is not declared).

    `previous` and `known`: an earlier snapshot of the same notebook and its placements; a
    cell whose analyzed view it shares (same text, so same annotations) keeps its entry."""
    same = previous is not None and previous.notebook is snapshot.notebook
    before = previous.bases if previous is not None and same else {}
    known = known or {}
    out: dict[str, dict[str, str]] = {}
    for cell_id, view in snapshot.cells.items():
        if before and before.get(cell_id) is snapshot.bases.get(cell_id, view):
            if cell_id in known:
                out[cell_id] = known[cell_id]
            continue
        placed = _placement(snapshot, view)
        if placed is not None:
            out[cell_id] = placed
    return out


def replaced_placements(
    snapshot: Snapshot, known: dict[str, dict[str, str]], cells: Collection[str]
) -> dict[str, dict[str, str]]:
    """`known` with the entries of `cells` computed again (the other cells' views are the
    ones `known` was computed from)."""
    out = dict(known)
    for cell_id in cells:
        out.pop(cell_id, None)
        view = snapshot.cells.get(cell_id)
        placed = _placement(snapshot, view) if view is not None else None
        if placed is not None:
            out[cell_id] = placed
    return out


def _placement(snapshot: Snapshot, view: CellView) -> dict[str, str] | None:
    if not view.kind.executes:
        return None
    placement = snapshot.placement(view)
    if placement.worker == LOCAL and placement.spec is None:
        return None
    spec_backend = placement.spec.backend if placement.spec is not None else ""
    backend = placement.backend.name if placement.backend is not None else spec_backend
    return {"worker": placement.worker, "backend": backend}
