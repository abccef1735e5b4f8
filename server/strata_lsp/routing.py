"""Republishing the diagnostics of a few edited cells without regrouping the whole notebook.

`Notebooks._route` groups every diagnostic by the documents showing its file: on 2,000 cells
that walk costs a keystroke several ms. After an edit the engine says which cells' views it
replaced (`Incremental.changed`); when each of those cells' diagnostics all point at its own
file, and nothing else ever contributes to that file's documents (`RoutePlan.exclusive`),
those documents' lists are simply the cells' new diagnostics and the rest stay as published.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain

from strata_engine.analysis.snapshot import Snapshot
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.notebook import MANIFEST, Notebook

from .documents import DocRef


@dataclass(eq=False)
class RoutePlan:
    """Where a full routing sent each cell file's diagnostics."""

    refs: list[DocRef]
    """The documents it was made for (`Documents.in_directory`'s list: a new one when any
    document is mapped or unmapped)."""
    notebook: Notebook
    uris: dict[str, list[str]]
    """Cell file -> the documents showing it."""
    exclusive: set[str]
    """Cell files whose documents show only their one cell's diagnostics and warnings."""


def plan_route(
    refs: list[DocRef],
    snapshot: Snapshot,
    uris: dict[str, list[str]],
    warnings: Mapping[str, Iterable[Diagnostic]],
) -> RoutePlan:
    """The plan of a full routing (`uris`: file -> documents, as it grouped them);
    `warnings`: cell id -> its run warnings, whatever text they were for."""
    owners: dict[str, int] = {}
    shared: set[str] = {d.file or MANIFEST for d in snapshot.diagnostics}
    for view in snapshot.cells.values():
        owners[view.file] = owners.get(view.file, 0) + 1
        shared.update(_foreign(view.file, view.diagnostics))
    for cell_id, diagnostics in warnings.items():
        shown = snapshot.cells.get(cell_id)
        shared.update(_foreign(shown.file if shown is not None else None, diagnostics))
    exclusive = {file for file, count in owners.items() if count == 1} - shared
    return RoutePlan(refs, snapshot.notebook, uris, exclusive)


def _foreign(file: str | None, diagnostics: Iterable[Diagnostic]) -> set[str]:
    return {d.file or MANIFEST for d in diagnostics if (d.file or MANIFEST) != file}


def delta_route(
    plan: RoutePlan | None,
    refs: list[DocRef],
    previous: Snapshot,
    snapshot: Snapshot,
    published: dict[str, list[Diagnostic]],
    cells: Collection[str],
    warnings: Callable[[str], tuple[list[Diagnostic], list[Diagnostic]]],
) -> tuple[dict[str, list[Diagnostic]], list[str]] | None:
    """`published` with the documents of `cells` regrouped, and those documents; None when
    a full routing is needed. `warnings(cell)`: (the run warnings shown on the cell now,
    all its run warnings)."""
    if plan is None or plan.refs is not refs or plan.notebook is not snapshot.notebook:
        return None
    grouped = dict(published)
    touched: list[str] = []
    for cell_id in cells:
        view, before = snapshot.cells.get(cell_id), previous.cells.get(cell_id)
        if view is None or before is None or view.file not in plan.exclusive:
            return None
        shown, every = warnings(cell_id)
        if _foreign(view.file, chain(view.diagnostics, before.diagnostics, every)):
            return None  # it sends (or sent) diagnostics to another document
        for uri in plan.uris.get(view.file, ()):
            grouped[uri] = [*view.diagnostics, *shown]
            touched.append(uri)
    return grouped, touched


@dataclass(eq=False)
class OverrideMemo:
    """The editor's text per cell, kept up to date one edited document at a time: looking up
    2,000 documents' texts on every keystroke cost several ms."""

    refs: list[DocRef]
    """The documents it was made for (a new list when any is mapped or unmapped)."""
    notebook: Notebook
    chosen: dict[str, DocRef]
    """Cell id -> the document whose text counts (the latest edited, when several show it)."""
    texts: dict[str, str]
