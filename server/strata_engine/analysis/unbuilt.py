"""Annotations and manifest features that are parsed but not honoured by this version.

Each is refused on the cells that use it (an error diagnostic, so the cell is never run and
never cached) instead of being silently ignored: a `@loop` body run once would be stored
under a key that claims otherwise. When the issue that builds a feature lands, its entry
here is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping

from strata_engine.analysis.annotation_types import Directive
from strata_engine.analysis.annotations import Annotations
from strata_engine.model.diagnostics import Diagnostic, make

UNBUILT_ANNOTATIONS: Mapping[str, str] = {}


def check_unbuilt_annotations(cell_id: str, file: str | None, ann: Annotations) -> list[Diagnostic]:
    out = []
    for directive in ann.directives:
        why = UNBUILT_ANNOTATIONS.get(directive.key)
        if why is None:
            continue
        because = f"is not available in this version ({why})"
        out.append(refuse_annotation(directive, because, cell_id, file, {"key": directive.key}))
    return out


def refuse_annotation(
    directive: Directive, because: str, cell_id: str, file: str | None, data: dict[str, str]
) -> Diagnostic:
    """`annotation_unavailable`: the cell is refused rather than run without the annotation."""
    message = (
        f"@{directive.key} {because}; this cell is not run and nothing is cached for it. "
        f"Remove the @{directive.key} line to run it without"
    )
    return make(
        "annotation_unavailable",
        message,
        cell_id=cell_id,
        file=file,
        span=directive.key_span,
        data=data,
    )
