"""Defines and references of a Python cell (SPEC 5), from its AST.

Top-level statements are followed in source order: a name is a reference when it is read
where no earlier statement of the cell has bound it. Branches are not intersected (SPEC 5
says "read before the cell binds them"), so `if c: x = 1` then `print(x)` reads no
upstream `x`. Decisions:

- A free global of a function or lambda body is a reference only when the cell binds that
  name nowhere at top level: the body runs later, when the cell's own binding exists.
- Class bodies run at definition time, so their reads count where the class is defined.
- `x += 1` reads `x` unless bound earlier; `df["c"] = v` / `obj.x = v` / `del df["c"]`
  read the root name unless bound earlier and republish it (`mutated` when it was read).
- `except E as e` defines `e` (SPEC 5), although Python unbinds it after the handler.
- A name a function (or method) declares `global` and assigns is a define, bound from the
  `def` on (PEP 572 / marimo agree); the function's own reads of it stay references unless
  the cell binds it at top level, since they run before the first call assigns it:
  `def bump(): global n; n = n + 1` reads and republishes `n`. `del` of such a name reads it.
- In-place mutator calls on an upstream name (`df.drop(..., inplace=True)`, `xs.append(v)`,
  see mutators.py) republish it like `df["c"] = v` does (SPEC 5).
- Names starting with `_` are private: never defines nor references.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.mutators import mutated_root
from strata_engine.analysis.pyfacts import env_reads, imported_packages
from strata_engine.analysis.scopes import (
    COMPREHENSIONS,
    Comprehension,
    Read,
    argument_expressions,
    comprehension_free_names,
    function_free_names,
    function_scope,
    import_bindings,
)
from strata_engine.analysis.text import trim_trailing
from strata_engine.model.diagnostics import Diagnostic, Span, make


def analyze_python(text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
    tree, error = parse_python(text, cell_id=cell_id, file=file)
    if tree is None:
        return CellAnalysis(normalized=trim_trailing(text), diagnostics=(error,) if error else ())
    flow = _Flow(lazy_annotations=_has_future_annotations(tree))
    flow.block(tree.body)
    references, spans = flow.finish()
    spans = _in_characters(spans, text)
    try:
        normalized = ast.unparse(tree)
    except RecursionError:  # absurdly deep expressions: fall back to the trimmed text
        normalized = trim_trailing(text)
    return CellAnalysis(
        defines=tuple(flow.defines),
        references=references,
        normalized=normalized,
        imports=imported_packages(tree),
        env_reads=env_reads(tree),
        mutated=tuple(flow.mutated),
        has_trailing_expression=bool(tree.body) and isinstance(tree.body[-1], ast.Expr),
        reference_spans=spans,
    )


def parse_python(
    text: str, *, cell_id: str | None = None, file: str | None = None
) -> tuple[ast.Module | None, Diagnostic | None]:
    """Parse and compile `text` (compiling finds errors the parser accepts, such as
    `return` outside a function); top-level `await` is allowed, as in notebooks."""
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences warn at parse time; the cell's run reports them.
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
            compile(tree, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        return None, _syntax_error(exc, cell_id, file)
    except ValueError as exc:  # null bytes
        message = f"syntax error: {exc}; remove the offending characters"
    except (RecursionError, MemoryError):
        message = "this cell is nested too deeply to analyze; split its longest expression"
    else:
        return tree, None
    span = Span(1, 0, 1, 0)
    return None, make("syntax_error", message, cell_id=cell_id, file=file, span=span)


def _syntax_error(exc: SyntaxError, cell_id: str | None, file: str | None) -> Diagnostic:
    line = exc.lineno or 1
    col = max((exc.offset or 1) - 1, 0)
    end_line = exc.end_lineno or line
    end_col = max((exc.end_offset or 0) - 1, 0) if exc.end_offset else col + 1
    if (end_line, end_col) <= (line, col):
        end_line, end_col = line, col + 1
    message = f"syntax error: {exc.msg} (line {line}, column {col + 1}); fix the Python syntax"
    span = Span(line, col, end_line, end_col)
    return make("syntax_error", message, cell_id=cell_id, file=file, span=span)


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(s, ast.ImportFrom)
        and s.module == "__future__"
        and any(a.name == "annotations" for a in s.names)
        for s in tree.body
    )


def _span(node: ast.AST) -> Span:
    line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
    end_line = getattr(node, "end_lineno", None) or line
    end_col = getattr(node, "end_col_offset", None)
    return Span(line, col, end_line, col if end_col is None else end_col)


def _in_characters(spans: tuple[Span, ...], text: str) -> tuple[Span, ...]:
    """`ast` columns count UTF-8 bytes; diagnostics count characters. Only lines with
    non-ASCII text differ, so only those are converted."""
    lines = text.splitlines()

    def column(line: int, byte_col: int) -> int:
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        if source.isascii():
            return byte_col
        return len(source.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    return tuple(
        Span(s.line, column(s.line, s.col), s.end_line, column(s.end_line, s.end_col))
        for s in spans
    )


def _private(name: str) -> bool:
    return name.startswith("_")


class _Flow:
    """Module-level (or, with a parent, class-body) bindings followed in source order."""

    def __init__(self, *, lazy_annotations: bool, parent: _Flow | None = None) -> None:
        self.lazy_annotations = lazy_annotations
        self.parent = parent
        self.bound: set[str] = set()
        self.ever_bound: set[str] = set()
        self.defines: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        self.refs: dict[str, tuple[int, ast.AST]] = {}
        self.deferred: list[tuple[int, Read]] = []
        self.globals: set[str] = set()  # a class body's `global` names bind in the module
        self.seq = 0

    # --- names -----------------------------------------------------------------------------

    def read(self, name: str, node: ast.AST) -> None:
        if _private(name) or name in self.bound:
            return
        if self.parent is not None:
            self.parent.read(name, node)
        elif name not in self.refs:
            self.refs[name] = (self._next(), node)

    def bind(self, name: str) -> None:
        if _private(name):
            return
        if self.parent is not None and name in self.globals:
            self.parent.bind(name)
            return
        self.bound.add(name)
        if self.parent is None:
            self.ever_bound.add(name)
            self.defines[name] = None

    def bind_global(self, name: str) -> None:
        """A function assigns `name` through `global`: a define, and bound for the reads
        after the `def`, but not for function bodies' own reads (see the module doc)."""
        if self.parent is not None:
            self.parent.bind_global(name)
        elif not _private(name):
            self.bound.add(name)
            self.defines[name] = None

    def delete(self, name: str, node: ast.AST) -> None:
        self.read(name, node)  # `del x` needs an existing x
        self.bound.discard(name)
        self.defines.pop(name, None)
        self.mutated.pop(name, None)

    def republish(self, name: str, node: ast.AST) -> None:
        """`name[...] = v` / `name.attr = v`: a new version of `name`."""
        if _private(name) or name in self.bound:
            return
        if self.parent is not None:
            self.parent.republish(name, node)
            return
        self.read(name, node)
        self.mutated[name] = None
        self.bind(name)

    def defer(self, reads: Iterable[Read]) -> None:
        if self.parent is not None:
            self.parent.defer(reads)
            return
        self.deferred.extend((self._next(), read) for read in reads)

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def finish(self) -> tuple[tuple[str, ...], tuple[Span, ...]]:
        """References in first-read order, deferred function-body reads included."""
        for seq, (name, node) in self.deferred:
            if _private(name) or name in self.ever_bound:
                continue
            if name not in self.refs or seq < self.refs[name][0]:
                self.refs[name] = (seq, node)
        ordered = sorted(self.refs.items(), key=lambda item: item[1][0])
        return tuple(n for n, _ in ordered), tuple(_span(node) for _, (_, node) in ordered)

    # --- expressions -----------------------------------------------------------------------

    def expr(self, root: ast.AST | None) -> None:
        """Walk an expression in evaluation order (iteratively: chains can be very long)."""
        stack: list[ast.AST | str | _Republish] = [root] if root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                self.bind(node)  # a walrus target, after its value
            elif isinstance(node, _Republish):
                self.republish(node.name.id, node.name)  # after the call's operands
            elif isinstance(node, ast.Name):
                self._name(node)
            elif isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(
                node.ctx, ast.Load
            ):
                self._target_of_mutation(node)
            elif isinstance(node, ast.NamedExpr):
                stack += [node.target.id, node.value]
            elif isinstance(node, ast.Lambda):
                for default in argument_expressions(node.args, annotations=False):
                    self.expr(default)
                self.defer(function_free_names(node))
            elif isinstance(node, COMPREHENSIONS):
                self._comprehension(node)
            else:
                if isinstance(node, ast.Call) and (root := mutated_root(node)) is not None:
                    stack.append(_Republish(root))
                stack.extend(reversed(list(ast.iter_child_nodes(node))))

    def _name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id, node)
        elif isinstance(node.ctx, ast.Store):
            self.bind(node.id)
        else:
            self.delete(node.id, node)

    def _target_of_mutation(self, node: ast.Attribute | ast.Subscript) -> None:
        parts: list[ast.expr] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute | ast.Subscript):
            if isinstance(current, ast.Subscript):
                parts.append(current.slice)
            current = current.value
        if isinstance(current, ast.Name):
            self.republish(current.id, current)
        else:
            self.expr(current)  # `f().x = 1` changes nothing the cell publishes
        for part in reversed(parts):
            self.expr(part)

    def _comprehension(self, node: Comprehension) -> None:
        self.expr(node.generators[0].iter)
        reads, walrus = comprehension_free_names(node)
        module = self
        while module.parent is not None:  # a comprehension cannot see class attributes
            module = module.parent
        for name, read_node in reads:
            module.read(name, read_node)
        for name in walrus:
            self.bind(name)

    # --- statements ------------------------------------------------------------------------

    def block(self, statements: Sequence[ast.stmt]) -> None:
        for statement in statements:
            handler = _STATEMENTS.get(type(statement), _Flow._generic)
            handler(self, statement)

    def _generic(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.block([child])
            else:
                self.expr(child)

    def _expression(self, node: ast.Expr) -> None:
        self.expr(node.value)
        if isinstance(node.value, ast.Call):
            root = mutated_root(node.value, statement=True)
            if root is not None:
                self.republish(root.id, root)

    def _assign(self, node: ast.Assign) -> None:
        self.expr(node.value)
        for target in node.targets:
            self.expr(target)

    def _aug_assign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.read(node.target.id, node.target)
        self.expr(node.value)
        self.expr(node.target)

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        # CPython's order: value, target, then the annotation.
        self.expr(node.value)
        target = node.target
        if node.value is not None:
            self.expr(target)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            # `a.b: int` evaluates `a` (and the subscript) but assigns nothing.
            self.expr(target.value)
            self.expr(target.slice if isinstance(target, ast.Subscript) else None)
        if not self.lazy_annotations:
            self.expr(node.annotation)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        self.expr(node.target)
        self.block(node.body)
        self.block(node.orelse)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            self.expr(item.optional_vars)
        self.block(node.body)

    def _try(self, node: ast.Try | ast.TryStar) -> None:
        self.block(node.body)
        for handler in node.handlers:
            self.expr(handler.type)
            if handler.name:
                self.bind(handler.name)
            self.block(handler.body)
        self.block(node.orelse)
        self.block(node.finalbody)

    def _match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        for case in node.cases:
            self._pattern(case.pattern)
            self.expr(case.guard)
            self.block(case.body)

    def _pattern(self, pattern: ast.pattern) -> None:
        """Values, class names and mapping keys are read; captures bind in source order."""
        stack: list[ast.AST | str] = [pattern]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                self.bind(node)
                continue
            if isinstance(node, ast.expr):
                self.expr(node)
                continue
            if isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
                stack.append(node.name)  # `[a] as b`: b after the subpattern
            elif isinstance(node, ast.MatchMapping) and node.rest:
                stack.append(node.rest)
            stack.extend(reversed(list(ast.iter_child_nodes(node))))

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for name in import_bindings(node):
            self.bind(name)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.expr(decorator)
        annotations = not self.lazy_annotations
        for expression in argument_expressions(node.args, annotations=annotations):
            self.expr(expression)
        if annotations:
            self.expr(node.returns)
        self.bind(node.name)
        reads, global_binds = function_scope(node)
        self.defer(reads)
        for name in global_binds:
            self.bind_global(name)

    def _class(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(expression)
        body = _Flow(lazy_annotations=self.lazy_annotations, parent=self)
        body.block(node.body)
        self.bind(node.name)

    def _global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def _ignore(self, node: ast.AST) -> None:
        """`nonlocal`: nothing is read or bound."""


class _Republish:
    """Placed on the walk stack after an in-place mutator call's operands."""

    __slots__ = ("name",)

    def __init__(self, name: ast.Name) -> None:
        self.name = name


_STATEMENTS: dict[type[ast.stmt], Callable[[_Flow, Any], None]] = {
    ast.Assign: _Flow._assign,
    ast.AugAssign: _Flow._aug_assign,
    ast.AnnAssign: _Flow._ann_assign,
    ast.For: _Flow._for,
    ast.AsyncFor: _Flow._for,
    ast.With: _Flow._with,
    ast.AsyncWith: _Flow._with,
    ast.Try: _Flow._try,
    ast.TryStar: _Flow._try,
    ast.Match: _Flow._match,
    ast.Import: _Flow._import,
    ast.ImportFrom: _Flow._import,
    ast.FunctionDef: _Flow._function,
    ast.AsyncFunctionDef: _Flow._function,
    ast.ClassDef: _Flow._class,
    ast.Expr: _Flow._expression,
    ast.Global: _Flow._global,
    ast.Nonlocal: _Flow._ignore,
}
