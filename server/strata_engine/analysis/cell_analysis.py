"""The result of analyzing one cell (kept apart so every language module can build it)."""

from __future__ import annotations

from dataclasses import dataclass

from strata_engine.model.diagnostics import Diagnostic, Span


@dataclass(frozen=True, slots=True)
class CellAnalysis:
    defines: tuple[str, ...] = ()
    """Public top-level bindings in first-binding order (names starting with "_" excluded)."""
    references: tuple[str, ...] = ()
    """Names read before the cell binds them, first-read order; builtins included."""
    normalized: str = ""
    """What the cell key hashes: Python `ast.unparse(ast.parse(text))`; others the body
    without its annotation block, trailing whitespace trimmed per line and at the end."""
    imports: tuple[str, ...] = ()
    """Top-level packages the cell imports anywhere (`import a.b` -> "a"), for preloading."""
    env_reads: tuple[str, ...] = ()
    """Literal keys read through os.environ[...], os.environ.get, os.getenv or `in os.environ`."""
    mutated: tuple[str, ...] = ()
    """References the cell republishes: subscript/attribute assignment (`df["c"] = 1`) or an
    in-place mutator call (`df.drop(index=0, inplace=True)`, `xs.append(v)`; mutators.py)."""
    has_trailing_expression: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()
    reference_spans: tuple[Span, ...] = ()
    """Where each reference is first read, parallel to `references` (lines of the cell file)."""

    def reference_span(self, name: str) -> Span | None:
        """Where `name` is first read, or None when the cell does not reference it."""
        try:
            return self.reference_spans[self.references.index(name)]
        except (ValueError, IndexError):
            return None
