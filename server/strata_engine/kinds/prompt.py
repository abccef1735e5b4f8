"""Prompt cells (SPEC 3, 9): a chat completion against an OpenAI-compatible endpoint.

This module is the engine's side (analysis, diagnostics, key, job settings); what runs in
the cell's process is `prompt_harness` (render, ask, validate, publish). Nothing here
imports `openai`: a cached prompt cell costs what a cached Python cell costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from strata_engine.analysis.annotations import Annotations
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.checks import check_name_for_language, check_prompt_references
from strata_engine.analysis.graph import Graph
from strata_engine.analysis.text import PROMPT_PLACEHOLDERS, analyze_placeholders, output_name
from strata_engine.kinds.base import CellFacts, CellKind
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest import Manifest

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView

PROMPT_MIME = "application/vnd.strata.prompt+json"
"""The display a prompt cell leaves beside its answer: the rendered prompt, the model and the
token usage (JSON), for the editor's hover (`editor/prompt_explain.py`)."""

PROMPT_KEYS = ("model", "temperature", "max_tokens", "system", "output", "output_schema")


class PromptKind(CellKind):
    language = "prompt"
    label = "Prompt"
    suffix = ".prompt"
    annotation_keys = (*PROMPT_KEYS, "validate_retries", "name", "after", "nocache")
    local_harness = "strata_engine.kinds.prompt_harness"
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
        items: list[tuple[str, object]] = [
            ("output_name", output_name(annotations.name)),
            *annotations.prompt.computing_items(),
        ]
        if manifest is not None:
            # Which endpoint answers, and [ai]'s model when @model does not override it; the
            # request timeout and the key's variable do not change the answer.
            ai = manifest.ai_settings
            default_model = ai.model if annotations.prompt.model is None else None
            items.append(("ai", {"base_url": ai.base_url, "model": default_model}))
        return items

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        # Imported once by the warm zygote, so a prompt cell's fork does not pay ~1 s for it.
        return ("openai", "jsonschema")

    def job_config(self, view: CellView, manifest: Manifest) -> Mapping[str, object]:
        ai = manifest.ai_settings
        prompt = view.annotations.prompt
        return {
            "template": view.analysis.normalized,
            "output_name": output_name(view.annotations.name),
            "model": prompt.model or ai.model,
            "base_url": ai.base_url,
            "timeout_seconds": ai.timeout_seconds,
            "api_key_env": ai.api_key_env,
            "temperature": prompt.temperature,
            "max_tokens": prompt.max_tokens,
            "system": prompt.system,
            "output": prompt.output,
            "output_schema": prompt.output_schema,
            "validate_retries": prompt.validate_retries,
        }
