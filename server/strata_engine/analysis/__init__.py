"""Per-cell static analysis: what a cell defines and reads, and its normalized source.

`analyze_cell` is memoized on (language, text, cell id, file): the language server calls it
on every keystroke and unchanged cells must cost nothing. Results are immutable.
"""

from __future__ import annotations

from functools import lru_cache

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.python import analyze_python, parse_python
from strata_engine.analysis.text import (
    DEFAULT_OUTPUT_NAME,
    analyze_text,
    output_name,
    trim_trailing,
)

__all__ = [
    "DEFAULT_OUTPUT_NAME",
    "CellAnalysis",
    "analyze_cell",
    "output_name",
    "parse_python",
    "trim_trailing",
]


@lru_cache(maxsize=8192)
def analyze_cell(
    language: str, text: str, *, cell_id: str | None = None, file: str | None = None
) -> CellAnalysis:
    """Analyze one cell. Python cells get defines/references; sql and prompt cells their
    placeholders and output name; markdown and r cells only the normalized body."""
    language = language.lower()
    if language == "python":
        return analyze_python(text, cell_id=cell_id, file=file)
    return analyze_text(language, text, cell_id=cell_id, file=file)
