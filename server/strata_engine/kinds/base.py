"""What a cell kind is: the one interface the analysis, the key, the editor and the run use.

A language is one subclass of `CellKind` in its own module and one `register` line in
`kinds/__init__.py`. Nothing outside this package asks "is this a SQL cell?": it asks the
cell's kind. A kind that is not built yet is registered with `available = False`: its cells
are analyzed (so the rest of the notebook sees their defines), get one error diagnostic, and
are never executed or cached.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from strata_engine.analysis.annotation_types import KNOWN_KEYS
from strata_engine.analysis.annotations import Annotations
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.graph import Graph
from strata_engine.analysis.text import analyze_body
from strata_engine.analysis.unbuilt import refuse_annotation
from strata_engine.model.diagnostics import Diagnostic, Span, make

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView
    from strata_engine.model.manifest import Manifest
    from strata_engine.model.notebook import Notebook

COMMON_KEYS: tuple[str, ...] = ("name", "worker", "timeout", "env", "after", "nocache")
"""Annotation keys that apply to every executing kind."""

GRAPH_KEYS: tuple[str, ...] = ("variant", "per_variant")
"""Keys resolved in the DAG (SPEC 9 variants), the same for every executing kind."""

SHARED_DOCS: Mapping[str, str] = {
    "name": "`@name TEXT`: the cell's display label. For sql and prompt cells it is also the "
    "name of the output variable (must be a Python identifier; default `result`).",
    "worker": "`@worker NAME`: run this cell on the worker NAME declared in `[[workers]]` of "
    "notebook.toml (overrides the cell entry and the notebook default).",
    "timeout": "`@timeout SECONDS`: stop the cell after this many seconds, 0 < SECONDS <= 86400 "
    "(default 300).",
    "env": "`@env KEY=VALUE` (repeatable): set an environment variable for this cell; it wins "
    "over the cell's and the notebook's `[env]`. Quote VALUE to keep surrounding spaces.",
    "mount": "`@mount NAME URI [ro|rw]` (repeatable): NAME becomes a `pathlib.Path` in the cell. "
    "URI schemes: file://, s3://, gs://, gcs://, az://, azure://. Mode `ro` (default) or `rw`; "
    "a read-write mount makes the cell uncacheable.",
    "nocache": "`@nocache [off]`: always execute this cell and never serve a cached result; "
    "`@nocache off` turns it off again.",
    "after": "`@after ID [ID...]` (repeatable): run after the cells with these ids (the `id` in "
    "notebook.toml, not `@name`); their keys become part of this cell's key.",
}
"""Docs of the keys more than one kind uses (the common ones and `mount`); a kind documents
the keys it introduces in its own `annotation_docs`."""


@dataclass(frozen=True)
class CellFacts:
    """What a kind's per-cell checks may look at: the cell and the notebook around it."""

    cell_id: str
    file: str | None
    annotations: Annotations
    analysis: CellAnalysis
    connection_names: Collection[str] = ()


class CellKind:
    language: ClassVar[str]
    """The manifest's `language` value."""
    label: ClassVar[str]
    """How messages name the kind ("SQL")."""
    suffix: ClassVar[str]
    """File suffix for new cells of this kind (the extension's languages.ts uses the same).
    Only a default: the kind of an existing cell always comes from the manifest's
    `language`, never from its file name."""
    annotation_keys: ClassVar[tuple[str, ...]] = COMMON_KEYS
    """The keys that apply to this kind, offered first by completion."""
    annotation_docs: ClassVar[Mapping[str, str]] = {}
    """Docs (completion, hover) of the keys this kind introduces."""
    available: ClassVar[bool] = True
    executes: ClassVar[bool] = True
    """False for kinds that are rendered, never run (markdown): always ready, never cached."""
    stores_analysis: ClassVar[bool] = False
    """True when `analyze` depends on the text alone (no interpreter, no settings), so a clean
    result may be kept on disk between processes (analysis/stored.py)."""
    local_harness: ClassVar[str | None] = None
    """Module run inside the local backend's cell process (`run_job(job, channel)`)."""
    tracking_issue: ClassVar[str] = ""
    """For unavailable kinds: the issue that builds them."""

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        return analyze_body(text)

    def refused_annotations(
        self, cell_id: str, file: str | None, annotations: Annotations
    ) -> list[Diagnostic]:
        """`annotation_unavailable` for a key of another kind (`@mount` on a SQL cell, `@loop`
        on an R cell): its harness would not honour it, and a result cached under it would
        claim otherwise, so the cell is refused instead of the line being ignored."""
        honoured = {*self.annotation_keys, *COMMON_KEYS, *GRAPH_KEYS}
        data = {"language": self.language}
        return [
            refuse_annotation(
                d, f"does not apply to {self.label} cells", cell_id, file, {"key": d.key, **data}
            )
            for d in annotations.directives
            if d.key not in honoured and d.key in KNOWN_KEYS  # unknown: annotation_unknown
        ]

    def check(self, facts: CellFacts) -> list[Diagnostic]:
        """Diagnostics that need the cell's kind (beyond the shared annotation grammar)."""
        return []

    def check_in_graph(
        self, cell_id: str, file: str | None, analysis: CellAnalysis, graph: Graph
    ) -> list[Diagnostic]:
        """Diagnostics that need the DAG (e.g. a placeholder no upstream cell defines)."""
        return []

    def key_items(
        self, annotations: Annotations, manifest: Manifest | None = None
    ) -> list[tuple[str, object]]:
        """What this kind adds to the cell key (SPEC 6 item 2), JSON-able, fixed order.
        `manifest` gives the notebook-wide settings the cell computes with (e.g. `[ai]`)."""
        return []

    def job_config(self, view: CellView, manifest: Manifest) -> Mapping[str, object]:
        """Settings the kind's harness needs beyond the source (`CellJob.config`), JSON-able
        and never a secret. Called only for a cell that executes."""
        return {}

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        """Modules the warm worker should import before cells of this kind run."""
        return ()

    def live_state(
        self, view: CellView, notebook: Notebook, *, max_age: float
    ) -> list[tuple[str, str]]:
        """Live external state the cell's result depends on, as (label, fingerprint) items
        for the key (a SQL cell's table probe). Cheap, read-only, never runs cell code; may
        reuse an answer up to `max_age` seconds old (the editor), a run passes 0."""
        return []

    def unavailable_message(self) -> str:
        return (
            f"{self.label} cells are not available in this version ({self.tracking_issue}); "
            "this cell is not run and nothing is cached for it. Change its language in "
            "notebook.toml or wait for the release that runs it"
        )

    def availability(self, cell_id: str, file: str | None) -> list[Diagnostic]:
        if self.available:
            return []
        return [
            make(
                "kind_unavailable",
                self.unavailable_message(),
                cell_id=cell_id,
                file=file,
                span=Span(1, 0, 1, 0),
                data={"language": self.language},
            )
        ]
