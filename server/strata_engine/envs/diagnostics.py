"""`import_unresolved` diagnostics (SPEC 11, ours): where each unresolved import is."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from strata_engine.envs import detect
from strata_engine.envs.names import distribution_for
from strata_engine.model.diagnostics import Diagnostic, Span, make


def import_diagnostics(
    cell_id: str, file: str, text: str, modules: Iterable[str], environment: detect.Environment
) -> list[Diagnostic]:
    """One warning per unresolved top-level module, on its first import statement."""
    missing = list(modules)
    if not missing:
        return []
    spans = _import_spans(text)
    where = (
        f"the notebook's {detect.VENV}"
        if environment.kind == detect.VENV_KIND
        else "the engine's interpreter (this notebook has no pyproject.toml)"
    )
    out = []
    for module in missing:
        package = distribution_for(module)
        message = (
            f"'{module}' cannot be imported in {where}; add the package '{package}' to the "
            "notebook's environment (quick fix: Add package) or correct the import"
        )
        span = spans.get(module, Span(1, 0, 1, 0))
        data = {"module": module, "package": package}
        diag = make("import_unresolved", message, cell_id=cell_id, file=file, span=span, data=data)
        out.append(diag)
    return out


def _import_spans(text: str) -> dict[str, Span]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    spans: dict[str, Span] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = [node.module.split(".")[0]]
        else:
            continue
        span = Span(
            node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0
        )
        for root in roots:
            if root not in spans or (span.line, span.col) < (spans[root].line, spans[root].col):
                spans[root] = span
    return spans
