"""Names that nested scopes (functions, lambdas, class bodies, comprehensions) read from outside.

Function locals are fixed at compile time, so a flow-insensitive answer is exact for them:
a name is local when the scope binds it anywhere (and does not declare it global/nonlocal).
Class bodies are approximated the same way. Walking is iterative within a scope so long
expressions cannot exhaust the recursion limit; only scope nesting recurses.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field

Read = tuple[str, ast.AST]
"""A free name and the node of its first read in the scope (for spans)."""

Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NESTED = (*FUNCTIONS, ast.Lambda, ast.ClassDef, *COMPREHENSIONS)


@dataclass
class _Scope:
    kind: str  # "function", "class" or "comprehension"
    bound: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)  # global/nonlocal: never local
    reads: list[Read] = field(default_factory=list)
    passthrough: list[Read] = field(default_factory=list)  # skip a class scope
    walrus: list[str] = field(default_factory=list)  # binds in the enclosing scope

    def add_nested(self, reads: list[Read]) -> None:
        # Code nested in a class body cannot see the class's names.
        (self.passthrough if self.kind == "class" else self.reads).extend(reads)

    def bind_walrus(self, name: str) -> None:
        if self.kind == "comprehension":
            self.walrus.append(name)
        else:
            self.bound.add(name)

    def free(self) -> list[Read]:
        local = self.bound - self.declared
        candidates = [r for r in self.reads if r[0] not in local] + self.passthrough
        seen: set[str] = set()
        out: list[Read] = []
        for name, node in candidates:
            if name not in seen:
                seen.add(name)
                out.append((name, node))
        return out


def argument_names(args: ast.arguments) -> list[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [a.arg for a in every]


def argument_expressions(args: ast.arguments, *, annotations: bool) -> list[ast.expr]:
    """Defaults (and annotations) of a signature: evaluated where the function is defined."""
    exprs: list[ast.expr] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if annotations:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        exprs += [a.annotation for a in every if a is not None and a.annotation is not None]
    return exprs


def function_free_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[Read]:
    """Names the body of a function or lambda reads from enclosing scopes."""
    scope = _Scope("function", bound=set(argument_names(node.args)))
    _walk(scope, node.body if isinstance(node, FUNCTIONS) else [node.body])
    return scope.free()


def class_free_names(node: ast.ClassDef) -> list[Read]:
    """Names a class body reads from enclosing scopes (bases and decorators excluded)."""
    scope = _Scope("class")
    _walk(scope, node.body)
    return scope.free()


def comprehension_free_names(node: Comprehension) -> tuple[list[Read], list[str]]:
    """Free reads of a comprehension (its first iterable excluded: the caller evaluates it)
    and the walrus targets it binds in the enclosing scope."""
    scope = _Scope("comprehension")
    for index, generator in enumerate(node.generators):
        _walk(scope, [generator.target, *generator.ifs])
        if index:
            _walk(scope, [generator.iter])
    _walk(scope, [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt])
    return scope.free(), scope.walrus


def _walk(scope: _Scope, roots: Sequence[ast.AST]) -> None:
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        children = _visit(scope, node)
        stack.extend(reversed(children))


def _visit(scope: _Scope, node: ast.AST) -> list[ast.AST]:
    """Record what `node` itself binds or reads; return the children still to walk."""
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load):
            scope.reads.append((node.id, node))
        else:
            scope.bound.add(node.id)
        return []
    if isinstance(node, ast.NamedExpr):
        scope.bind_walrus(node.target.id)
        return [node.value]
    if isinstance(node, _NESTED):
        return _visit_nested(scope, node)
    if isinstance(node, ast.Global | ast.Nonlocal):
        scope.declared.update(node.names)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        scope.bound.update(import_bindings(node))
    elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        scope.bound.add(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        scope.bound.add(node.rest)
    return list(ast.iter_child_nodes(node))


def _visit_nested(scope: _Scope, node: ast.AST) -> list[ast.AST]:
    """A nested scope: what it evaluates here is returned, what it reads later is recorded."""
    if isinstance(node, ast.Lambda):
        scope.add_nested(function_free_names(node))
        return list(argument_expressions(node.args, annotations=False))
    if isinstance(node, FUNCTIONS):
        scope.bound.add(node.name)
        scope.add_nested(function_free_names(node))
        here = argument_expressions(node.args, annotations=True)
        return [*node.decorator_list, *here, *([node.returns] if node.returns else [])]
    if isinstance(node, ast.ClassDef):
        scope.bound.add(node.name)
        scope.add_nested(class_free_names(node))
        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
    assert isinstance(node, COMPREHENSIONS)
    reads, walrus = comprehension_free_names(node)
    scope.add_nested(reads)
    for name in walrus:
        scope.bind_walrus(name)
    return [node.generators[0].iter]


def import_bindings(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Names an import statement binds (`import a.b` binds `a`; `from m import *` nothing)."""
    names = []
    for alias in node.names:
        if alias.asname:
            names.append(alias.asname)
        elif isinstance(node, ast.Import):
            names.append(alias.name.split(".")[0])
        elif alias.name != "*":
            names.append(alias.name)
    return names
