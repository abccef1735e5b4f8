"""Names that nested scopes (functions, lambdas, class bodies, comprehensions) read from outside.

Function locals are fixed at compile time, so a flow-insensitive answer is exact for them:
a name is local when the scope binds it anywhere (and does not declare it global/nonlocal).
Class bodies are approximated the same way. Walking is iterative within a scope so long
expressions cannot exhaust the recursion limit; only scope nesting recurses.

Two exceptions to flow-insensitivity, both from PEP 572 and `global`:
- A comprehension's walrus binds in the enclosing scope, so a comprehension read *after* the
  walrus (in evaluation order: targets, conditions, then the element) is not free:
  `[(x, y) for x in d if (y := f(x))]` reads no outer `y`; `[t := t + v for v in d]` does.
- A name a function declares `global` and assigns is a module binding (`global_binds`);
  `del` of such a name reads it.
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
    globals_: set[str] = field(default_factory=set)  # declared `global`
    stores: dict[str, None] = field(default_factory=dict)  # assigned names, in order
    reads: list[Read] = field(default_factory=list)
    passthrough: list[Read] = field(default_factory=list)  # skip a class scope
    walrus: list[str] = field(default_factory=list)  # binds in the enclosing scope
    nested_global_binds: list[str] = field(default_factory=list)
    nested_module_reads: list[Read] = field(default_factory=list)  # see module_reads

    def bind(self, name: str) -> None:
        self.bound.add(name)
        self.stores[name] = None

    def read(self, name: str, node: ast.AST) -> None:
        # A comprehension read after its own walrus sees the enclosing binding it made.
        if self.kind != "comprehension" or name not in self.walrus:
            self.reads.append((name, node))

    def add_nested(self, reads: list[Read]) -> None:
        # Code nested in a class body cannot see the class's names.
        if self.kind == "class":
            self.passthrough.extend(reads)
        else:
            for name, node in reads:
                self.read(name, node)

    def bind_walrus(self, name: str) -> None:
        if self.kind == "comprehension":
            self.walrus.append(name)
        else:
            self.bind(name)

    def free(self) -> list[Read]:
        """Every read this scope's code makes outside it."""
        return _first_reads([*self.enclosed_free(), *self.module_reads()])

    def enclosed_free(self) -> list[Read]:
        """The free reads an enclosing function's own names may answer."""
        local = self.bound - self.declared
        outer = [r for r in self.reads if r[0] not in local and r[0] not in self.globals_]
        return _first_reads(outer + self.passthrough)

    def module_reads(self) -> list[Read]:
        """Reads of names declared `global` here or in a scope nested in it: the module's,
        whatever an enclosing function binds under the same name."""
        return [r for r in self.reads if r[0] in self.globals_] + self.nested_module_reads

    def add_nested_scope(self, nested: _Scope) -> None:
        self.add_nested(nested.enclosed_free())
        self.nested_module_reads.extend(nested.module_reads())
        self.nested_global_binds.extend(nested.global_binds())

    def global_binds(self) -> list[str]:
        """Module names this scope (or a function or class nested in it) assigns through
        `global`, in first-assignment order."""
        own = [n for n in self.stores if n in self.globals_]
        return list(dict.fromkeys([*own, *self.nested_global_binds]))


def _first_reads(reads: list[Read]) -> list[Read]:
    """Each name once, with the node of its first read."""
    seen: set[str] = set()
    out: list[Read] = []
    for name, node in reads:
        if name not in seen:
            seen.add(name)
            out.append((name, node))
    return out


@dataclass(frozen=True, slots=True)
class _WalrusTarget:
    """Placed on the walk stack after a walrus's value: the target binds once it is computed."""

    name: str


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
    return function_scope(node)[0]


def function_scope(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> tuple[list[Read], list[str]]:
    """The free reads of a function or lambda body and the module names it assigns
    through `global` (its nested functions' included)."""
    scope = _function(node)
    return scope.free(), scope.global_binds()


def class_scope(node: ast.ClassDef) -> tuple[list[Read], list[str]]:
    """Names a class body reads from enclosing scopes (bases and decorators excluded), and
    the module names it or its methods assign through `global`."""
    scope = _class(node)
    return scope.free(), scope.global_binds()


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> _Scope:
    scope = _Scope("function", bound=set(argument_names(node.args)))
    _walk(scope, node.body if isinstance(node, FUNCTIONS) else [node.body])
    return scope


def _class(node: ast.ClassDef) -> _Scope:
    scope = _Scope("class")
    _walk(scope, node.body)
    return scope


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
    stack: list[ast.AST | _WalrusTarget] = list(reversed(roots))
    while stack:
        node = stack.pop()
        if isinstance(node, _WalrusTarget):
            scope.bind_walrus(node.name)
            continue
        children: list[ast.AST | _WalrusTarget] = list(_visit(scope, node))
        stack.extend(reversed(children))


def _visit(scope: _Scope, node: ast.AST) -> Sequence[ast.AST | _WalrusTarget]:
    """Record what `node` itself binds or reads; return the children still to walk."""
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load):
            scope.read(node.id, node)
        elif isinstance(node.ctx, ast.Store):
            scope.bind(node.id)
        else:  # `del x` needs an existing x: a global one is read from the module
            scope.bound.add(node.id)
            scope.read(node.id, node)
        return []
    if isinstance(node, ast.NamedExpr):
        return [node.value, _WalrusTarget(node.target.id)]
    if isinstance(node, _NESTED):
        return _visit_nested(scope, node)
    if isinstance(node, ast.Global | ast.Nonlocal):
        scope.declared.update(node.names)
        if isinstance(node, ast.Global):
            scope.globals_.update(node.names)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for name in import_bindings(node):
            scope.bind(name)
    elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        scope.bind(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        scope.bind(node.rest)
    return list(ast.iter_child_nodes(node))


def _visit_nested(scope: _Scope, node: ast.AST) -> list[ast.AST]:
    """A nested scope: what it evaluates here is returned, what it reads later is recorded."""
    if isinstance(node, ast.Lambda):
        scope.add_nested_scope(_function(node))
        return list(argument_expressions(node.args, annotations=False))
    if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
        scope.bind(node.name)
        scope.add_nested_scope(_function(node) if isinstance(node, FUNCTIONS) else _class(node))
        if isinstance(node, ast.ClassDef):
            return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
        here = argument_expressions(node.args, annotations=True)
        return [*node.decorator_list, *here, *([node.returns] if node.returns else [])]
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
