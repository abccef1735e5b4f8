"""What a run does differently for variants (SPEC 9): a consumer of a sweep group receives
`{variant_name: value}`, and a `@per_variant` cell runs once per member of its group.

The dict a sweep consumer reads is assembled from the members' stored values when the
consumer executes, and stored like any value, so every backend receives one ordinary input;
its key does not depend on this blob (it hashes each member's digest, `cache/state.py`).

A `@per_variant` cell is one node of the DAG with two kinds of entries: one per member
(keyed with that member's values only, so adding a member runs only the new one) and the
cell's own entry under its usual key, whose outputs are the dicts `{variant: value}` of the
members' outputs. Downstream cells read the cell's own entry: a plain consumer after it
receives the dict again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from strata_engine.analysis.snapshot import CellView, Snapshot
from strata_engine.backends.jobs import CellResult
from strata_engine.cache.provenance import Provenance
from strata_engine.cache.state import cell_provenance
from strata_engine.store import ArtifactIndex, BlobStore, Entry, StoredValue, load_displays
from strata_engine.store.codecs import load_value, store_value


def assemble(blobs: BlobStore, name: str, values: list[tuple[str, StoredValue]]) -> StoredValue:
    """`{variant: value}` from each member's stored value, stored as one value."""
    loaded = {variant: load_value(blobs, stored) for variant, stored in values}
    return store_value(blobs, name, loaded)


def job_inputs(
    snapshot: Snapshot,
    view: CellView,
    outputs: Mapping[str, Mapping[str, StoredValue]],
    blobs: BlobStore,
    member: str | None = None,
) -> dict[str, StoredValue]:
    """A job's inputs: sweep inputs as assembled dicts, except the names a `@per_variant`
    run (`member`) reads from its own group: that member's value."""
    graph = snapshot.graph
    sweeps = graph.sweep_inputs.get(view.id, {})
    own_group = graph.per_variant.get(view.id) if member is not None else None
    inputs: dict[str, StoredValue] = {}
    for name, producer in graph.producers.get(view.id, {}).items():
        members = sweeps.get(name)
        if members is None:
            inputs[name] = outputs[producer][name]
        elif member is not None and graph.variants[members[0][1]].group == own_group:
            inputs[name] = outputs[dict(members).get(member, producer)][name]
        else:
            inputs[name] = assemble(blobs, name, [(v, outputs[c][name]) for v, c in members])
    return inputs


@dataclass
class MemberRun:
    """One member's run of a `@per_variant` cell."""

    variant: str
    key: str
    provenance: Provenance
    entry: Entry | None
    """Its stored result when it is a hit."""


def plan_members(
    snapshot: Snapshot,
    view: CellView,
    outputs: Mapping[str, Mapping[str, StoredValue]],
    keys: Mapping[str, str | None],
    index: ArtifactIndex,
    *,
    force: bool,
) -> list[MemberRun]:
    """Each member's key and, unless forced, its stored result (on the scheduler thread)."""
    group = snapshot.graph.per_variant[view.id]
    variants = [s.name for s in snapshot.graph.variants.values() if s.group == group and s.active]
    runs = []
    for variant in variants:
        provenance = cell_provenance(snapshot, view, outputs, keys, member=variant)
        key = provenance.key()
        if key is None:
            continue  # the cell's own key was complete, so every member's is too
        entry = None if force else index.get(key)
        runs.append(MemberRun(variant, key, provenance, entry if _ok(entry) else None))
    return runs


def _ok(entry: Entry | None) -> bool:
    return entry is not None and entry.status == "ok"


def run_members(
    members: list[MemberRun],
    execute: Callable[[str], CellResult],
    stream: Callable[[str, str], None],
) -> dict[str, CellResult]:
    """Execute the members that are not hits, in order, until one fails (cell thread)."""
    results: dict[str, CellResult] = {}
    for member in members:
        if member.entry is not None:
            continue
        stream("stdout", _header(member.variant))
        results[member.variant] = result = execute(member.variant)
        if not result.ok:
            break
    return results


def _header(variant: str) -> str:
    return f"[variant {variant}]\n"


def combine(
    blobs: BlobStore, members: list[MemberRun], results: Mapping[str, CellResult]
) -> CellResult:
    """The cell's own result: per output name, `{variant: value}` over the members."""
    parts: list[tuple[str, CellResult]] = []
    for member in members:
        result = results.get(member.variant)
        if result is None and member.entry is not None:
            result = _from_entry(blobs, member.entry)
        if result is None:
            break  # after a failure
        parts.append((member.variant, result))
        if not result.ok:
            failed = CellResult(
                "error",
                {},
                _displays(parts),
                _joined(parts, "stdout"),
                _joined(parts, "stderr"),
                f"variant {member.variant!r}: {result.error}",
                result.traceback,
                _duration(parts),
            )
            return failed
    names = (
        [n for n in parts[0][1].outputs if all(n in r.outputs for _, r in parts)] if parts else []
    )
    outputs = {n: assemble(blobs, n, [(v, r.outputs[n]) for v, r in parts]) for n in names}
    return CellResult(
        "ok",
        outputs,
        _displays(parts),
        _joined(parts, "stdout"),
        _joined(parts, "stderr"),
        None,
        None,
        _duration(parts),
    )


def _from_entry(blobs: BlobStore, entry: Entry) -> CellResult:
    return CellResult(
        entry.status,
        dict(entry.outputs),
        load_displays(blobs, entry.displays_digest),
        entry.stdout,
        entry.stderr,
        entry.error,
        entry.traceback,
        0.0,
    )


def _joined(parts: list[tuple[str, CellResult]], stream: str) -> str:
    return "".join(
        _header(v) + getattr(r, stream)
        for v, r in parts
        if getattr(r, stream) or stream == "stdout"
    )


def _displays(parts: list[tuple[str, CellResult]]) -> list[dict[str, str]]:
    return [d for _, r in parts for d in r.displays]


def _duration(parts: list[tuple[str, CellResult]]) -> float:
    return sum(r.duration_ms for _, r in parts)


def member_entry(
    cell_id: str, member: MemberRun, result: CellResult, displays: str | None
) -> Entry:
    """The index entry of one member's run."""
    return result.entry(member.key, cell_id, displays)
