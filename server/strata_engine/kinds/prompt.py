"""Prompt cells (SPEC 3, 9): analyzed and diagnosed today; executed from issue [6] on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from strata_engine.analysis.annotations import Annotations
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.checks import check_name_for_language, check_prompt_references
from strata_engine.analysis.graph import Graph
from strata_engine.analysis.text import PROMPT_PLACEHOLDERS, analyze_placeholders, output_name
from strata_engine.kinds.base import CellFacts, CellKind
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest import Manifest

PROMPT_KEYS = ("model", "temperature", "max_tokens", "system", "output", "output_schema")


class PromptKind(CellKind):
    language = "prompt"
    label = "Prompt"
    suffix = ".prompt"
    annotation_keys = (*PROMPT_KEYS, "validate_retries", "name", "after", "nocache")
    available = False
    tracking_issue = "issue [6]"
    annotation_docs: ClassVar[Mapping[str, str]] = {
        "model": "`@model NAME`: the chat model for this prompt cell (default from `[ai]`).",
        "temperature": "`@temperature T`: sampling temperature for this prompt cell.",
        "max_tokens": "`@max_tokens N`: the response length limit for this prompt cell.",
        "system": "`@system TEXT` (repeatable): the system message; several lines concatenate.",
        "output": "`@output text|json`: ask for plain text (default) or a JSON response.",
        "output_schema": "`@output_schema {...}`: a JSON Schema (one line) the JSON response must "
        "satisfy; invalid answers are retried with the validation errors.",
        "validate_retries": "`@validate_retries N`: how many times to retry an answer that fails "
        "`@output_schema` validation (default 3).",
    }

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        return analyze_placeholders(text, PROMPT_PLACEHOLDERS, cell_id=cell_id, file=file)

    def check(self, facts: CellFacts) -> list[Diagnostic]:
        return check_name_for_language(facts.cell_id, facts.file, facts.annotations, "prompt")

    def check_in_graph(
        self, cell_id: str, file: str | None, analysis: CellAnalysis, graph: Graph
    ) -> list[Diagnostic]:
        return check_prompt_references(cell_id, file, analysis, graph)

    def key_items(
        self, annotations: Annotations, manifest: Manifest | None = None
    ) -> list[tuple[str, object]]:
        # The response depends on the model settings and schema, never on validate_retries.
        return [
            ("output_name", output_name(annotations.name)),
            *annotations.prompt.computing_items(),
        ]
