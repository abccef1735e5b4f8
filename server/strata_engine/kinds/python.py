"""Python cells: AST analysis, run by the local backend's harness in a forked process."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.magic_markers import magic_diagnostics
from strata_engine.analysis.python import analyze_python
from strata_engine.kinds.base import COMMON_KEYS, CellKind


class PythonKind(CellKind):
    language = "python"
    label = "Python"
    suffix = ".py"
    stores_analysis = True
    annotation_keys = (*COMMON_KEYS, "mount", "loop", "loop_until", "variant", "per_variant")
    local_harness = "strata_engine.backends.local.harness"
    annotation_docs: ClassVar[Mapping[str, str]] = {
        "loop": "`@loop max_iter=N carry=VAR [start_from=ID@iter=K]`: run the body up to N times, "
        "threading VAR from one iteration to the next; start_from resumes from iteration K of "
        "another loop cell.",
        "loop_until": "`@loop_until EXPR`: stop looping once the Python expression EXPR is truthy "
        "after an iteration.",
        "variant": "`@variant GROUP NAME`: this cell is the implementation NAME of the slot GROUP; "
        "`[[variant_group]]` selects the active one (switch) or runs all (sweep).",
        "per_variant": "`@per_variant [GROUP]`: run this consumer once per member of a sweep group "
        "(GROUP may be omitted when only one sweep group feeds the cell).",
    }

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        analysis = analyze_python(text, cell_id=cell_id, file=file)
        magics = magic_diagnostics(text, cell_id=cell_id, file=file)  # from `strata import`
        if not magics:
            return analysis
        return dataclasses.replace(analysis, diagnostics=(*analysis.diagnostics, *magics))

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        return analysis.imports
