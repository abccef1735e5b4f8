"""Diagnostic values and the registry of SPEC section 11 codes.

Each code's severity lives here and only here; checks create diagnostics through
`make`, which looks the severity up, so a code can never be reported with two severities.

Three codes are ours, beyond SPEC 11: `manifest_key_unknown` (a key notebook.toml does not
define, probably a typo; it still survives a save), `worker_malformed` (a `[[workers]]` entry
without a name or with an unknown backend) and `analysis_failed` (a bug in Strata's own
analysis of one cell: that cell is degraded, the rest of the notebook still works). Three
more refuse what this version parses but cannot honour, so such a cell is never run as
something else nor cached: `kind_unavailable` (a cell kind not built yet),
`annotation_unavailable` (e.g. `@loop` before loops are built) and `worker_unavailable` (a
worker whose backend is not built yet). `store_unavailable`: the `[cache]` table names no
usable artifact store (`cache = "x"`, or a shared `s3://` store before those are built).
`import_unresolved` (SPEC 7): an import the cell's environment (the notebook's `.venv`, else
the engine's interpreter) cannot resolve, found without running anything (envs/imports.py).
`magic_unsupported` (SPEC 12): an IPython magic or shell escape that `strata import` turned
into a `# strata: magic_unsupported ...` comment (analysis/magic_markers.py).
`mutation_in_place`: a cell changed an input it read in place at run time, which static
analysis did not see (data {"variable": name, "line": n}); editor/mutation_fixes.py
rewrites the statement as an assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

CODES: dict[str, Severity] = {
    # notebook
    "parse_failed": "error",
    "cell_file_missing": "error",
    "cell_path_outside": "error",
    "duplicate_cell_id": "error",
    "dag_cycle": "error",
    "syntax_error": "error",
    "reference_forward": "warning",
    "annotation_unknown": "warning",
    "magic_unsupported": "warning",
    "manifest_key_unknown": "warning",
    "analysis_failed": "error",
    "kind_unavailable": "error",
    "annotation_unavailable": "error",
    "worker_unavailable": "error",
    "store_unavailable": "error",
    # placement and environment
    "import_unresolved": "warning",
    "worker_unknown": "warning",
    "worker_malformed": "warning",
    "timeout_not_numeric": "warning",
    "env_malformed": "warning",
    "mount_uri_unsupported": "warning",
    "mount_mode_invalid": "warning",
    "mount_shadows_notebook": "info",
    "after_unknown": "warning",
    "after_self": "warning",
    # sql
    "sql_connection_missing": "error",
    "sql_connection_unknown": "warning",
    "connection_malformed": "error",
    "connection_driver_unknown": "error",
    "connection_auth_literal_secret": "warning",
    "cache_policy_unknown": "warning",
    "cache_ttl_invalid": "warning",
    # prompt
    "prompt_output_schema_invalid": "warning",
    "prompt_reference_unknown": "warning",
    # loop
    "loop_missing_max_iter": "error",
    "loop_missing_carry": "error",
    "loop_carry_unknown": "warning",
    "loop_until_syntax_error": "error",
    "loop_start_from_unknown": "error",
    # variants
    "variant_malformed": "warning",
    "variant_contract_mismatch": "warning",
    "variant_mode_invalid": "warning",
    "variant_active_unknown": "warning",
    "per_variant_no_sweep_source": "warning",
    "per_variant_ambiguous_group": "warning",
    "per_variant_on_variant_member": "warning",
    # values
    "export_blocked": "warning",
    "mutation_in_place": "warning",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A range in one file. `line`/`end_line` are 1-based, `col`/`end_col` 0-based (as in `ast`)."""

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def on_line(line: int, col: int, end_col: int) -> Span:
        return Span(line, col, line, end_col)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    cell_id: str | None = None
    """The cell the diagnostic belongs to; None for notebook-level diagnostics."""
    file: str | None = None
    """Path relative to the notebook directory (`notebook.toml`, `cells/a.py`)."""
    span: Span | None = None
    data: dict[str, Any] | None = None
    """Machine-readable facts for quick fixes (e.g. {"suggestion": "worker"})."""

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "line": self.line,
        }
        if self.span is not None:
            out["column"] = self.span.col + 1
        return out


def make(
    code: str,
    message: str,
    *,
    cell_id: str | None = None,
    file: str | None = None,
    span: Span | None = None,
    data: dict[str, Any] | None = None,
) -> Diagnostic:
    """Create a diagnostic for a registered code (KeyError on an unknown code: a bug)."""
    return Diagnostic(code, CODES[code], message, cell_id, file, span, data)
