"""Markdown cells: rendered by the editor, never executed, never stale (SPEC 3, 10)."""

from __future__ import annotations

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.text import analyze_markdown
from strata_engine.kinds.base import CellKind


class MarkdownKind(CellKind):
    language = "markdown"
    label = "Markdown"
    suffix = ".md"
    annotation_keys = ()
    executes = False

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        return analyze_markdown(text)
