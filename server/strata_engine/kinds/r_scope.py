"""Defines and references of an R cell (SPEC 5), from R's own parse data (`r_parse`).

Top-level expressions are followed in order: a name is a reference when it is read where
no earlier expression of the cell has bound it. Decisions, mirroring the Python rules:

- Defines: `x <- v`, `x <<- v`, `x = v`, `v -> x`, `"x" <- v`, chains (`a <- b <- 1`),
  `assign("x", v)` without `envir`/`pos`, `for (i in ...)`, and assignments inside top-level
  `{}`/`if`/`for`/`while`/`repeat` and inside call arguments (`suppressWarnings(x <- f())`
  assigns in the caller), except in `local()`, `with()`, `within()` and function bodies.
- `x$a <- v`, `x[i] <- v`, `names(x) <- v` read `x` (unless bound earlier) and republish it.
- A free name of a function body is a reference when the cell binds it nowhere before.
- Not reads: the field after `$`/`@`, the name after `pkg::`, argument names (`f(a = 1)`),
  formals, and symbols inside formulas (`y ~ x` names columns, not variables).
- Function names called (`f(x)`) are reads too: a cell may call a function another R cell
  defined. A name no cell defines is simply not an edge.
- Names starting with `.` are hidden in R, and private to the cell, like Python's `_x`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from strata_engine.kinds.r_parse import ParseRow
from strata_engine.model.diagnostics import Span

_ASSIGN_LEFT = frozenset({"LEFT_ASSIGN", "EQ_ASSIGN"})
_ASSIGN_RIGHT = frozenset({"RIGHT_ASSIGN"})
_FUNCTION = frozenset({"FUNCTION", "'\\\\'"})
_SCOPED_CALLS = frozenset({"local", "with", "within"})
_READ_TOKENS = frozenset({"SYMBOL", "SYMBOL_FUNCTION_CALL"})
_FIELD_OPERATORS = frozenset({"'$'", "'@'", "NS_GET", "NS_GET_INT"})


@dataclass
class _Tree:
    rows: dict[int, ParseRow]
    children: dict[int, list[int]]

    @classmethod
    def of(cls, rows: tuple[ParseRow, ...]) -> _Tree:
        by_id = {row.id: row for row in rows}
        children: dict[int, list[int]] = {}
        for row in rows:
            if row.token != "COMMENT":
                children.setdefault(max(row.parent, 0), []).append(row.id)
        for ids in children.values():
            ids.sort(key=lambda i: (by_id[i].line, by_id[i].col, -by_id[i].end_line))
        return cls(by_id, children)

    def kids(self, node: int) -> list[ParseRow]:
        return [self.rows[i] for i in self.children.get(node, ())]

    def only_terminal(self, node: ParseRow) -> ParseRow | None:
        """The terminal an `expr` wraps (`x` in `x <- 1`), or None for a compound one."""
        kids = self.kids(node.id)
        return kids[0] if len(kids) == 1 and not self.children.get(kids[0].id) else None


@dataclass
class RScope:
    defines: list[str] = field(default_factory=list)
    references: dict[str, Span] = field(default_factory=dict)
    mutated: list[str] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)


def analyze_rows(rows: tuple[ParseRow, ...]) -> RScope:
    tree = _Tree.of(rows)
    walk = _Walk(tree, RScope())
    for node in tree.kids(0):
        walk.expr(node)
    return walk.scope


class _Walk:
    def __init__(self, tree: _Tree, scope: RScope) -> None:
        self.tree = tree
        self.scope = scope

    # -- reads -------------------------------------------------------------------------
    def read(self, row: ParseRow, local: frozenset[str] = frozenset()) -> None:
        name = row.text
        if name in local or name in self.scope.bound or name.startswith("."):
            return
        self.scope.references.setdefault(name, Span(row.line, row.col - 1, row.line, row.end_col))

    def bind(self, name: str) -> None:
        self.scope.bound.add(name)
        if not name.startswith(".") and name not in self.scope.defines:
            self.scope.defines.append(name)

    # -- top level ---------------------------------------------------------------------
    def expr(self, node: ParseRow) -> None:
        """An expression that runs now, at the cell's top level."""
        if node.token in _READ_TOKENS:
            self.read(node)
            return
        kids = self.tree.kids(node.id)
        tokens = [k.token for k in kids]
        if len(kids) == 3 and tokens[1] in _ASSIGN_LEFT | _ASSIGN_RIGHT:
            target, value = (kids[0], kids[2]) if tokens[1] in _ASSIGN_LEFT else (kids[2], kids[0])
            self.expr(value)
            self.assign_target(target)
        elif tokens and tokens[0] in _FUNCTION:
            self.function(node, kids)
        elif tokens and tokens[0] == "FOR":
            self.for_loop(kids)
        elif "'~'" in tokens:
            return  # a formula: its symbols are not evaluated here
        elif self.call_name(kids) in _SCOPED_CALLS:
            self.nested(node, frozenset())
        else:
            self.children(kids)
            if self.call_name(kids) == "assign":
                self.assign_call(kids)

    def children(self, kids: list[ParseRow]) -> None:
        skip_next = False
        for kid in kids:
            if skip_next:
                skip_next = False
                continue
            if kid.token in _FIELD_OPERATORS:
                skip_next = True  # x$field, pkg::name: not a variable read
            elif kid.token == "SYMBOL_PACKAGE":
                continue
            elif kid.token in _READ_TOKENS or self.tree.children.get(kid.id):
                self.expr(kid)

    def assign_target(self, target: ParseRow) -> None:
        terminal = self.tree.only_terminal(target) if target.token == "expr" else target
        if terminal is not None and terminal.token in ("SYMBOL", "STR_CONST"):
            self.bind(_unquote(terminal.text) if terminal.token == "STR_CONST" else terminal.text)
            return
        root = self.root(target)
        self.expr(target)  # x[i] <- v reads x and i; names(x) <- v reads x
        if root is not None:
            if root in self.scope.references and root not in self.scope.mutated:
                self.scope.mutated.append(root)
            self.bind(root)

    def root(self, target: ParseRow) -> str | None:
        """The variable a complex assignment changes: `x` of `x$a`, `x[[1]]`, `names(x)`."""
        node = target
        while True:
            kids = self.tree.kids(node.id)
            if not kids:
                return node.text if node.token == "SYMBOL" else None
            # a replacement function (`names(x) <- v`) changes its first argument
            replacing = self.call_name(kids) is not None and len(kids) > 2
            node = kids[2] if replacing else kids[0]

    def call_name(self, kids: list[ParseRow]) -> str | None:
        if len(kids) >= 2 and kids[1].token == "'('" and kids[0].token == "expr":
            head = self.tree.kids(kids[0].id)
            if head and head[-1].token == "SYMBOL_FUNCTION_CALL":
                return head[-1].text
        return None

    def assign_call(self, kids: list[ParseRow]) -> None:
        args = [k for k in kids[2:] if k.token not in ("','", "')'")]
        if any(k.token == "SYMBOL_SUB" and k.text in ("envir", "pos") for k in args):
            return
        first = args[0] if args else None
        terminal = self.tree.only_terminal(first) if first and first.token == "expr" else None
        if terminal is not None and terminal.token == "STR_CONST":
            self.bind(_unquote(terminal.text))

    def for_loop(self, kids: list[ParseRow]) -> None:
        condition = kids[1] if len(kids) > 1 else None
        variable: str | None = None
        if condition is not None:
            parts = self.tree.kids(condition.id)
            for part in parts:
                if part.token == "expr":
                    self.expr(part)  # the sequence
                elif part.token == "SYMBOL":
                    variable = part.text
        if variable is not None:
            self.bind(variable)
        for body in kids[2:]:
            self.expr(body)

    # -- bodies that run later ---------------------------------------------------------
    def function(self, node: ParseRow, kids: list[ParseRow]) -> None:
        formals = frozenset(k.text for k in kids if k.token == "SYMBOL_FORMALS")
        self.nested(node, formals)

    def nested(self, node: ParseRow, local: frozenset[str]) -> None:
        """A body with its own scope: its assignments are local; other names it reads
        are references unless the cell bound them before."""
        local = local | frozenset(self.local_bindings(node))
        for row in self.descendants(node):
            if row.token in _READ_TOKENS and not self.is_field(row):
                self.read(row, local)

    def local_bindings(self, node: ParseRow) -> Iterator[str]:
        for row in self.descendants(node):
            kids = self.tree.kids(row.id)
            if len(kids) == 3 and kids[1].token in _ASSIGN_LEFT | _ASSIGN_RIGHT:
                target = kids[0] if kids[1].token in _ASSIGN_LEFT else kids[2]
                terminal = self.tree.only_terminal(target)
                if terminal is not None and terminal.token == "SYMBOL":
                    yield terminal.text
            elif kids and kids[0].token == "FOR":
                yield from (p.text for p in self.tree.kids(kids[1].id) if p.token == "SYMBOL")
            elif kids and kids[0].token in _FUNCTION:
                yield from (k.text for k in kids if k.token == "SYMBOL_FORMALS")

    def descendants(self, node: ParseRow) -> Iterator[ParseRow]:
        stack = list(reversed(self.tree.kids(node.id)))
        while stack:
            row = stack.pop()
            yield row
            kids = self.tree.kids(row.id)
            if "'~'" not in (k.token for k in kids):
                stack.extend(reversed(kids))

    def is_field(self, row: ParseRow) -> bool:
        siblings = self.tree.kids(row.parent)
        index = next(i for i, s in enumerate(siblings) if s.id == row.id)
        return index > 0 and siblings[index - 1].token in _FIELD_OPERATORS


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`" else text
