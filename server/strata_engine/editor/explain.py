"""Hover text: what an annotation means and which value is in effect (SPEC 4 precedence),
where a variable comes from, and why a cell is in its state (SPEC 10) with its cache facts.

Everything here reads a snapshot and the states computed for it; nothing runs or writes.
Output is Markdown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from strata_engine.analysis.annotations import (
    Directive,
    leading_block_end,
    split_lines,
)
from strata_engine.analysis.snapshot import DEFAULT_TIMEOUT, CellView, Snapshot
from strata_engine.cache.provenance import Reason
from strata_engine.cache.state import CellStatus
from strata_engine.kinds import ANNOTATION_DOCS
from strata_engine.model.diagnostics import Span
from strata_engine.mounts.fingerprints import FINGERPRINTS
from strata_engine.mounts.spec import CellMount

_MAX_CHAIN_DEPTH = 6
"""Deep enough to reach the root cause in real notebooks, short enough to stay readable."""
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Explanation:
    markdown: str
    span: Span | None = None
    """The text the explanation is about (for the editor to highlight)."""


def explain_at(
    snapshot: Snapshot, states: Mapping[str, CellStatus], cell_id: str, line: int, col: int
) -> Explanation | None:
    """Hover at (1-based `line`, 0-based `col`) of a cell: the annotation under the cursor,
    else the variable under the cursor, else (in the leading block) the cell itself."""
    view = snapshot.cells.get(cell_id)
    if view is None:
        return None
    for directive in view.annotations.directives:
        if directive.line == line and directive.key_span.col - 1 <= col <= _end(directive):
            span = Span.on_line(line, directive.key_span.col - 1, _end(directive))
            return Explanation(explain_annotation(snapshot, states, view, directive), span)
    lines = split_lines(view.source or "")
    if 0 < line <= len(lines):
        word = _word_at(lines[line - 1], col)
        if word is not None:
            text = _explain_variable(snapshot, states, view, word[0])
            if text is not None:
                return Explanation(text, Span.on_line(line, word[1], word[2]))
        if line == 1 or line - 1 < leading_block_end(lines):
            return Explanation(explain_cell(snapshot, states, cell_id))
    return None


def _end(directive: Directive) -> int:
    return max(directive.value_span.end_col, directive.key_span.end_col)


def _word_at(text: str, col: int) -> tuple[str, int, int] | None:
    for match in _WORD.finditer(text):
        if match.start() <= col <= match.end():
            return match.group(), match.start(), match.end()
    return None


# -- annotations -----------------------------------------------------------------------------
def explain_annotation(
    snapshot: Snapshot, states: Mapping[str, CellStatus], view: CellView, directive: Directive
) -> str:
    doc = ANNOTATION_DOCS.get(directive.key, "")
    effect = _EFFECTS.get(directive.key, _plain_value)(snapshot, states, view, directive)
    return f"**@{directive.key}**: {doc}\n\n{effect}"


def _precedence(layers: list[tuple[str, object | None]], unit: str = "") -> str:
    """The first set layer wins (SPEC 4: annotation, then cell entry, then notebook)."""
    winner = next((i for i, (_, value) in enumerate(layers) if value is not None), None)
    rows = []
    for index, (label, value) in enumerate(layers):
        if value is None:
            shown = "not set"
        else:
            shown = f"`{_format(value)}`{unit}"
            shown += " **(in effect)**" if index == winner else " (overridden)"
        rows.append(f"- {label}: {shown}")
    return "Precedence, most specific first:\n" + "\n".join(rows)


def _format(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _timeout(snapshot: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    invalid = " (this value is invalid and ignored)" if view.annotations.timeout is None else ""
    layers: list[tuple[str, object | None]] = [
        (f"`@timeout`{invalid}", view.annotations.timeout),
        ("cell entry in notebook.toml", view.cell.timeout),
        ("notebook default `timeout`", snapshot.notebook.default_timeout),
        ("built-in default", DEFAULT_TIMEOUT),
    ]
    return f"In effect: **{_format(snapshot.timeout(view))} s**\n\n" + _precedence(layers, " s")


def _worker(snapshot: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    layers: list[tuple[str, object | None]] = [
        ("`@worker`", view.annotations.worker),
        ("cell entry in notebook.toml", view.cell.worker),
        ("notebook default `worker`", snapshot.notebook.default_worker),
        ("built-in", "local"),
    ]
    placement = snapshot.placement(view)
    if placement.problem is not None:
        return f"Cannot run: {placement.problem}\n\n" + _precedence(layers)
    spec = placement.spec
    backend = f" ({spec.backend} backend)" if spec is not None else ""
    return f"Runs on: **{placement.worker}**{backend}\n\n" + _precedence(layers)


def _env(snapshot: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    name = d.value.partition("=")[0].strip()
    declared = dict(view.annotations.env)
    if name not in declared:
        return "This line is malformed, so it sets nothing."
    layers: list[tuple[str, object | None]] = [
        ("`@env` (last one wins)", declared[name]),
        ("cell `[cells.env]`", view.cell.env.get(name)),
        ("notebook `[env]`", snapshot.notebook.env.get(name)),
    ]
    value = snapshot.env(view).get(name)
    return f"In effect: `{name}={value}`\n\n" + _precedence(layers)


def _mount(snapshot: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    name = d.value.split()[0] if d.value.split() else ""
    mount = next((m for m in snapshot.mounts(view) if m.name == name), None)
    if mount is None:
        return "This line is malformed, so it mounts nothing."
    shadows = name in snapshot.notebook.mount_names
    note = "\n\nReplaces the notebook's `[[mounts]]` entry of the same name." if shadows else ""
    return f"In effect: {describe_mount(snapshot, mount)}{note}"


def describe_mount(snapshot: Snapshot, mount: CellMount) -> str:
    """URI, mode and the last known fingerprint: hover never lists (no network)."""
    cache = " The cell is never served from the cache (read-write)." if mount.mode == "rw" else ""
    text = f"`{mount.name}` = `{mount.uri}` ({mount.mode}).{cache}"
    if mount.pin is not None:
        return f"{text}\n\nFingerprint pinned: `{mount.pin}`."
    if mount.mode == "rw":
        return text
    known = FINGERPRINTS.last_known(mount, snapshot.notebook.directory)
    if known is None:
        return f"{text}\n\nFingerprint: not listed yet."
    if known.fingerprint.startswith("unavailable:"):
        return f"{text}\n\nCannot be listed: {known.fingerprint.split(':', 1)[1]}"
    when = dt.datetime.fromtimestamp(known.listed_at).strftime("%H:%M:%S")
    return (
        f"{text}\n\nFingerprint `{known.fingerprint[:12]}`: {known.objects} objects, "
        f"listed at {when}."
    )


def _after(_n: Snapshot, states: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    rows = []
    for cell_id in view.annotations.after:
        status = states.get(cell_id)
        state = status.state if status else "unknown cell"
        rows.append(f"- `{cell_id}`: {state}")
    return "Runs after:\n" + "\n".join(rows) if rows else "Names no cell."


def _sql(snapshot: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    name = view.annotations.sql_connection
    connection = snapshot.notebook.manifest.connections.get(name or "")
    if connection is None:
        return f"Connection `{name}` is not declared in notebook.toml."
    mode = "read-write" if view.annotations.sql_write else "read-only"
    return f"Connection `{name}`: driver `{connection.driver or '?'}`, {mode}."


def _plain_value(_n: Snapshot, _s: Mapping[str, CellStatus], view: CellView, d: Directive) -> str:
    return f"Value: `{d.value}`" if d.value else "No value."


_Effect = Callable[[Snapshot, Mapping[str, CellStatus], CellView, Directive], str]
_EFFECTS: dict[str, _Effect] = {
    "timeout": _timeout,
    "worker": _worker,
    "env": _env,
    "mount": _mount,
    "after": _after,
    "sql": _sql,
}


# -- variables -------------------------------------------------------------------------------
def _explain_variable(
    snapshot: Snapshot, states: Mapping[str, CellStatus], view: CellView, name: str
) -> str | None:
    producer = snapshot.graph.producers.get(view.id, {}).get(name)
    if producer is not None:
        status = states.get(producer)
        state = status.state if status else "unknown"
        value = status.entry.outputs.get(name) if status and status.entry else None
        stored = f", stored as {value.content_type} ({_size(value.size)})" if value else ""
        return f"`{name}` comes from cell `{producer}` ({state}{stored})."
    mount = next((m for m in snapshot.mounts(view) if m.name == name), None)
    if mount is not None:
        return f"Mount: {describe_mount(snapshot, mount)}"
    readers = snapshot.graph.consumers.get(view.id, {}).get(name)
    if readers:
        cells = ", ".join(f"`{r}`" for r in readers)
        return f"`{name}` is defined here and read by {cells}."
    return None


# -- cells -----------------------------------------------------------------------------------
def explain_cell(snapshot: Snapshot, states: Mapping[str, CellStatus], cell_id: str) -> str:
    """The cell's state, why (the causality chain of SPEC 10) and what the cache holds."""
    view = snapshot.cells[cell_id]
    status = states.get(cell_id)
    state = status.state if status else "unknown"
    label = f" '{view.annotations.name}'" if view.annotations.name else ""
    parts = [f"**cell `{cell_id}`**{label} · {view.language} · **{state}**"]
    if status is not None and status.message:
        parts.append(f"Error: {status.message}")
    chain = causality(states, cell_id)
    if chain:
        parts.append("Why stale:\n" + "\n".join(chain))
    if status is not None:
        parts.extend(_cache_facts(status))
    return "\n\n".join(parts)


def causality(states: Mapping[str, CellStatus], cell_id: str) -> list[str]:
    """Markdown list lines: each reason, and under an upstream reason that upstream's own."""
    lines: list[str] = []
    _chain(states, cell_id, 0, {cell_id}, lines)
    return lines


def _chain(
    states: Mapping[str, CellStatus], cell_id: str, depth: int, seen: set[str], out: list[str]
) -> None:
    status = states.get(cell_id)
    if status is None or depth >= _MAX_CHAIN_DEPTH:
        return
    for reason in status.reasons:
        out.append(f"{'  ' * depth}- {_describe(reason, states)}")
        upstream = reason.cell
        if upstream is not None and upstream not in seen:
            seen.add(upstream)
            _chain(states, upstream, depth + 1, seen, out)


def _describe(reason: Reason, states: Mapping[str, CellStatus]) -> str:
    if reason.cell is None:
        return reason.describe()
    upstream = states.get(reason.cell)
    state = f" (now {upstream.state})" if upstream is not None else ""
    return f"{reason.describe()}{state}"


def _cache_facts(status: CellStatus) -> list[str]:
    facts = []
    if status.last_run is not None:
        run = status.last_run
        facts.append(
            f"Last run: {_when(run.finished_at)}, {run.status}, {run.duration_ms / 1000:.2f} s"
        )
    if status.entry is not None:
        entry = status.entry
        outputs = ", ".join(
            f"`{name}` ({value.content_type}, {_size(value.size)})"
            for name, value in sorted(entry.outputs.items())
        )
        facts.append(
            f"Cached result: computed {_when(entry.created_at)} in "
            f"{entry.duration_ms / 1000:.2f} s; outputs: {outputs or 'none'}"
        )
    if status.key is not None:
        facts.append(f"Key: `{status.key[:12]}…`")
    return facts


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
