"""The quick fix of `mutation_in_place`: rewrite the in-place statement as an assignment.

The run reports `mutation_in_place` (data {"variable": name, "line": n}) when a cell changed
an input it read without assigning it, which static analysis (analysis/mutators.py) did not
see. Written as an assignment, the change is a define like any other (SPEC 5): the cell
publishes a new version and later cells read it.

- `df.drop(index=0, inplace=True)` -> `df = df.drop(index=0)` (any `inplace=True` call);
- `xs.sort(...)` -> `xs = sorted(xs, ...)`, `xs.reverse()` -> `xs = xs[::-1]`,
  `xs.append(v)` -> `xs = [*xs, v]`, `xs.extend(v)` -> `xs = [*xs, *v]`,
  `s.add(v)` -> `s = s | {v}`, `s.discard(v)` -> `s = s - {v}`;
- otherwise (and as a second choice) `name = name.copy()` before the statement, which works
  for any mutation of a list, dict, set, array or frame, `random.shuffle(xs)` included.

Only statements the cell runs at its top level (inside `if`/`for`/`with`/... blocks too) are
rewritten: in a function body an assignment would make the name local to the function.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from strata_engine.analysis.annotations import split_lines
from strata_engine.editor import fixes
from strata_engine.model.diagnostics import Span

_Fixer = Callable[["fixes._Context"], list["fixes.Fix"]]
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def fix_mutation_in_place(ctx: fixes._Context) -> list[fixes.Fix]:
    data = ctx.diag.data or {}
    variable = data.get("variable")
    if not isinstance(variable, str) or not variable.isidentifier() or not ctx.text:
        return []
    try:
        tree = ast.parse(ctx.text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    line = _line(data.get("line"), ctx)
    statements = list(_top_level_statements(tree.body))
    target = _statement_at(statements, line, variable)
    if target is None:
        return []
    lines = split_lines(ctx.text)
    out: list[fixes.Fix] = []
    rewrite = _rewrite(target, variable, ctx.text)
    if rewrite is not None:
        title, new_text = rewrite
        out.append(ctx.fix(title, _span(target, lines), new_text, preferred=True))
    copy = f"{variable} = {variable}.copy()"
    out.append(ctx.fix(f"Copy '{variable}' first: {copy}", *_before(target, lines, copy)))
    return out


def _before(statement: ast.stmt, lines: list[str], code: str) -> tuple[Span, str]:
    """An insertion of `code` just before `statement`: its own line when the statement
    starts its line, else `code; ` in front of it (`a = 1; xs.append(1)`)."""
    col = _column(lines, statement.lineno, statement.col_offset)
    prefix = lines[statement.lineno - 1][:col] if statement.lineno <= len(lines) else ""
    if prefix.strip():
        return Span(statement.lineno, col, statement.lineno, col), f"{code}; "
    return Span(statement.lineno, 0, statement.lineno, 0), f"{prefix}{code}\n"


def _line(raw: object, ctx: fixes._Context) -> int | None:
    """The reported line (a number, or its text); else the diagnostic's range, if any."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return ctx.diag.span.line if ctx.diag.span is not None else None


def _top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run as part of the cell, nested blocks included, function and class
    bodies excluded."""
    for statement in body:
        yield statement
        if isinstance(statement, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(statement, field, ()):
                if isinstance(child, ast.stmt):
                    yield from _top_level_statements([child])
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from _top_level_statements(child.body)


def _statement_at(statements: list[ast.stmt], line: int | None, variable: str) -> ast.stmt | None:
    """The innermost simple statement on `line` that mentions `variable`; else, when no
    line was reported or it is not precise, the only in-place call on `variable`."""
    on_line = [
        s
        for s in statements
        if line is not None
        and s.lineno <= line <= (s.end_lineno or s.lineno)
        and not _is_block(s)
        and _mentions(s, variable)
    ]
    if on_line:
        return on_line[-1]
    calls = [s for s in statements if _receiver_call(s, variable) is not None]
    return calls[0] if len(calls) == 1 else None


def _is_block(statement: ast.stmt) -> bool:
    return any(isinstance(getattr(statement, f, None), list) for f in ("body", "cases"))


def _mentions(statement: ast.stmt, variable: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == variable for n in ast.walk(statement))


def _receiver_call(statement: ast.stmt, variable: str) -> tuple[ast.Call, ast.expr] | None:
    """`statement` is `<variable ...>.method(...)`: the call and its receiver."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    call = statement.value
    if not isinstance(call.func, ast.Attribute):
        return None
    root = call.func.value
    while isinstance(root, ast.Subscript):
        root = root.value
    if not (isinstance(root, ast.Name) and root.id == variable):
        return None
    return call, call.func.value


def _rewrite(statement: ast.stmt, variable: str, text: str) -> tuple[str, str] | None:
    found = _receiver_call(statement, variable)
    if found is None:
        return None
    call, receiver = found
    assert isinstance(call.func, ast.Attribute)
    target = ast.get_source_segment(text, receiver) or variable
    args = [ast.get_source_segment(text, a) or ast.unparse(a) for a in call.args]
    keywords = [k for k in call.keywords if not _is_inplace(k)]
    named = [ast.get_source_segment(text, k) or ast.unparse(k) for k in keywords]
    if len(keywords) < len(call.keywords):
        value = f"{target}.{call.func.attr}({', '.join([*args, *named])})"
    else:
        value = _functional(call.func.attr, target, args, named) or ""
    if not value:
        return None
    new_text = f"{target} = {value}"
    return f"Rewrite as an assignment: {new_text}", new_text


def _functional(method: str, target: str, args: list[str], named: list[str]) -> str | None:
    """The expression computing what `target.method(*args, **named)` does in place."""
    if method == "sort" and not args:
        return f"sorted({', '.join([target, *named])})"
    if named:
        return None
    one = args[0] if len(args) == 1 else None
    if method == "reverse" and not args:
        return f"{target}[::-1]"
    if one is None:
        return None
    return {
        "append": f"[*{target}, {one}]",
        "extend": f"[*{target}, *{one}]",
        "add": f"{target} | {{{one}}}",
        "discard": f"{target} - {{{one}}}",
    }.get(method)


def _is_inplace(keyword: ast.keyword) -> bool:
    value = keyword.value
    return keyword.arg == "inplace" and isinstance(value, ast.Constant) and value.value is True


def _column(lines: list[str], line: int, byte_col: int) -> int:
    """`ast` columns count UTF-8 bytes, edits count characters."""
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    if source.isascii():
        return byte_col
    return len(source.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _span(node: ast.stmt, lines: list[str]) -> Span:
    end_line = node.end_lineno or node.lineno
    end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
    return Span(
        node.lineno,
        _column(lines, node.lineno, node.col_offset),
        end_line,
        _column(lines, end_line, end_col),
    )


MUTATION_FIXERS: dict[str, _Fixer] = {"mutation_in_place": fix_mutation_in_place}
