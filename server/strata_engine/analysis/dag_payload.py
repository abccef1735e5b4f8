"""The one JSON shape of the cell DAG: `strata dag` prints it, the language server's
`strata/dag` returns it (the extension's graph view reads it)."""

from __future__ import annotations

from typing import Any

from strata_engine.analysis.graph import Graph


def dag_payload(notebook: str, graph: Graph | None) -> dict[str, Any]:
    """`{"notebook", "nodes": [{"id", ...}], "edges": [{"from", "to", "variable"}], "order",
    "cycles"}`.

    `notebook` names the notebook as the caller's audience knows it (the CLI: its id; the
    language server: its directory). `variable` is None for an `@after` edge. `nodes` lists
    every cell in notebook order; a variant member's node carries `group`, `variant`, `mode`
    and `active` (an inactive switch member is a node with no edge and is not in `order`),
    so the view can draw a group's members together; a `@per_variant` cell's node carries
    `per_variant` (the group it runs over). Without a graph (a manifest that never parsed)
    every list is empty.
    """
    if graph is None:
        return {"notebook": notebook, "nodes": [], "edges": [], "order": [], "cycles": []}
    return {
        "notebook": notebook,
        "nodes": [_node(graph, cell_id) for cell_id in graph.producers],
        "edges": [{"from": e.source, "to": e.target, "variable": e.variable} for e in graph.edges],
        "order": graph.order,
        "cycles": graph.cycles,
    }


def _node(graph: Graph, cell_id: str) -> dict[str, Any]:
    node: dict[str, Any] = {"id": cell_id}
    slot = graph.variants.get(cell_id)
    if slot is not None:
        node.update(group=slot.group, variant=slot.name, mode=slot.mode, active=slot.active)
    if cell_id in graph.per_variant:
        node["per_variant"] = graph.per_variant[cell_id]
    return node
