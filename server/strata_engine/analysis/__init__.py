"""Static analysis: the annotation grammar, per-language facts (defines, references,
normalized body), the DAG, and the snapshot that puts them together. Nothing here executes
cell code. Which analysis a cell gets is its kind's choice (`strata_engine.kinds`).
"""

from __future__ import annotations

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.text import DEFAULT_OUTPUT_NAME, output_name, trim_trailing

__all__ = ["DEFAULT_OUTPUT_NAME", "CellAnalysis", "output_name", "trim_trailing"]
