"""Variant groups (SPEC 2 `[[variant_group]]`, 4 `@variant`/`@per_variant`, 9, 11).

Which member of each group is in the DAG, and the diagnostics that need more than one cell:
the defines contract, an unknown `active`, and what a `@per_variant` cell runs over. Pure:
a function of the annotations, the analyses, the graph and notebook.toml.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strata_engine.analysis import CellAnalysis
from strata_engine.analysis.annotations import Annotations
from strata_engine.analysis.checks import did_you_mean
from strata_engine.analysis.graph import Graph, VariantSlot
from strata_engine.analysis.scopes import import_bindings
from strata_engine.model.diagnostics import Diagnostic, Span, make
from strata_engine.model.manifest import VARIANT_MODES
from strata_engine.model.manifest_spans import ManifestLocator
from strata_engine.model.notebook import MANIFEST, Notebook


@dataclass(frozen=True, slots=True)
class GroupInfo:
    name: str
    mode: str
    members: tuple[tuple[str, str], ...]
    """(variant name, cell id) in notebook order; a repeated name is left out."""
    active: str | None
    """switch: the chosen member's name (declared, else the first); sweep: None."""
    declared: str | None
    """`active` as notebook.toml writes it (None when absent)."""
    entry: int | None
    """Index of the group's `[[variant_group]]` entry (None: not declared)."""


def group_entries(document: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """The `[[variant_group]]` tables with a string `group`, with their index (first wins)."""
    raw = document.get("variant_group")
    out: list[tuple[int, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        group = entry.get("group") if isinstance(entry, dict) else None
        if isinstance(group, str) and group not in seen:
            seen.add(group)
            out.append((index, entry))
    return out


def resolve_groups(
    notebook: Notebook, annotations: Mapping[str, Annotations]
) -> dict[str, GroupInfo]:
    """Every group some cell is a member of, in order of first member."""
    declared = {str(e["group"]): (i, e) for i, e in group_entries(notebook.document)}
    members: dict[str, list[tuple[str, str]]] = {}
    for cell_id, ann in annotations.items():
        if ann.variant is not None:
            group, name = ann.variant
            listed = members.setdefault(group, [])
            if all(name != known for known, _ in listed):
                listed.append((name, cell_id))
    groups = {}
    for group, listed in members.items():
        index, entry = declared.get(group, (None, {}))
        mode = entry.get("mode", "switch")
        mode = mode if mode in VARIANT_MODES else "switch"
        active = entry.get("active")
        active = active if isinstance(active, str) else None
        chosen = None
        if mode == "switch":
            names = [name for name, _ in listed]
            chosen = active if active in names else names[0]
        groups[group] = GroupInfo(group, mode, tuple(listed), chosen, active, index)
    return groups


def slots(
    groups: Mapping[str, GroupInfo], annotations: Mapping[str, Annotations]
) -> dict[str, VariantSlot]:
    """Each member cell's slot; a member repeating a name already taken is inactive."""
    out = {}
    for cell_id, ann in annotations.items():
        if ann.variant is None:
            continue
        info = groups[ann.variant[0]]
        name = ann.variant[1]
        listed = (name, cell_id) in info.members
        active = listed and (info.mode == "sweep" or info.active == name)
        out[cell_id] = VariantSlot(info.name, name, info.mode, active)
    return out


def check_variants(
    notebook: Notebook,
    groups: Mapping[str, GroupInfo],
    annotations: Mapping[str, Annotations],
    analyses: Mapping[str, CellAnalysis],
    sources: Mapping[str, str | None],
) -> list[Diagnostic]:
    """variant_contract_mismatch, variant_active_unknown and repeated member names."""
    out = _check_active(notebook, groups)
    for info in groups.values():
        out += _check_contract(notebook, info, annotations, analyses, sources)
    for cell_id, ann in annotations.items():
        if ann.variant is None:
            continue
        group, name = ann.variant
        owner = dict(groups[group].members).get(name)
        if owner != cell_id:
            suggestion = _free_name(name, groups[group])
            message = (
                f"variant '{name}' of group '{group}' is already cell '{owner}'; this member "
                f"is ignored until you give it another name, e.g. '{suggestion}'"
            )
            out.append(
                _at_directive(
                    notebook,
                    cell_id,
                    ann,
                    "variant_malformed",
                    message,
                    {"suggestion": f"{group} {suggestion}"},
                )
            )
    return out


def _free_name(name: str, info: GroupInfo) -> str:
    taken = {n for n, _ in info.members}
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


def _check_active(notebook: Notebook, groups: Mapping[str, GroupInfo]) -> list[Diagnostic]:
    out = []
    locator: ManifestLocator | None = None
    for index, entry in group_entries(notebook.document):
        active = entry.get("active")
        info = groups.get(str(entry["group"]))
        names = [name for name, _ in info.members] if info is not None else []
        if active is None or active in names:
            continue
        locator = locator or ManifestLocator(notebook.manifest_text or "")
        group = entry["group"]
        suggestion = did_you_mean(str(active), names) or (names[0] if names else None)
        if names:
            message = (
                f"active = '{active}' names no member of variant group '{group}' "
                f"(members: {', '.join(names)}); '{names[0]}' runs instead. Pick a member"
            )
        else:
            message = (
                f"variant group '{group}' has no member (no cell has '@variant {group} NAME'); "
                "add one or remove the [[variant_group]] entry"
            )
        data = {"group": str(group), **({"suggestion": suggestion} if suggestion else {})}
        span = locator.value(("variant_group",), index, "active")
        out.append(make("variant_active_unknown", message, file=MANIFEST, span=span, data=data))
    return out


def _check_contract(
    notebook: Notebook,
    info: GroupInfo,
    annotations: Mapping[str, Annotations],
    analyses: Mapping[str, CellAnalysis],
    sources: Mapping[str, str | None],
) -> list[Diagnostic]:
    """All members define the same names, imports excepted (SPEC 9); the first member is
    the reference."""
    if len(info.members) < 2:
        return []
    first_name, first = info.members[0]
    expected = _contract(analyses[first], sources.get(first))
    out = []
    for name, cell_id in info.members[1:]:
        got = _contract(analyses[cell_id], sources.get(cell_id))
        missing, extra = sorted(expected - got), sorted(got - expected)
        if not missing and not extra:
            continue
        parts = []
        if missing:
            parts.append(f"does not define {', '.join(missing)}")
        if extra:
            parts.append(f"also defines {', '.join(extra)}")
        message = (
            f"variant '{name}' {' and '.join(parts)}, unlike '{first_name}' (cell '{first}'); "
            f"every member of group '{info.name}' must define the same names"
        )
        data = {"missing": " ".join(missing), "extra": " ".join(extra), "reference": first}
        out.append(
            _at_directive(
                notebook, cell_id, annotations[cell_id], "variant_contract_mismatch", message, data
            )
        )
    return out


def _contract(analysis: CellAnalysis, source: str | None) -> set[str]:
    imported = set(analysis.imports) | imported_names(source)
    return {n for n in analysis.defines if not n.startswith("_") and n not in imported}


def imported_names(source: str | None) -> set[str]:
    """Names the cell's import statements bind anywhere (`import numpy as np` -> np)."""
    try:
        tree = ast.parse(source or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.update(import_bindings(node))
    return out


def _at_directive(
    notebook: Notebook,
    cell_id: str,
    ann: Annotations,
    code: str,
    message: str,
    data: dict[str, str] | None,
    key: str = "variant",
) -> Diagnostic:
    directive = ann.find(key)
    span = directive.value_span if directive is not None else Span(1, 0, 1, 0)
    cell = next(c for c in notebook.cells if c.id == cell_id)
    return make(code, message, cell_id=cell_id, file=cell.path, span=span, data=data)


def resolve_per_variant(
    notebook: Notebook, graph: Graph, annotations: Mapping[str, Annotations]
) -> list[Diagnostic]:
    """Fill `graph.per_variant` (cell -> the sweep group it runs over) and report the
    `@per_variant` cells that cannot: on a member, no sweep source, or an ambiguous one."""
    out = []
    for cell_id, ann in annotations.items():
        if ann.per_variant is None or cell_id not in graph.position:
            continue
        if ann.variant is not None:
            message = (
                "@per_variant on a variant member is ignored: a member is one implementation, "
                "not a consumer of the group; remove @per_variant or the @variant line"
            )
            out.append(
                _at_directive(
                    notebook,
                    cell_id,
                    ann,
                    "per_variant_on_variant_member",
                    message,
                    None,
                    "per_variant",
                )
            )
            continue
        read = sorted(
            {
                graph.variants[m].group
                for ms in graph.sweep_inputs.get(cell_id, {}).values()
                for _, m in ms
            }
        )
        problem = _per_variant_problem(notebook, graph, cell_id, ann, read)
        if problem is None:
            graph.per_variant[cell_id] = ann.per_variant or read[0]
        else:
            out.append(problem)
    return out


def _per_variant_problem(
    notebook: Notebook, graph: Graph, cell_id: str, ann: Annotations, read: Sequence[str]
) -> Diagnostic | None:
    named = ann.per_variant
    if named and named in read:
        return None
    if not named and len(read) == 1:
        return None
    if not named and len(read) > 1:
        message = (
            f"@per_variant reads from several sweep groups ({', '.join(read)}); "
            "name the one to run over: '@per_variant GROUP'"
        )
        return _at_directive(
            notebook,
            cell_id,
            ann,
            "per_variant_ambiguous_group",
            message,
            {"groups": " ".join(read)},
            "per_variant",
        )
    known = {slot.group: slot.mode for slot in graph.variants.values()}
    reads_switch = sorted(
        {
            graph.variants[p].group
            for p in graph.producers.get(cell_id, {}).values()
            if p in graph.variants and graph.variants[p].mode == "switch"
        }
    )
    switch_group = named if named and known.get(named) == "switch" else None
    if not named and reads_switch:
        switch_group = reads_switch[0]
    if switch_group is not None:
        why = (
            f"group '{switch_group}' is in switch mode "
            '(set mode = "sweep" in its [[variant_group]])'
        )
    elif named and named in known:
        why = f"this cell reads nothing that group '{named}' defines"
    elif named:
        suggestion = did_you_mean(named, known)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        why = f"there is no variant group '{named}'{hint}"
    else:
        why = "this cell reads nothing from a sweep group"
    message = f"@per_variant has no sweep source: {why}; the cell runs once, as a plain cell"
    data = {"group": named} if named else {}
    if named and named not in known and (s := did_you_mean(named, known)):
        data["suggestion"] = s
    if switch_group is not None:
        data["switch_group"] = switch_group
    return _at_directive(
        notebook, cell_id, ann, "per_variant_no_sweep_source", message, data or None, "per_variant"
    )


def variant_info(graph: Graph, cell_id: str) -> dict[str, Any] | None:
    """What the editor shows for a cell: its group, name, mode and whether it is active,
    or for a `@per_variant` cell the group it runs over."""
    slot = graph.variants.get(cell_id)
    if slot is not None:
        return {"group": slot.group, "name": slot.name, "mode": slot.mode, "active": slot.active}
    group = graph.per_variant.get(cell_id)
    return {"per_variant": group} if group is not None else None


def choice_problem(graph: Graph, group: str, name: str) -> str | None:
    """Why `name` cannot become the active member of `group` (None: it can)."""
    members = [s.name for s in graph.variants.values() if s.group == group]
    if not members:
        return f"no cell is a member of variant group {group!r} (no '@variant {group} NAME')"
    if name not in members:
        return f"{name!r} is not a member of variant group {group!r}; members: " + ", ".join(
            dict.fromkeys(members)
        )
    return None
