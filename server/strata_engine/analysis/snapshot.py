"""A static view of a notebook at one moment: annotations, analysis, DAG and diagnostics.

Everything here is a pure function of the notebook's text (plus the editor's unsaved text,
passed as `overrides`), so the language server can rebuild it on every keystroke and the
CLI's `validate`/`status`/`run` see exactly the same facts. Nothing here executes code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strata_engine import envs
from strata_engine.analysis import CellAnalysis
from strata_engine.analysis.annotations import Annotations, parse_annotations
from strata_engine.analysis.checks import check_cell_context, check_graph, check_loop_context
from strata_engine.analysis.graph import Graph, GraphCell, build_graph
from strata_engine.analysis.stored import analyses_for
from strata_engine.analysis.unbuilt import check_unbuilt_annotations
from strata_engine.analysis.variants import (
    check_variants,
    resolve_groups,
    resolve_per_variant,
    slots,
)
from strata_engine.backends.base import LOCAL, Placement
from strata_engine.backends.registry import place
from strata_engine.envs.diagnostics import import_diagnostics
from strata_engine.kinds import CellFacts, CellKind, kind_for
from strata_engine.model.diagnostics import Diagnostic, Span, make
from strata_engine.model.manifest import parse_mounts
from strata_engine.model.manifest_checks import manifest_diagnostics, place_load_diagnostics
from strata_engine.model.notebook import Cell, Notebook
from strata_engine.mounts.fingerprints import EDITOR_MAX_AGE, FINGERPRINTS
from strata_engine.mounts.spec import CellMount, merge_mounts

DEFAULT_TIMEOUT = 300.0

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    """Imported when something is logged: `logging` costs a cached `strata run` ~3 ms."""
    import logging

    return logging.getLogger(__name__)


@dataclass
class CellView:
    """One cell as the engine sees it: text, annotations, analysis and effective settings."""

    cell: Cell
    source: str | None
    annotations: Annotations
    analysis: CellAnalysis
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.cell.id

    @property
    def language(self) -> str:
        return self.cell.language

    @property
    def file(self) -> str:
        return self.cell.path

    @property
    def kind(self) -> CellKind:
        return kind_for(self.cell.language)

    @property
    def runnable(self) -> bool:
        """False when the cell must not execute: its file is unreadable, or any error
        diagnostic stands (a syntax error, a kind or annotation this version cannot honour)."""
        return self.source is not None and not any(d.severity == "error" for d in self.diagnostics)

    @property
    def error_summary(self) -> str | None:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        return errors[0].message if errors else None


@dataclass
class Snapshot:
    notebook: Notebook
    cells: dict[str, CellView]
    """In notebook order."""
    graph: Graph
    diagnostics: list[Diagnostic]
    """Notebook-level diagnostics (not tied to one cell)."""
    worker_override: str | None = None
    """`strata run --worker NAME`: the worker of cells that name none (see `_effective_worker`)."""
    _placements: dict[str, Placement] = field(default_factory=dict, repr=False)
    """Memo: the editor computes every cell's key (and so its placement) on each keystroke."""
    mount_max_age: float = EDITOR_MAX_AGE
    """How old a mount listing this snapshot may key cells with: a run sets 0 (list again
    before keying), the editor reuses one for a few seconds (SPEC 6 item 6)."""
    _mounts: dict[str, list[CellMount]] = field(default_factory=dict, repr=False)
    _mount_prints: dict[str, str] = field(default_factory=dict, repr=False)
    _rw_uris: set[str] | None = field(default=None, repr=False)
    bases: dict[str, CellView] = field(default_factory=dict, repr=False)
    """Each cell's view before the graph's diagnostics joined it: what a later snapshot of
    the same notebook reuses for a cell whose text did not change (`take_snapshot(reuse=)`)."""

    def all_diagnostics(self) -> list[Diagnostic]:
        out = list(self.diagnostics)
        for view in self.cells.values():
            out.extend(view.diagnostics)
        return out

    def worker(self, view: CellView) -> str | None:
        return _effective_worker(self.notebook, view.cell, view.annotations, self.worker_override)

    def placement(self, view: CellView) -> Placement:
        """Where the cell runs (its effective worker, resolved against `[[workers]]`)."""
        placement = self._placements.get(view.id)
        if placement is None:
            # Shared by the cells of one worker, so its environment is asked once (base.py).
            name = self.worker(view)
            placement = self._placements.get(f"\0{name}")
            if placement is None:
                placement = place(name, self.notebook.manifest.worker, self.notebook.directory)
                self._placements[f"\0{name}"] = placement
            self._placements[view.id] = placement
        return placement

    def timeout(self, view: CellView, default: float | None = None) -> float:
        """@timeout > the cell's entry > `default` (e.g. `strata run --timeout`) > the
        notebook's `timeout` > 300 s."""
        return (
            view.annotations.timeout
            or view.cell.timeout
            or default
            or self.notebook.default_timeout
            or DEFAULT_TIMEOUT
        )

    def env(self, view: CellView) -> dict[str, str]:
        """notebook [env] < cell env < @env (SPEC 4)."""
        env = dict(self.notebook.env)
        env.update(view.cell.env)
        env.update(view.annotations.env)
        return env

    def mounts(self, view: CellView) -> list[CellMount]:
        """The cell's mounts, sorted by name: notebook `[[mounts]]` < its `[[cells.mounts]]`
        < `@mount`, merged by name (SPEC 4). A `[[mounts]]`/`[[cells.mounts]]` entry is the
        cell's only when it reads that name and no upstream cell defines it, so a mount
        enters only the keys of the cells that use it; an `@mount` always counts."""
        mounts = self._mounts.get(view.id)
        if mounts is None and not (
            view.annotations.mounts or self.notebook.manifest.mounts or "mounts" in view.cell.entry
        ):
            mounts = self._mounts[view.id] = []  # nothing to merge: most cells of most notebooks
        if mounts is None:
            produced = self.graph.producers.get(view.id, {})
            mounts = merge_mounts(
                notebook=self.notebook.manifest.mounts,
                cell=parse_mounts(view.cell.entry.get("mounts")),
                annotation=view.annotations.mounts,
                reads=set(view.analysis.references) - set(produced),
            )
            self._mounts[view.id] = mounts
        return mounts

    def mount_fingerprint(self, mount: CellMount) -> str:
        """SPEC 6 item 6 for one mount, listed at most once per snapshot, except data that
        a read-write mount of this notebook may change during a run."""
        memo_key = mount.identity() + repr((mount.pin, mount.mode))
        known = self._mount_prints.get(memo_key)
        if known is None:
            directory = self.notebook.directory
            known = FINGERPRINTS.fingerprint(mount, directory, self.mount_max_age)
            if self._rw_uris is None:
                self._rw_uris = {
                    m.uri for v in self.cells.values() for m in self.mounts(v) if m.mode == "rw"
                }
            if mount.uri not in self._rw_uris:
                self._mount_prints[memo_key] = known
        return known


def take_snapshot(
    notebook: Notebook,
    overrides: Mapping[str, str] | None = None,
    *,
    worker: str | None = None,
    check_imports: bool = True,
    reuse: Mapping[str, CellView] | None = None,
) -> Snapshot:
    """Analyze every cell (unsaved editor text in `overrides`, by cell id, wins over disk).

    `check_imports=False` skips resolving each cell's imports in its environment: a reader
    of cached results (`nb["x"]`) does not run anything, and that check is most of its cost.

    `worker` (`strata run --worker NAME`) places every cell that names no worker, over the
    notebook's default: the same notebook runs locally while exploring and on a cluster in CI,
    without editing a cell. It must be declared (or `local`); see `check_worker_override`.

    `reuse`: the `bases` of an earlier snapshot of this same `notebook` object, taken with the
    same `worker` and `check_imports`: a cell whose text is unchanged keeps its analysis."""
    overrides = overrides or {}
    # One set for every cell's checks: rebuilding it per cell made large notebooks quadratic.
    cell_ids = frozenset(c.id for c in notebook.cells)
    load_diags: dict[str | None, list[Diagnostic]] = {}
    for diag in place_load_diagnostics(notebook, notebook.diagnostics):
        load_diags.setdefault(diag.cell_id, []).append(diag)
    views: dict[str, CellView] = {}
    bases: dict[str, CellView] = {}
    for cell in notebook.cells:
        source = overrides.get(cell.id, cell.source)
        base = reuse.get(cell.id) if reuse is not None else None
        if base is None or base.cell is not cell or base.source != source:
            cell_diags = load_diags.get(cell.id, [])
            base = _view(notebook, cell, source, cell_ids, cell_diags, (worker, check_imports))
        bases[cell.id] = base
        # A copy: the graph's diagnostics are appended to the view, never to its base.
        diagnostics = [*base.diagnostics]
        views[cell.id] = CellView(cell, source, base.annotations, base.analysis, diagnostics)
    analyses_for(notebook.directory).flush(len(notebook.cells))
    graph, variant_diags = _variant_graph(notebook, views)
    notebook_level = [*load_diags.get(None, []), *manifest_diagnostics(notebook)]
    declared = frozenset(notebook.mount_names)
    graph_diags = check_graph(
        graph,
        files={v.id: v.file for v in views.values()},
        analyses={v.id: v.analysis for v in views.values()},
        annotations={v.id: v.annotations for v in views.values()},
        mounted={v.id: _mount_names(notebook, v, declared) for v in views.values()},
    )
    loop_cells = [v.id for v in views.values() if v.annotations.loop is not None]
    for view in views.values():
        graph_diags += check_loop_context(
            view.id,
            view.file,
            view.annotations,
            view.analysis,
            cell_ids=cell_ids,
            loop_cell_ids=loop_cells,
        )
        graph_diags += view.kind.check_in_graph(view.id, view.file, view.analysis, graph)
    for diag in [*graph_diags, *variant_diags]:
        target = views.get(diag.cell_id) if diag.cell_id else None
        (target.diagnostics if target else notebook_level).append(diag)
    return Snapshot(notebook, views, graph, notebook_level, worker_override=worker, bases=bases)


def _variant_graph(
    notebook: Notebook, views: dict[str, CellView]
) -> tuple[Graph, list[Diagnostic]]:
    """The DAG with each variant member in its slot (SPEC 9), and the variant diagnostics."""
    annotations = {v.id: v.annotations for v in views.values()}
    groups = resolve_groups(notebook, annotations)
    slot_of = slots(groups, annotations)
    graph = build_graph(
        [
            GraphCell(
                v.id,
                v.analysis.defines,
                v.analysis.references,
                v.annotations.after,
                slot_of.get(v.id),
            )
            for v in views.values()
        ]
    )
    if not groups and not any(a.per_variant is not None for a in annotations.values()):
        return graph, []
    members = {cell_id for g in groups.values() for _, cell_id in g.members}
    diags = check_variants(
        notebook,
        groups,
        annotations,
        {v.id: v.analysis for v in views.values()},
        {cell_id: views[cell_id].source for cell_id in members},
    )
    return graph, diags + resolve_per_variant(notebook, graph, annotations)


def _mount_names(
    notebook: Notebook, view: CellView, declared: frozenset[str] | None = None
) -> set[str]:
    """Every name a mount may bind in this cell (what a reference can be satisfied by);
    `declared`: the notebook's `[[mounts]]` names, if gathered once for all cells."""
    names = set(notebook.mount_names if declared is None else declared)
    names |= {m.name for m in view.annotations.mounts}
    if "mounts" not in view.cell.entry:
        return names
    return names | {m.name for m in parse_mounts(view.cell.entry.get("mounts"))}


def check_worker_override(notebook: Notebook, worker: str | None) -> str | None:
    """Why `--worker NAME` cannot be used with this notebook (None: it can). Refused up front
    rather than per cell, since it is the invocation that is wrong, not any cell."""
    if worker is None or worker == LOCAL or worker in notebook.worker_names:
        return None
    declared = ", ".join(sorted({LOCAL, *notebook.worker_names}))
    return (
        f"--worker {worker!r} is not declared in [[workers]] of {notebook.manifest_path}; "
        f"declared workers: {declared}"
    )


def _effective_worker(
    notebook: Notebook, cell: Cell, annotations: Annotations, override: str | None = None
) -> str | None:
    """@worker > the cell's entry > `--worker` > the notebook's `worker` > local (SPEC 4)."""
    return annotations.worker or cell.worker or override or notebook.default_worker


def _check_placement(
    notebook: Notebook, cell: Cell, annotations: Annotations, override: str | None
) -> list[Diagnostic]:
    """worker_unavailable: the cell's worker exists but its backend cannot run it here."""
    worker = _effective_worker(notebook, cell, annotations, override)
    placement = place(worker, notebook.manifest.worker)
    problem = placement.problem
    if problem is None and placement.backend is not None:
        kind = kind_for(cell.language)
        loop = annotations.loop is not None
        problem = placement.backend.refusal(placement.worker, kind.language, kind.label, loop)
    if problem is None or placement.spec is None:
        return []  # fine, or an undeclared worker (worker_unknown; refused by the run)
    directive = annotations.find("worker")
    span = directive.value_span if directive is not None else Span(1, 0, 1, 0)
    return [
        make(
            "worker_unavailable",
            problem,
            cell_id=cell.id,
            file=cell.path,
            span=span,
            data={"worker": placement.worker},
        )
    ]


def _check_imports(
    notebook: Notebook,
    cell: Cell,
    annotations: Annotations,
    modules: tuple[str, ...],
    text: str,
    override: str | None,
) -> list[Diagnostic]:
    """import_unresolved: imports the environment the cell runs in cannot resolve, as its
    backend sees it without running anything (SPEC 7)."""
    if not modules:
        return []
    worker = _effective_worker(notebook, cell, annotations, override)
    placement = place(worker, notebook.manifest.worker, notebook.directory)
    if placement.backend is None or placement.problem is not None:
        return []
    missing = placement.backend.unresolved_imports(
        placement.spec, notebook.directory, cell.language, modules
    )
    if not missing:
        return []
    environment = envs.environment_info(notebook.directory)
    return import_diagnostics(cell.id, cell.path, text, missing, environment)


def _view(
    notebook: Notebook,
    cell: Cell,
    source: str | None,
    cell_ids: frozenset[str],
    load_diags: list[Diagnostic],
    placement: tuple[str | None, bool],
) -> CellView:
    try:
        return _analyzed_view(notebook, cell, source, cell_ids, load_diags, placement)
    except Exception as exc:
        # A bug in our own analysis must cost one cell, not the editor's whole notebook.
        _log().exception("analysis of cell %r crashed", cell.id)
        return _crashed_view(cell, source, load_diags, exc)


def _crashed_view(
    cell: Cell, source: str | None, load_diags: list[Diagnostic], exc: Exception
) -> CellView:
    file = cell.path
    message = (
        f"Strata could not analyze this cell ({type(exc).__name__}: {exc}); it will not run "
        "until the analysis succeeds. This is a bug in Strata: please report it with the cell"
    )
    crash = make("analysis_failed", message, cell_id=cell.id, file=file)
    return CellView(cell, source, parse_annotations(""), CellAnalysis(), [*load_diags, crash])


def _analyzed_view(
    notebook: Notebook,
    cell: Cell,
    source: str | None,
    cell_ids: frozenset[str],
    load_diags: list[Diagnostic],
    placement: tuple[str | None, bool],
) -> CellView:
    """`placement`: the `--worker` override and whether to resolve the cell's imports."""
    worker, check_imports = placement
    file = cell.path
    text = source or ""
    kind = kind_for(cell.language)
    annotations = parse_annotations(text, cell_id=cell.id, file=file)
    analysis = analyses_for(notebook.directory).analyze(cell.language, text, cell.id, file)
    diagnostics = [*load_diags, *kind.availability(cell.id, file)]
    if kind.executes:
        diagnostics += _check_placement(notebook, cell, annotations, worker)
        diagnostics += check_unbuilt_annotations(cell.id, file, annotations)
        diagnostics += kind.refused_annotations(cell.id, file, annotations)
        if check_imports:
            modules = analysis.imports
            diagnostics += _check_imports(notebook, cell, annotations, modules, text, worker)
    diagnostics += [*annotations.diagnostics, *analysis.diagnostics]
    diagnostics += check_cell_context(
        cell.id,
        file,
        annotations,
        cell_ids=cell_ids,
        worker_names=notebook.worker_names,
        notebook_mount_names=notebook.mount_names,
    )
    diagnostics += kind.check(
        CellFacts(cell.id, file, annotations, analysis, notebook.connection_names)
    )
    return CellView(cell, source, annotations, analysis, diagnostics)
