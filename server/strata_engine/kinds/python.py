"""Python cells: AST analysis, run by the local backend's harness in a forked process."""

from __future__ import annotations

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.python import analyze_python
from strata_engine.kinds.base import COMMON_KEYS, CellKind


class PythonKind(CellKind):
    language = "python"
    label = "Python"
    suffix = ".py"
    annotation_keys = (*COMMON_KEYS, "mount", "loop", "loop_until", "variant", "per_variant")
    local_harness = "strata_engine.backends.local.harness"

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        return analyze_python(text, cell_id=cell_id, file=file)

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        return analysis.imports
