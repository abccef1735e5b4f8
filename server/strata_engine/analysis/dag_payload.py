"""The one JSON shape of the cell DAG: `strata dag` prints it, the language server's
`strata/dag` returns it (the extension's graph view reads it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strata_engine.analysis.graph import Graph
from strata_engine.analysis.snapshot import Snapshot

StoredIterations = Callable[[str, int], int | None]
"""(cell id, max_iter) -> how many iterations its current result stored (None: unknown)."""


def dag_payload(
    notebook: str, graph: Graph | None, loops: Mapping[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`{"notebook", "nodes": [{"id", ...}], "edges": [{"from", "to", "variable"}], "order",
    "cycles"}`.

    `notebook` names the notebook as the caller's audience knows it (the CLI: its id; the
    language server: its directory). `variable` is None for an `@after` edge. `nodes` lists
    every cell in notebook order; a variant member's node carries `group`, `variant`, `mode`
    and `active` (an inactive switch member is a node with no edge and is not in `order`),
    so the view can draw a group's members together; a `@per_variant` cell's node carries
    `per_variant` (the group it runs over). A `@loop` cell's node carries `loop` (from
    `loop_fields`). Without a graph (a manifest that never parsed) every list is empty.
    """
    if graph is None:
        return {"notebook": notebook, "nodes": [], "edges": [], "order": [], "cycles": []}
    return {
        "notebook": notebook,
        "nodes": [_node(graph, cell_id, (loops or {}).get(cell_id)) for cell_id in graph.producers],
        "edges": [{"from": e.source, "to": e.target, "variable": e.variable} for e in graph.edges],
        "order": graph.order,
        "cycles": graph.cycles,
    }


def loop_fields(
    snapshot: Snapshot | None, stored: StoredIterations | None = None
) -> dict[str, dict[str, Any]]:
    """Each `@loop` cell -> `{"maxIter", "carry", "startFrom"?, "iterations"?}`: what the
    annotation says (None where it is malformed), `startFrom` as written
    (`CELL@iter=K`), and `iterations`, how many iterations its current result stored, when
    `stored` can tell (the editor bounds "Fork from iteration..." by it)."""
    out: dict[str, dict[str, Any]] = {}
    for cell_id, view in (snapshot.cells if snapshot is not None else {}).items():
        loop = view.annotations.loop
        if loop is None:
            continue
        fields: dict[str, Any] = {"maxIter": loop.max_iter, "carry": loop.carry}
        if loop.start_from is not None:
            fields["startFrom"] = f"{loop.start_from[0]}@iter={loop.start_from[1]}"
        count = stored(cell_id, loop.max_iter) if stored and loop.max_iter else None
        if count is not None:
            fields["iterations"] = count
        out[cell_id] = fields
    return out


def _node(graph: Graph, cell_id: str, loop: dict[str, Any] | None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": cell_id}
    if loop is not None:
        node["loop"] = loop
    slot = graph.variants.get(cell_id)
    if slot is not None:
        node.update(group=slot.group, variant=slot.name, mode=slot.mode, active=slot.active)
    if cell_id in graph.per_variant:
        node["per_variant"] = graph.per_variant[cell_id]
    return node
