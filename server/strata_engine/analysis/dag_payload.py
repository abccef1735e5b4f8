"""The one JSON shape of the cell DAG: `strata dag` prints it, the language server's
`strata/dag` returns it (the extension's graph view reads it)."""

from __future__ import annotations

from typing import Any

from strata_engine.analysis.graph import Graph


def dag_payload(notebook: str, graph: Graph | None) -> dict[str, Any]:
    """`{"notebook", "edges": [{"from", "to", "variable"}], "order", "cycles"}`.

    `notebook` names the notebook as the caller's audience knows it (the CLI: its id; the
    language server: its directory). `variable` is None for an `@after` edge. Without a
    graph (a manifest that never parsed) every list is empty.
    """
    if graph is None:
        return {"notebook": notebook, "edges": [], "order": [], "cycles": []}
    return {
        "notebook": notebook,
        "edges": [{"from": e.source, "to": e.target, "variable": e.variable} for e in graph.edges],
        "order": graph.order,
        "cycles": graph.cycles,
    }
