"""The module-scope names a top-level function or class takes, found with Python's own
`symtable` (exact for every binding form, unlike a hand-written walk). Promotion asks which
of them block moving the definition out of its cell; a stored definition's identity hashes
what they resolve to."""

from __future__ import annotations

import ast
import symtable

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def module_globals(node: Definition, *, assigned: bool) -> set[str]:
    """Names the definition reads from module scope: its decorators, defaults, bases and
    annotations, and the implicit or declared globals of every scope inside it. With
    `assigned`, also the globals an inner scope only assigns (`global x; x = 0`), which a
    definition moved to a module would write in the wrong namespace. Its own name is not
    counted (a recursive function reads it)."""
    table = symtable.symtable(ast.unparse(node), "<definition>", "exec")
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        found |= {
            s.get_name()
            for s in scope.get_symbols()
            if (s.is_global() or s.is_declared_global()) and (assigned or s.is_referenced())
        }
    return found - {node.name}
