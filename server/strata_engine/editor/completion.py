"""Completion inside a cell's annotation block (SPEC 4): keys after `# @`, and the values the
notebook knows for them (workers, URI schemes, cell ids, connections, policies). In the body
of a cell whose kind reads upstream values through placeholders (a prompt's `{{ name }}`),
the names upstream cells define.

Each context is a regular expression over the text left of the cursor on an annotation line;
the last group is the partial word the completion replaces. SQL's body (tables, columns,
`:name` binds) is completed by `sql_completion`, which needs the connection's schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from strata_engine.analysis.annotations import (
    CACHE_POLICIES,
    KNOWN_KEYS,
    MOUNT_SCHEMES,
    leading_block_end,
    split_lines,
)
from strata_engine.analysis.checks import BUILTIN_WORKERS
from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.kinds import ANNOTATION_DOCS
from strata_engine.model.diagnostics import Span


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str
    """annotation | worker | scheme | cell | connection | value | variable (| table | column)"""
    replace: Span
    """The partial word left of the cursor that the completion replaces."""
    detail: str | None = None
    documentation: str | None = None
    """Markdown."""
    insert_text: str | None = None
    """What to insert when it differs from `label`."""
    sort_text: str | None = None


@dataclass(frozen=True, slots=True)
class _Where:
    snapshot: Snapshot
    view: CellView
    line: int
    partial: str
    col: int

    @property
    def span(self) -> Span:
        return Span.on_line(self.line, self.col - len(self.partial), self.col)

    def item(self, label: str, kind: str, **extra: str | None) -> Completion:
        return Completion(label, kind, self.span, **extra)


def complete(snapshot: Snapshot, cell_id: str, line: int, col: int) -> list[Completion]:
    """Completions at (1-based `line`, 0-based `col`) of cell `cell_id`: annotation keys and
    values in its annotation block, upstream names in a placeholder of its body; [] where
    nothing applies."""
    view = snapshot.cells.get(cell_id)
    if view is None:
        return []
    lines = split_lines(view.source or "")
    if not 0 < line <= len(lines):
        return []
    prefix = lines[line - 1][:col]
    if line - 1 >= leading_block_end(lines):
        return _in_body(_Where(snapshot, view, line, "", col), prefix)
    for pattern, provider in _CONTEXTS:
        match = pattern.fullmatch(prefix)
        if match is not None:
            return provider(_Where(snapshot, view, line, match.group("partial"), col))
    return []


def upstream_names(snapshot: Snapshot, cell_id: str) -> dict[str, CellView]:
    """The public names cell `cell_id` can read, each with the cell it would read it from:
    the nearest preceding cell in the DAG that defines it (SPEC 5)."""
    in_dag = snapshot.graph.position
    names: dict[str, CellView] = {}
    for view in snapshot.cells.values():
        if view.id == cell_id:
            break
        if in_dag and view.id not in in_dag:
            continue  # an inactive variant member: nobody reads from it
        for name in view.analysis.defines:
            if not name.startswith("_"):
                names[name] = view
    return names


def name_completions(snapshot: Snapshot, cell_id: str, span: Span) -> list[Completion]:
    """Upstream names (see `upstream_names`) as completions replacing `span`."""
    items = []
    for name, producer in sorted(upstream_names(snapshot, cell_id).items()):
        label = producer.annotations.name
        where = f"cell {producer.id}" + (f" '{label}'" if label and label != producer.id else "")
        items.append(
            Completion(
                name,
                "variable",
                span,
                detail=f"from {where} ({producer.language})",
                documentation=f"Defined by {where}; read from there when this cell runs.",
            )
        )
    return items


# Where, in the body of a cell, the text left of the cursor asks for an upstream name: one
# row per kind whose body reads upstream values through placeholders. The `partial` group is
# the part of the name already typed.
_BODY_NAMES: dict[str, re.Pattern[str]] = {
    "prompt": re.compile(r"\{\{\s*(?P<partial>[A-Za-z_][A-Za-z0-9_]*|)$"),
}


def _in_body(where: _Where, prefix: str) -> list[Completion]:
    pattern = _BODY_NAMES.get(where.view.language)
    match = pattern.search(prefix) if pattern is not None else None
    if match is None:
        return []
    partial = match.group("partial")
    span = Span.on_line(where.line, where.col - len(partial), where.col)
    return name_completions(where.snapshot, where.view.id, span)


def _keys(where: _Where) -> list[Completion]:
    preferred = where.view.kind.annotation_keys
    return [
        where.item(
            key,
            "annotation",
            detail=ANNOTATION_DOCS[key].split(":", 1)[0].strip("`"),
            documentation=ANNOTATION_DOCS[key],
            sort_text=f"{0 if key in preferred else 1}{KNOWN_KEYS.index(key):02d}",
        )
        for key in KNOWN_KEYS
    ]


def _workers(where: _Where) -> list[Completion]:
    notebook = where.snapshot.notebook
    items = []
    for worker in notebook.workers:
        detail = f"[[workers]] backend {worker.backend}"
        items.append(where.item(worker.name, "worker", detail=detail))
    for name in BUILTIN_WORKERS:
        if name not in notebook.worker_names:
            items.append(where.item(name, "worker", detail="this machine (built in)"))
    return items


def _mount_names(where: _Where) -> list[Completion]:
    """The notebook's `[[mounts]]`: an `@mount` of the same name replaces it for this cell."""
    return [
        where.item(
            mount.name,
            "value",
            detail=f"[[mounts]] {mount.uri} ({mount.mode})",
            documentation=f"Replaces the notebook's `{mount.name}` = `{mount.uri}` in this cell.",
        )
        for mount in where.snapshot.notebook.manifest.mounts
    ]


def _schemes(where: _Where) -> list[Completion]:
    declared = [
        where.item(mount.uri, "scheme", detail=f"[[mounts]] {mount.name}")
        for mount in where.snapshot.notebook.manifest.mounts
        if mount.uri
    ]
    return [
        *declared,
        *(
            where.item(f"{scheme}://", "scheme", detail=f"{scheme}:// mount")
            for scheme in MOUNT_SCHEMES
        ),
    ]


def _mount_modes(where: _Where) -> list[Completion]:
    return [
        where.item("ro", "value", detail="read-only (default)"),
        where.item("rw", "value", detail="read-write: the cell is never served from the cache"),
    ]


def _cell_ids(where: _Where) -> list[Completion]:
    items = []
    for view in where.snapshot.cells.values():
        if view.id == where.view.id:
            continue
        label = view.annotations.name
        detail = f"{view.language} cell" + (f" '{label}'" if label else "")
        items.append(where.item(view.id, "cell", detail=detail))
    return items


def _connections(where: _Where) -> list[Completion]:
    connections = where.snapshot.notebook.manifest.connections
    items = []
    for name in where.snapshot.notebook.connection_names:
        driver = connections[name].driver or "?"
        items.append(where.item(name, "connection", detail=f"[connections.{name}] {driver}"))
    return items


def _sql_options(where: _Where) -> list[Completion]:
    items = [
        where.item(f"connection={c.label}", "connection", detail=c.detail)
        for c in _connections(where)
    ]
    return [*items, where.item("write=true", "value", detail="run statements that write")]


def _cache_policies(where: _Where) -> list[Completion]:
    return [
        where.item(p, "value", insert_text="ttl=3600" if p == "ttl" else None)
        for p in CACHE_POLICIES
    ]


def _values(*values: str) -> Callable[[_Where], list[Completion]]:
    def provider(where: _Where) -> list[Completion]:
        return [where.item(v, "value") for v in values]

    return provider


_A = r"\s*#\s*@"
_CONTEXTS: list[tuple[re.Pattern[str], Callable[[_Where], list[Completion]]]] = [
    (re.compile(_A + r"(?P<partial>[A-Za-z_][A-Za-z0-9_-]*|)"), _keys),
    (re.compile(_A + r"worker\s+(?P<partial>\S*)", re.I), _workers),
    (re.compile(_A + r"mount\s+(?P<partial>\S*)", re.I), _mount_names),
    (re.compile(_A + r"mount\s+\S+\s+(?P<partial>\S*)", re.I), _schemes),
    (re.compile(_A + r"mount\s+\S+\s+\S+\s+(?P<partial>\S*)", re.I), _mount_modes),
    (re.compile(_A + r"after\s+(?:[^\s,]+[\s,]+)*(?P<partial>[^\s,]*)", re.I), _cell_ids),
    (re.compile(_A + r"sql\s.*?\bconnection=(?P<partial>\S*)", re.I), _connections),
    (re.compile(_A + r"sql\s+(?:\S+\s+)*(?P<partial>[^\s=]*)", re.I), _sql_options),
    (re.compile(_A + r"cache\s+(?P<partial>\S*)", re.I), _cache_policies),
    (re.compile(_A + r"nocache\s+(?P<partial>\S*)", re.I), _values("off")),
    (re.compile(_A + r"output\s+(?P<partial>\S*)", re.I), _values("text", "json")),
    (
        re.compile(_A + r"loop\s+(?:\S+\s+)*(?P<partial>[^\s=]*)", re.I),
        _values("max_iter=", "carry=", "start_from="),
    ),
]
