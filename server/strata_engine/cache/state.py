"""Provenance of every cell and its staleness state (SPEC 6 and 10), without running anything.

Keys are computed in topological order: a cell's key needs the content digests of the
variables it reads, which come from its producers' current cache entries. A producer with no
current entry leaves its consumers' keys unknown: they are `stale` (or `never_run`) with the
reason pointing at that producer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.analysis.variants import variant_info
from strata_engine.cache.project_modules import project_module_items
from strata_engine.cache.provenance import (
    Input,
    Provenance,
    Reason,
    digest_json,
    digest_text,
    staleness_reasons,
)
from strata_engine.store import Entry, RunRecord, StoredValue

STATES = ("ready", "stale", "never_run", "error", "running")


class IndexReader(Protocol):
    """What staleness needs from the artifact index (an `ArtifactIndex`, or a memo of one)."""

    def get(self, key: str) -> Entry | None: ...

    def last_runs(self, notebook_id: str) -> dict[str, RunRecord]: ...


@dataclass
class CellStatus:
    id: str
    state: str
    reasons: list[Reason] = field(default_factory=list)
    key: str | None = None
    provenance: Provenance | None = None
    entry: Entry | None = None
    last_run: RunRecord | None = None
    message: str | None = None
    """For `error` cells that cannot run at all: why (e.g. the syntax error)."""
    variant: dict[str, Any] | None = None
    """A variant member's group, name, mode and whether it is active; a `@per_variant`
    cell's group (`analysis.variants.variant_info`)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "reasons": [r.to_json() for r in self.reasons],
            "key": self.key,
        }
        if self.message:
            out["message"] = self.message
        if self.variant is not None:
            out["variant"] = self.variant
        if self.last_run is not None:
            out["last_run"] = {
                "finished_at": self.last_run.finished_at,
                "duration_ms": round(self.last_run.duration_ms, 1),
                "status": self.last_run.status,
            }
        return out


def runtime_identity(snapshot: Snapshot, view: CellView) -> str:
    """SPEC 6 item 4 for one cell (its placement decides it)."""
    return snapshot.placement(view).runtime_identity()


def sweep_input_name(name: str, variant: str) -> str:
    """How one member's value of a sweep input is named in a key and a staleness reason."""
    return f"{name}[{variant}]"


def cell_provenance(
    snapshot: Snapshot,
    view: CellView,
    outputs: Mapping[str, Mapping[str, StoredValue]],
    keys: Mapping[str, str | None],
    *,
    member: str | None = None,
) -> Provenance:
    """The provenance of `view` given the current outputs and keys of its upstream cells.

    A name read from a sweep group enters as one input per member, `name[variant]` with
    that member's digest: the key of a consumer receiving `{variant: value}` changes when
    any member's value does, or a member is added, and not with the order of the members.
    `member`: one run of a `@per_variant` cell, which reads its group's names from that
    member only (as a plain input)."""
    graph = snapshot.graph
    producers = graph.producers.get(view.id, {})
    sweeps = graph.sweep_inputs.get(view.id, {})
    own_group = graph.per_variant.get(view.id) if member is not None else None
    inputs: list[Input] = []
    for name, producer in sorted(producers.items()):
        members = sweeps.get(name)
        if members is None:
            inputs.append(Input(name, producer, _digest_of(outputs.get(producer), name)))
        elif member is not None and graph.variants[members[0][1]].group == own_group:
            chosen = dict(members).get(member, producer)
            inputs.append(Input(name, chosen, _digest_of(outputs.get(chosen), name)))
        else:
            inputs += [
                Input(sweep_input_name(name, variant), cell, _digest_of(outputs.get(cell), name))
                for variant, cell in members
            ]
    after = tuple((up, keys.get(up)) for up in view.annotations.after if up in snapshot.cells)
    env_vars: list[tuple[str, str]] = []
    if view.cell.env or view.annotations.env or view.analysis.env_reads:
        # Else nothing is declared or read: spare building the environment (10,000 cells).
        env = snapshot.env(view)
        declared = set(view.cell.env) | {k for k, _ in view.annotations.env}
        read = declared | (set(view.analysis.env_reads) & set(env))
        env_vars = sorted((k, digest_text(env[k])) for k in read if k in env)
    annotations = [
        *view.annotations.computing_items(),
        *view.kind.key_items(view.annotations, snapshot.notebook.manifest),
    ]
    return Provenance(
        language=view.language,
        source=digest_text(view.analysis.normalized),
        annotations=digest_json(annotations) if annotations else _EMPTY_DIGEST,
        inputs=tuple(inputs),
        after=after,
        environment=snapshot.placement(view).environment(),
        env_vars=digest_json(env_vars) if env_vars else _EMPTY_DIGEST,
        external=tuple(external_state(snapshot, view)),
    )


_EMPTY_DIGEST = digest_json([])
"""Most cells have no computing annotations and read no variables: spare two encodings."""


ExternalProbe = Callable[[Snapshot, CellView], list[tuple[str, str]]]
"""Live state outside the notebook that a cell reads: (label, fingerprint) items. The label
says what was probed and how it is declared, the fingerprint what it holds now; a probe
may need the network, so it caches per `snapshot.mount_max_age` (the editor reuses a recent
answer, a run probes again)."""


def mount_items(snapshot: Snapshot, view: CellView) -> list[tuple[str, str]]:
    """SPEC 6 item 6: each mount the cell uses, with its fingerprint."""
    return [
        (f"mount {m.name} {m.uri} {m.mode}", snapshot.mount_fingerprint(m))
        for m in snapshot.mounts(view)
    ]


def kind_items(snapshot: Snapshot, view: CellView) -> list[tuple[str, str]]:
    """What the cell's kind probes outside the notebook (a SQL cell's tables, `@cache`)."""
    return view.kind.live_state(view, snapshot.notebook, max_age=snapshot.mount_max_age)


EXTERNAL_PROBES: list[ExternalProbe] = [mount_items, kind_items, project_module_items]
"""Every probe of live external state. A changed item is `mount_changed` when its label
starts with "mount ", else `data_changed` (cache/provenance.py)."""


def external_state(snapshot: Snapshot, view: CellView) -> list[tuple[str, str]]:
    return [item for probe in EXTERNAL_PROBES for item in probe(snapshot, view)]


def _digest_of(values: Mapping[str, StoredValue] | None, name: str) -> str | None:
    if values is None or name not in values:
        return None
    return values[name].provenance  # a function's identity, else the content digest


def compute_states(
    snapshot: Snapshot,
    index: IndexReader,
    only: Collection[str] | None = None,
    reuse: Mapping[str, CellStatus] | None = None,
) -> dict[str, CellStatus]:
    """Every cell's state and reasons, in notebook order. `only`: just these cells, which
    must be closed under upstream (a cell and its whole upstream cone): a reader of one
    value keys only what that value depends on. `reuse`: statuses still valid (the caller
    vouches: same view, producers and store, nothing upstream recomputed; see
    run/incremental.py), taken as they are."""
    last_runs = index.last_runs(snapshot.notebook.notebook_id)
    outputs: dict[str, Mapping[str, StoredValue]] = {}
    keys: dict[str, str | None] = {}
    statuses: dict[str, CellStatus] = {}
    # Inactive variant members come last: nothing reads them, and their own upstream is done.
    for cell_id in [*snapshot.graph.order, *snapshot.graph.inactive]:
        if only is not None and cell_id not in only:
            continue
        status = reuse.get(cell_id) if reuse is not None else None
        if status is None:
            view = snapshot.cells[cell_id]
            status = _status(snapshot, view, index, outputs, keys, last_runs.get(cell_id))
            status.variant = variant_info(snapshot.graph, cell_id)
        keys[cell_id] = status.key
        if status.state == "ready" and status.entry is not None:
            outputs[cell_id] = status.entry.outputs
        statuses[cell_id] = status
    return {cell_id: statuses[cell_id] for cell_id in snapshot.cells if cell_id in statuses}


def rendered_status(view: CellView) -> CellStatus:
    """A cell that is rendered, never executed (markdown): always ready, keyed by its text."""
    return CellStatus(view.id, "ready", key=digest_text(view.analysis.normalized))


def _status(
    snapshot: Snapshot,
    view: CellView,
    index: IndexReader,
    outputs: Mapping[str, Mapping[str, StoredValue]],
    keys: Mapping[str, str | None],
    last: RunRecord | None,
) -> CellStatus:
    if not view.kind.executes:
        return rendered_status(view)
    if not view.runnable:
        return CellStatus(view.id, "error", last_run=last, message=view.error_summary)
    problem = snapshot.placement(view).problem
    if problem is not None:
        return CellStatus(view.id, "error", last_run=last, message=problem)
    provenance = cell_provenance(snapshot, view, outputs, keys)
    key = provenance.key()
    entry = index.get(key) if key is not None else None
    status = CellStatus(view.id, "never_run", key=key, provenance=provenance, last_run=last)
    if entry is not None:
        status.entry = entry
        status.state = "ready" if entry.status == "ok" else "error"
        status.message = entry.error
    elif last is not None:
        status.state = "stale"
        # Same provenance as the last run but no entry: the artifacts were evicted or deleted.
        status.reasons = staleness_reasons(provenance, last.provenance) or [Reason("evicted")]
    return status
