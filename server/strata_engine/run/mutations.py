"""The `mutation_in_place` warning: a cell changed an input in place without publishing it.

The executor reports which inputs changed and where (backends/local/mutation.py, in the
cell's process); this turns each into a diagnostic on the cell. The run itself is sound:
the cell's result is cached, and its readers get the producer's stored value, which the
message says so that nobody expects Jupyter's shared, mutated object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.model.diagnostics import Diagnostic, Span, make


def mutation_warnings(
    snapshot: Snapshot, view: CellView, mutations: Sequence[Mapping[str, Any]]
) -> list[Diagnostic]:
    lines = (view.source or "").splitlines()
    out: list[Diagnostic] = []
    for mutation in mutations:
        name = str(mutation.get("variable"))
        line = mutation.get("line")
        line = line if isinstance(line, int) and 1 <= line <= len(lines) else None
        span = None
        if line is not None:
            text = lines[line - 1]
            span = Span.on_line(line, len(text) - len(text.lstrip()), len(text))
        out.append(
            make(
                "mutation_in_place",
                _message(snapshot, view, name),
                cell_id=view.id,
                file=view.file,
                span=span,
                data={"variable": name, "line": line},
            )
        )
    return out


def _message(snapshot: Snapshot, view: CellView, name: str) -> str:
    graph = snapshot.graph
    producer = graph.producers.get(view.id, {}).get(name, "?")
    readers = [c for c in graph.consumers.get(producer, {}).get(name, []) if c != view.id]
    if readers:
        who = "cell" if len(readers) == 1 else "cells"
        seen = f"{who} {', '.join(readers)} will see the unmutated {name} from {producer}"
    else:
        seen = f"a later cell reading {name} would see the unmutated {name} from {producer}"
    return (
        f"cell {view.id} changed {name} in place, but {name} stays {producer}'s output: "
        f"{seen}. Assign the result instead ({name} = {name}.drop(...), not inplace=True) "
        f"or work on a copy ({name} = {name}.copy())."
    )
