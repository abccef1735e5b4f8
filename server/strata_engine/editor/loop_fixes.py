"""Quick fixes for loop cells (SPEC 11 "Loop") beyond the `@loop` options fixes.py repairs:
a `@loop_until` that does not parse, and a `@loop_until` with no `@loop` to bound it.

Registered in fixes.py's table; a fixer here falls back to fixes.py's own for the cases it
does not handle (`loop_missing_max_iter` on a `@loop` line).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from strata_engine.editor import fixes
from strata_engine.model.diagnostics import Span

_Fixer = Callable[["fixes._Context"], list["fixes.Fix"]]

_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")


def _parses(expr: str) -> bool:
    try:
        ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _delete_line(ctx: fixes._Context, title: str) -> fixes.Fix:
    line = ctx.span.line
    return ctx.fix(title, Span(line, 0, line + 1, 0), "")


def fix_loop_until(ctx: fixes._Context) -> list[fixes.Fix]:
    """`x = 3` meant `x == 3`; otherwise removing the line is always valid."""
    directive = ctx.directive()
    if directive is None or directive.key != "loop_until":
        return []
    out = []
    compared = _SINGLE_EQUALS.sub("==", directive.value)
    if compared != directive.value and _parses(compared):
        out.append(ctx.fix(f"Use '@loop_until {compared}'", directive.value_span, compared, True))
    out.append(_delete_line(ctx, "Remove the @loop_until line"))
    return out


def fix_missing_max_iter(ctx: fixes._Context) -> list[fixes.Fix]:
    """A `@loop_until` alone gets a `@loop` line above it; a `@loop` line gets max_iter."""
    if not (ctx.diag.data or {}).get("missing_loop"):
        return fixes._fix_loop_max_iter(ctx)
    carry = next(iter(fixes._carry_candidates(ctx.view)), "state")
    line = ctx.span.line
    loop_line = f"# @loop max_iter={fixes._DEFAULT_MAX_ITER} carry={carry}\n"
    add = ctx.fix(f"Add '{loop_line.strip()}'", Span(line, 0, line, 0), loop_line, True)
    return [add, _delete_line(ctx, "Remove the @loop_until line")]


FIXERS: dict[str, _Fixer] = {
    "loop_until_syntax_error": fix_loop_until,
    "loop_missing_max_iter": fix_missing_max_iter,
}
