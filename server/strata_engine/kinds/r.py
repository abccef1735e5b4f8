"""R cells (SPEC 3, 9): analyzed by R's own parser in a helper process (`r_parse`, with the
scope rules in `r_scope`), run through rpy2 in the forked cell process (`r_harness`).

Without R (or without rpy2 in the engine's interpreter) R cells are refused with a
diagnostic naming the fix; they are never run as anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.text import analyze_body
from strata_engine.kinds.base import COMMON_KEYS, CellKind
from strata_engine.model.diagnostics import Diagnostic, Span, make

if TYPE_CHECKING:
    from strata_engine.analysis.annotations import Annotations
    from strata_engine.model.manifest import Manifest

_ERROR_AT = re.compile(r"^<text>:(\d+):(\d+): (.*)$", re.DOTALL)


class RKind(CellKind):
    language = "r"
    label = "R"
    suffix = ".R"
    annotation_keys = COMMON_KEYS  # no `mount`: the R harness binds no paths (refused)
    local_harness = "strata_engine.kinds.r_harness"

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        # r_parse and r_scope are imported here and below, not at the top: a notebook
        # without R cells never loads them (subprocess, hashlib, the parser's caches).
        from strata_engine.kinds.r_parse import RParseError, shared_parser
        from strata_engine.kinds.r_scope import analyze_rows

        parser = shared_parser()
        if parser is None:  # refused by availability(); the body still gets a key
            return analyze_body(text)
        try:
            parsed = parser.parse(text)
        except (OSError, RParseError) as exc:
            message = f"R's parser could not be asked ({exc}); R cells cannot be analyzed"
            return _refused(text, message, None, cell_id, file)
        if parsed.error is not None:
            return _refused(text, *_syntax_error(parsed.error), cell_id, file)
        scope = analyze_rows(parsed.rows)
        return CellAnalysis(
            defines=tuple(scope.defines),
            references=tuple(scope.references),
            normalized="\n".join(parsed.normalized),
            mutated=tuple(scope.mutated),
            reference_spans=tuple(scope.references.values()),
        )

    def availability(self, cell_id: str, file: str | None) -> list[Diagnostic]:
        from strata_engine.kinds.r_parse import r_status

        problem = r_status().problem()
        if problem is None:
            return []
        message = f"{problem}. This R cell is not run and nothing is cached for it"
        diag = make("kind_unavailable", message, cell_id=cell_id, file=file, span=Span(1, 0, 1, 0))
        return [diag]

    def key_items(
        self, annotations: Annotations, manifest: Manifest | None = None
    ) -> list[tuple[str, object]]:
        # The Python environment fingerprint covers rpy2; R itself comes from the system.
        from strata_engine.kinds.r_parse import shared_parser

        parser = shared_parser()
        return [("r_version", parser.version())] if parser is not None else []

    def job_config(self, view: object, manifest: Manifest) -> Mapping[str, object]:
        return {}

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        # Initializes embedded R in the zygote, so each cell's fork starts with R warm
        # (R survives fork: its own `parallel::mcfork` does the same).
        return ("pandas", "strata_engine.kinds.r_runtime")


def _syntax_error(error: str) -> tuple[str, Span | None]:
    match = _ERROR_AT.match(error.strip())
    if match is None:
        return f"R syntax error: {error.strip()}", None
    line, col, rest = int(match[1]), int(match[2]), match[3]
    what = rest.splitlines()[0] if rest else "syntax error"
    return f"R syntax error at line {line}: {what}", Span(line, max(col - 1, 0), line, col)


def _refused(
    text: str, message: str, span: Span | None, cell_id: str | None, file: str | None
) -> CellAnalysis:
    diag = make("syntax_error", message, cell_id=cell_id, file=file, span=span)
    return CellAnalysis(normalized=analyze_body(text).normalized, diagnostics=(diag,))
