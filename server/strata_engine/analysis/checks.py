"""Diagnostics that need more than one cell's text: known workers, cell ids, mounts,
connections and the graph. Syntactic annotation problems are found by the parser
(`Annotations.diagnostics`); Python syntax errors by the analysis.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence

from strata_engine.analysis import CellAnalysis, output_name
from strata_engine.analysis.annotations import Annotations, Directive, directive_tokens
from strata_engine.analysis.graph import Graph
from strata_engine.model.diagnostics import Diagnostic, Span, make

BUILTIN_WORKERS = ("local",)
"""Worker names that need no `[[workers]]` entry: the engine's own local worker."""

NAME_INVALID_CODE = "annotation_unknown"
"""SPEC 11 has no dedicated code for a sql/prompt `@name` that is not an identifier; it is
reported as an annotation problem (warning) with the corrected name as the suggestion."""


def did_you_mean(word: str, candidates: Collection[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _hint(suggestion: str | None) -> str:
    return f" (did you mean '{suggestion}'?)" if suggestion else ""


def _span(directive: Directive) -> Span:
    return directive.value_span if directive.value else directive.key_span


def check_cell_context(
    cell_id: str,
    file: str | None,
    ann: Annotations,
    *,
    cell_ids: Collection[str],
    worker_names: Sequence[str],
    notebook_mount_names: Sequence[str],
) -> list[Diagnostic]:
    """worker_unknown, after_unknown, after_self and mount_shadows_notebook for one cell."""
    out = _check_worker(cell_id, file, ann, worker_names)
    known = cell_ids
    for directive in ann.find_all("after"):
        for token, span in directive_tokens(directive, ","):
            if token == cell_id:
                message = f"@after '{token}' names this cell itself; remove it"
                out.append(make("after_self", message, cell_id=cell_id, file=file, span=span))
            elif token not in known:
                suggestion = did_you_mean(token, known)
                message = (
                    f"@after '{token}' is not a cell id{_hint(suggestion)}; "
                    "use the id from notebook.toml, not the @name"
                )
                data = {"suggestion": suggestion} if suggestion else None
                out.append(
                    make("after_unknown", message, cell_id=cell_id, file=file, span=span, data=data)
                )
    shadowed = set(notebook_mount_names)
    for directive in ann.find_all("mount"):
        tokens = directive_tokens(directive)
        if tokens and tokens[0][0] in shadowed:
            message = (
                f"@mount '{tokens[0][0]}' replaces the notebook's [[mounts]] entry of the same "
                "name for this cell; rename it if you meant a separate mount"
            )
            out.append(
                make(
                    "mount_shadows_notebook", message, cell_id=cell_id, file=file, span=tokens[0][1]
                )
            )
    return out


def _check_worker(
    cell_id: str, file: str | None, ann: Annotations, worker_names: Sequence[str]
) -> list[Diagnostic]:
    directive = ann.find("worker")
    if directive is None:
        return []
    known = [*worker_names, *(w for w in BUILTIN_WORKERS if w not in worker_names)]
    if directive.value in known:
        return []
    if not directive.value:
        message = "@worker needs a worker name; write '@worker NAME' with a [[workers]] name"
        return [make("worker_unknown", message, cell_id=cell_id, file=file, span=_span(directive))]
    suggestion = did_you_mean(directive.value, known)
    message = (
        f"unknown worker '{directive.value}'{_hint(suggestion)}; "
        "declare it in [[workers]] of notebook.toml or pick a known worker"
    )
    data = {"worker": directive.value}
    if suggestion:
        data["suggestion"] = suggestion
    span = _span(directive)
    return [make("worker_unknown", message, cell_id=cell_id, file=file, span=span, data=data)]


def check_name_for_language(
    cell_id: str, file: str | None, ann: Annotations, language: str
) -> list[Diagnostic]:
    """A sql/prompt `@name` is the output variable, so it must be a usable identifier."""
    directive = ann.find("name")
    if language not in ("sql", "prompt") or directive is None or ann.name is None:
        return []
    if output_name(ann.name) is not None:
        return []
    suggestion = _identifier_like(ann.name)
    message = (
        f"@name '{ann.name}' cannot name the output of a {language} cell; "
        f"use a Python identifier not starting with '_', such as '{suggestion}'"
    )
    return [
        make(
            NAME_INVALID_CODE,
            message,
            cell_id=cell_id,
            file=file,
            span=_span(directive),
            data={"suggestion": suggestion},
        )
    ]


def _identifier_like(name: str) -> str:
    candidate = re.sub(r"\W+", "_", name).strip("_")
    if candidate[:1].isdigit():
        candidate = f"result_{candidate}"
    return candidate if output_name(candidate) else "result"


def check_graph(
    graph: Graph,
    *,
    files: Mapping[str, str],
    analyses: Mapping[str, CellAnalysis] | None = None,
    annotations: Mapping[str, Annotations] | None = None,
    mounted: Mapping[str, Collection[str]] | None = None,
    only: str | None = None,
) -> list[Diagnostic]:
    """dag_cycle (one per cell on a cycle) and reference_forward.

    With `analyses`, a forward reference points at the first read of the variable; with
    `annotations`, a cycle diagnostic points at the `@after` that closes it. A read of a
    name in `mounted` (per cell: its mount names) is satisfied by the mount, not forward.
    `only`: just the diagnostics of this cell (an edit that left the graph as it was).
    """
    out: list[Diagnostic] = []
    for cycle in graph.cycles:
        members = set(cycle)
        for cell_id in cycle:
            if only is not None and cell_id != only:
                continue
            span = _after_span(annotations.get(cell_id) if annotations else None, members)
            message = (
                f"cell '{cell_id}' is on a dependency cycle with cells {', '.join(cycle)}; "
                "remove or change an @after that closes the cycle"
            )
            data = {"cycle": " ".join(cycle)}
            out.append(
                make(
                    "dag_cycle",
                    message,
                    cell_id=cell_id,
                    file=files.get(cell_id),
                    span=span,
                    data=data,
                )
            )
    for cell_id, variable, later in graph.forward_references:
        if only is not None and cell_id != only:
            continue
        if mounted is not None and variable in mounted.get(cell_id, ()):
            continue
        analysis = analyses.get(cell_id) if analyses else None
        message = (
            f"'{variable}' is read here but only the later cell '{later}' defines it; "
            f"move cell '{later}' above this one or define '{variable}' earlier"
        )
        out.append(
            make(
                "reference_forward",
                message,
                cell_id=cell_id,
                file=files.get(cell_id),
                span=analysis.reference_span(variable) if analysis else None,
                data={"variable": variable, "defined_by": later},
            )
        )
    return out


def _after_span(ann: Annotations | None, members: set[str]) -> Span | None:
    if ann is None:
        return None
    for directive in ann.find_all("after"):
        for token, span in directive_tokens(directive, ","):
            if token in members:
                return span
    return None


def check_loop_context(
    cell_id: str,
    file: str | None,
    ann: Annotations,
    analysis: CellAnalysis,
    *,
    cell_ids: Collection[str],
    loop_cell_ids: Collection[str],
) -> list[Diagnostic]:
    """loop_carry_unknown (the cell never mentions its carry), loop_start_from_unknown, and
    `@loop_until` without `@loop` (loop_missing_max_iter: there is nothing to bound)."""
    directive = ann.find("loop")
    if ann.loop is None or directive is None:
        return _until_without_loop(cell_id, file, ann)
    out = []
    carry = ann.loop.carry
    if carry and carry not in analysis.defines and carry not in analysis.references:
        message = (
            f"loop carry '{carry}' is never used by this cell; "
            "assign it in the body or change carry= to a variable the body updates"
        )
        out.append(
            make("loop_carry_unknown", message, cell_id=cell_id, file=file, span=_span(directive))
        )
    if ann.loop.start_from is not None:
        source = ann.loop.start_from[0]
        if source == cell_id or source not in cell_ids or source not in loop_cell_ids:
            problem = "is not a cell id" if source not in cell_ids else "is not a @loop cell"
            problem = "names this cell itself" if source == cell_id else problem
            suggestion = did_you_mean(source, [c for c in loop_cell_ids if c != cell_id])
            message = (
                f"start_from '{source}' {problem}{_hint(suggestion)}; "
                "name the id of a @loop cell whose iterations are stored"
            )
            data = {"suggestion": suggestion} if suggestion else None
            out.append(
                make(
                    "loop_start_from_unknown",
                    message,
                    cell_id=cell_id,
                    file=file,
                    span=_span(directive),
                    data=data,
                )
            )
    return out


def _until_without_loop(cell_id: str, file: str | None, ann: Annotations) -> list[Diagnostic]:
    until = ann.find("loop_until")
    if until is None:
        return []
    message = (
        "@loop_until needs a @loop line to bound it; add '# @loop max_iter=10 carry=VAR' "
        "above it, or remove @loop_until"
    )
    data = {"missing_loop": "true"}
    code = "loop_missing_max_iter"
    return [make(code, message, cell_id=cell_id, file=file, span=until.key_span, data=data)]


def check_sql_context(
    cell_id: str,
    file: str | None,
    ann: Annotations,
    *,
    language: str,
    connection_names: Collection[str],
) -> list[Diagnostic]:
    """sql_connection_missing for a sql cell without `@sql` and sql_connection_unknown."""
    directive = ann.find("sql")
    if directive is None:
        if language != "sql":
            return []
        message = "this SQL cell names no connection; add '# @sql connection=NAME'"
        span = Span(1, 0, 1, 0)
        data = {"suggestion": sorted(connection_names)[0]} if connection_names else None
        return [
            make(
                "sql_connection_missing", message, cell_id=cell_id, file=file, span=span, data=data
            )
        ]
    name = ann.sql_connection
    if name is None or name in connection_names:
        return []  # a missing connection= was reported by the parser
    suggestion = did_you_mean(name, connection_names)
    message = (
        f"unknown connection '{name}'{_hint(suggestion)}; "
        f"declare [connections.{name}] in notebook.toml or use a known connection"
    )
    data = {"connection": name, **({"suggestion": suggestion} if suggestion else {})}
    return [
        make(
            "sql_connection_unknown",
            message,
            cell_id=cell_id,
            file=file,
            span=_span(directive),
            data=data,
        )
    ]


def check_prompt_references(
    cell_id: str, file: str | None, analysis: CellAnalysis, graph: Graph
) -> list[Diagnostic]:
    """prompt_reference_unknown: a `{{ name }}` no preceding cell defines."""
    produced = graph.producers.get(cell_id, {})
    forward = {v for c, v, _ in graph.forward_references if c == cell_id}  # reported already
    out = []
    for name, span in zip(analysis.references, analysis.reference_spans, strict=False):
        if name not in produced and name not in forward:
            message = (
                f"'{{{{ {name} }}}}' names no variable defined by an earlier cell; "
                "define it upstream or fix the placeholder"
            )
            out.append(
                make("prompt_reference_unknown", message, cell_id=cell_id, file=file, span=span)
            )
    return out
